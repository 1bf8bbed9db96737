/**
 * `type: directory` — a host path, a named Docker volume, or a path inside a container
 * (read on the host through its mount), archived with GNU tar and compressed with zstd
 * (default) or gzip. tar stores symlinks as symlinks (never follows them out of the tree),
 * keeps numeric owners, modes and mtimes, and handles sparse files. A file that changed or
 * vanished while tar read it is a warning recorded in the manifest, not a silent success;
 * any other tar error fails the backup.
 */
import { constants, createReadStream } from 'node:fs'
import { mkdtemp, open, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { BackupTarget } from '../config/schema.js'
import { ExitCode, OwnopsError } from '../errors.js'
import { tarInto } from '../sys/archive.js'
import { compressionExt, defaultLevel } from '../sys/compress.js'
import { runCapture } from '../sys/exec.js'
import { hostPathInContainer, inspectContainer, volumeMountpoint } from '../sys/docker-exec.js'
import { DumpFailure, tail, type Source } from './types.js'

type DirectoryTarget = Extract<BackupTarget, { type: 'directory' }>

/** tar's messages that mean "the tree moved while it was read": warnings, not failures. */
const CHANGED = /file changed as we read it|file removed before we read it|file shrank by|socket ignored/i

export const directory: Source<DirectoryTarget> = {
  async prepare(target, env) {
    const { root, where } = await resolveRoot(target, env)
    let info
    try {
      info = await stat(root)
    } catch (error) {
      throw new OwnopsError(`backup target ${env.target}: ${where} does not exist (${(error as NodeJS.ErrnoException).code ?? 'error'})`, { exitCode: ExitCode.failed })
    }
    if (!info.isDirectory()) throw new OwnopsError(`backup target ${env.target}: ${where} is not a directory`, { exitCode: ExitCode.config })
    const compression = target.compression
    const level = target.level ?? defaultLevel(compression)
    return {
      ext: `tar${compressionExt[compression]}`,
      compression,
      details: { ...describe(target), hostPath: root, ...(level !== undefined ? { level } : {}), exclude: target.exclude },
      async write(out) {
        // tar lists every entry it archives into a FIFO (no disk space, not on the backup
        // disk), counted as it goes for the manifest. stdio pipes are sockets, which tar
        // cannot open by /dev/fd path.
        const fifoDir = await mkdtemp(join(tmpdir(), 'ownops-tar-'))
        const indexFile = join(fifoDir, 'index')
        const made = await runCapture(['mkfifo', '-m', '600', indexFile], { log: env.log })
        if (made.exitCode !== 0) throw new OwnopsError(`cannot create a FIFO in ${fifoDir}: ${made.stderr.trim()}`, { exitCode: ExitCode.failed })
        const counting = countLines(indexFile)
        try {
          const args = [
            '--create',
            '--file=-',
            `--directory=${root}`,
            '--numeric-owner',
            '--sparse',
            '--totals',
            '--verbose',
            `--index-file=${indexFile}`,
            ...target.exclude.map((pattern) => `--exclude=${pattern}`),
            '.',
          ]
          const result = await tarInto({ args, compression, ...(level !== undefined ? { level } : {}), out, signal: env.signal })
          if (env.signal.aborted) throw env.signal.reason ?? new Error('interrupted')
          // tar dies of a broken pipe when the artifact side failed (disk full): that is the cause.
          if (result.sinkError !== undefined) throw result.sinkError
          const lines = result.stderr.split('\n').map((l) => l.replace(/^tar: /, '').trim()).filter(Boolean)
          if (result.exitCode !== 0 && result.exitCode !== 1) {
            throw new DumpFailure(`tar of ${where} failed with exit ${String(result.exitCode ?? 'signal')}`, tail(lines.filter((l) => !/^Total bytes/.test(l)).join('\n')))
          }
          const warnings = lines.filter((l) => CHANGED.test(l))
          const files = await counting
          const totals = /Total bytes written: (\d+)/.exec(result.stderr)
          return {
            warnings: warnings.map((w) => `tar: ${w}`),
            details: { files, ...(totals ? { tarBytes: Number(totals[1]) } : {}) },
          }
        } finally {
          await releaseFifo(indexFile)
          await counting.catch(() => 0)
          await rm(fifoDir, { recursive: true, force: true })
        }
      },
    }
  },
}

function describe(target: DirectoryTarget): Record<string, unknown> {
  return {
    ...(target.path !== undefined ? { path: target.path } : {}),
    ...(target.volume !== undefined ? { volume: target.volume } : {}),
    ...(target.container !== undefined ? { container: target.container } : {}),
  }
}

export async function resolveRoot(target: DirectoryTarget, env: Parameters<Source<DirectoryTarget>['prepare']>[1]): Promise<{ root: string; where: string }> {
  if (target.volume !== undefined) {
    const mountpoint = await volumeMountpoint(await env.docker(), target.volume)
    const sub = target.path?.replace(/^\/+/, '')
    return { root: sub ? `${mountpoint}/${sub}` : mountpoint, where: `volume ${target.volume}${sub ? ` /${sub}` : ''}` }
  }
  if (target.container !== undefined) {
    if (target.path === undefined) throw new OwnopsError(`backup target ${env.target}: container needs path (the directory inside it)`, { exitCode: ExitCode.config })
    const facts = await inspectContainer(await env.docker(), target.container)
    return { root: hostPathInContainer(facts, target.path), where: `${target.path} in container ${facts.name}` }
  }
  if (target.path === undefined) throw new OwnopsError(`backup target ${env.target}: directory needs path, volume or container`, { exitCode: ExitCode.config })
  return { root: target.path, where: target.path }
}

async function countLines(file: string): Promise<number> {
  let lines = 0
  try {
    for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) {
      for (const byte of chunk as Buffer) if (byte === 10) lines++
    }
  } catch {
    return 0
  }
  return lines
}

/** Unblocks a reader still waiting for tar to open the FIFO (tar failed before it did). */
async function releaseFifo(fifo: string): Promise<void> {
  try {
    const handle = await open(fifo, constants.O_WRONLY | constants.O_NONBLOCK)
    await handle.close()
  } catch {
    // no reader waiting (ENXIO) or already gone
  }
}
