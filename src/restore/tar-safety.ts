/**
 * Reads an archive with a tar parser (tar-stream, over the decompressed stream) before
 * anything is extracted — exact names and link targets, whatever bytes they contain — and
 * refuses it when an entry could reach outside the destination: an absolute path, a `..`
 * component, an entry written through a symbolic link of the archive, a hard link to
 * anything but a file earlier in the archive, a device file, and — unless allowed — a
 * symbolic link pointing outside. `unsafeEntries` is pure: entries in, problems out.
 */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import { posix } from 'node:path'
import type { Readable } from 'node:stream'
import { createGunzip } from 'node:zlib'
import type { Header } from 'tar-stream'
import type { BackupEntry } from '../backup/catalog.js'
import { OwnopsError } from '../errors.js'
import { spawnProcess, type Spawned } from '../sys/exec.js'
import { fdOffset } from '../sys/fd-offset.js'
import type { ReadMeter } from '../ui/progress.js'
import { DumpFailure, tail } from '../targets/types.js'
import { decompressStream } from './decompress.js'

export type TarEntryType = 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'block-device' | 'fifo' | 'other'

export interface TarEntry {
  type: TarEntryType
  path: string
  /** Symbolic or hard link target. */
  target?: string
  mode?: number
  uid?: number
  gid?: number
  size?: number
}

const KNOWN = ['file', 'directory', 'symlink', 'link', 'character-device', 'block-device', 'fifo'] as const

function toEntry(h: Header): TarEntry {
  const pax = (h.pax ?? {}) as Record<string, string>
  // A sparse file in POSIX format is stored under a made-up name; its real one is in the pax header.
  const path = pax['GNU.sparse.name'] ?? h.name
  const type: TarEntryType = (KNOWN as readonly string[]).includes(h.type ?? '')
    ? (h.type as TarEntryType)
    : h.type === 'contiguous-file'
      ? 'file'
      : 'other'
  return {
    type,
    path,
    ...(h.linkname ? { target: h.linkname } : {}),
    mode: h.mode ?? 0,
    uid: h.uid ?? 0,
    gid: h.gid ?? 0,
    size: h.size ?? 0,
  }
}

/** Every entry of the archive, read to the end (a damaged archive throws). */
export async function readArchive(entry: BackupEntry, signal: AbortSignal, meter?: ReadMeter): Promise<TarEntry[]> {
  const { default: tarStream } = await import('tar-stream')
  const stream = await decompressStream(entry, signal, meter)
  const extract = tarStream.extract()
  stream.output.on('error', (error) => extract.destroy(error))
  stream.output.pipe(extract)
  const entries: TarEntry[] = []
  try {
    for await (const item of extract) {
      entries.push(toEntry(item.header))
      item.resume()
      if (signal.aborted) throw signal.reason ?? new Error('interrupted')
    }
  } catch (error) {
    stream.output.destroy()
    if (signal.aborted) throw signal.reason ?? error
    throw new DumpFailure(`the archive ${entry.manifest.file} cannot be read to the end: ${(error as Error).message}`, '')
  }
  await stream.done()
  return entries
}

