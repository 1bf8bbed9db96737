/**
 * Restoring one backup, per target type, in three steps that keep the live data safe:
 * `stage` restores into a place of its own (a new database, a file or directory beside
 * the live one) while the service keeps running; `swap` puts it in place with renames only
 * (the old data kept beside it); `rollback` undoes a swap. A failure before the swap leaves
 * the live data untouched; `discard` removes a staged copy that will not be used.
 */
import { createReadStream } from 'node:fs'
import { chmod, chown, mkdir, rename, rm, stat } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { Transform } from 'node:stream'
import type { Logger } from 'pino'
import { createGunzip } from 'node:zlib'
import type { BackupTarget } from '../config/schema.js'
import { ExitCode, OwnopsError } from '../errors.js'
import type { Docker } from '../sys/docker.js'
import { execCapture, execWithInput, inspectContainer } from '../sys/docker-exec.js'
import { runCapture } from '../sys/exec.js'
import type { BackupEntry } from '../backup/catalog.js'
import { resolveRoot } from '../targets/directory.js'
import { mysqlExecEnv } from '../targets/mysql.js'
import { resolveSqlitePath } from '../targets/sqlite.js'
import { DumpFailure, tail } from '../targets/types.js'
import { decompressFile } from './decompress.js'
import { parseListing, unsafeEntries } from './tar-safety.js'

export interface RestoreEnv {
  target: string
  log: Logger
  signal: AbortSignal
  docker(): Promise<Docker>
  env: NodeJS.ProcessEnv
  /** `20261124T030000Z`, used in the names of kept and staged copies. */
  stamp: string
  allowOutsideLinks?: boolean
}

/** Where a restore goes and what it replaces, for the plan shown before anything changes. */
export interface RestorePlace {
  /** The live database / file / directory, as people know it. */
  live: string
  /** What the old data will be called once replaced. */
  kept: string
  /** Whether the live data exists now (a restore may create it). */
  exists: boolean
}

export interface Staged {
  /** The staged copy: a database name or a path. */
  where: string
  details?: Record<string, unknown>
}

export interface Swapped {
  live: string
  /** Where the old data went, or undefined when there was none. */
  kept?: string
}

export interface Restorer {
  place(): Promise<RestorePlace>
  /** Restores into a fresh place (`to` for a side-by-side restore, else a staging place). */
  stage(entry: BackupEntry, to?: string): Promise<Staged>
  /** `safety`: the pre-restore backup of the current data, when one was taken. */
  swap(staged: Staged, safety?: BackupEntry): Promise<Swapped>
  rollback(swapped: Swapped): Promise<void>
  discard(staged: Staged): Promise<void>
  /** Reads every restored table / checks the restored file or tree. */
  check(staged: Staged, entry: BackupEntry): Promise<Record<string, unknown>>
  /** Swaps a kept copy back in (restore --undo); the replaced data is kept as `<live>…undone…`. */
  undo(kept: string): Promise<Swapped>
}

export async function restorerFor(target: BackupTarget, env: RestoreEnv): Promise<Restorer> {
  switch (target.type) {
    case 'postgres':
      return postgresRestorer(target, env)
    case 'sqlite':
      return sqliteRestorer(target, env)
    case 'directory':
      return directoryRestorer(target, env)
    case 'mysql':
    case 'mariadb':
      return mysqlRestorer(target, env)
  }
}

// ---------------------------------------------------------------------------------------
// MariaDB/MySQL: load into a new database first (proof the dump loads, errors fatal);
// then, with the service stopped, reload the live database from the same dump. MySQL has
// no RENAME DATABASE (and tables with triggers cannot move between databases), so the old
// data is kept as the pre-restore safety backup, which a rollback or --undo loads back.
// ---------------------------------------------------------------------------------------

/**
 * Rewrites a single-database dump (mariadb-dump --databases X) to load into another
 * database: its `CREATE DATABASE … \`X\`` and `USE \`X\`` lines name the new one.
 */
