/**
 * `type: logs` — compress, expire and cap log files. Files are grouped into rotating sets
 * (app.log, app.log.1, app.log.2.gz, app-2026-11-20.log, app.log-20261120 belong together;
 * so do winston's combined.log, combined1.log, combined2.log); the newest file of each set
 * and any file modified within `minAge` are never touched. A file that looks rotated but
 * joins no set is reported and left alone. Compression is atomic: NAME.gz is written beside
 * the file under a temporary name, fsync'd, linked into place (never over an existing
 * file), and only then is the original removed; a file written to meanwhile is left as it
 * is. A dry run compresses into a counter, so it reports the same sizes, and the same
 * deletions under `maxTotalSize` (which counts sizes after compression), as the real run.
 *
 * Log directories often belong to the service's user, who can swap a file for a symlink at
 * any moment: every file is opened with O_NOFOLLOW through the directory the listing saw
 * (src/sys/beneath.ts) and must be the very file (device, inode) the listing saw. The .gz
 * takes the mode and owner of the opened file, never of a link, and is never more
 * permissive than it.
 */
import { createReadStream, createWriteStream, type Stats } from 'node:fs'
import { lstat, link, open, readdir, realpath, unlink, type FileHandle } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createGzip } from 'node:zlib'
import picomatch from 'picomatch'
import { formatDuration, formatDurationSetting } from '../duration.js'
import { at, CREATE_FLAGS, READ_FLAGS, Root, sameFile } from '../sys/beneath.js'
import { formatBytes, formatByteSizeExact, printable } from '../text.js'
import { globBase, refusedRootResolved, resolveExisting } from './roots.js'
import type { LogsRule } from './schema.js'
import { record, ruleReport, type RuleEnv, type RuleReport } from './types.js'

export interface LogFile {
  /** The path for people and globs (names that are not UTF-8 escaped, see `printable`). */
  path: string
  size: number
  mtime: number
  /** Where the listing found it: the opened base directory, the path bytes below it, its device and inode. */
  at?: { root: Root; parts: Buffer[]; dev: number; ino: number }
}

export type LogStep = { file: LogFile; do: 'delete' | 'compress'; reason: string }

const COMPRESSED = /\.(gz|xz|zst|bz2)$/
/** 20261120, 2026-11-20, with a time: 2026-11-20T03:00, 2026-11-20_03-00-00. */
const DATE = '\\d{4}-?\\d{2}-?\\d{2}(?:[T_-]?\\d{2}[:-]?\\d{2}(?:[:-]?\\d{2})?)?'
const TRAILING_DATE = new RegExp(`[-_.]${DATE}$`)
const ANY_DATE = new RegExp(`[-_.]?_?${DATE}`, 'g')
/** winston's combined1.log, and combined-2.log, combined.3.log: a number before the extension. */
const NUMBERED = /^(.*[^\d\-_.])[-_.]?(\d{1,4})(\.[A-Za-z][\w-]*)$/

/** A rotated name without its rotation marks at the end: app.log.2.gz → app.log, app.log-20261120 → app.log. */
export function unrotated(path: string): string {
  let name = path
  for (;;) {
    const next = name
      .replace(COMPRESSED, '')
      .replace(/\.\d+$/, '')
      .replace(TRAILING_DATE, '')
    if (next === name) return name
    name = next
  }
}

/** The set a log file belongs to by its own name: its directory and name without rotation marks. */
export function rotationSet(path: string): string {
  let name = basename(path)
  name = name.replace(COMPRESSED, '')
  name = name.replace(ANY_DATE, '')
  for (;;) {
    const next = name.replace(/\.\d+$/, '')
    if (next === name) break
    name = next
  }
  return join(dirname(path), name)
}

/**
 * The set of each file, looking at all of them: besides `rotationSet`, a numbered name
 * (winston's combined1.log) joins the set of the same name without the number when that
 * file is there too. `loners`: files that look rotated but are alone in their set.
 */
export function rotationSets(paths: readonly string[]): { sets: Map<string, string>; loners: string[] } {
  const sets = new Map<string, string>()
  for (const path of paths) sets.set(path, rotationSet(path))
  const keys = new Set(sets.values())
  for (const path of paths) {
    const key = sets.get(path) ?? path
    const m = NUMBERED.exec(basename(key))
    if (m === null) continue
    const base = join(dirname(key), `${m[1] ?? ''}${m[3] ?? ''}`)
    if (keys.has(base)) sets.set(path, base)
  }
  const members = new Map<string, number>()
  for (const key of sets.values()) members.set(key, (members.get(key) ?? 0) + 1)
  const loners = paths.filter((path) => {
    const key = sets.get(path) ?? path
    const looksRotated = key !== path.replace(COMPRESSED, '') || NUMBERED.test(basename(path.replace(COMPRESSED, '')))
    return looksRotated && members.get(key) === 1
  })
  return { sets, loners }
}

