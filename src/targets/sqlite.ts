/**
 * `type: sqlite` — SQLite's online backup API (the sqlite3 shell's `.backup`), never a
 * plain copy of a live database: the copy is a consistent snapshot even while the service
 * writes. The copy must pass `PRAGMA integrity_check` before it counts; then it is
 * compressed into the artifact. A database inside a container is read on the host through
 * the volume or bind mount that holds it.
 *
 * A restore decompresses beside the live file (integrity_check before it counts, the old
 * file's owner and mode), and swaps it in by renames with its -wal and -shm. The containers
 * that mount the file, and the processes that hold it open, are found first: containers are
 * stopped for the swap, other processes are named in a refusal.
 */
import { createReadStream } from 'node:fs'
import { chmod, chown, mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, dirname, join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { partialName } from '../backup/artifact.js'
import { errnoKind, OwnopsError } from '../errors.js'
import { decompressFile } from '../restore/decompress.js'
import { compressInto, compressionExt } from '../sys/compress.js'
import type { Docker } from '../sys/docker.js'
import { hostPathInContainer, inspectContainer } from '../sys/docker-exec.js'
import { runCapture } from '../sys/exec.js'
import { processAlive } from '../sys/host.js'
import { containersUsing, processesHolding } from '../sys/in-use.js'
import { fileLeftovers, stampedLeftovers } from './leftovers.js'
import { DumpFailure, firstError, tail, type Leftover, type Restorer, type RestoreEnv, type TargetPlugin } from './types.js'
import { sqliteSchema, type SqliteTarget } from './schema.js'

export { sqliteSchema as schema, type SqliteTarget } from './schema.js'

const SQLITE_HEADER = 'SQLite format 3\0'
const SQLITE_SIDE_FILES = ['', '-wal', '-shm']

/** How to get the sqlite3 command. */
const SQLITE_HINT = 'apt-get install sqlite3'

export const sqlite: TargetPlugin<SqliteTarget> = {
  schema: sqliteSchema,
  description: 'SQLite online backup (.backup) with PRAGMA integrity_check',

  describe(target) {
    return `${target.path}${target.container ? ` in ${target.container}` : ''}`
  },

  rules() {
    return []
  },

  async dump(target, env) {
    const { path, container } = await resolveSqlitePath(target, env)
    await assertSqliteFile(path, env.target)
    const version = await runCapture(['sqlite3', '-version'], { log: env.log, notInstalled: SQLITE_HINT })
    const compression = target.compression
    return {
      ext: `sqlite${compressionExt[compression]}`,
      compression,
      details: { path: target.path, ...(container ? { container, hostPath: path } : {}), sqlite: version.stdout.split(' ')[0] },
      async write(out) {
        const copy = join(env.dir, partialName(`${env.id}.sqlite-copy`))
        try {
          // .timeout makes the backup wait for a writer's lock instead of failing with SQLITE_BUSY.
          const backup = await runCapture(['sqlite3', '-bail', path, '.timeout 30000', `.backup "${copy}"`], {
            log: env.log,
            signal: env.signal,
            notInstalled: SQLITE_HINT,
          })
          if (backup.exitCode !== 0)
            throw new DumpFailure(`sqlite3 .backup of ${target.path} failed with exit ${String(backup.exitCode)}`, tail(backup.stderr))
          const check = await runCapture(['sqlite3', '-bail', copy, 'PRAGMA integrity_check;'], {
            log: env.log,
            signal: env.signal,
            notInstalled: SQLITE_HINT,
          })
          const verdict = check.stdout.trim()
          if (check.exitCode !== 0 || verdict !== 'ok') {
            throw new DumpFailure(`the copy of ${target.path} fails PRAGMA integrity_check`, tail(`${verdict}\n${check.stderr}`))
          }
          const copied = await stat(copy)
          const stage = await compressInto(compression, out, { signal: env.signal })
          await pipeline(createReadStream(copy, { highWaterMark: 1 << 20 }), stage.input, { end: compression !== 'none' })
          if (compression === 'none') out.end()
          await stage.done
          return { warnings: [], details: { databaseBytes: copied.size, integrityCheck: 'ok' } }
        } finally {
          for (const suffix of ['', '-journal', '-wal', '-shm']) await rm(`${copy}${suffix}`, { force: true })
        }
      },
    }
  },

  async client(_name, target, env) {
    const { path } = await resolveSqlitePath(target, env)
    return {
      dialect: 'sqlite',
      where: path,
      database: path,
      quote: (name) => `"${name.replace(/"/g, '""')}"`,
      async query(sql, options = {}) {
        // .timeout waits for a writer's lock instead of failing with "database is locked".
        // Read-only: the file opened read-only, and no writefile(), ATTACH or extension (safe mode).
        const argv = [
          'sqlite3',
          ...(options.readOnly ? ['-readonly', '-safe'] : []),
          '-bail',
          '-batch',
          '-noheader',
          '-separator',
          '\t',
          path,
          '.timeout 30000',
          sql,
        ]
        const r = await runCapture(argv, {
          log: env.log,
          ...(env.signal ? { signal: env.signal } : {}),
          outputLimit: Number.POSITIVE_INFINITY,
          notInstalled: SQLITE_HINT,
        })
        if (r.exitCode !== 0)
          throw new DumpFailure(`sqlite3 ${path} failed: ${firstError(r.stderr) ?? `exit ${String(r.exitCode)}`}`, tail(r.stderr))
        return r.stdout
      },
    }
  },

  restorer: sqliteRestorer,

  async readable(entry, _target, env) {
    const copy = join(tmpdir(), `ownops-verify-${process.pid}-${Date.now()}.sqlite`)
    try {
      await decompressFile(entry, copy, env.signal, env.meter)
      const r = await runCapture(['sqlite3', '-bail', copy, 'PRAGMA integrity_check;'], { log: env.log, signal: env.signal })
      return r.exitCode === 0 && r.stdout.trim() === 'ok' ? undefined : `integrity_check: ${r.stdout.trim() || r.stderr.trim()}`
    } catch (error) {
      if (env.signal.aborted) throw error
      return `cannot decompress it: ${(error as Error).message}`
    } finally {
      await rm(copy, { force: true })
    }
  },

  drillPlace(name, _target, env) {
    return join(tmpdir(), `ownops-drill-${name}-${env.stamp}.sqlite`)
  },

  async leftovers(name, target, env) {
    const found: Leftover[] = []
    const { path } = await resolveSqlitePath(target, env)
    found.push(...(await fileLeftovers(path, ['', '-wal', '-shm', '-journal'])))
    found.push(...(await stampedLeftovers(tmpdir(), `ownops-drill-${name}-`, '\\.sqlite(-wal|-shm|-journal)?')))
    // Copies `verify` decompressed, of runs that are gone.
    for (const file of await readdir(tmpdir()).catch(() => [] as string[])) {
      const m = /^ownops-verify-(\d+)-(\d+)\.sqlite/.exec(file)
      if (!m || processAlive(Number(m[1]))) continue
      const at = join(tmpdir(), file)
      const s = await stat(at).catch(() => undefined)
      if (s !== undefined)
        found.push({ what: at, kind: 'staging', time: new Date(Number(m[2])), bytes: s.size, remove: () => rm(at, { force: true }) })
    }
    return found
  },
}

async function pathExists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  )
}

