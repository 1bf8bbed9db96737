/**
 * GNU tar piped into a compressor, streamed into an artifact. With zstd, tar writes straight
 * into zstd's stdin (a kernel pipe between the two programs) and zstd writes the artifact's
 * file itself when given its descriptor (`outFd`), so no byte of the archive passes through
 * Node; without compression tar writes the file. With gzip, zlib compresses in-process on
 * libuv's thread pool, which keeps pace with (and here beats) `tar -czf`.
 */
import type { Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { OwnopsError } from '../errors.js'
import { compressInto, type Compression } from './compress.js'
import { spawnProcess, type Exited, type Spawned } from './exec.js'

export interface TarResult {
  /** tar's exit status (0 ok, 1 some files differ/changed, 2 fatal), or undefined when killed. */
  exitCode: number | undefined
  /** The signal that killed tar. */
  signal?: NodeJS.Signals
  stderr: string
  /** Set when the compressor or the artifact side failed (e.g. ENOSPC); it is the real cause then. */
  sinkError?: unknown
}

export interface TarOptions {
  args: string[]
  compression: Compression
  level?: number
  out: Writable
  /** The artifact's file descriptor, for zstd (or tar, uncompressed) to write into directly. */
  outFd?: () => number
  signal?: AbortSignal
}

const DISK_FULL = /No space left on device|Disk quota exceeded/i

/** A tool that writes the artifact itself hit a full disk: the same error a write of ours gets. */
function diskFull(tool: string, stderr: string): Error {
  const code = /quota/i.test(stderr) ? 'EDQUOT' : 'ENOSPC'
  return Object.assign(new Error(`${tool}: ${stderr.trim().split('\n').at(-1) ?? 'no space left on device'}`), { code })
}

/** What a signal that killed a tool usually means, for the operator. */
function killedHint(signal: NodeJS.Signals | undefined): string | undefined {
  if (signal === 'SIGXFSZ') return 'a file size limit (ulimit -f, LimitFSIZE= in the unit) is smaller than the artifact'
  if (signal === 'SIGKILL') return 'killed outright: the out-of-memory killer (see dmesg) or someone else'
  return undefined
}

/** zstd failed on its own: whatever tar says, the artifact is cut short. */
function compressorFailed(exit: Exited): OwnopsError {
  const how = exit.signal !== undefined ? `was killed by ${exit.signal}` : `failed with exit ${String(exit.exitCode)}`
  const said = exit.stderr.trim().split('\n').at(-1)
  const hint = killedHint(exit.signal)
  return new OwnopsError(`zstd ${how}${said ? `: ${said}` : ''}; the partial archive was removed`, {
    kind: 'failed',
    ...(hint !== undefined ? { hint } : {}),
  })
}

function result(tar: Exited, sinkError: unknown): TarResult {
  return {
    exitCode: tar.exitCode,
    ...(tar.signal !== undefined ? { signal: tar.signal } : {}),
    stderr: tar.stderr,
    ...(sinkError !== undefined ? { sinkError } : {}),
  }
}

export async function tarInto(options: TarOptions): Promise<TarResult> {
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' }
  const hint = 'apt-get install zstd, or set compression: gzip for this target'
  if (options.compression === 'none' && options.outFd !== undefined) {
    const tarExit = await spawnTar(options, env, options.outFd()).exited
    // tar says of a full disk only that a write came up short.
    const full = tarExit.exitCode !== 0 && (DISK_FULL.test(tarExit.stderr) || /Wrote only \d+ of \d+ bytes/.test(tarExit.stderr))
    return result(tarExit, full ? diskFull('tar', tarExit.stderr) : undefined)
  }
  if (options.compression === 'zstd') {
    const direct = options.outFd?.()
    const zstd = spawnProcess(['zstd', '-q', '-c', `-${options.level ?? 3}`, '-T0'], {
      env,
      stdin: 'pipe',
      stdout: direct ?? 'pipe',
      signal: options.signal,
      notInstalled: hint,
    })
    const tar = spawnTar(options, env, zstd.child.stdin as NodeJS.WritableStream)
    zstd.child.stdin?.destroy() // our copy: zstd sees end of input when tar exits
    const flowing =
      direct !== undefined
        ? Promise.resolve(undefined)
        : pipeline(zstd.child.stdout as NodeJS.ReadableStream, options.out).then(
            () => undefined,
            (error: unknown) => error,
          )
    const tarExit = await tar.exited.catch(async (error: unknown) => {
      zstd.child.kill('SIGTERM')
      throw error
    })
    const z = await zstd.exited
    // zstd writing the file meets a full disk itself; tar then dies of a broken pipe.
    const sinkError = (await flowing) ?? (z.exitCode !== 0 && DISK_FULL.test(z.stderr) ? diskFull('zstd', z.stderr) : undefined)
    // zstd that failed otherwise (killed, a file size limit, out of memory) is the cause
    // whatever tar's status: tar dies of a broken pipe, or has already exited 0 or 1
    // (a file changed) when everything it wrote fitted into the pipe.
    return result(tarExit, sinkError ?? (z.exitCode !== 0 ? compressorFailed(z) : undefined))
  }
  const stage = await compressInto(options.compression, options.out, { ...(options.level !== undefined ? { level: options.level } : {}) })
  const tar = spawnTar(options, env, 'pipe')
  const flowing = pipeline(tar.child.stdout as NodeJS.ReadableStream, stage.input)
    .then(() => stage.done)
    .then(
      () => undefined,
      (error: unknown) => error,
    )
  const tarExit = await tar.exited
  return result(tarExit, await flowing)
}

function spawnTar(options: TarOptions, env: NodeJS.ProcessEnv, stdout: 'pipe' | number | NodeJS.WritableStream): Spawned {
  return spawnProcess(['tar', ...options.args], { env, stdout, signal: options.signal, notInstalled: 'apt-get install tar' })
}