export function retargetDump(database: string): Transform {
  const quoted = `\`${database.replace(/`/g, '``')}\``
  let pending: Buffer = Buffer.alloc(0)
  const rewrite = (line: Buffer): Buffer => {
    if (line[0] !== 0x43 && line[0] !== 0x55) return line // 'C', 'U'
    const text = line.toString('utf8')
    if (text.startsWith('CREATE DATABASE ')) return Buffer.from(text.replace(/`(?:[^`]|``)+`/, quoted))
    if (text.startsWith('USE `')) return Buffer.from(`USE ${quoted};\n`)
    return line
  }
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      const data = pending.length > 0 ? Buffer.concat([pending, chunk]) : chunk
      const out: Buffer[] = []
      let start = 0
      for (let nl = data.indexOf(10, start); nl !== -1; nl = data.indexOf(10, start)) {
        out.push(rewrite(data.subarray(start, nl + 1)))
        start = nl + 1
      }
      pending = data.subarray(start)
      callback(null, out.length > 0 ? Buffer.concat(out) : undefined)
    },
    flush(callback) {
      callback(null, pending.length > 0 ? rewrite(pending) : undefined)
    },
  })
}

async function mysqlRestorer(target: Extract<BackupTarget, { type: 'mysql' | 'mariadb' }>, env: RestoreEnv): Promise<Restorer> {
  const container = target.container
  if (target.database === undefined || (Array.isArray(target.database) && target.database.length !== 1)) {
    throw new OwnopsError(`ownops restores ${target.type} targets of one database; this target dumps ${target.database === undefined ? 'all databases' : 'several'}`, {
      exitCode: ExitCode.unavailable,
      hint: `restore by hand: gzip -dc BACKUP.sql.gz | docker exec -i ${container} mariadb -u${target.user} -p  (the dump recreates its databases)`,
    })
  }
  const db = Array.isArray(target.database) ? (target.database[0] as string) : target.database
  const docker = await env.docker()
  const facts = await inspectContainer(docker, container)
  if (!facts.running) throw new OwnopsError(`container ${container} is not running; the restore runs inside it`, { exitCode: ExitCode.failed, hint: `docker start ${container}` })
  const probe = await execCapture(docker, container, ['sh', '-c', 'command -v mariadb || command -v mysql'])
  const client = probe.stdout.trim().split('\n')[0]
  if (probe.exitCode !== 0 || !client) throw new OwnopsError(`neither mariadb nor mysql is available in container ${container}`, { exitCode: ExitCode.failed })
  const execEnv = mysqlExecEnv(target, facts)
  const base = [client, `--user=${target.user}`, '--default-character-set=utf8mb4']
  const staging = `${db}__ownops_restore`.slice(0, 64)
  const q = (name: string) => `\`${name.replace(/`/g, '``')}\``
  const sql = async (query: string, database?: string): Promise<string> => {
    const r = await execCapture(docker, container, [...base, '--batch', '--skip-column-names', ...(database ? [database] : []), '-e', query], { env: execEnv })
    if (r.exitCode !== 0) throw new DumpFailure(`${client.split('/').pop() ?? client} in ${container} failed with exit ${r.exitCode}`, tail(r.stderr))
    return r.stdout.trim()
  }
  const exists = async (name: string): Promise<boolean> => (await sql(`SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ${literal(name)}`)) === '1'
  const load = async (entry: BackupEntry, into: string, signal?: AbortSignal): Promise<void> => {
    const input = createReadStream(entry.path, { highWaterMark: 1 << 20 }).pipe(createGunzip()).pipe(retargetDump(into))
    const r = await execWithInput(docker, container, [...base, into], input, { env: execEnv, ...(signal ? { signal } : {}) })
    if (r.exitCode !== 0) throw new DumpFailure(`loading the dump into database ${into} failed with exit ${r.exitCode}`, tail(r.stderr))
  }
  const recreate = async (name: string): Promise<void> => {
    await sql(`DROP DATABASE IF EXISTS ${q(name)}`)
    await sql(`CREATE DATABASE ${q(name)} CHARACTER SET utf8mb4`)
  }
  return {
    async place() {
      return { live: `database ${db} in ${container}`, kept: 'the pre-restore safety backup (loaded back on rollback or --undo)', exists: await exists(db) }
    },
    async stage(entry, to) {
      const name = to ?? staging
      if (to !== undefined && (await exists(to))) throw new OwnopsError(`database ${to} already exists in ${container}`, { exitCode: ExitCode.failed, hint: 'choose another --to name, or drop it first' })
      await recreate(name)
      try {
        await load(entry, name, env.signal)
      } catch (error) {
        if (!env.signal.aborted) await sql(`DROP DATABASE IF EXISTS ${q(name)}`).catch(() => undefined)
        throw error
      }
      return { where: name, details: { entry: entry.path } }
    },
    async swap(staged, safety) {
      const entryPath = staged.details?.entry
      if (typeof entryPath !== 'string') throw new Error('staged restore without its backup')
      // The staged load proved the dump; the live database is rebuilt from it.
      await recreate(db)
      await load({ path: entryPath, manifest: { compression: 'gzip' } } as BackupEntry, db)
      await sql(`DROP DATABASE IF EXISTS ${q(staged.where)}`).catch((error: unknown) => env.log.warn({ err: error }, `could not drop ${staged.where}`))
      return { live: db, ...(safety !== undefined ? { kept: safety.path } : {}) }
    },
    async rollback(swapped) {
      await recreate(db)
      if (swapped.kept !== undefined) await load({ path: swapped.kept, manifest: { compression: 'gzip' } } as BackupEntry, db)
    },
    async discard(staged) {
      await sql(`DROP DATABASE IF EXISTS ${q(staged.where)}`)
    },
    async check(staged) {
      const tables = (await sql(`SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ${literal(staged.where)} AND TABLE_TYPE = 'BASE TABLE' ORDER BY 1`)).split('\n').filter(Boolean)
      let rows = 0
      for (const table of tables) rows += Number(await sql(`SELECT COUNT(*) FROM ${q(staged.where)}.${q(table)}`))
      return { tables: tables.length, rows }
    },
    async undo(kept) {
      if (!(await pathExists(kept))) throw new OwnopsError(`${kept} is gone; nothing to undo`, { exitCode: ExitCode.failed })
      await recreate(db)
      await load({ path: kept, manifest: { compression: 'gzip' } } as BackupEntry, db)
      return { live: db }
    },
  }
}

