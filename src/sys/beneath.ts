/**
 * File operations that never leave a root directory, whatever is swapped for a symlink
 * while they run. The root is opened once; every later step walks down from it one
 * component at a time with O_NOFOLLOW | O_DIRECTORY and works on names relative to the
 * directory it holds open (through /proc/self/fd/N/NAME: openat(2) and friends, which Node
 * lacks). A directory replaced by a symlink between the plan and the work cannot be
 * entered; one replaced after it was opened no longer matters, since the work goes on in
 * the directory that was opened. Entries are checked against the device and inode the plan
 * saw before anything is done to them.
 *
 * Names are Buffers: any byte sequence a file system allows (invalid UTF-8, newlines) is
 * handled as it is.
 */
import { constants, type Dirent, type Stats } from 'node:fs'
import { lstat, open, readdir, readlink, rename, rmdir, unlink, type FileHandle } from 'node:fs/promises'
import { mapLimit } from '../concurrency.js'

const DIR_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW
/** A regular file for reading: never through a link, never blocking on a FIFO. */
export const READ_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK
/** A new file: never an existing one, never through a link. */
export const CREATE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW

const SLASH = Buffer.from('/')

/** lstat calls in flight per directory: enough to keep the thread pool busy, bounded for huge directories. */
export const LOOKS = 64

export interface Identity {
  dev: number
  ino: number
}

export function sameFile(a: Identity, b: Identity): boolean {
  return a.dev === b.dev && a.ino === b.ino
}

/** Path bytes of a name inside an open directory: /proc/self/fd/N/NAME. */
export function at(dir: FileHandle, name?: Buffer): Buffer {
  const base = Buffer.from(`/proc/self/fd/${dir.fd}`)
  return name === undefined ? base : Buffer.concat([base, SLASH, name])
}

/** A path as bytes. */
export function bytes(path: string | Buffer): Buffer {
  return typeof path === 'string' ? Buffer.from(path) : path
}

/** The components of a relative path, as bytes. */
export function components(rel: Buffer): Buffer[] {
  const parts: Buffer[] = []
  let start = 0
  for (let i = 0; i <= rel.length; i++) {
    if (i === rel.length || rel[i] === 0x2f) {
      if (i > start) parts.push(rel.subarray(start, i))
      start = i + 1
    }
  }
  return parts
}

export type Outcome = 'done' | 'gone' | 'changed' | 'moved'

