/**
 * Reads an archive with a tar parser (tar-stream, over the decompressed stream) before
 * anything is extracted — exact names and link targets, whatever bytes they contain — and
 * refuses it when an entry could reach outside the destination: an absolute path, a `..`
 * component, an entry written through a symbolic link of the archive, a hard link to
 * anything but a file earlier in the archive, a device file, and — unless allowed — a
 * symbolic link pointing outside. `unsafeEntries` is pure: entries in, problems out.
 */
import { posix } from 'node:path'
import type { BackupEntry } from '../backup/catalog.js'
import { DumpFailure } from '../targets/types.js'
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

/** Every entry of the archive, read to the end (a damaged archive throws). */
export async function readArchive(entry: BackupEntry, signal: AbortSignal): Promise<TarEntry[]> {
  const { default: tarStream } = await import('tar-stream')
  const stream = await decompressStream(entry, signal)
  const extract = tarStream.extract()
  stream.output.on('error', (error) => extract.destroy(error))
  stream.output.pipe(extract)
  const entries: TarEntry[] = []
  try {
    for await (const item of extract) {
      const h = item.header
      const pax = (h.pax ?? {}) as Record<string, string>
      // A sparse file in POSIX format is stored under a made-up name; its real one is in the pax header.
      const path = pax['GNU.sparse.name'] ?? h.name
      const known = ['file', 'directory', 'symlink', 'link', 'character-device', 'block-device', 'fifo'] as const
      const type: TarEntryType = (known as readonly string[]).includes(h.type ?? '') ? (h.type as TarEntryType) : h.type === 'contiguous-file' ? 'file' : 'other'
      entries.push({ type, path, ...(h.linkname ? { target: h.linkname } : {}), mode: h.mode ?? 0, uid: h.uid ?? 0, gid: h.gid ?? 0, size: h.size ?? 0 })
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

/** Every problem found, or an empty list when the archive is safe to extract. */
export function unsafeEntries(entries: TarEntry[], options: SafetyOptions = {}): string[] {
  const problems: string[] = []
  const symlinks = new Set<string>()
  const files = new Set<string>()
  for (const entry of entries) {
    const name = shown(entry.path)
    if (entry.path.includes('\0')) {
      problems.push(`${name}: NUL byte in the name`)
      continue
    }
    if (entry.path.startsWith('/')) {
      problems.push(`${name}: absolute path`)
      continue
    }
    const path = normal(entry.path)
    if (entry.path.split('/').includes('..') || path === '..' || path.startsWith('../')) {
      problems.push(`${name}: ".." in the path`)
      continue
    }
    const parts = path.split('/')
    for (let i = 1; i < parts.length; i++) {
      const prefix = parts.slice(0, i).join('/')
      if (symlinks.has(prefix)) problems.push(`${name}: written through the symbolic link ${shown(prefix)}`)
    }
    // A later entry of the same name replaces the earlier one.
    symlinks.delete(path)
    files.delete(path)
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
        if (target.startsWith('/') || target.split('/').includes('..') || !files.has(normal(target))) {
          problems.push(`${name}: hard link to ${shown(target)}, which is not a file of the archive`)
        } else files.add(path)
        break
      }
      case 'symlink': {
        const target = entry.target ?? ''
        symlinks.add(path)
        const resolved = target.startsWith('/') ? target : posix.normalize(posix.join(posix.dirname(path), target))
        if (!options.allowOutsideLinks && (target.startsWith('/') || resolved === '..' || resolved.startsWith('../'))) {
          problems.push(`${name}: symbolic link to ${shown(target)}, outside the destination`)
        }
        break
      }
      case 'file':
        files.add(path)
        break
      default:
        break
    }
  }
  return problems
}
