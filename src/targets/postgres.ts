/**
 * `type: postgres` — pg_dump inside the database container through the Docker exec API
 * (client and server versions then always match), or on the host with a connection URL.
 * Custom format (-Fc, compressed by pg_dump) by default; plain SQL gzip'd on request.
 * With `globals: true`, roles and tablespaces (pg_dumpall --globals-only) are recorded in
 * the manifest's source as SQL text. The dump streams to the artifact; a non-zero exit of
 * pg_dump is a failure.
 *
 * A restore loads the dump into a new database while the service runs (pg_restore
 * --exit-on-error, or psql with ON_ERROR_STOP), then swaps it in with ALTER DATABASE …
 * RENAME, keeping the old database as `<db>__pre_restore_<time>`. Every statement runs from
 * a maintenance database other than the ones renamed (template1 when the target's own
 * database is `postgres`).
 */
import { createReadStream } from 'node:fs'
import type { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createGunzip } from 'node:zlib'
import type { BackupEntry } from '../backup/catalog.js'
import { containerNotRunning, OwnopsError } from '../errors.js'
import { compressInto } from '../sys/compress.js'
import { metered, type ReadMeter } from '../ui/progress.js'
import type { Docker } from '../sys/docker.js'
import { runCapture, spawnProcess } from '../sys/exec.js'
import { execCapture, execToStream, execWithInput, inspectContainer, type ContainerFacts } from '../sys/docker-exec.js'
import { parseStamp } from './leftovers.js'
import {
  DumpFailure,
  firstError,
  literal,
  tail,
  type DbClient,
  type DbClientEnv,
  type Dump,
  type Leftover,
  type RestoreEnv,
  type Restorer,
  type SourceEnv,
  type TargetPlugin,
} from './types.js'
import { postgresSchema, postgresRules, type PostgresTarget } from './schema.js'

export { postgresSchema as schema, type PostgresTarget } from './schema.js'

export const ident = (name: string): string => `"${name.replace(/"/g, '""')}"`

/** PostgreSQL names are at most 63 bytes: shorten the database part, keep the suffix. */
export function pgName(db: string, suffix: string): string {
  const room = 63 - Buffer.byteLength(suffix)
  let head = db
  while (Buffer.byteLength(head) > room) head = head.slice(0, -1)
  return head + suffix
}

/** A database to run statements from that is not `db` itself (it may be renamed or dropped). */
export function maintenanceDb(db: string): string {
  return db === 'postgres' ? 'template1' : 'postgres'
}

/** Every transaction of a session read-only, whatever its statements ask (a dry run's count). */
const READ_ONLY_PGOPTIONS = '-c default_transaction_read_only=on'

/** One connection to a PostgreSQL server in a container: who, which database, and psql through exec. */
export interface PostgresConnection {
  docker: Docker
  container: string
  facts: ContainerFacts
  user: string
  database: string
  execEnv: string[]
  /** psql -At: rows tab-separated. `signal` makes it interruptible. */
  sql(query: string, options?: { database?: string; signal?: AbortSignal; readOnly?: boolean }): Promise<string>
}

export async function connect(
  target: PostgresTarget,
  container: string,
  env: { docker(): Promise<Docker>; signal?: AbortSignal },
  purpose = 'the SQL runs inside it',
): Promise<PostgresConnection> {
  const docker = await env.docker()
  const facts = await inspectContainer(docker, container)
  if (!facts.running) throw containerNotRunning(container, purpose)
  const user = target.user ?? facts.env.POSTGRES_USER ?? 'postgres'
  const database = target.database ?? facts.env.POSTGRES_DB ?? facts.env.POSTGRES_USER ?? 'postgres'
  const execEnv = facts.env.POSTGRES_PASSWORD ? [`PGPASSWORD=${facts.env.POSTGRES_PASSWORD}`] : []
  return {
    docker,
    container,
    facts,
    user,
    database,
    execEnv,
    async sql(query, options = {}) {
      const r = await execCapture(
        docker,
        container,
        [
          'psql',
          '-X',
          ...(options.readOnly ? ['-q'] : []),
          '-U',
          user,
          '--no-password',
          '-d',
          options.database ?? database,
          '-v',
          'ON_ERROR_STOP=1',
          '-At',
          '-F',
          '\t',
          '-c',
          query,
        ],
        {
          env: [...execEnv, ...(options.readOnly ? [`PGOPTIONS=${READ_ONLY_PGOPTIONS}`] : [])],
          ...(options.signal ? { signal: options.signal } : {}),
        },
      )
      if (r.exitCode !== 0)
        throw new DumpFailure(`psql in ${facts.name} failed: ${firstError(r.stderr) ?? `exit ${r.exitCode}`}`, tail(r.stderr))
      return r.stdout.replace(/\n$/, '')
    },
  }
}