// ---------------------------------------------------------------------------------------
// PostgreSQL: a new database, then ALTER DATABASE … RENAME
// ---------------------------------------------------------------------------------------

const ident = (name: string): string => `"${name.replace(/"/g, '""')}"`
const literal = (text: string): string => `'${text.replace(/'/g, "''")}'`

/** PostgreSQL names are at most 63 bytes: shorten the database part, keep the suffix. */
function pgName(db: string, suffix: string): string {
  const room = 63 - Buffer.byteLength(suffix)
  let head = db
  while (Buffer.byteLength(head) > room) head = head.slice(0, -1)
  return head + suffix
}

async function postgresRestorer(target: Extract<BackupTarget, { type: 'postgres' }>, env: RestoreEnv): Promise<Restorer> {
  if (target.container === undefined) {
    throw new OwnopsError('restore of a postgres target with url: is not built in this version', {
      exitCode: ExitCode.unavailable,
      hint: 'restore by hand with pg_restore -d URL BACKUP.pgdump, or configure container: for the target',
    })
  }
  const container = target.container
  const docker = await env.docker()
  const facts = await inspectContainer(docker, container)
  if (!facts.running) throw new OwnopsError(`container ${container} is not running; the restore runs inside it`, { exitCode: ExitCode.failed, hint: `docker start ${container}` })
  const user = target.user ?? facts.env.POSTGRES_USER ?? 'postgres'
  const db = target.database ?? facts.env.POSTGRES_DB ?? facts.env.POSTGRES_USER ?? 'postgres'
  const execEnv = facts.env.POSTGRES_PASSWORD ? [`PGPASSWORD=${facts.env.POSTGRES_PASSWORD}`] : []
  const staging = pgName(db, '__ownops_restore')
  const kept = pgName(db, `__pre_restore_${env.stamp}`)

  // Only staging may be interrupted: a swap or rollback, once begun, runs to its end.
  const sql = async (query: string, database = 'postgres', interruptible = false): Promise<string> => {
    const r = await execCapture(docker, container, ['psql', '-U', user, '--no-password', '-d', database, '-v', 'ON_ERROR_STOP=1', '-At', '-c', query], { env: execEnv, ...(interruptible ? { signal: env.signal } : {}) })
    if (r.exitCode !== 0) throw new DumpFailure(`psql in ${container} failed with exit ${r.exitCode}`, tail(r.stderr))
    return r.stdout.trim()
  }
  const exists = async (name: string): Promise<boolean> => (await sql(`select 1 from pg_database where datname = ${literal(name)}`)) === '1'
  const disconnect = (name: string): Promise<string> => sql(`select count(pg_terminate_backend(pid)) from pg_stat_activity where datname = ${literal(name)} and pid <> pg_backend_pid()`)

  return {
    async place() {
      return { live: `database ${db} in ${container}`, kept: `database ${kept}`, exists: await exists(db) }
    },
    async stage(entry, to) {
      const name = to ?? staging
      if (to !== undefined && (await exists(to))) {
        throw new OwnopsError(`database ${to} already exists in ${container}`, { exitCode: ExitCode.failed, hint: 'choose another --to name, or drop it first' })
      }
      if (to === undefined && (await exists(staging))) {
        env.log.info({ database: staging }, 'dropping the staging database of an earlier, unfinished restore')
        await sql(`drop database ${ident(staging)}`)
      }
      const owner = (await exists(db)) ? await sql(`select pg_get_userbyid(datdba) from pg_database where datname = ${literal(db)}`) : user
      await sql(`create database ${ident(name)} owner ${ident(owner)} template template0`)
      try {
        const plain = entry.manifest.compression === 'gzip'
        const input = plain ? createReadStream(entry.path).pipe(createGunzip()) : createReadStream(entry.path, { highWaterMark: 1 << 20 })
        const argv = plain
          ? ['psql', '-U', user, '--no-password', '-d', name, '-v', 'ON_ERROR_STOP=1', '-q', '-o', '/dev/null']
          : ['pg_restore', '-U', user, '--no-password', '--exit-on-error', '-d', name]
        const r = await execWithInput(docker, container, argv, input, { env: execEnv, signal: env.signal })
        if (r.exitCode !== 0) throw new DumpFailure(`${argv[0] ?? ''} into database ${name} failed with exit ${r.exitCode}`, tail(r.stderr))
      } catch (error) {
        if (!env.signal.aborted) await sql(`drop database if exists ${ident(name)}`).catch(() => undefined)
        throw error
      }
      return { where: name }
    },
    async swap(staged) {
      const had = await exists(db)
      if (had) {
        await disconnect(db)
        await sql(`alter database ${ident(db)} rename to ${ident(kept)}`)
      }
      try {
        await sql(`alter database ${ident(staged.where)} rename to ${ident(db)}`)
      } catch (error) {
        if (had) await sql(`alter database ${ident(kept)} rename to ${ident(db)}`)
        throw error
      }
      return { live: db, ...(had ? { kept } : {}) }
    },
    async rollback(swapped) {
      const failed = pgName(db, `__failed_restore_${env.stamp}`)
      await disconnect(db)
      await sql(`alter database ${ident(db)} rename to ${ident(failed)}`)
      if (swapped.kept !== undefined) await sql(`alter database ${ident(swapped.kept)} rename to ${ident(db)}`)
      await sql(`drop database ${ident(failed)}`).catch((error: unknown) => env.log.warn({ err: error }, `could not drop ${failed}`))
    },
    async discard(staged) {
      await sql(`drop database if exists ${ident(staged.where)}`)
    },
    async check(staged) {
      const tables = (await sql(`select format('%I.%I', schemaname, tablename) from pg_tables where schemaname not in ('pg_catalog', 'information_schema') order by 1`, staged.where))
        .split('\n')
        .filter(Boolean)
      let rows = 0
      for (const table of tables) rows += Number(await sql(`select count(*) from ${table}`, staged.where))
      return { tables: tables.length, rows }
    },
    async undo(keptName) {
      if (!(await exists(keptName))) throw new OwnopsError(`database ${keptName} is gone; nothing to undo`, { exitCode: ExitCode.failed })
      const undone = pgName(db, `__undone_${env.stamp}`)
      await disconnect(db)
      if (await exists(db)) await sql(`alter database ${ident(db)} rename to ${ident(undone)}`)
      await disconnect(keptName)
      await sql(`alter database ${ident(keptName)} rename to ${ident(db)}`)
      return { live: db, kept: undone }
    },
  }
}

