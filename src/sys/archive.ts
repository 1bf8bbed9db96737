/**
 * GNU tar piped into a compressor, streamed into a writable (an artifact). With zstd, tar
 * writes straight into zstd's stdin (a kernel pipe between the two programs) so the
 * uncompressed stream never passes through Node; with gzip, zlib compresses in-process on
 * libuv's thread pool, which keeps pace with (and here beats) `tar -czf`.
 */
import type { Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { OwnopsError } from '../errors.js'
import { compressInto, type Compression } from './compress.js'
import { spawnProcess, type Spawned } from './exec.js'

export interface TarResult {
  /** tar's exit status (0 ok, 1 some files differ/changed, 2 fatal), or undefined when killed. */
  exitCode: number | undefined
  stderr: string
  /** Set when the compressor or the artifact side failed (e.g. ENOSPC); it is the real cause then. */
  sinkError?: unknown
}

export interface TarOptions {
  args: string[]
  compression: Compression
  level?: number
  out: Writable
  signal?: AbortSignal
}

export async function tarInto(options: TarOptions): Promise<TarResult> {
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' }
  const hint = 'apt-get install zstd, or set compression: gzip for this target'
  if (options.compression === 'zstd') {
    const zstd = spawnProcess(['zstd', '-q', '-c', `-${options.level ?? 3}`, '-T0'], { env, stdin: 'pipe', signal: options.signal, notInstalled: hint })
    const tar = spawnTar(options, env, zstd.child.stdin as NodeJS.WritableStream)
    zstd.child.stdin?.destroy() // our copy: zstd sees end of input when tar exits
    const flowing = pipeline(zstd.child.stdout as NodeJS.ReadableStream, options.out).then(() => undefined, (error: unknown) => error)
    const tarExit = await tar.exited.catch(async (error: unknown) => {
      zstd.child.kill('SIGTERM')
      throw error
    })
    const sinkError = await flowing
    const z = await zstd.exited
    const zstdError = z.exitCode !== 0 && sinkError === undefined && tarExit.exitCode === 0 ? new OwnopsError(`zstd failed: ${z.stderr.trim() || `exit ${String(z.exitCode ?? z.signal)}`}`, { kind: 'failed' }) : undefined
    return { exitCode: tarExit.exitCode, stderr: tarExit.stderr, ...(sinkError !== undefined || zstdError !== undefined ? { sinkError: sinkError ?? zstdError } : {}) }
  }
  const stage = await compressInto(options.compression, options.out, { ...(options.level !== undefined ? { level: options.level } : {}) })
  const tar = spawnTar(options, env, 'pipe')
  const flowing = pipeline(tar.child.stdout as NodeJS.ReadableStream, stage.input).then(() => stage.done).then(() => undefined, (error: unknown) => error)
  const tarExit = await tar.exited
  const sinkError = await flowing
  return { exitCode: tarExit.exitCode, stderr: tarExit.stderr, ...(sinkError !== undefined ? { sinkError } : {}) }
}

function spawnTar(options: TarOptions, env: NodeJS.ProcessEnv, stdout: 'pipe' | NodeJS.WritableStream): Spawned {
  return spawnProcess(['tar', ...options.args], { env, stdout, signal: options.signal, notInstalled: 'apt-get install tar' })
}
