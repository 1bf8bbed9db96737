/**
 * `type: sqlite` — SQLite's online backup API (the sqlite3 shell's `.backup`), never a
 * plain copy of a live database: the copy is a consistent snapshot even while the service
 * writes. The copy must pass `PRAGMA integrity_check` before it counts; then it is
 * compressed into the artifact. A database inside a container is read on the host through
 * the volume or bind mount that holds it.
 */
import { createReadStream } from 'node:fs'
import { open, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import type { BackupTarget } from '../config/schema.js'
import { ExitCode, OwnopsError } from '../errors.js'
import { compressInto, compressionExt } from '../sys/compress.js'
import { hostPathInContainer, inspectContainer } from '../sys/docker-exec.js'
import { partialName } from '../backup/artifact.js'
import { DumpFailure, tail, type Source } from './types.js'

type SqliteTarget = Extract<BackupTarget, { type: 'sqlite' }>

const SQLITE_HEADER = 'SQLite format 3\0'

export const sqlite: Source<SqliteTarget> = {
  async prepare(target, env) {
    const { path, container } = await resolveSqlitePath(target, env)
    await assertSqliteFile(path, env.target)
    const { execa } = await import('execa')
    const version = await execa('sqlite3', ['-version'], { reject: false })
    if (version.failed) {
      throw new OwnopsError('the sqlite3 command is not installed', { exitCode: ExitCode.unavailable, hint: 'apt-get install sqlite3' })
    }
    const compression = target.compression
    return {
      ext: `sqlite${compressionExt[compression]}`,
      compression,
      details: { path: target.path, ...(container ? { container, hostPath: path } : {}), sqlite: String(version.stdout).split(' ')[0] },
      async write(out) {
        const copy = join(env.dir, partialName(`${env.id}.sqlite-copy`))
        try {
          // .timeout makes the backup wait for a writer's lock instead of failing with SQLITE_BUSY.
          const backup = await execa('sqlite3', ['-bail', path, '.timeout 30000', `.backup "${copy}"`], { reject: false, cancelSignal: env.signal, stdin: 'ignore' })
          if (backup.exitCode !== 0) throw new DumpFailure(`sqlite3 .backup of ${target.path} failed with exit ${String(backup.exitCode)}`, tail(String(backup.stderr)))
          const check = await execa('sqlite3', ['-bail', copy, 'PRAGMA integrity_check;'], { reject: false, cancelSignal: env.signal, stdin: 'ignore' })
          const verdict = String(check.stdout).trim()
          if (check.exitCode !== 0 || verdict !== 'ok') {
            throw new DumpFailure(`the copy of ${target.path} fails PRAGMA integrity_check`, tail(`${verdict}\n${String(check.stderr)}`))
          }
          const copied = await stat(copy)
          const stage = await compressInto(compression, out, { signal: env.signal })
          await pipeline(createReadStream(copy, { highWaterMark: 1 << 20 }), stage.input, { end: compression !== 'none' })
          if (compression === 'none') out.end()
          await stage.done
          return { warnings: [], details: { databaseBytes: copied.size, integrityCheck: 'ok' } }
        } finally {
          await rm(copy, { force: true })
        }
      },
    }
  },
}

async function assertSqliteFile(path: string, target: string): Promise<void> {
  let handle
  try {
    handle = await open(path, 'r')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    throw new OwnopsError(`backup target ${target}: cannot open ${path} (${code ?? 'error'})`, {
      exitCode: code === 'EACCES' ? ExitCode.noperm : ExitCode.failed,
      hint: code === 'ENOENT' ? 'check backup.targets.' + target + '.path' : undefined,
    })
  }
  try {
    const buffer = Buffer.alloc(16)
    await handle.read(buffer, 0, 16, 0)
    if (buffer.toString('latin1') !== SQLITE_HEADER) {
      throw new OwnopsError(`backup target ${target}: ${path} is not an SQLite database`, { exitCode: ExitCode.failed })
    }
  } finally {
    await handle.close()
  }
}

/** The database file's host path (through the container's mount when it lives in one). */
export async function resolveSqlitePath(target: { path: string; container?: string | undefined }, env: { docker(): Promise<import('../sys/docker.js').Docker> }): Promise<{ path: string; container?: string }> {
  if (target.container === undefined) return { path: target.path }
  const facts = await inspectContainer(await env.docker(), target.container)
  return { path: hostPathInContainer(facts, target.path), container: facts.name }
}
