/**
 * `type: files` — old entries under a root. The walk never follows a symlink (a link is
 * an entry of its own, removed as a link), never leaves the root, and a matched directory
 * goes whole only when nothing in it is newer than the cut-off; otherwise the walk looks
 * inside it. Before each removal the entry is looked at again: what changed since the plan
 * stays.
 */
import type { Dirent, Stats } from 'node:fs'
import { lstat, readdir, realpath, rm } from 'node:fs/promises'
import { join } from 'node:path'
import picomatch from 'picomatch'
import { mapLimit } from '../concurrency.js'
import { formatDuration, parseDuration } from '../duration.js'
import { refusedRoot, isInside } from './roots.js'
import type { FilesRule } from './schema.js'
import { record, ruleReport, type RuleEnv, type RuleReport } from './types.js'

/** lstat calls in flight per directory: enough to keep the thread pool busy, bounded for huge directories. */
const LOOKS = 64

export interface Subtree {
  newest: number
  bytes: number
  entries: number
  excluded: boolean
}

interface Candidate {
  path: string
  rel: string
  dir: boolean
  mtime: number
  bytes: number
}

/** Newest mtime, total size and entry count of a tree, without following links. */
export async function scanTree(path: string, stats: Stats, isExcluded: (rel: string) => boolean = () => false, rel = ''): Promise<Subtree> {
  const tree: Subtree = { newest: stats.mtimeMs, bytes: stats.isDirectory() ? 0 : stats.size, entries: 1, excluded: false }
  if (!stats.isDirectory()) return tree
  let names: Dirent[]
  try {
    names = await readdir(path, { withFileTypes: true })
  } catch {
    return { ...tree, newest: Number.POSITIVE_INFINITY } // unreadable: never counts as old
  }
  // lstat the entries of a directory together: the thread pool works on them in parallel.
  const subs = await mapLimit(names, LOOKS, async (entry) => {
    const child = join(path, entry.name)
    const childRel = rel === '' ? entry.name : `${rel}/${entry.name}`
    const childStats = await lstat(child).catch(() => undefined) // gone meanwhile
    if (childStats === undefined) return undefined
    const sub = await scanTree(child, childStats, isExcluded, childRel)
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

export async function runFilesRule(name: string, rule: FilesRule, env: RuleEnv): Promise<RuleReport> {
  const report = ruleReport(name, 'files')
  let root: string
  try {
    root = await realpath(rule.root)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      report.warnings.push(`${rule.root} does not exist; nothing to do`)
      return report
    }
    throw error
  }
  const refused = refusedRoot(root, env.config.backup.dir)
  if (refused !== undefined && !rule.force) {
    throw new Error(`refusing root ${rule.root}${root !== rule.root ? ` (${root})` : ''}: ${refused}`)
  }
  const olderThan = parseDuration(rule.olderThan) ?? Number.POSITIVE_INFINITY
  const cutoff = env.now.getTime() - olderThan
  const globs = [rule.match].flat()
  const matches = picomatch(globs, { dot: true })
  const excluded = rule.exclude.length > 0 ? picomatch(rule.exclude, { dot: true }) : () => false
  // Globs without "/" or "**" only ever match entries directly in root: no need to descend.
  const deep = globs.some((g) => g.includes('/') || g.includes('**'))
  const candidates: Candidate[] = []

  const walk = async (dir: string, rel: string): Promise<void> => {
    let entries: Dirent[]
    try {
      entries = await readdir(dir, { withFileTypes: true })
    } catch (error) {
      report.warnings.push(`cannot read ${dir}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`)
      return
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : 1))
    const looked = await mapLimit(entries, LOOKS, async (entry) => {
      const entryRel = rel === '' ? entry.name : `${rel}/${entry.name}`
      if (excluded(entryRel)) return undefined
      const stats = await lstat(join(dir, entry.name)).catch(() => undefined) // gone meanwhile
      return stats === undefined ? undefined : { path: join(dir, entry.name), entryRel, stats }
    })
    for (const item of looked) {
      if (item === undefined) continue
      const { path, entryRel, stats } = item
      const isDir = stats.isDirectory()
      if (!isDir && !stats.isFile() && !stats.isSymbolicLink()) continue // sockets, FIFOs, devices
      if (matches(entryRel)) {
        if (!isDir) {
          if (stats.mtimeMs <= cutoff) candidates.push({ path, rel: entryRel, dir: false, mtime: stats.mtimeMs, bytes: stats.isSymbolicLink() ? 0 : stats.size })
          continue
        }
        const tree = await scanTree(path, stats, (r) => excluded(`${entryRel}/${r}`))
        if (tree.newest <= cutoff && !tree.excluded) {
          candidates.push({ path, rel: entryRel, dir: true, mtime: tree.newest, bytes: tree.bytes })
          continue
        }
      }
      if (isDir && deep) await walk(path, entryRel)
    }
  }
  await walk(root, '')

  for (const c of candidates) {
    if (env.signal.aborted) break
    const age = formatDuration(env.now.getTime() - c.mtime)
    const reason = `${c.dir ? 'newest entry modified' : 'modified'} ${age} ago (older than ${String(rule.olderThan)})`
    const action = { action: 'remove' as const, what: c.dir ? `${c.path}/` : c.path, reason, bytes: c.bytes }
    if (!isInside(root, c.path) || c.path === root) {
      record(report, { ...action, skipped: 'outside the root' })
      continue
    }
    if (env.dryRun) {
      record(report, action)
      continue
    }
    // Look again: a file written since the plan, or a directory that got a new file, stays.
    let now: Stats
    try {
      now = await lstat(c.path)
    } catch {
      record(report, { ...action, bytes: 0, skipped: 'gone already' })
      continue
    }
    const newest = c.dir ? (await scanTree(c.path, now)).newest : now.mtimeMs
    if (newest > cutoff || now.isDirectory() !== c.dir) {
      record(report, { ...action, skipped: 'modified since the plan' })
      continue
    }
    await rm(c.path, { recursive: c.dir, force: true })
    env.log.info({ rule: name, path: c.path, bytes: c.bytes }, 'removed')
    record(report, action)
  }
  return report
}
