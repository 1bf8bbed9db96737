/**
 * Backup artifacts: nothing that looks valid unless it is.
 *
 * An artifact is streamed into a hidden partial file in its target's directory
 * (`.<name>.<pid>.partial`, mode 0600) while its sha256 and size are computed — or a tool
 * (zstd) writes that file itself through its descriptor, and the artifact hashes the bytes
 * as they land, reading them back from the page cache; on commit it
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
  return time
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:]/g, '')
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

/** How much of the file's start the follower keeps, to see at the end that it was not rewritten. */
const HEAD_BYTES = 64 * 1024

/**
 * Written bytes are flushed to the disk as they come, every this many: the commit's fsync then
 * waits for the last stretch only, not for the whole artifact. The commit still fsyncs.
 */
const FLUSH_EVERY = 32 * 1024 * 1024

/**
 * Starts writing what has landed so far to the disk, in the background (one flush at a time),
 * every FLUSH_EVERY bytes; `settled()` waits for the one in flight and throws the first
 * failure: a write-back error is reported once per open file, so one seen here would not be
 * seen again by the commit's fsync.
 */
class EarlyFlush {
  private flushed = 0
  private inFlight: Promise<void> | undefined
  private failure: Error | undefined

  constructor(private readonly handle: FileHandle) {}

  written(bytes: number): void {
    if (this.inFlight !== undefined || bytes - this.flushed < FLUSH_EVERY) return
    this.flushed = bytes
    this.inFlight = this.handle.datasync().then(
      () => {
        this.inFlight = undefined
      },
      (error: unknown) => {
        this.failure ??= error instanceof Error ? error : new Error(String(error))
        this.inFlight = undefined
      },
    )
  }

  async settled(): Promise<void> {
    await this.inFlight
    if (this.failure !== undefined) throw this.failure
  }
}

/**
 * Hashes a file while another process writes it: reads what has landed, waits a moment when
 * it has caught up, and once told the writer has exited, reads to the end. The writer's
 * bytes never pass through a pipe into this process; they are read once, from the page cache.
 * It holds for a writer that writes its output once, in order: what it had read of the
 * file's start is compared at the end, so a writer that went back to rewrite a header
 * fails the commit rather than leaving a checksum of bytes that are no longer there.
 */
class FileFollower {
  readonly hash: Hash = createHash('sha256')
  bytes = 0
  /** The first HEAD_BYTES of the file, as they were hashed. */
  private head: Buffer = Buffer.alloc(0)
  readonly done: Promise<void>
  private ended = false
  private cancelled = false
  private wake: (() => void) | undefined

  constructor(
    private readonly path: string,
    private readonly onProgress?: (p: ArtifactProgress) => void,
  ) {
    this.done = this.run(path)
    this.done.catch(() => undefined) // awaited by commit; an abort does not care
  }

  /** The writer has exited: every byte it wrote is in the file. */
  end(): void {
    this.ended = true
    this.wake?.()
  }

  /** Stops reading (the artifact is being thrown away). */
  cancel(): void {
    this.cancelled = true
    this.wake?.()
  }

  private async run(path: string): Promise<void> {
    const handle = await open(path, 'r')
    const flush = new EarlyFlush(handle)
    try {
      const buffer = Buffer.allocUnsafe(1 << 20)
      while (!this.cancelled) {
        // Read the flag before the read: a read that finds nothing after the end is the end.
        const ended = this.ended
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, this.bytes)
        if (bytesRead > 0) {
          this.hash.update(buffer.subarray(0, bytesRead))
          if (this.bytes < HEAD_BYTES)
            this.head = Buffer.concat([this.head, buffer.subarray(0, Math.min(bytesRead, HEAD_BYTES - this.bytes))])
          this.bytes += bytesRead
          this.onProgress?.({ bytes: this.bytes })
          flush.written(this.bytes)
          continue
        }
        if (ended) return
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 20)
          this.wake = () => {
            clearTimeout(timer)
            resolve()
          }
        })
        this.wake = undefined
      }
    } finally {
      try {
        await flush.settled()
      } finally {
        await handle.close()
      }
    }
  }

  /** Whether the file still starts with the bytes that were hashed (the writer has exited). */
  async headUnchanged(): Promise<boolean> {
    const handle = await open(this.path, 'r')
    try {
      const now = Buffer.alloc(this.head.length)
      const { bytesRead } = await handle.read(now, 0, now.length, 0)
      return bytesRead === this.head.length && now.equals(this.head)
    } finally {
      await handle.close()
    }
  }
}