// ---------------------------------------------------------------------------------------
// SQLite: a file beside the database, then rename (with its -wal and -shm)
// ---------------------------------------------------------------------------------------

const SQLITE_SIDE_FILES = ['', '-wal', '-shm']

async function pathExists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  )
}

async function sqliteRestorer(target: Extract<BackupTarget, { type: 'sqlite' }>, env: RestoreEnv): Promise<Restorer> {
  const { path: live } = await resolveSqlitePath(target, env)
  const kept = `${live}.pre-restore-${env.stamp}`
  const integrity = async (file: string): Promise<void> => {
    const r = await runCapture(['sqlite3', '-bail', file, 'PRAGMA integrity_check;'], { log: env.log, signal: env.signal })
    if (r.exitCode !== 0 || r.stdout.trim() !== 'ok') throw new DumpFailure(`the restored database fails PRAGMA integrity_check`, tail(`${r.stdout}\n${r.stderr}`))
  }
  return {
    async place() {
      return { live: live, kept, exists: await pathExists(live) }
    },
    async stage(entry, to) {
      const file = to ?? join(dirname(live), `.${basename(live)}.ownops-restore-${env.stamp}`)
      if (to !== undefined && (await pathExists(to))) throw new OwnopsError(`${to} already exists`, { exitCode: ExitCode.failed, hint: 'choose another --to path' })
      await mkdir(dirname(file), { recursive: true })
      try {
        await decompressFile(entry, file, env.signal)
        await integrity(file)
        const old = await stat(live).catch(() => undefined)
        if (old !== undefined) {
          await chown(file, old.uid, old.gid)
          await chmod(file, old.mode & 0o7777)
        }
      } catch (error) {
        await rm(file, { force: true })
        throw error
      }
      return { where: file }
    },
    async swap(staged) {
      const moved: string[] = []
      try {
        for (const suffix of SQLITE_SIDE_FILES) {
          if (await pathExists(live + suffix)) {
            await rename(live + suffix, kept + suffix)
            moved.push(suffix)
          }
        }
        await rename(staged.where, live)
      } catch (error) {
        for (const suffix of moved) await rename(kept + suffix, live + suffix).catch(() => undefined)
        throw error
      }
      return { live, ...(moved.includes('') ? { kept } : {}) }
    },
    async rollback(swapped) {
      for (const suffix of SQLITE_SIDE_FILES) await rm(live + suffix, { force: true })
      if (swapped.kept !== undefined) for (const suffix of SQLITE_SIDE_FILES) await rename(swapped.kept + suffix, live + suffix).catch(() => undefined)
    },
    async discard(staged) {
      await rm(staged.where, { force: true })
    },
    async check(staged) {
      await integrity(staged.where)
      return { integrityCheck: 'ok' }
    },
    async undo(keptPath) {
      if (!(await pathExists(keptPath))) throw new OwnopsError(`${keptPath} is gone; nothing to undo`, { exitCode: ExitCode.failed })
      const undone = `${live}.undone-${env.stamp}`
      for (const suffix of SQLITE_SIDE_FILES) if (await pathExists(live + suffix)) await rename(live + suffix, undone + suffix)
      for (const suffix of SQLITE_SIDE_FILES) if (await pathExists(keptPath + suffix)) await rename(keptPath + suffix, live + suffix)
      return { live, kept: undone }
    },
  }
}

