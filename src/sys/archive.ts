/**
 * GNU tar piped into a compressor, streamed into an artifact. With zstd, tar writes straight
 * into zstd's stdin (a kernel pipe between the two programs) and zstd writes the artifact's
 * file itself when given its descriptor (`outFd`), so no byte of the archive passes through
 * Node; without compression tar writes the file. With gzip, zlib compresses in-process on
 * libuv's thread pool, which keeps pace with (and here beats) `tar -czf`.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import type { Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { ExitCode, OwnopsError } from '../errors.js'
import { compressInto, type Compression } from './compress.js'

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

const STDERR_LIMIT = 64 * 1024
const DISK_FULL = /No space left on device|Disk quota exceeded/i

/** A tool that writes the artifact itself hit a full disk: the same error a write of ours gets. */
function diskFull(tool: string, stderr: string): Error {
  const code = /quota/i.test(stderr) ? 'EDQUOT' : 'ENOSPC'
  return Object.assign(new Error(`${tool}: ${stderr.trim().split('\n').at(-1) ?? 'no space left on device'}`), { code })
}

/** What a signal that killed a tool usually means, for the operator. */
function killedHint(signal: NodeJS.Signals | null): string | undefined {
  if (signal === 'SIGXFSZ') return 'a file size limit (ulimit -f, LimitFSIZE= in the unit) is smaller than the artifact'
  if (signal === 'SIGKILL') return 'killed outright: the out-of-memory killer (see dmesg) or someone else'
  return undefined
}

/** zstd failed on its own: whatever tar says, the artifact is cut short. */
function compressorFailed(exit: { code: number | null; signal: NodeJS.Signals | null }, stderr: string): OwnopsError {
  const how = exit.signal !== null ? `was killed by ${exit.signal}` : `failed with exit ${String(exit.code)}`
  const said = stderr.trim().split('\n').at(-1)
  const hint = killedHint(exit.signal)
  return new OwnopsError(`zstd ${how}${said ? `: ${said}` : ''}; the partial archive was removed`, { exitCode: ExitCode.failed, ...(hint !== undefined ? { hint } : {}) })
}

function collect(child: ChildProcess): () => string {
  let text = ''
  child.stderr?.setEncoding('utf8')
  child.stderr?.on('data', (chunk: string) => {
    text += chunk
    if (text.length > STDERR_LIMIT) text = text.slice(-STDERR_LIMIT)
  })
  return () => text
}

function exited(child: ChildProcess, name: string): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    child.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') {
        reject(new OwnopsError(`${name} is not installed`, { exitCode: ExitCode.unavailable, hint: name === 'zstd' ? 'apt-get install zstd, or set compression: gzip for this target' : `apt-get install ${name}` }))
      } else reject(error)
    })
    child.once('close', (code, signal) => resolve({ code, signal }))
  })
}

export async function tarInto(options: TarOptions): Promise<TarResult> {
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' }
  const children: ChildProcess[] = []
  const onAbort = (): void => {
    for (const c of children) c.kill('SIGTERM')
  }
  options.signal?.addEventListener('abort', onAbort, { once: true })
  try {
    if (options.compression === 'none' && options.outFd !== undefined) {
      const tar = spawn('tar', options.args, { stdio: ['ignore', options.outFd(), 'pipe'], env })
      children.push(tar)
      const tarErr = collect(tar)
      const tarExit = await exited(tar, 'tar')
      // tar says of a full disk only that a write came up short.
      const full = tarExit.code !== 0 && (DISK_FULL.test(tarErr()) || /Wrote only \d+ of \d+ bytes/.test(tarErr()))
      return { exitCode: tarExit.code ?? undefined, ...(tarExit.signal !== null ? { signal: tarExit.signal } : {}), stderr: tarErr(), ...(full ? { sinkError: diskFull('tar', tarErr()) } : {}) }
    }
    if (options.compression === 'zstd') {
      const direct = options.outFd?.()
      const zstd = spawn('zstd', ['-q', '-c', `-${options.level ?? 3}`, '-T0'], { stdio: ['pipe', direct ?? 'pipe', 'pipe'], env })
      children.push(zstd)
      const zstdErr = collect(zstd)
      const zstdExit = exited(zstd, 'zstd')
      zstdExit.catch(() => undefined)
      const tar = spawn('tar', options.args, { stdio: ['ignore', zstd.stdin, 'pipe'], env })
      children.push(tar)
      zstd.stdin?.destroy() // our copy: zstd sees end of input when tar exits
      const tarErr = collect(tar)
      const flowing = direct !== undefined ? Promise.resolve(undefined) : pipeline(zstd.stdout as NodeJS.ReadableStream, options.out).then(() => undefined, (error: unknown) => error)
      const tarExit = await exited(tar, 'tar').catch(async (error: unknown) => {
        zstd.kill('SIGTERM')
        throw error
      })
      const z = await zstdExit
      // zstd writing the file meets a full disk itself; tar then dies of a broken pipe.
      const sinkError = (await flowing) ?? (z.code !== 0 && DISK_FULL.test(zstdErr()) ? diskFull('zstd', zstdErr()) : undefined)
      // zstd that failed otherwise (killed, a file size limit, out of memory) is the cause
      // whatever tar's status: tar dies of a broken pipe, or has already exited 0 or 1
      // (a file changed) when everything it wrote fitted into the pipe.
      const zstdError = z.code !== 0 && sinkError === undefined ? compressorFailed(z, zstdErr()) : undefined
      return { exitCode: tarExit.code ?? undefined, ...(tarExit.signal !== null ? { signal: tarExit.signal } : {}), stderr: tarErr(), ...(sinkError !== undefined || zstdError !== undefined ? { sinkError: sinkError ?? zstdError } : {}) }
    }
    const stage = await compressInto(options.compression, options.out, { ...(options.level !== undefined ? { level: options.level } : {}) })
    const tar = spawn('tar', options.args, { stdio: ['ignore', 'pipe', 'pipe'], env })
    children.push(tar)
    const tarErr = collect(tar)
    const flowing = pipeline(tar.stdout as NodeJS.ReadableStream, stage.input).then(() => stage.done).then(() => undefined, (error: unknown) => error)
    const tarExit = await exited(tar, 'tar')
    const sinkError = await flowing
    return { exitCode: tarExit.code ?? undefined, stderr: tarErr(), ...(sinkError !== undefined ? { sinkError } : {}) }
  } finally {
    options.signal?.removeEventListener('abort', onAbort)
  }
}