/**
 * What to do with each file, pure: delete what is older than deleteAfter, compress what is
 * older than compressAfter; the newest of each set and recently modified files are kept.
 */
export function planLogSteps(
  files: readonly LogFile[],
  rule: Pick<LogsRule, 'compressAfter' | 'deleteAfter' | 'minAge'>,
  now: number,
): { steps: LogStep[]; protectedFiles: Set<string>; loners: string[] } {
  const { sets: setOf, loners } = rotationSets(files.map((f) => f.path))
  const sets = new Map<string, LogFile[]>()
  for (const f of files) {
    const key = setOf.get(f.path) ?? f.path
    sets.set(key, [...(sets.get(key) ?? []), f])
  }
  const protectedFiles = new Set<string>()
  for (const members of sets.values()) {
    const newest = members.reduce((a, b) => (b.mtime > a.mtime ? b : a))
    protectedFiles.add(newest.path)
  }
  const minAge = rule.minAge
  for (const f of files) if (now - f.mtime < minAge) protectedFiles.add(f.path)
  const deleteAfter = rule.deleteAfter
  const compressAfter = rule.compressAfter
  const steps: LogStep[] = []
  for (const f of [...files].sort((a, b) => a.mtime - b.mtime)) {
    if (protectedFiles.has(f.path)) continue
    const age = now - f.mtime
    if (deleteAfter !== undefined && age > deleteAfter) {
      steps.push({
        file: f,
        do: 'delete',
        reason: `modified ${formatDuration(age)} ago (deleteAfter ${formatDurationSetting(deleteAfter)})`,
      })
    } else if (compressAfter !== undefined && age > compressAfter && !f.path.endsWith('.gz')) {
      steps.push({
        file: f,
        do: 'compress',
        reason: `modified ${formatDuration(age)} ago (compressAfter ${formatDurationSetting(compressAfter)})`,
      })
    }
  }
  return { steps, protectedFiles, loners }
}

/** Oldest first, the files to delete so that the total is at most `max`; protected files stay. */
export function planSizeCap(
  files: ReadonlyArray<LogFile>,
  max: number,
  protectedFiles: ReadonlySet<string>,
): { remove: LogFile[]; total: number } {
  let total = files.reduce((sum, f) => sum + f.size, 0)
  const remove: LogFile[] = []
  for (const f of [...files].sort((a, b) => a.mtime - b.mtime)) {
    if (total <= max) break
    if (protectedFiles.has(f.path)) continue
    remove.push(f)
    total -= f.size
  }
  return { remove, total }
}

const SLASH = Buffer.from('/')

async function listLogFiles(globs: string[], report: RuleReport, roots: Root[]): Promise<LogFile[]> {
  const found = new Map<string, LogFile>()
  for (const glob of globs) {
    const matches = picomatch(glob, { dot: false })
    const base = globBase(glob)
    const deep = glob.slice(base.length + 1).includes('/')
    let root: Root
    try {
      root = await Root.open(await realpath(base))
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT')
        report.warnings.push(`cannot read ${base}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`)
      continue
    }
    roots.push(root)
    const walk = async (dir: Buffer, parts: Buffer[], shown: string): Promise<void> => {
      let names: Buffer[]
      try {
        names = await readdir(dir, { encoding: 'buffer' })
      } catch (error) {
        report.warnings.push(`cannot read ${shown}: ${(error as NodeJS.ErrnoException).code ?? ''}`)
        return
      }
      for (const n of names.sort(Buffer.compare)) {
        const path = join(shown, printable(n))
        let stats: Stats
        try {
          stats = await lstat(Buffer.concat([dir, SLASH, n]))
        } catch {
          continue
        }
        if (stats.isDirectory()) {
          if (deep) await walk(Buffer.concat([dir, SLASH, n]), [...parts, n], path)
          continue
        }
        if (!stats.isFile()) continue // never a symlink: its target may be anywhere
        if (n.includes('.ownops-')) continue // our own temporary files
        if (matches(path) || matches(unrotated(path)))
          found.set(path, {
            path,
            size: stats.size,
            mtime: stats.mtimeMs,
            at: { root, parts: [...parts, n], dev: stats.dev, ino: stats.ino },
          })
      }
    }
    await walk(root.here(), [], base)
  }
  return [...found.values()]
}

