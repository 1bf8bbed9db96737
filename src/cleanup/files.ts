/**
 * `type: files` — old entries under a root. The walk never follows a symlink (a link is
 * an entry of its own, removed as a link), never leaves the root, and a matched directory
 * goes whole only when nothing in it is newer than the cut-off; otherwise the walk looks
 * inside it. Before each removal the entry is looked at again: what changed since the plan
 * stays.
 *
 * The root is opened once, and every removal walks down from it again without following a
 * link (src/sys/beneath.ts): a directory swapped for a symlink between the plan and the
 * removal stops the removal, so nothing outside the root is ever touched. Names are bytes:
 * invalid UTF-8 and newlines are handled, and printed escaped.
 */
import type { Dirent } from 'node:fs'
import { lstat, readdir, realpath } from 'node:fs/promises'
import picomatch from 'picomatch'
import { mapLimit } from '../concurrency.js'
import { formatDuration, formatDurationSetting } from '../duration.js'
import { child, LOOKS, matchable, Root, scanTree } from '../sys/beneath.js'
import { printable } from '../text.js'
import { refusedRootResolved } from './roots.js'
import type { FilesRule } from './schema.js'
import { record, ruleReport, type RuleEnv, type RuleReport } from './types.js'

const SLASH = Buffer.from('/')

interface Candidate {
  /** Path bytes below the root, one entry per component. */
  parts: Buffer[]
  dir: boolean
  mtime: number
  bytes: number
  dev: number
  ino: number
}

const SKIPPED: Record<'gone' | 'changed' | 'moved', string> = {
  gone: 'gone already',
  changed: 'modified since the plan',
  moved: 'no longer where the plan saw it (a directory on its way was replaced, e.g. by a symlink)',
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
  const refused = await refusedRootResolved(rule.root, root, env.config.backup.dir)
  if (refused !== undefined && !rule.force) {
    throw new Error(`refusing root ${rule.root}${root !== rule.root ? ` (${root})` : ''}: ${refused}`)
  }
  // The walk starts in the opened root and every removal goes through it: one directory throughout.
  const handle = await Root.open(root)
  const olderThan = rule.olderThan
  const cutoff = env.now.getTime() - olderThan
  const globs = [rule.match].flat()
  const matches = picomatch(globs, { dot: true })
  const excluded = rule.exclude.length > 0 ? picomatch(rule.exclude, { dot: true }) : () => false
  // Globs without "/" or "**" only ever match entries directly in root: no need to descend.
  const deep = globs.some((g) => g.includes('/') || g.includes('**'))
  const candidates: Candidate[] = []

  try {
    const walk = async (dir: Buffer, parts: Buffer[], rel: string): Promise<void> => {
      let list: Array<Dirent<Buffer>>
      try {
        list = await readdir(dir, { withFileTypes: true, encoding: 'buffer' })
      } catch (error) {
        report.warnings.push(
          `cannot read ${printable(Buffer.concat([Buffer.from(root), ...parts.flatMap((p) => [SLASH, p])]))}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
        )
        return
      }
      list.sort((a, b) => Buffer.compare(a.name, b.name))
      const looked = await mapLimit(list, LOOKS, async (entry) => {
        const entryRel = rel === '' ? matchable(entry.name) : `${rel}/${matchable(entry.name)}`
        if (excluded(entryRel)) return undefined
        const path = child(dir, entry.name)
        const stats = await lstat(path).catch(() => undefined) // gone meanwhile
        return stats === undefined ? undefined : { path, parts: [...parts, entry.name], entryRel, stats }
      })
      for (const item of looked) {
        if (item === undefined) continue
        const { path, entryRel, stats } = item
        const isDir = stats.isDirectory()
        if (!isDir && !stats.isFile() && !stats.isSymbolicLink()) continue // sockets, FIFOs, devices
        const seen = { parts: item.parts, mtime: stats.mtimeMs, dev: stats.dev, ino: stats.ino }
        if (matches(entryRel)) {
          if (!isDir) {
            if (stats.mtimeMs <= cutoff) candidates.push({ ...seen, dir: false, bytes: stats.isSymbolicLink() ? 0 : stats.size })
            continue
          }
          const tree = await scanTree(path, stats, (r) => excluded(`${entryRel}/${r}`))
          if (tree.newest <= cutoff && !tree.excluded) {
            candidates.push({ ...seen, dir: true, mtime: tree.newest, bytes: tree.bytes })
            continue
          }
        }
        if (isDir && deep) await walk(path, item.parts, entryRel)
      }
    }
    await walk(handle.here(), [], '')

    for (const c of candidates) {
      if (env.signal.aborted) break
      const shown = printable(Buffer.concat([Buffer.from(root), ...c.parts.flatMap((p) => [SLASH, p])]))
      const age = formatDuration(env.now.getTime() - c.mtime)
      const reason = `${c.dir ? 'newest entry modified' : 'modified'} ${age} ago (older than ${formatDurationSetting(rule.olderThan)})`
      const action = { action: 'remove' as const, what: c.dir ? `${shown}/` : shown, reason, bytes: c.bytes }
      if (env.dryRun) {
        record(report, action)
        continue
      }
      // Walk down from the root again, no link followed: the same entry, still old, or nothing.
      const outcome = await handle.remove(c.parts, { dev: c.dev, ino: c.ino, dir: c.dir }, (newest) => newest <= cutoff)
      if (outcome !== 'done') {
        record(report, { ...action, ...(outcome === 'gone' ? { bytes: 0 } : {}), skipped: SKIPPED[outcome] })
        continue
      }
      env.log.info({ rule: name, path: action.what, bytes: c.bytes }, 'removed')
      record(report, action)
    }
  } finally {
    await handle.close()
  }
  return report
}
