/** An artifact's content, decompressed into a new file (mode 0600; refuses to overwrite). */
import { createReadStream, createWriteStream } from 'node:fs'
import { pipeline } from 'node:stream/promises'
import { createGunzip } from 'node:zlib'
import type { BackupEntry } from '../backup/catalog.js'
import { DumpFailure, tail } from '../targets/types.js'

export async function decompressFile(entry: BackupEntry, file: string, signal: AbortSignal): Promise<void> {
  const out = createWriteStream(file, { mode: 0o600, flags: 'wx' })
  if (entry.manifest.compression === 'zstd') {
    const { execa } = await import('execa')
    const child = execa('zstd', ['-dc', entry.path], { stdout: 'pipe', buffer: { stdout: false }, reject: false, cancelSignal: signal })
    await pipeline(child.stdout, out)
    const r = await child
    if (r.exitCode !== 0) throw new DumpFailure('zstd -d failed', tail(String(r.stderr)))
    return
  }
  const source = createReadStream(entry.path, { highWaterMark: 1 << 20 })
  if (entry.manifest.compression === 'gzip') await pipeline(source, createGunzip(), out, { signal })
  else await pipeline(source, out, { signal })
}
