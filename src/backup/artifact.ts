/**
 * Backup artifacts: nothing that looks valid unless it is.
 *
 * An artifact is streamed into a hidden partial file in its target's directory
 * (`.<name>.<pid>.partial`, mode 0600) while its sha256 and size are computed; on commit it
 * is fsync'd, renamed into place and the directory fsync'd; then the manifest
 * (`<name>.json`) is written atomically. The manifest is the commit mark: an artifact
 * without one is not a backup, whatever it looks like. On abort the partial file is
 * removed; a process killed outright leaves a partial file that `backups` reports and the
 * next run of that target (or `cleanup`) removes once its writer is gone.
 */
import { createHash, type Hash } from 'node:crypto'
import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { fsyncDir, writeFileAtomic } from '../sys/atomic.js'

export const MANIFEST_VERSION = 1

/** What `<artifact>.json` holds. */
export interface Manifest {
  manifestVersion: typeof MANIFEST_VERSION
  /** `<target>-<YYYYMMDDTHHMMSSZ>`, the name of the artifact without its extension. */
  id: string
  target: string
  type: string
  /** Artifact file name, relative to the manifest's directory. */
  file: string
  /** Start of the backup (ISO 8601, UTC). */
  time: string
  durationMs: number
  size: number
  sha256: string
  compression: 'zstd' | 'gzip' | 'none' | 'custom'
  ownopsVersion: string
  host: string
  /** Source details: container, image, database, server version, path, file count… */
  source: Record<string, unknown>
  warnings: string[]
  /** Tags given with `ownops backup --tag` (retention's `keep.tags` keeps them). */
  tags?: string[]
}

export const ARTIFACT_DIR_MODE = 0o700
export const ARTIFACT_FILE_MODE = 0o600

/** `20261124T030000Z` */
export function timestampId(time: Date): string {
  return time.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '')
}

export function partialName(file: string, pid = process.pid): string {
  return `.${file}.${pid}.partial`
}

/**
 * `.name.ext.PID.partial` → { file, pid }. SQLite's own files beside a partial copy
 * (`-journal`, `-wal`, `-shm`) are partial files of the same run.
 */
export function parsePartialName(name: string): { file: string; pid: number } | undefined {
  const match = /^\.(.+)\.(\d+)\.partial(?:-journal|-wal|-shm)?$/.exec(name)
  if (match === null) return undefined
  return { file: match[1] ?? '', pid: Number(match[2]) }
}

export interface ArtifactProgress {
  bytes: number
}

/** A sink that counts and hashes every byte on its way into the partial file. */
class HashingFileSink extends Writable {
  readonly hash: Hash = createHash('sha256')
  bytes = 0

  constructor(
    private readonly handle: FileHandle,
    private readonly onProgress?: (p: ArtifactProgress) => void,
  ) {
    super({ highWaterMark: 1 << 20 })
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.hash.update(chunk)
    this.bytes += chunk.length
    this.writeAll(chunk).then(() => {
      this.onProgress?.({ bytes: this.bytes })
      callback()
    }, callback)
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (error?: Error | null) => void): void {
    const buffers = chunks.map((c) => c.chunk)
    for (const b of buffers) {
      this.hash.update(b)
      this.bytes += b.length
    }
    this.writeAll(Buffer.concat(buffers)).then(() => {
      this.onProgress?.({ bytes: this.bytes })
      callback()
    }, callback)
  }

  private async writeAll(buffer: Buffer): Promise<void> {
    let offset = 0
    while (offset < buffer.length) {
      const { bytesWritten } = await this.handle.write(buffer, offset, buffer.length - offset)
      offset += bytesWritten
    }
  }
}

export class Artifact {
  readonly sink: HashingFileSink
  /**
   * The first error of the partial file (ENOSPC, EIO, EDQUOT…), whoever was writing when it
   * came: it is the cause of whatever fails after it (a broken pipe, a dump tool's exit).
   */
  failure: Error | undefined
  private done = false

  private constructor(
    readonly dir: string,
    readonly id: string,
    readonly file: string,
    readonly partialPath: string,
    private readonly handle: FileHandle,
    onProgress?: (p: ArtifactProgress) => void,
  ) {
    this.sink = new HashingFileSink(handle, onProgress)
    // Never an unhandled 'error' event: a source that writes after the disk filled up
    // sees a destroyed stream, and the backup fails with this error.
    this.sink.on('error', (error: Error) => {
      this.failure ??= error
    })
  }

  /** Opens `.<id>.<ext>.<pid>.partial` in `dir` (created 0700 when missing). */
  static async create(dir: string, id: string, ext: string, onProgress?: (p: ArtifactProgress) => void): Promise<Artifact> {
    await mkdir(dir, { recursive: true, mode: ARTIFACT_DIR_MODE })
    const file = `${id}.${ext}`
    const partialPath = join(dir, partialName(file))
    const handle = await open(partialPath, 'wx', ARTIFACT_FILE_MODE)
    return new Artifact(dir, id, file, partialPath, handle, onProgress)
  }

  get manifestPath(): string {
    return join(this.dir, `${this.id}.json`)
  }

  get path(): string {
    return join(this.dir, this.file)
  }

  get bytes(): number {
    return this.sink.bytes
  }

  /**
   * Makes the artifact durable and valid: fsync, rename into place, fsync the directory,
   * then the manifest, written atomically, last. The sink must have finished.
   */
  async commit(manifest: Omit<Manifest, 'manifestVersion' | 'id' | 'size' | 'sha256' | 'file'>): Promise<Manifest> {
    if (this.done) throw new Error('artifact already committed or aborted')
    if (this.failure !== undefined) throw this.failure
    if (!this.sink.writableFinished) throw new Error('artifact stream has not finished')
    this.done = true
    try {
      await this.handle.sync()
      await this.handle.close()
      await rename(this.partialPath, this.path)
      await fsyncDir(this.dir)
    } catch (error) {
      await this.handle.close().catch(() => undefined)
      await rm(this.partialPath, { force: true })
      throw error
    }
    const full: Manifest = {
      manifestVersion: MANIFEST_VERSION,
      id: this.id,
      ...manifest,
      file: this.file,
      size: this.sink.bytes,
      sha256: this.sink.hash.digest('hex'),
    }
    try {
      await writeFileAtomic(this.manifestPath, `${JSON.stringify(full, null, 2)}\n`, { mode: ARTIFACT_FILE_MODE, dirMode: ARTIFACT_DIR_MODE })
    } catch (error) {
      // Without its manifest the artifact is not a backup: do not leave it looking like one.
      await rm(this.path, { force: true })
      throw error
    }
    return full
  }

  /** Removes the partial file. Safe to call more than once, and after a failed commit. */
  async abort(): Promise<void> {
    if (this.done) return
    this.done = true
    if (!this.sink.destroyed) this.sink.destroy()
    await this.handle.close().catch(() => undefined)
    await rm(this.partialPath, { force: true })
  }
}
