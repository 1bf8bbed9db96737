/** An artifact's content, decompressed: into a new file, or as a stream. */
import { createReadStream, createWriteStream } from 'node:fs'
import { open } from 'node:fs/promises'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createGunzip } from 'node:zlib'
import type { BackupEntry } from '../backup/catalog.js'
import { spawnProcess } from '../sys/exec.js'
import { fdOffset } from '../sys/fd-offset.js'
import type { ReadMeter } from '../ui/progress.js'
import { DumpFailure, tail } from '../targets/types.js'

/** Into a new file (mode 0600; refuses to overwrite). */
export async function decompressFile(entry: BackupEntry, file: string, signal: AbortSignal, meter?: ReadMeter): Promise<void> {
  const out = createWriteStream(file, { mode: 0o600, flags: 'wx' })
  const stream = await decompressStream(entry, signal, meter)
  await pipeline(stream.output, out, { signal })
  await stream.done()
}

/**
 * The decompressed bytes as a stream; `done()` resolves once the decompressor exited well
 * (zstd runs as a process: its exit status is the proof the stream was whole). `meter` is
 * told how to read how far the artifact has been read.
 */
export async function decompressStream(
  entry: BackupEntry,
  signal: AbortSignal,
  meter?: ReadMeter,
): Promise<{ output: Readable; done(): Promise<void> }> {
  if (entry.manifest.compression === 'zstd') {
    // zstd reads the file as its stdin: the descriptor's offset is how far it has got.
    const input = await open(entry.path, 'r')
    let closed = false
    meter?.(() => (closed ? entry.manifest.size : fdOffset(input.fd)))
    const zstd = spawnProcess(['zstd', '-dc'], { stdin: input.fd, signal, notInstalled: 'apt-get install zstd' })
    const exited = zstd.exited.finally(async () => {
      closed = true
      await input.close()
    })
    exited.catch(() => undefined)
    return {
      output: zstd.child.stdout as Readable,
      async done() {
        const r = await exited
        if (signal.aborted) throw signal.reason ?? new Error('interrupted')
        if (r.exitCode !== 0) throw new DumpFailure(`zstd -d of ${entry.manifest.file} failed`, tail(r.stderr))
      },
    }
  }
  const source = createReadStream(entry.path, { highWaterMark: 1 << 20 })
  meter?.(() => source.bytesRead)
  const output = entry.manifest.compression === 'gzip' ? source.pipe(createGunzip()) : source
  if (output !== source) source.on('error', (error) => output.destroy(error))
  return { output, done: async () => undefined }
}