function normal(path: string): string {
  return posix.normalize(path.replace(/\/+$/, '')).replace(/^\.\//, '') || '.'
}

export interface SafetyOptions {
  /** Accept symbolic links whose target lies outside the destination (they are never followed). */
  allowOutsideLinks?: boolean
}

const shown = (text: string): string => JSON.stringify(text).slice(1, -1)

/**
 * The checks, one entry at a time in archive order: each entry is judged against the
 * entries before it (the links and files the archive made so far), so an extraction can
 * stop at the first unsafe entry before tar ever sees it.
 */
export class SafetyChecker {
  private readonly symlinks = new Set<string>()
  private readonly files = new Set<string>()

  constructor(private readonly options: SafetyOptions = {}) {}

  /** The problems of this entry; an empty list when it is safe. */
  check(entry: TarEntry): string[] {
    const problems: string[] = []
    const name = shown(entry.path)
    if (entry.path.includes('\0')) return [`${name}: NUL byte in the name`]
    if (entry.path.startsWith('/')) return [`${name}: absolute path`]
    const path = normal(entry.path)
    if (entry.path.split('/').includes('..') || path === '..' || path.startsWith('../')) return [`${name}: ".." in the path`]
    const parts = path.split('/')
    for (let i = 1; i < parts.length; i++) {
      const prefix = parts.slice(0, i).join('/')
      if (this.symlinks.has(prefix)) problems.push(`${name}: written through the symbolic link ${shown(prefix)}`)
    }
    // A later entry of the same name replaces the earlier one.
    this.symlinks.delete(path)
    this.files.delete(path)
    switch (entry.type) {
      case 'character-device':
      case 'block-device':
        problems.push(`${name}: device file`)
        break
      case 'other':
        problems.push(`${name}: an entry type ownops does not restore`)
        break
      case 'link': {
        const target = entry.target ?? ''
        if (target.startsWith('/') || target.split('/').includes('..') || !this.files.has(normal(target))) {
          problems.push(`${name}: hard link to ${shown(target)}, which is not a file of the archive`)
        } else this.files.add(path)
        break
      }
      case 'symlink': {
        const target = entry.target ?? ''
        this.symlinks.add(path)
        const resolved = target.startsWith('/') ? target : posix.normalize(posix.join(posix.dirname(path), target))
        if (!this.options.allowOutsideLinks && (target.startsWith('/') || resolved === '..' || resolved.startsWith('../'))) {
          problems.push(`${name}: symbolic link to ${shown(target)}, outside the destination`)
        }
        break
      }
      case 'file':
        this.files.add(path)
        break
      default:
        break
    }
    return problems
  }
}

/** Every problem found, or an empty list when the archive is safe to extract. */
export function unsafeEntries(entries: TarEntry[], options: SafetyOptions = {}): string[] {
  const checker = new SafetyChecker(options)
  return entries.flatMap((entry) => checker.check(entry))
}

/** What one read of an archive found: its size and sha256, and every entry with its problems. */
export interface Inspected {
  size: number
  sha256: string
  entries: TarEntry[]
  problems: string[]
  /** Why the archive could not be read to its end (damaged), if it could not. */
  unreadable?: DumpFailure
}

const TOOL_ENV = { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' }

/**
 * A descriptor of its own (offset 0) for the file behind `handle` — the same file, whatever
 * has happened to its name since it was opened — for a process to read as its stdin.
 */
async function reopen(handle: FileHandle, path: string): Promise<FileHandle> {
  try {
    return await open(`/proc/self/fd/${handle.fd}`, 'r')
  } catch {
    return open(path, 'r') // no /proc: by name
  }
}

function spawnReading(argv: string[], stdin: number, signal: AbortSignal, stdout: 'pipe' | 'ignore'): Spawned {
  return spawnProcess(argv, { stdin, stdout, env: TOOL_ENV, signal, notInstalled: `apt-get install ${argv[0] ?? ''}` })
}

/** sha256 and size of the open file, by positional reads (they leave any shared offset alone). */
async function hashFile(handle: FileHandle, signal: AbortSignal, meter?: ReadMeter): Promise<{ size: number; sha256: string }> {
  const hash = createHash('sha256')
  const buffer = Buffer.allocUnsafe(1 << 20)
  let size = 0
  meter?.(() => size)
  for (;;) {
    if (signal.aborted) throw signal.reason ?? new Error('interrupted')
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, size)
    if (bytesRead === 0) break
    hash.update(buffer.subarray(0, bytesRead))
    size += bytesRead
  }
  return { size, sha256: hash.digest('hex') }
}

/**
 * One read of an artifact that is an archive: the checksum of its bytes and, in parallel,
 * every entry of the decompressed archive through the tar parser, judged by the checks. The
 * decompressor (zstd) reads the file itself; nothing is extracted. A damaged archive throws.
 */
export async function inspectArchive(
  handle: FileHandle,
  entry: BackupEntry,
  options: SafetyOptions & { signal: AbortSignal; meter?: ReadMeter },
): Promise<Inspected> {
  const { signal } = options
  const { default: tarStream } = await import('tar-stream')
  const checksum = hashFile(handle, signal, options.meter)
  checksum.catch(() => undefined)
  let decompressor: Spawned | undefined
  let own: FileHandle | undefined
  let output: Readable
  if (entry.manifest.compression === 'zstd') {
    own = await reopen(handle, entry.path)
    decompressor = spawnReading(['zstd', '-dc'], own.fd, signal, 'pipe')
    output = decompressor.child.stdout as Readable
  } else {
    const raw = createReadStream('', { fd: handle, start: 0, autoClose: false, highWaterMark: 1 << 20 })
    output = entry.manifest.compression === 'gzip' ? raw.pipe(createGunzip()) : raw
    if (output !== raw) raw.on('error', (error) => output.destroy(error))
  }
  const checker = new SafetyChecker(options)
  const entries: TarEntry[] = []
  const problems: string[] = []
  const extract = tarStream.extract()
  output.on('error', (error) => extract.destroy(error))
  output.pipe(extract)
  try {
    for await (const item of extract) {
      const e = toEntry(item.header)
      entries.push(e)
      problems.push(...checker.check(e))
      item.resume()
      if (signal.aborted) throw signal.reason ?? new Error('interrupted')
    }
    if (decompressor !== undefined) {
      const z = await decompressor.exited
      if (z.exitCode !== 0) throw new DumpFailure(`zstd -d of ${entry.manifest.file} failed`, tail(z.stderr))
    }
  } catch (error) {
    output.destroy()
    decompressor?.child.kill('SIGTERM')
    if (signal.aborted) {
      await checksum.catch(() => undefined)
      throw signal.reason ?? error
    }
    if (error instanceof OwnopsError && !(error instanceof DumpFailure)) throw error // zstd not installed…
    // Damaged: the checksum says whether the file is what was written.
    const unreadable =
      error instanceof DumpFailure
        ? error
        : new DumpFailure(`the archive ${entry.manifest.file} cannot be read to the end: ${(error as Error).message}`, '')
    return { ...(await checksum), entries, problems, unreadable }
  } finally {
    await own?.close()
  }
  return { ...(await checksum), entries, problems }
}

/** The refusal of an archive with unsafe entries. */
export function refusal(entry: BackupEntry, problems: string[]): OwnopsError {
  return new OwnopsError(
    `refusing to extract ${entry.manifest.file}: ${problems.length} unsafe entr${problems.length === 1 ? 'y' : 'ies'}`,
    {
      kind: 'failed',
      details: problems.slice(0, 20),
      hint: problems.every((p) => p.includes('symbolic link to'))
        ? 'only links that point outside: --allow-outside-links restores them as links (never followed)'
        : 'this archive was not written by ownops, or has been tampered with',
    },
  )
}

/**
 * GNU tar extracts the open file into `dest`, fed by the decompressor it starts (zstd, gzip)
 * through a pipe of their own: the bytes never pass through Node. Call it only for an
 * archive `inspectArchive` found safe; `tarArgs` follow `-x -f - -C DEST`.
 */
export async function extractArchive(
  handle: FileHandle,
  entry: BackupEntry,
  dest: string,
  options: { signal: AbortSignal; tarArgs?: string[]; meter?: ReadMeter },
): Promise<void> {
  const decompress = entry.manifest.compression === 'zstd' ? ['-I', 'zstd'] : entry.manifest.compression === 'gzip' ? ['-z'] : []
  const own = await reopen(handle, entry.path)
  let closed = false
  // tar (or the decompressor it starts) reads this descriptor: its offset is how far it has got.
  options.meter?.(() => (closed ? entry.manifest.size : fdOffset(own.fd)))
  try {
    const tar = spawnReading(
      ['tar', ...decompress, '-x', '-f', '-', '-C', dest, ...(options.tarArgs ?? [])],
      own.fd,
      options.signal,
      'ignore',
    )
    const r = await tar.exited
    if (options.signal.aborted) throw options.signal.reason ?? new Error('interrupted')
    if (r.exitCode !== 0)
      throw new DumpFailure(`extracting ${entry.manifest.file} failed with exit ${String(r.exitCode ?? r.signal)}`, tail(r.stderr))
  } finally {
    closed = true
    await own.close()
  }
}
