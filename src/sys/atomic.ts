/** Atomic file writes: temp file in the same directory → fsync → rename → fsync the directory. */
import { randomBytes } from 'node:crypto'
import { mkdir, open, rename, rm } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'

export interface AtomicWriteOptions {
  mode?: number
  /** Mode for directories created on the way (default 0700). */
  dirMode?: number
}

export async function writeFileAtomic(file: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): Promise<void> {
  const dir = dirname(file)
  await mkdir(dir, { recursive: true, mode: options.dirMode ?? 0o700 })
  const temp = join(dir, `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.partial`)
  const mode = options.mode ?? 0o600
  await writeNew(temp, data, mode)
  try {
    await rename(temp, file)
  } catch (error) {
    await rm(temp, { force: true })
    throw error
  }
  await fsyncDir(dir)
}

export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } catch {
    // Some filesystems do not support fsync on directories; the rename is still atomic.
  } finally {
    await handle.close()
  }
}

/**
 * Writes a new file, never replacing one: opened with O_CREAT|O_EXCL, so a file that exists
 * (or appears meanwhile) fails with EEXIST and stays as it was. Exactly `mode`, whatever the
 * umask; fsync'd with its directory. A failed write removes what it created.
 */
export async function writeFileExclusive(file: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): Promise<void> {
  const dir = dirname(file)
  await mkdir(dir, { recursive: true, mode: options.dirMode ?? 0o700 })
  const mode = options.mode ?? 0o600
  await writeNew(file, data, mode)
  await fsyncDir(dir)
}

/**
 * Creates `file` (O_CREAT|O_EXCL) with exactly `mode`, whatever the umask — a unit with
 * UMask=0077 still writes a 0644 metrics file that node_exporter can read — writes `data` and
 * fsyncs it. A failed write removes what it created.
 */
async function writeNew(file: string, data: string | Uint8Array, mode: number): Promise<void> {
  const handle = await open(file, 'wx', mode)
  try {
    await handle.chmod(mode)
    await handle.writeFile(data)
    await handle.sync()
  } catch (error) {
    await handle.close().catch(() => undefined)
    await rm(file, { force: true })
    throw error
  }
  await handle.close()
}
