/**
 * Reads an archive with the parser that will extract it — GNU tar's listing (`tar -tv`, names
 * and link targets C-quoted, so exact whatever bytes they contain), read by a decompressor
 * of its own; no byte of the content passes through Node — before anything is extracted, and
 * refuses it when an entry could reach outside the destination: an absolute path, a `..`
 * component, an entry written through a symbolic link of the archive, a hard link to
 * anything but a file earlier in the archive, a device file, and — unless allowed — a
 * symbolic link pointing outside. `unsafeEntries` is pure: entries in, problems out.
 */
import { createHash } from 'node:crypto'
import { open, type FileHandle } from 'node:fs/promises'
import { posix } from 'node:path'
import type { Readable } from 'node:stream'
import type { BackupEntry } from '../backup/catalog.js'
import { OwnopsError } from '../errors.js'
import { spawnProcess, type Spawned } from '../sys/exec.js'
import { fdOffset } from '../sys/fd-offset.js'
import type { ReadMeter } from '../ui/progress.js'
import { DumpFailure, tail } from '../targets/types.js'

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

const TYPES: Record<string, TarEntryType> = {
  '-': 'file',
  C: 'file', // contiguous file
  d: 'directory',
  l: 'symlink',
  h: 'link',
  c: 'character-device',
  b: 'block-device',
  p: 'fifo',
}

/** A C-quoted string of `tar --quoting-style=c` at `start` (its opening quote): the text and where it ends. */
function unquote(line: string, start: number): { text: string; end: number } | undefined {
  if (line[start] !== '"') return undefined
  const close = line.indexOf('"', start + 1)
  // Most names have nothing to unescape.
  if (close !== -1 && !line.slice(start + 1, close).includes('\\')) return { text: line.slice(start + 1, close), end: close + 1 }
  const bytes: number[] = []
  const simple: Record<string, number> = { n: 10, t: 9, r: 13, f: 12, v: 11, b: 8, a: 7, '\\': 92, '"': 34, "'": 39, '?': 63 }
  for (let i = start + 1; i < line.length; i++) {
    const c = line[i] as string
    if (c === '"') return { text: Buffer.from(bytes).toString('utf8'), end: i + 1 }
    if (c !== '\\') {
      bytes.push(...Buffer.from(c, 'utf8'))
      continue
    }
    const next = line[i + 1] ?? ''
    const octal = /^[0-7]{1,3}/.exec(line.slice(i + 1, i + 4))
    if (octal !== null) {
      bytes.push(parseInt(octal[0], 8) & 0xff)
      i += octal[0].length
    } else if (simple[next] !== undefined) {
      bytes.push(simple[next])
      i += 1
    } else return undefined
  }
  return undefined
}

/** `rwsr-xr-x` → 0o4755 */
function parseMode(perm: string): number {
  let mode = 0
  const bit = (i: number, on: number) => (perm[i] !== '-' ? on : 0)
  mode |= bit(0, 0o400) | bit(1, 0o200) | bit(3, 0o40) | bit(4, 0o20) | bit(6, 0o4) | bit(7, 0o2)
  const exec = (c: string | undefined, x: number, special: number) =>
    (c === 'x' ? x : 0) | (c === 's' || c === 't' ? x | special : 0) | (c === 'S' || c === 'T' ? special : 0)
  return mode | exec(perm[2], 0o100, 0o4000) | exec(perm[5], 0o10, 0o2000) | exec(perm[8], 0o1, 0o1000)
}