export const postgres: TargetPlugin<PostgresTarget> = {
  schema: postgresSchema,
  description: 'pg_dump inside the database container (or with url: on the host)',

  describe(target) {
    return target.container !== undefined ? `pg_dump ${target.database ?? '(default db)'} in ${target.container}` : 'pg_dump via url'
  },

  rules: postgresRules,

  async dump(target, env) {
    if (target.container !== undefined) return inContainer(target, target.container, env)
    if (target.url !== undefined) return onHost(target, target.url, env)
    throw new OwnopsError(`backup target ${env.target}: postgres needs container or url`, { kind: 'config' })
  },

  async client(_name, target, env) {
    if (target.container === undefined) return clientOnHost(target, env)
    const c = await connect(target, target.container, env)
    return {
      dialect: 'postgres',
      where: `database ${c.database} in container ${c.facts.name}`,
      database: c.database,
      quote: ident,
      query: (sql, options = {}) => c.sql(sql, options),
    }
  },

  restorer: postgresRestorer,

  async readable(entry, target, env) {
    if (entry.manifest.compression === 'custom') {
      if (target.container === undefined) return undefined // no pg_restore to read it with; the checksum stands
      const r = await execWithInput(
        await env.docker(),
        target.container,
        ['pg_restore', '--list'],
        metered(createReadStream(entry.path, { highWaterMark: 1 << 20 }), env.meter),
        { signal: env.signal },
      )
      return r.exitCode === 0 ? undefined : `pg_restore --list fails: ${r.stderr.trim().split('\n').slice(-2).join(' / ')}`
    }
    return gzipReadable(entry, env.signal, env.meter)
  },

  drillPlace(_name, target, env) {
    return pgName((target.database ?? 'db').slice(0, 30), `__ownops_drill_${env.stamp}`.toLowerCase())
  },

  async leftovers(_name, target, env) {
    if (target.container === undefined) return []
    const c = await connect(target, target.container, env)
    const maintenance = maintenanceDb(c.database)
    const rows = await c.sql(
      `SELECT datname, pg_database_size(datname) FROM pg_database WHERE datname ~* '__(pre_restore|undone|failed_restore|ownops_drill)_\\d{8}t\\d{6}z$' OR datname ~ '__ownops_restore$'`,
      { database: maintenance },
    )
    const found: Leftover[] = []
    for (const line of rows.split('\n').filter(Boolean)) {
      const [db = '', size = '0'] = line.split('\t')
      const m = /^(.*)__(pre_restore|undone|failed_restore|ownops_drill)_(\d{8}t\d{6}z)$/i.exec(db) ?? /^(.*)__(ownops_restore)$/.exec(db)
      if (!m || m[1] === '' || m[1] === undefined) continue
      // Only copies of this target's database (its name may be cut short to fit 63 bytes).
      if (!c.database.startsWith(m[1]) && !(m[2] === 'ownops_drill' && (target.database ?? 'db').startsWith(m[1]))) continue
      const kind = m[2] === 'pre_restore' || m[2] === 'undone' ? 'kept' : 'staging'
      // A staging database has no time in its name: its age is that of its creation (unknown), so it counts from now on the next run.
      const time = m[3] !== undefined ? parseStamp(m[3]) : await stagingTime(c, db, maintenance)
      if (time === undefined) continue
      found.push({
        what: `database ${db} in ${target.container}`,
        kind,
        time,
        bytes: Number(size) || 0,
        remove: async () => {
          await c.sql(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = ${literal(db)}`, {
            database: maintenance,
          })
          await c.sql(`DROP DATABASE IF EXISTS ${ident(db)}`, { database: maintenance })
        },
      })
    }
    return found
  },
}

/** When a staging database was made: the modification time of its directory is not visible from SQL; its oldest backend or, failing that, the server's view of its files. */
async function stagingTime(c: PostgresConnection, db: string, maintenance: string): Promise<Date | undefined> {
  const active = await c.sql(`SELECT count(*) FROM pg_stat_activity WHERE datname = ${literal(db)}`, { database: maintenance })
  if (Number(active) > 0) return undefined // a restore is loading it right now
  const made = await c
    .sql(`SELECT (pg_stat_file('base/' || oid || '/PG_VERSION')).modification FROM pg_database WHERE datname = ${literal(db)}`, {
      database: maintenance,
    })
    .catch(() => '')
  const time = new Date(made.replace(' ', 'T').replace(/([+-]\d\d)$/, '$1:00'))
  return Number.isNaN(time.getTime()) ? undefined : time
}

async function gzipReadable(entry: BackupEntry, signal: AbortSignal, meter?: ReadMeter): Promise<string | undefined> {
  const { Writable: W } = await import('node:stream')
  try {
    await pipeline(
      metered(createReadStream(entry.path, { highWaterMark: 1 << 20 }), meter),
      createGunzip(),
      new W({ write: (_c, _e, cb) => cb() }),
      { signal },
    )
    return undefined
  } catch (error) {
    if (signal.aborted) throw error
    return `gzip stream is damaged: ${(error as Error).message}`
  }
}

async function clientOnHost(target: PostgresTarget, env: DbClientEnv): Promise<DbClient> {
  const url = target.url ?? ''
  const database = new URL(url).pathname.replace(/^\//, '') || 'postgres'
  return {
    dialect: 'postgres',
    where: `database ${database} at ${url.replace(/\/\/[^@/]*@/, '//***@')}`,
    database,
    quote: ident,
    async query(sql, options = {}) {
      const dbUrl = options.database !== undefined ? Object.assign(new URL(url), { pathname: `/${options.database}` }).toString() : url
      const argv = [
        'psql',
        '-X',
        ...(options.readOnly ? ['-q'] : []),
        '--no-password',
        `--dbname=${dbUrl}`,
        '-v',
        'ON_ERROR_STOP=1',
        '-At',
        '-F',
        '\t',
        '-c',
        sql,
      ]
      const r = await runCapture(argv, {
        log: env.log,
        env: { ...env.env, ...(options.readOnly ? { PGOPTIONS: READ_ONLY_PGOPTIONS } : {}) },
        ...(env.signal ? { signal: env.signal } : {}),
        outputLimit: Number.POSITIVE_INFINITY,
        notInstalled: 'apt-get install postgresql-client, or use container: NAME',
      })
      if (r.exitCode !== 0) throw new DumpFailure(`psql failed: ${firstError(r.stderr) ?? `exit ${String(r.exitCode)}`}`, tail(r.stderr))
      return r.stdout
    },
  }
}

async function inContainer(target: PostgresTarget, container: string, env: SourceEnv): Promise<Dump> {
  const c = await connect(target, container, env, 'pg_dump runs inside it')
  const { docker, facts, user, database, execEnv } = c
  const version = await execCapture(docker, container, ['pg_dump', '--version'], { env: execEnv, signal: env.signal })
  if (version.exitCode !== 0) {
    throw new OwnopsError(`pg_dump is not available in container ${container}: ${tail(version.stderr, 3) || `exit ${version.exitCode}`}`, {
      kind: 'failed',
      hint: 'run the backup against the database container itself (the postgres image has pg_dump), or use url: for a host pg_dump',
    })
  }
  let globals: string | undefined
  if (target.globals) {
    const dumped = await execCapture(docker, container, ['pg_dumpall', '--globals-only', '--no-password', '-U', user], {
      env: execEnv,
      signal: env.signal,
      stdoutLimit: 64 * 1024 * 1024,
    })
    if (dumped.exitCode !== 0) throw new DumpFailure(`pg_dumpall --globals-only failed with exit ${dumped.exitCode}`, tail(dumped.stderr))
    globals = dumped.stdout
  }
  const plain = target.format === 'plain'
  const argv = ['pg_dump', '--no-password', '-U', user, plain ? '-Fp' : '-Fc', database]
  return {
    ext: plain ? 'sql.gz' : 'pgdump',
    compression: plain ? 'gzip' : 'custom',
    details: {
      container: facts.name,
      image: facts.image,
      database,
      user,
      format: target.format,
      pgDump: version.stdout.trim(),
      ...(globals !== undefined ? { globals } : {}),
    },
    needsRunning: [facts.name],
    async write(out) {
      const stage = plain ? await compressInto('gzip', out, { signal: env.signal }) : undefined
      const input = stage?.input ?? out
      const result = await execToStream(docker, container, argv, input, { env: execEnv, signal: env.signal })
      if (result.exitCode !== 0) {
        input.destroy()
        throw new DumpFailure(`pg_dump of database ${database} in ${container} failed with exit ${result.exitCode}`, tail(result.stderr))
      }
      await endAndWait(input, out, stage?.done)
      return { warnings: [] }
    },
  }
}

async function onHost(target: PostgresTarget, url: string, env: SourceEnv): Promise<Dump> {
  const version = await runCapture(['pg_dump', '--version'], {
    log: env.log,
    notInstalled: 'apt-get install postgresql-client, or back up through the container: container: NAME',
  })
  const plain = target.format === 'plain'
  const args = ['--no-password', `--dbname=${url}`, plain ? '-Fp' : '-Fc']
  return {
    ext: plain ? 'sql.gz' : 'pgdump',
    compression: plain ? 'gzip' : 'custom',
    details: { url: url.replace(/\/\/[^@/]*@/, '//***@'), format: target.format, pgDump: version.stdout.trim() },
    async write(out) {
      // Through a pipe, never into the artifact's file: given a file, pg_dump -Fc goes back
      // at the end to rewrite its table of contents, under bytes already hashed.
      const stage = plain ? await compressInto('gzip', out, { signal: env.signal }) : undefined
      const input = stage?.input ?? out
      const pgDump = spawnProcess(['pg_dump', ...args], { log: env.log, signal: env.signal, env: env.env })
      await pipeline(pgDump.child.stdout as Readable, input, { end: false })
      const result = await pgDump.exited
      if (result.exitCode !== 0) {
        input.destroy()
        throw new DumpFailure(`pg_dump failed with exit ${String(result.exitCode ?? result.signal)}`, tail(result.stderr))
      }
      await endAndWait(input, out, stage?.done)
      return { warnings: [] }
    },
  }
}

/** Ends the stage input and waits until every byte reached the artifact. */
export async function endAndWait(input: Writable, out: Writable, done?: Promise<void>): Promise<void> {
  if (done !== undefined) {
    input.end()
    await done
    return
  }
  await new Promise<void>((resolve, reject) => {
    out.once('error', reject)
    out.end(() => resolve())
  })
}

async function postgresRestorer(target: PostgresTarget, env: RestoreEnv): Promise<Restorer> {
  if (target.container === undefined) {
    throw new OwnopsError('restore of a postgres target with url: is not built in this version', {
      kind: 'unavailable',
      hint: 'restore by hand with pg_restore -d URL BACKUP.pgdump, or configure container: for the target',
    })
  }
  const container = target.container
  const c = await connect(target, container, env, 'the restore runs inside it')
  const { docker, user, execEnv } = c
  const db = c.database
  const maintenance = maintenanceDb(db)
  const staging = pgName(db, '__ownops_restore')
  const kept = pgName(db, `__pre_restore_${env.stamp}`)

  // Only staging may be interrupted: a swap or rollback, once begun, runs to its end.
  const sql = (query: string, database = maintenance, interruptible = false): Promise<string> =>
    c.sql(query, { database, ...(interruptible ? { signal: env.signal } : {}) })
  const exists = async (name: string): Promise<boolean> => (await sql(`select 1 from pg_database where datname = ${literal(name)}`)) === '1'
  /** Ends the other sessions of `name` and renames it; retried while a client reconnects in between. */
  const rename = async (from: string, to: string): Promise<void> => {
    for (let attempt = 1; ; attempt++) {
      await sql(
        `select count(pg_terminate_backend(pid)) from pg_stat_activity where datname = ${literal(from)} and pid <> pg_backend_pid()`,
      )
      try {
        await sql(`alter database ${ident(from)} rename to ${ident(to)}`)
        return
      } catch (error) {
        if (attempt >= 5 || !/being accessed by other users/.test(String((error as DumpFailure).stderrTail ?? ''))) throw error
        await new Promise((resolve) => setTimeout(resolve, 200 * attempt))
      }
    }
  }
  const drop = async (name: string): Promise<void> => {
    await sql(`select count(pg_terminate_backend(pid)) from pg_stat_activity where datname = ${literal(name)} and pid <> pg_backend_pid()`)
    await sql(`drop database if exists ${ident(name)}`)
  }

  return {
    runsIn: container,
    async place() {
      return { live: `database ${db} in ${container}`, kept: `database ${kept}`, exists: await exists(db) }
    },
    async users() {
      return { containers: [], processes: [] }
    },
    async preflight(_entry, to) {
      if (to !== undefined && (await exists(to)))
        throw new OwnopsError(`database ${to} already exists in ${container}`, {
          kind: 'failed',
          hint: 'choose another --to name, or drop it first',
        })
    },
    async stage(entry, to) {
      const name = to ?? staging
      // One round trip: the live database's owner (none when it does not exist yet) and whether `name` is taken.
      const [currentOwner = '', taken = 'f'] = (
        await sql(
          `select coalesce((select pg_get_userbyid(datdba) from pg_database where datname = ${literal(db)}), ''), exists(select 1 from pg_database where datname = ${literal(name)})`,
        )
      ).split('\t')
      if (to !== undefined && taken === 't') {
        throw new OwnopsError(`database ${to} already exists in ${container}`, {
          kind: 'failed',
          hint: 'choose another --to name, or drop it first',
        })
      }
      if (to === undefined && taken === 't') {
        env.log.info({ database: staging }, 'dropping the staging database of an earlier, unfinished restore')
        await drop(staging)
      }
      const owner = currentOwner !== '' ? currentOwner : user
      await sql(`create database ${ident(name)} owner ${ident(owner)} template template0`)
      try {
        const plain = entry.manifest.compression === 'gzip'
        const file = metered(createReadStream(entry.path, { highWaterMark: 1 << 20 }), env.meter)
        const input = plain ? file.pipe(createGunzip()) : file
        const argv = plain
          ? ['psql', '-X', '-U', user, '--no-password', '-d', name, '-v', 'ON_ERROR_STOP=1', '-q', '-o', '/dev/null']
          : ['pg_restore', '-U', user, '--no-password', '--exit-on-error', '-d', name]
        const r = await execWithInput(docker, container, argv, input, { env: execEnv, signal: env.signal })
        if (r.exitCode !== 0) throw new DumpFailure(`${argv[0] ?? ''} into database ${name} failed with exit ${r.exitCode}`, tail(r.stderr))
      } catch (error) {
        // Also when interrupted: the loader's session is ended and the half-loaded database dropped.
        await drop(name).catch((e: unknown) => env.log.warn({ err: e }, `could not drop ${name}`))
        throw error
      }
      return { where: name }
    },
    async swap(staged) {
      const had = await exists(db)
      if (had) await rename(db, kept)
      try {
        await rename(staged.where, db)
      } catch (error) {
        if (had) await rename(kept, db)
        throw error
      }
      return { live: db, ...(had ? { kept } : {}) }
    },
    async rollback(swapped) {
      const failed = pgName(db, `__failed_restore_${env.stamp}`)
      await rename(db, failed)
      if (swapped.kept !== undefined) await rename(swapped.kept, db)
      await drop(failed).catch((error: unknown) => env.log.warn({ err: error }, `could not drop ${failed}`))
    },
    async discard(staged) {
      await drop(staged.where)
    },
    async check(staged) {
      // Every table read to its end, in one statement (one round trip however many tables):
      // query_to_xml runs each table's count(*).
      const [tables = '0', rows = '0'] = (
        await sql(
          `select count(*), coalesce(sum((xpath('/row/n/text()', query_to_xml(format('select count(*) as n from %I.%I', schemaname, tablename), false, true, '')))[1]::text::bigint), 0) from pg_tables where schemaname not in ('pg_catalog', 'information_schema')`,
          staged.where,
        )
      ).split('\t')
      return { tables: Number(tables), rows: Number(rows) }
    },
    async undo(keptName) {
      if (!(await exists(keptName))) throw new OwnopsError(`database ${keptName} is gone; nothing to undo`, { kind: 'failed' })
      const undone = pgName(db, `__undone_${env.stamp}`)
      if (await exists(db)) await rename(db, undone)
      await rename(keptName, db)
      return { live: db, kept: undone }
    },
  }
}