/** A sink that counts and hashes every byte on its way into the partial file. */
class HashingFileSink extends Writable {
  private readonly ownHash: Hash = createHash('sha256')
  private ownBytes = 0
  /** Set when a tool writes the file itself (`fileDescriptor`). */
  follower: FileFollower | undefined
  private readonly flush: EarlyFlush

  constructor(
    private readonly handle: FileHandle,
    private readonly path: string,
    private readonly onProgress?: (p: ArtifactProgress) => void,
  ) {
    super({ highWaterMark: 1 << 20 })
    this.flush = new EarlyFlush(handle)
  }

  get hash(): Hash {
    return this.follower?.hash ?? this.ownHash
  }

  /** Waits for the background flush in flight; throws what any of them failed with. */
  flushed(): Promise<void> {
    return this.flush.settled()
  }

  get bytes(): number {
    return this.follower?.bytes ?? this.ownBytes
  }

  /**
   * The partial file's descriptor, for a tool that writes the artifact itself (as its
   * stdout): the bytes go from the tool to the file, and are hashed as they land. The stream
   * is not written then; the tool must have exited when the dump's `write` resolves. Only
   * for a tool that writes its output once, in order (zstd, tar): one that seeks back to
   * patch what it wrote — pg_dump's custom format rewrites its table of contents when its
   * output is a file — writes into the stream instead (the commit would fail).
   */
  fileDescriptor(): number {
    if (this.ownBytes > 0 || this.writableEnded) throw new Error('the artifact stream is in use')
    this.follower ??= new FileFollower(this.path, this.onProgress)
    return this.handle.fd
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.ownHash.update(chunk)
    this.ownBytes += chunk.length
    this.writeAll(chunk).then(() => {
      this.onProgress?.({ bytes: this.ownBytes })
      this.flush.written(this.ownBytes)
      callback()
    }, callback)
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (error?: Error | null) => void): void {
    const buffers = chunks.map((c) => c.chunk)
    for (const b of buffers) {
      this.ownHash.update(b)
      this.ownBytes += b.length
    }
    this.writeAll(Buffer.concat(buffers)).then(() => {
      this.onProgress?.({ bytes: this.ownBytes })
      this.flush.written(this.ownBytes)
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
    this.sink = new HashingFileSink(handle, partialPath, onProgress)
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
    const follower = this.sink.follower
    if (follower === undefined && !this.sink.writableFinished) throw new Error('artifact stream has not finished')
    this.done = true
    try {
      if (follower !== undefined) {
        follower.end()
        await follower.done
        // What was hashed is the whole file: nothing was written behind the reader's back.
        const { size } = await this.handle.stat()
        if (size !== follower.bytes) throw new Error(`the artifact has ${size} bytes, ${follower.bytes} were hashed`)
        if (!(await follower.headUnchanged()))
          throw new Error('the artifact was rewritten after its start was hashed: its checksum would not match it')
      }
      await this.sink.flushed()
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
      await writeFileAtomic(this.manifestPath, `${JSON.stringify(full, null, 2)}\n`, {
        mode: ARTIFACT_FILE_MODE,
        dirMode: ARTIFACT_DIR_MODE,
      })
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
    if (this.sink.follower !== undefined) {
      this.sink.follower.cancel()
      await this.sink.follower.done.catch(() => undefined)
    }
    await this.handle.close().catch(() => undefined)
    await rm(this.partialPath, { force: true })
  }
}
