/**
 * Checks an archive's listing (GNU `tar -tv --full-time --numeric-owner`) before anything
 * is extracted: no absolute paths, no `..` components, no entry written through a
 * symbolic link in the archive, no hard link to a path outside it, no device files, and —
 * unless allowed — no symbolic link pointing outside the destination. Pure: lines in,
 * problems out.
 */
import { posix } from 'node:path'

export interface TarEntry {
  type: string
  path: string
  /** Symbolic or hard link target. */
  target?: string
}

const LINE = /^(\S)\S{9}\s+\S+\s+\S+\s+\d{4}-\d\d-\d\d \d\d:\d\d(?::\d\d)?\s(.*)$/

export function parseListing(text: string): TarEntry[] {
  const entries: TarEntry[] = []
  for (const line of text.split('\n')) {
    if (line === '') continue
    const match = LINE.exec(line)
    if (match === null) throw new Error(`unexpected tar listing line: ${line.slice(0, 200)}`)
    const type = match[1] ?? '-'
    const rest = match[2] ?? ''
    if (type === 'l') {
      const at = rest.indexOf(' -> ')
      entries.push({ type, path: rest.slice(0, at), target: rest.slice(at + 4) })
    } else if (type === 'h') {
      const at = rest.indexOf(' link to ')
      entries.push({ type, path: rest.slice(0, at), target: rest.slice(at + 9) })
    } else {
      entries.push({ type, path: rest })
    }
  }
  return entries
}

function normal(path: string): string {
  return posix.normalize(path.replace(/\/+$/, '')).replace(/^\.\//, '') || '.'
}

function escapes(path: string): boolean {
  return path.startsWith('/') || path.split('/').includes('..')
}

export interface SafetyOptions {
  /** Accept symbolic links whose target lies outside the destination (they are never followed). */
  allowOutsideLinks?: boolean
}

/** Every problem found, or an empty list when the archive is safe to extract. */
export function unsafeEntries(entries: TarEntry[], options: SafetyOptions = {}): string[] {
  const problems: string[] = []
  const symlinks = new Set<string>()
  for (const entry of entries) {
    const path = normal(entry.path)
    if (entry.path.startsWith('/')) {
      problems.push(`${entry.path}: absolute path`)
      continue
    }
    if (path.split('/').includes('..')) {
      problems.push(`${entry.path}: ".." in the path`)
      continue
    }
    const parts = path.split('/')
    for (let i = 1; i < parts.length; i++) {
      const prefix = parts.slice(0, i).join('/')
      if (symlinks.has(prefix)) problems.push(`${entry.path}: written through the symbolic link ${prefix}`)
    }
    if (entry.type === 'c' || entry.type === 'b') problems.push(`${entry.path}: device file`)
    if (entry.type === 'h' && entry.target !== undefined && escapes(normal(entry.target))) problems.push(`${entry.path}: hard link to ${entry.target}, outside the archive`)
    if (entry.type === 'l' && entry.target !== undefined) {
      symlinks.add(path)
      const resolved = entry.target.startsWith('/') ? entry.target : posix.normalize(posix.join(posix.dirname(path), entry.target))
      if (!options.allowOutsideLinks && (entry.target.startsWith('/') || resolved === '..' || resolved.startsWith('../'))) {
        problems.push(`${entry.path}: symbolic link to ${entry.target}, outside the destination`)
      }
    }
  }
  return problems
}