// ---------------------------------------------------------------------------------------
// Directories and volumes: extract beside the tree, then rename
// ---------------------------------------------------------------------------------------

function tarDecompressArgs(entry: BackupEntry): string[] {
  return entry.manifest.compression === 'zstd' ? ['-I', 'zstd'] : entry.manifest.compression === 'gzip' ? ['-z'] : []
}

/** Lists the archive and refuses it when an entry could write outside the destination. */
export async function checkArchive(entry: BackupEntry, env: Pick<RestoreEnv, 'log' | 'signal' | 'allowOutsideLinks'>): Promise<number> {
  const listed = await runCapture(['tar', ...tarDecompressArgs(entry), '-tv', '--full-time', '--numeric-owner', '--quoting-style=escape', '-f', entry.path], { log: env.log, signal: env.signal, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' } })
  if (listed.exitCode !== 0) throw new DumpFailure(`the archive ${entry.manifest.file} cannot be read to the end`, tail(listed.stderr))
  const entries = parseListing(listed.stdout)
  const problems = unsafeEntries(entries, { allowOutsideLinks: env.allowOutsideLinks === true })
  if (problems.length > 0) {
    throw new OwnopsError(`refusing to extract ${entry.manifest.file}: ${problems.length} unsafe entr${problems.length === 1 ? 'y' : 'ies'}`, {
      exitCode: ExitCode.failed,
      details: problems.slice(0, 20),
      hint: problems.some((p) => p.includes('symbolic link to')) && problems.every((p) => p.includes('symbolic link to'))
        ? 'only links that point outside: --allow-outside-links restores them as links (never followed)'
        : 'this archive was not written by ownops, or has been tampered with',
    })
  }
  return entries.length
}

async function directoryRestorer(target: Extract<BackupTarget, { type: 'directory' }>, env: RestoreEnv): Promise<Restorer> {
  const { root, where } = await resolveRoot(target, { ...env, id: '', dir: '' })
  const live = root.replace(/\/+$/, '')
  const kept = `${live}.pre-restore-${env.stamp}`
  const extract = async (entry: BackupEntry, dest: string): Promise<void> => {
    await checkArchive(entry, env)
    await mkdir(dest, { recursive: true, mode: 0o700 })
    const r = await runCapture(
      ['tar', ...tarDecompressArgs(entry), '-x', '-f', entry.path, '-C', dest, '--numeric-owner', '--same-owner', '--same-permissions', '--delay-directory-restore', '--no-overwrite-dir'],
      { log: env.log, signal: env.signal, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' } },
    )
    if (r.exitCode !== 0) throw new DumpFailure(`extracting ${entry.manifest.file} failed with exit ${String(r.exitCode)}`, tail(r.stderr))
  }
  return {
    async place() {
      return { live: `${where} (${live})`, kept, exists: await pathExists(live) }
    },
    async stage(entry, to) {
      if (to !== undefined) {
        const existing = await import('node:fs/promises').then((fs) => fs.readdir(to).catch(() => [] as string[]))
        if (existing.length > 0) throw new OwnopsError(`${to} is not empty`, { exitCode: ExitCode.failed, hint: 'restore side by side into a new or empty directory' })
      }
      const dest = to ?? `${live}.ownops-restore-${env.stamp}`
      try {
        await extract(entry, dest)
      } catch (error) {
        if (to === undefined) await rm(dest, { recursive: true, force: true })
        throw error
      }
      return { where: dest }
    },
    async swap(staged) {
      const had = await pathExists(live)
      if (had) await rename(live, kept)
      try {
        await rename(staged.where, live)
      } catch (error) {
        if (had) await rename(kept, live)
        throw error
      }
      return { live, ...(had ? { kept } : {}) }
    },
    async rollback(swapped) {
      const failed = `${live}.failed-restore-${env.stamp}`
      await rename(live, failed)
      if (swapped.kept !== undefined) await rename(swapped.kept, live)
      await rm(failed, { recursive: true, force: true })
    },
    async discard(staged) {
      await rm(staged.where, { recursive: true, force: true })
    },
    async check(staged, entry) {
      const counted = await runCapture(['sh', '-c', 'find . | wc -l; du -sb --apparent-size . | cut -f1'], { log: env.log, cwd: staged.where })
      const [entries = 0, bytes = 0] = counted.stdout.trim().split('\n').map(Number)
      const expected = entry.manifest.source.files
      if (typeof expected === 'number' && entries !== expected) {
        throw new DumpFailure(`the restored tree has ${entries} entries, the manifest says ${expected}`, '')
      }
      return { entries, bytes }
    },
    async undo(keptPath) {
      if (!(await pathExists(keptPath))) throw new OwnopsError(`${keptPath} is gone; nothing to undo`, { exitCode: ExitCode.failed })
      const undone = `${live}.undone-${env.stamp}`
      if (await pathExists(live)) await rename(live, undone)
      await rename(keptPath, live)
      return { live, kept: undone }
    },
  }
}