type Compressed = { ok: true; size: number; at?: LogFile['at'] } | { ok: false; why: string }

/** The file the listing saw, opened for reading through its directory, never through a link. */
async function openListed(file: LogFile, parent: FileHandle): Promise<{ handle: FileHandle; stats: Stats } | string> {
  const where = file.at
  if (where === undefined) return 'not listed'
  const name = where.parts[where.parts.length - 1] as Buffer
  let handle: FileHandle
  try {
    handle = await open(at(parent, name), READ_FLAGS)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    return code === 'ELOOP'
      ? 'replaced by a symlink since the plan; left alone'
      : code === 'ENOENT'
        ? 'gone already'
        : `cannot open it (${code ?? (error as Error).message})`
  }
  const stats = await handle.stat()
  if (!stats.isFile() || !sameFile(stats, where)) {
    await handle.close()
    return 'replaced since the plan; left alone'
  }
  return { handle, stats }
}

/** The size gzip -6 makes of a file, without writing anything. */
async function gzipSize(file: LogFile, signal: AbortSignal): Promise<Compressed> {
  const where = file.at
  const parent = where && (await where.root.openDir(where.parts.slice(0, -1)))
  if (where === undefined || parent === undefined) return { ok: false, why: 'its directory was replaced since the plan' }
  try {
    const opened = await openListed(file, parent)
    if (typeof opened === 'string') return { ok: false, why: opened }
    let size = 0
    try {
      await pipeline(
        createReadStream('', { fd: opened.handle.fd, autoClose: false, start: 0 }),
        createGzip({ level: 6 }),
        new Writable({
          write(chunk: Buffer, _e, cb) {
            size += chunk.length
            cb()
          },
        }),
        { signal },
      )
    } finally {
      await opened.handle.close()
    }
    return { ok: true, size }
  } finally {
    await where.root.release(parent)
  }
}

/** NAME → NAME.gz atomically, through the directory the listing saw; mode, owner and times of the file itself; the original removed last. */
async function compressFile(file: LogFile, signal: AbortSignal): Promise<Compressed> {
  const where = file.at
  if (where === undefined) return { ok: false, why: 'not listed' }
  const parent = await where.root.openDir(where.parts.slice(0, -1))
  if (parent === undefined) return { ok: false, why: 'its directory was replaced since the plan; left alone' }
  const name = where.parts[where.parts.length - 1] as Buffer
  const gzName = Buffer.concat([name, Buffer.from('.gz')])
  const tempName = Buffer.concat([Buffer.from('.'), gzName, Buffer.from(`.ownops-${process.pid}`)])
  let created = false
  try {
    if (
      await lstat(at(parent, gzName)).then(
        () => true,
        () => false,
      )
    )
      return { ok: false, why: `${printable(gzName)} exists already` }
    const opened = await openListed(file, parent)
    if (typeof opened === 'string') return { ok: false, why: opened }
    const { handle: source, stats: before } = opened
    try {
      const temp = await open(at(parent, tempName), CREATE_FLAGS, 0o600)
      created = true
      try {
        await pipeline(
          createReadStream('', { fd: source.fd, autoClose: false, start: 0 }),
          createGzip({ level: 6 }),
          createWriteStream('', { fd: temp.fd, autoClose: false }),
          { signal },
        )
        await temp.sync()
        const after = await source.stat()
        if (after.size !== before.size || after.mtimeMs !== before.mtimeMs)
          return { ok: false, why: 'written to while being compressed; left as it is' }
        // The opened file's own mode and owner: never a link's, never more than the file allows.
        await temp.chmod(before.mode & 0o777)
        await temp.chown(before.uid, before.gid).catch(() => undefined) // only root may give files away
        await temp.utimes(before.atime, before.mtime)
      } finally {
        await temp.close()
      }
    } finally {
      await source.close()
    }
    // link(2), not rename(2): a NAME.gz that appeared meanwhile is never replaced.
    try {
      await link(at(parent, tempName), at(parent, gzName))
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST')
        return { ok: false, why: `${printable(gzName)} appeared meanwhile; left alone` }
      throw error
    }
    await parent.sync()
    const gz = await lstat(at(parent, gzName))
    const current = await lstat(at(parent, name)).catch(() => undefined)
    if (current !== undefined && sameFile(current, before)) await unlink(at(parent, name))
    await parent.sync()
    return { ok: true, size: gz.size, at: { root: where.root, parts: [...where.parts.slice(0, -1), gzName], dev: gz.dev, ino: gz.ino } }
  } finally {
    if (created) await unlink(at(parent, tempName)).catch(() => undefined)
    await where.root.release(parent)
  }
}

