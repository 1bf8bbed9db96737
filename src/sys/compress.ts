/**
 * Compression stages in front of an artifact: gzip in-process (zlib, on libuv's thread
 * pool), zstd through the `zstd` program (Node 20 has no zstd; the program is multi-threaded
 * and the reference implementation), or none. Each stage is a writable input plus a promise
 * that settles when every byte has reached `out` (which the stage ends).
 */
import { pipeline } from 'node:stream/promises'
import type { Readable, Writable } from 'node:stream'
import { createGzip, constants as zlib } from 'node:zlib'
import { OwnopsError } from '../errors.js'
import { spawnProcess } from './exec.js'

export type Compression = 'zstd' | 'gzip' | 'none'

export interface CompressStage {
  input: Writable
  done: Promise<void>
}

export const compressionExt: Record<Compression, string> = { zstd: '.zst', gzip: '.gz', none: '' }

/** Default levels: gzip 6 (as gzip and tar -z), zstd 3 (as zstd and tar --zstd). */
export function defaultLevel(kind: Compression): number | undefined {
  return kind === 'gzip' ? 6 : kind === 'zstd' ? 3 : undefined
}

export async function compressInto(
  kind: Compression,
  out: Writable,
  options: { level?: number; signal?: AbortSignal } = {},
): Promise<CompressStage> {
  if (kind === 'none') {
    const done = new Promise<void>((resolve, reject) => {
      out.once('finish', resolve)
      out.once('error', reject)
    })
    done.catch(() => undefined) // settled by whoever awaits it; never an unhandled rejection
    return { input: out, done }
  }
  if (kind === 'gzip') {
    const gzip = createGzip({ level: options.level ?? 6, chunkSize: 256 * 1024, memLevel: zlib.Z_DEFAULT_MEMLEVEL })
    const done = options.signal ? pipeline(gzip, out, { signal: options.signal }) : pipeline(gzip, out)
    done.catch(() => undefined)
    return { input: gzip, done }
  }
  const { child, done } = spawnZstd('pipe', out, options)
  child.stdin?.on('error', () => undefined)
  return { input: child.stdin as Writable, done }
}

function spawnZstd(stdin: 'pipe' | Readable, out: Writable, options: { level?: number; signal?: AbortSignal }) {
  const zstd = spawnProcess(['zstd', '-q', '-c', `-${options.level ?? 3}`, '-T0'], {
    stdin,
    signal: options.signal,
    notInstalled: 'apt-get install zstd, or set compression: gzip for this target',
  })
  const flowing = pipeline(zstd.child.stdout as Readable, out)
  const done = Promise.all([flowing, zstd.exited]).then(([, result]) => {
    if (result.exitCode !== 0)
      throw new OwnopsError(`zstd failed: ${result.stderr.trim() || `exit ${String(result.exitCode ?? result.signal)}`}`, {
        kind: 'failed',
      })
  })
  // Keep an early failure (zstd missing) from becoming an unhandled rejection before it is awaited.
  done.catch(() => undefined)
  return { child: zstd.child, done }
}
