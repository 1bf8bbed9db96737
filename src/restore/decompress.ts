/** An artifact's content, decompressed: into a new file, or as a stream. */
import { createReadStream, createWriteStream } from 'node:fs'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createGunzip } from 'node:zlib'
import type { BackupEntry } from '../backup/catalog.js'
import { spawnProcess } from '../sys/exec.js'
import { DumpFailure, tail } from '../targets/types.js'

/** Into a new file (mode 0600; refuses to overwrite). */
export async function decompressFile(entry: BackupEntry, file: string, signal: AbortSignal): Promise<void> {
  const out = createWriteStream(file, { mode: 0o600, flags: 'wx' })
  const stream = await decompressStream(entry, signal)
  await pipeline(stream.output, out, { signal })
  await stream.done()
}

/**
 * The decompressed bytes as a stream; `done()` resolves once the decompressor exited well
 * (zstd runs as a process: its exit status is the proof the stream was whole).
 */
export async function decompressStream(entry: BackupEntry, signal: AbortSignal): Promise<{ output: Readable; done(): Promise<void> }> {
  if (entry.manifest.compression === 'zstd') {
    const zstd = spawnProcess(['zstd', '-dc', entry.path], { signal, notInstalled: 'apt-get install zstd' })
    return {
      output: zstd.child.stdout as Readable,
      async done() {
        const r = await zstd.exited
        if (signal.aborted) throw signal.reason ?? new Error('interrupted')
        if (r.exitCode !== 0) throw new DumpFailure(`zstd -d of ${entry.manifest.file} failed`, tail(r.stderr))
      },
    }
  }
  const source = createReadStream(entry.path, { highWaterMark: 1 << 20 })
  const output = entry.manifest.compression === 'gzip' ? source.pipe(createGunzip()) : source
  if (output !== source) source.on('error', (error) => output.destroy(error))
  return { output, done: async () => undefined }
}