export class Root {
  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
    readonly identity: Identity,
  ) {}

  /**
   * Opens a root directory, given by its real path (no symlink in it): refused when what
   * was opened is not there — a directory on the way was swapped meanwhile.
   */
  static async open(path: string): Promise<Root> {
    const handle = await open(path, DIR_FLAGS)
    const opened = await readlink(`/proc/self/fd/${handle.fd}`).catch(() => undefined)
    if (opened !== path) {
      await handle.close()
      throw new Error(`${path} changed while it was opened (it is now ${opened ?? 'unknown'}); nothing was done`)
    }
    const s = await handle.stat()
    return new Root(path, handle, { dev: s.dev, ino: s.ino })
  }

  /** The root as a path that stays the opened directory: /proc/self/fd/N. */
  here(): Buffer {
    return at(this.handle)
  }

  async close(): Promise<void> {
    await this.handle.close().catch(() => undefined)
  }

  /**
   * Opens the directory `parts` below the root, one component at a time, never following
   * a symlink. Undefined when a component is gone, is not a directory, or is a link now.
   * The caller closes the handle (`release`).
   */
  async openDir(parts: readonly Buffer[]): Promise<FileHandle | undefined> {
    let current = this.handle
    for (const part of parts) {
      let next: FileHandle
      try {
        next = await open(at(current, part), DIR_FLAGS)
      } catch (error) {
        if (current !== this.handle) await current.close().catch(() => undefined)
        const code = (error as NodeJS.ErrnoException).code
        if (code === 'ENOENT' || code === 'ELOOP' || code === 'ENOTDIR' || code === 'EACCES') return undefined
        throw error
      }
      if (current !== this.handle) await current.close().catch(() => undefined)
      current = next
    }
    return current
  }

  /** Closes a handle from openDir (the root's own stays open). */
  async release(dir: FileHandle): Promise<void> {
    if (dir !== this.handle) await dir.close().catch(() => undefined)
  }

  /**
   * Removes the entry at `parts` (relative to the root) if it is still the one the plan saw
   * (`expect`: same device and inode, same kind) and `stillOld` agrees: a file by its
   * mtime, a directory by the newest mtime in it. A directory goes whole, walked through
   * its open descriptors: a link inside is removed as a link, a subdirectory swapped for a
   * link meanwhile is left alone. Nothing outside the root is ever touched.
   */
  async remove(
    parts: readonly Buffer[],
    expect: Identity & { dir: boolean },
    stillOld: (newestMtimeMs: number) => boolean,
  ): Promise<Outcome> {
    const name = parts[parts.length - 1]
    if (name === undefined) return 'changed' // never the root itself
    const parent = await this.openDir(parts.slice(0, -1))
    if (parent === undefined) return 'moved'
    try {
      const path = at(parent, name)
      const now = await lstat(path).catch(() => undefined)
      if (now === undefined) return 'gone'
      if (!sameFile(now, expect) || now.isDirectory() !== expect.dir) return 'changed'
      if (!expect.dir) {
        if (!stillOld(now.mtimeMs)) return 'changed'
        await unlink(path)
        return 'done'
      }
      const tree = await scanBeneath(parent, name, now)
      if (tree === undefined) return 'moved'
      if (!stillOld(tree.newest)) return 'changed'
      return await removeScanned(parent, name, tree)
    } finally {
      await this.release(parent)
    }
  }

  /** lstat of the entry at `parts`, reached without following links; undefined when it cannot be reached. */
  async lstat(parts: readonly Buffer[]): Promise<Stats | undefined> {
    const name = parts[parts.length - 1]
    if (name === undefined) return undefined
    const parent = await this.openDir(parts.slice(0, -1))
    if (parent === undefined) return undefined
    try {
      return await lstat(at(parent, name)).catch(() => undefined)
    } finally {
      await this.release(parent)
    }
  }
}

/** Entries of an open directory, names as bytes. */
export async function entries(dir: FileHandle): Promise<Array<Dirent<Buffer>>> {
  return readdir(at(dir), { withFileTypes: true, encoding: 'buffer' })
}

/** lstat/unlink calls in flight per directory: the thread pool works on them together. */
const PARALLEL = 64

/** A directory tree as a scan saw it, for the removal that follows. */
interface Scanned {
  identity: Identity
  newest: number
  files: Buffer[]
  dirs: Array<{ name: Buffer; tree: Scanned }>
}

/**
 * Scans the tree at `name` in `parent` (checked to be `expect`) through descriptors,
 * without following links. Undefined when it, or a directory in it, was swapped for
 * something else meanwhile.
 */
async function scanBeneath(parent: FileHandle, name: Buffer, expect: Identity): Promise<Scanned | undefined> {
  let dir: FileHandle
  try {
    dir = await open(at(parent, name), DIR_FLAGS)
  } catch {
    return undefined
  }
  try {
    const s = await dir.stat()
    if (!sameFile(s, expect)) return undefined
    const tree: Scanned = { identity: { dev: s.dev, ino: s.ino }, newest: s.mtimeMs, files: [], dirs: [] }
    const looked = await mapLimit(await entries(dir), PARALLEL, async (entry) => ({
      name: entry.name,
      stats: await lstat(at(dir, entry.name)).catch(() => undefined),
    }))
    for (const { name: child, stats } of looked) {
      if (stats === undefined) continue // gone meanwhile
      if (!stats.isDirectory()) {
        tree.newest = Math.max(tree.newest, stats.mtimeMs)
        tree.files.push(child)
        continue
      }
      const sub = await scanBeneath(dir, child, stats)
      if (sub === undefined) return undefined
      tree.newest = Math.max(tree.newest, sub.newest)
      tree.dirs.push({ name: child, tree: sub })
    }
    return tree
  } finally {
    await dir.close().catch(() => undefined)
  }
}