async function sqliteRestorer(target: SqliteTarget, env: RestoreEnv): Promise<Restorer> {
  const { path: live } = await resolveSqlitePath(target, env)
  const kept = `${live}.pre-restore-${env.stamp}`
  const integrity = async (file: string): Promise<void> => {
    const r = await runCapture(['sqlite3', '-bail', file, 'PRAGMA integrity_check;'], { log: env.log, signal: env.signal })
    if (r.exitCode !== 0 || r.stdout.trim() !== 'ok')
      throw new DumpFailure(`the restored database fails PRAGMA integrity_check`, tail(`${r.stdout}\n${r.stderr}`))
  }
  return {
    async place() {
      return { live, kept, exists: await pathExists(live) }
    },
    async users() {
      const docker = await env.docker().catch(() => undefined)
      const containers = docker !== undefined ? (await containersUsing(docker, { hostPath: live })).filter((c) => c.running) : []
      const names = containers.map((c) => c.name)
      const processes: Array<{ pid: number; command: string }> = []
      for (const p of await processesHolding(SQLITE_SIDE_FILES.map((s) => live + s))) {
        const owner = p.containerId !== undefined ? await containerName(docker, p.containerId) : undefined
        if (owner !== undefined) {
          if (!names.includes(owner)) names.push(owner)
        } else processes.push({ pid: p.pid, command: p.command })
      }
      return { containers: names, processes }
    },
    async preflight(_entry, to) {
      if (to !== undefined && (await pathExists(to)))
        throw new OwnopsError(`${to} already exists`, { kind: 'failed', hint: 'choose another --to path' })
      if (!(await pathExists(dirname(to ?? live)))) throw new OwnopsError(`${dirname(to ?? live)} does not exist`, { kind: 'failed' })
    },
    async stage(entry, to) {
      const file = to ?? join(dirname(live), `.${basename(live)}.ownops-restore-${env.stamp}`)
      if (to !== undefined && (await pathExists(to)))
        throw new OwnopsError(`${to} already exists`, { kind: 'failed', hint: 'choose another --to path' })
      await mkdir(dirname(file), { recursive: true })
      try {
        await decompressFile(entry, file, env.signal, env.meter)
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
      if (swapped.kept !== undefined)
        for (const suffix of SQLITE_SIDE_FILES) await rename(swapped.kept + suffix, live + suffix).catch(() => undefined)
    },
    async discard(staged) {
      await rm(staged.where, { force: true })
    },
    async check(staged) {
      await integrity(staged.where)
      return { integrityCheck: 'ok' }
    },
    async undo(keptPath) {
      if (!(await pathExists(keptPath))) throw new OwnopsError(`${keptPath} is gone; nothing to undo`, { kind: 'failed' })
      const undone = `${live}.undone-${env.stamp}`
      for (const suffix of SQLITE_SIDE_FILES) if (await pathExists(live + suffix)) await rename(live + suffix, undone + suffix)
      for (const suffix of SQLITE_SIDE_FILES) if (await pathExists(keptPath + suffix)) await rename(keptPath + suffix, live + suffix)
      return { live, kept: undone }
    },
  }
}

async function containerName(docker: Docker | undefined, id: string): Promise<string | undefined> {
  if (docker === undefined) return id.slice(0, 12)
  const info = await docker
    .getContainer(id)
    .inspect()
    .catch(() => undefined)
  return info ? info.Name.replace(/^\//, '') : id.slice(0, 12)
}

async function assertSqliteFile(path: string, target: string): Promise<void> {
  let handle
  try {
    handle = await open(path, 'r')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    throw new OwnopsError(`backup target ${target}: cannot open ${path} (${code ?? 'error'})`, {
      kind: errnoKind(error),
      hint: code === 'ENOENT' ? 'check backup.targets.' + target + '.path' : undefined,
    })
  }
  try {
    const buffer = Buffer.alloc(16)
    await handle.read(buffer, 0, 16, 0)
    if (buffer.toString('latin1') !== SQLITE_HEADER) {
      throw new OwnopsError(`backup target ${target}: ${path} is not an SQLite database`, { kind: 'failed' })
    }
  } finally {
    await handle.close()
  }
}

/** The database file's host path (through the container's mount when it lives in one). */
export async function resolveSqlitePath(
  target: { path: string; container?: string | undefined },
  env: { docker(): Promise<Docker> },
): Promise<{ path: string; container?: string }> {
  if (target.container === undefined) return { path: target.path }
  const facts = await inspectContainer(await env.docker(), target.container)
  return { path: hostPathInContainer(facts, target.path), container: facts.name }
}