/** Removes the file the listing saw (same device and inode, same mtime), never through a link. */
async function removeListed(file: LogFile, checkMtime: boolean): Promise<'done' | 'gone' | 'changed' | 'moved'> {
  const where = file.at
  if (where === undefined) return 'moved'
  return where.root.remove(where.parts, { dev: where.dev, ino: where.ino, dir: false }, (mtime) => !checkMtime || mtime === file.mtime)
}

const SKIPPED = {
  gone: 'gone already',
  changed: 'modified since the plan',
  moved: 'its directory was replaced since the plan; left alone',
  done: '',
} as const

export async function runLogsRule(name: string, rule: LogsRule, env: RuleEnv): Promise<RuleReport> {
  const report = ruleReport(name, 'logs')
  const globs = [rule.path].flat()
  if (!rule.force) {
    for (const glob of globs) {
      const base = globBase(glob)
      const why = await refusedRootResolved(base, await resolveExisting(base), env.config.backup.dir)
      if (why !== undefined) throw new Error(`refusing ${glob}: ${why}`)
    }
  }
  const roots: Root[] = []
  try {
    const files = await listLogFiles(globs, report, roots)
    const now = env.now.getTime()
    const { steps, protectedFiles, loners } = planLogSteps(files, rule, now)
    for (const loner of loners)
      report.warnings.push(
        `${loner} looks rotated but joins no set of rotated files (the file it was rotated from is not there): left alone`,
      )
    const after = new Map(files.map((f) => [f.path, { ...f }]))
    for (const step of steps) {
      if (env.signal.aborted) break
      const f = step.file
      if (step.do === 'delete') {
        const action = { action: 'remove' as const, what: f.path, reason: step.reason, bytes: f.size }
        if (!env.dryRun) {
          const outcome = await removeListed(f, true)
          if (outcome !== 'done') {
            record(report, { ...action, skipped: SKIPPED[outcome] })
            continue
          }
          env.log.info({ rule: name, path: f.path }, 'removed')
        }
        after.delete(f.path)
        record(report, action)
        continue
      }
      const result: Compressed = env.dryRun ? await gzipSize(f, env.signal) : await compressFile(f, env.signal)
      if (!result.ok) {
        record(report, { action: 'compress', what: f.path, reason: step.reason, bytes: 0, skipped: result.why })
        continue
      }
      record(report, {
        action: 'compress',
        what: f.path,
        reason: `${step.reason} → ${formatBytes(result.size)}`,
        bytes: f.size - result.size,
        size: f.size,
        compressedSize: result.size,
      })
      if (!env.dryRun) env.log.info({ rule: name, path: f.path, bytes: f.size, gz: result.size }, 'compressed')
      after.delete(f.path)
      after.set(`${f.path}.gz`, { path: `${f.path}.gz`, size: result.size, mtime: f.mtime, ...(result.at ? { at: result.at } : {}) })
    }
    if (rule.maxTotalSize !== undefined) {
      const max = rule.maxTotalSize
      const remaining = [...after.values()]
      const cap = planSizeCap(remaining, max, protectedFiles)
      for (const f of cap.remove) {
        if (env.signal.aborted) break
        const action = {
          action: 'remove' as const,
          what: f.path,
          reason: `oldest while the logs exceed maxTotalSize ${formatByteSizeExact(max)}`,
          bytes: f.size,
        }
        if (!env.dryRun) {
          const outcome = await removeListed(f, false)
          if (outcome !== 'done') {
            record(report, { ...action, skipped: SKIPPED[outcome] })
            continue
          }
          env.log.info({ rule: name, path: f.path }, 'removed (maxTotalSize)')
        }
        record(report, action)
      }
      if (cap.total > max)
        report.warnings.push(
          `the files that are never touched (newest of each set, modified in the last ${formatDurationSetting(rule.minAge)}) alone are ${formatBytes(cap.total)}, over maxTotalSize ${formatByteSizeExact(max)}`,
        )
    }
  } finally {
    for (const root of roots) await root.close()
  }
  return report
}