/**
 * Removes a scanned directory tree through descriptors. 'moved' when the directory (or one
 * below it) is no longer the one scanned — what could not be reached stays; 'changed' when
 * something new appeared in it meanwhile (it stays too).
 */
async function removeScanned(parent: FileHandle, name: Buffer, tree: Scanned): Promise<Outcome> {
  let dir: FileHandle
  try {
    dir = await open(at(parent, name), DIR_FLAGS)
  } catch {
    return 'moved'
  }
  let outcome: Outcome = 'done'
  try {
    if (!sameFile(await dir.stat(), tree.identity)) return 'moved'
    await mapLimit(tree.files, PARALLEL, (file) =>
      unlink(at(dir, file)).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw error
      }),
    )
    for (const sub of tree.dirs) {
      const result = await removeScanned(dir, sub.name, sub.tree)
      if (result !== 'done') outcome = result
    }
  } finally {
    await dir.close().catch(() => undefined)
  }
  if (outcome !== 'done') return outcome
  try {
    await rmdir(at(parent, name))
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOTEMPTY' || code === 'EEXIST') return 'changed'
    throw error
  }
  return 'done'
}

/** rename(2) between two names in the same open directory. */
export async function renameIn(dir: FileHandle, from: Buffer, to: Buffer): Promise<void> {
  await rename(at(dir, from), at(dir, to))
}

export interface Subtree {
  newest: number
  bytes: number
  entries: number
  excluded: boolean
}

/** The path bytes of `name` in `dir`. */
export function child(dir: Buffer, name: Buffer): Buffer {
  return Buffer.concat([dir, SLASH, name])
}

/**
 * A name as globs see it: UTF-8, with bytes that are not UTF-8 and control characters as
 * U+FFFD (a glob's `*` and `**` match them; nobody writes them in a glob).
 */
export function matchable(name: Buffer): string {
  return name.toString('utf8').replace(/[\u0000-\u001f\u007f-\u009f]/g, '\uFFFD')
}

/** Newest mtime, total size and entry count of a tree, without following links. */
export async function scanTree(
  path: string | Buffer,
  stats: Stats,
  isExcluded: (rel: string) => boolean = () => false,
  rel = '',
): Promise<Subtree> {
  const tree: Subtree = { newest: stats.mtimeMs, bytes: stats.isDirectory() ? 0 : stats.size, entries: 1, excluded: false }
  if (!stats.isDirectory()) return tree
  const dir = bytes(path)
  let names: Array<Dirent<Buffer>>
  try {
    names = await readdir(dir, { withFileTypes: true, encoding: 'buffer' })
  } catch {
    return { ...tree, newest: Number.POSITIVE_INFINITY } // unreadable: never counts as old
  }
  // lstat the entries of a directory together: the thread pool works on them in parallel.
  const subs = await mapLimit(names, LOOKS, async (entry) => {
    const path = child(dir, entry.name)
    const childRel = rel === '' ? matchable(entry.name) : `${rel}/${matchable(entry.name)}`
    const childStats = await lstat(path).catch(() => undefined) // gone meanwhile
    if (childStats === undefined) return undefined
    const sub = await scanTree(path, childStats, isExcluded, childRel)
    return isExcluded(childRel) ? { ...sub, excluded: true } : sub
  })
  for (const sub of subs) {
    if (sub === undefined) continue
    tree.newest = Math.max(tree.newest, sub.newest)
    tree.bytes += sub.bytes
    tree.entries += sub.entries
    tree.excluded ||= sub.excluded
  }
  return tree
}