/** Type and permissions, uid/gid, size, then the date (any year: tar writes what the header says) up to the quoted name. */
const LISTED = /^(\S)(\S{9}) (\d+)\/(\d+) +(\S+) [^"]*"/

/**
 * One line of `tar -tv -P --numeric-owner --full-time --quoting-style=c`; undefined for a
 * line that is not an entry. What tar cannot name as a known type is `other` (refused).
 */
export function parseListing(line: string): TarEntry | undefined {
  const m = LISTED.exec(line)
  if (m === null) return undefined
  const [, kind = '', perm = '', uid = '0', gid = '0', size = '0'] = m
  const name = unquote(line, m[0].length - 1)
  if (name === undefined) return undefined
  const rest = line.slice(name.end)
  let type: TarEntryType = TYPES[kind] ?? 'other'
  let target: string | undefined
  const link = /^ (->|link to) /.exec(rest)
  if (link !== null) {
    target = unquote(rest, link[0].length)?.text
    if (target === undefined) type = 'other'
  } else if (rest !== '' && type !== 'directory') type = 'other' // a volume header, a continued file…
  if ((type === 'symlink' || type === 'link') && target === undefined) type = 'other'
  return {
    type,
    path: name.text,
    ...(target !== undefined ? { target } : {}),
    mode: parseMode(perm),
    uid: Number(uid),
    gid: Number(gid),
    size: /^\d+$/.test(size) ? Number(size) : 0,
  }
}

/**
 * GNU tar lists the archive read from `stdin` (a descriptor of the artifact), through the
 * decompressor it starts; each entry is handed to `onEntry` as it comes. Throws a
 * DumpFailure when the archive cannot be read to its end.
 */
async function listArchive(stdin: number, entry: BackupEntry, signal: AbortSignal, onEntry: (e: TarEntry) => void): Promise<void> {
  const decompress = entry.manifest.compression === 'zstd' ? ['-I', 'zstd'] : entry.manifest.compression === 'gzip' ? ['-z'] : []
  const tar = spawnReading(
    ['tar', ...decompress, '-t', '-v', '-P', '--numeric-owner', '--full-time', '--quoting-style=c', '-f', '-'],
    stdin,
    signal,
    'pipe',
  )
  const out = tar.child.stdout as Readable
  out.setEncoding('utf8')
  let pending = ''
  let bad: string | undefined
  const take = (line: string) => {
    if (line === '') return
    const e = parseListing(line)
    if (e === undefined) bad ??= line
    else onEntry(e)
  }
  for await (const chunk of out) {
    const lines = (pending + (chunk as string)).split('\n')
    pending = lines.pop() ?? ''
    for (const line of lines) take(line)
    if (signal.aborted) throw signal.reason ?? new Error('interrupted')
  }
  take(pending)
  const r = await tar.exited
  if (signal.aborted) throw signal.reason ?? new Error('interrupted')
  if (r.exitCode !== 0)
    throw new DumpFailure(
      `the archive ${entry.manifest.file} cannot be read to the end (tar exit ${String(r.exitCode ?? r.signal)})`,
      tail(r.stderr),
    )
  if (bad !== undefined) throw new DumpFailure(`the archive ${entry.manifest.file} has an entry tar lists as ${JSON.stringify(bad)}`, '')
}

/** Every entry of the archive, read to the end (a damaged archive throws). */
export async function readArchive(entry: BackupEntry, signal: AbortSignal, meter?: ReadMeter): Promise<TarEntry[]> {
  const handle = await open(entry.path, 'r')
  let closed = false
  meter?.(() => (closed ? entry.manifest.size : fdOffset(handle.fd)))
  const entries: TarEntry[] = []
  try {
    await listArchive(handle.fd, entry, signal, (e) => entries.push(e))
  } finally {
    closed = true
    await handle.close()
  }
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
 * every entry of the archive as GNU tar lists it, judged by the checks. tar and its
 * decompressor read the file themselves; nothing is extracted.
 */
export async function inspectArchive(
  handle: FileHandle,
  entry: BackupEntry,
  options: SafetyOptions & { signal: AbortSignal; meter?: ReadMeter },
): Promise<Inspected> {
  const { signal } = options
  const checksum = hashFile(handle, signal, options.meter)
  checksum.catch(() => undefined)
  const checker = new SafetyChecker(options)
  const entries: TarEntry[] = []
  const problems: string[] = []
  const own = await reopen(handle, entry.path)
  try {
    await listArchive(own.fd, entry, signal, (e) => {
      entries.push(e)
      problems.push(...checker.check(e))
    })
  } catch (error) {
    if (signal.aborted) {
      await checksum.catch(() => undefined)
      throw signal.reason ?? error
    }
    if (error instanceof OwnopsError && !(error instanceof DumpFailure)) throw error // tar or zstd not installed…
    // Damaged: the checksum says whether the file is what was written.
    const unreadable =
      error instanceof DumpFailure
        ? error
        : new DumpFailure(`the archive ${entry.manifest.file} cannot be read to the end: ${(error as Error).message}`, '')
    return { ...(await checksum), entries, problems, unreadable }
  } finally {
    await own.close()
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
