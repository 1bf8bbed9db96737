/**
 * `type: logs` — compress, expire and cap log files. Files are grouped into rotating sets
 * (app.log, app.log.1, app.log.2.gz, app-2026-11-20.log belong together); the newest file
 * of each set and any file modified within `minAge` are never touched. Compression is
 * atomic: NAME.gz is written beside the file under a temporary name, fsync'd, renamed, and
 * only then is the original removed; a file written to meanwhile is left as it is.
 * A dry run compresses into a counter, so it reports the same sizes, and the same
 * deletions under `maxTotalSize` (which counts sizes after compression), as the real run.
 */
import { createReadStream, createWriteStream, type Stats } from 'node:fs'
import { chmod, chown, lstat, open, readdir, rename, rm, utimes } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createGzip } from 'node:zlib'
import picomatch from 'picomatch'
import { formatDuration, parseDuration } from '../duration.js'
import { fsyncDir } from '../sys/atomic.js'
import { formatBytes, parseByteSize } from '../text.js'
import { globBase, refusedRoot } from './roots.js'
import type { LogsRule } from './schema.js'
import { record, ruleReport, type RuleEnv, type RuleReport } from './types.js'

export interface LogFile {
  path: string
  size: number
  mtime: number
}

export type LogStep = { file: LogFile; do: 'delete' | 'compress'; reason: string }

/** A rotated name without its rotation marks at the end: app.log.2.gz → app.log, app.log-20261120 → app.log. */
export function unrotated(path: string): string {
  let name = path
  for (;;) {
    const next = name.replace(/\.(gz|xz|zst|bz2)$/, '').replace(/\.\d+$/, '').replace(/[-_.]\d{4}-?\d{2}-?\d{2}(?:[T_-]?\d{2}:?\d{2}(?::?\d{2})?)?$/, '')
    if (next === name) return name
    name = next
  }
}

/** The set a log file belongs to: its directory and name without rotation marks. */
export function rotationSet(path: string): string {
  let name = basename(path)
  name = name.replace(/\.(gz|xz|zst|bz2)$/, '')
  name = name.replace(/[-_.]?\d{4}-?\d{2}-?\d{2}(?:[T_-]?\d{2}:?\d{2}(?::?\d{2})?)?/g, '')
  for (;;) {
    const next = name.replace(/\.\d+$/, '')
    if (next === name) break
    name = next
  }
  return join(dirname(path), name)
}

/**
 * What to do with each file, pure: delete what is older than deleteAfter, compress what is
 * older than compressAfter; the newest of each set and recently modified files are kept.
 */
export function planLogSteps(files: readonly LogFile[], rule: Pick<LogsRule, 'compressAfter' | 'deleteAfter' | 'minAge'>, now: number): { steps: LogStep[]; protectedFiles: Set<string> } {
  const sets = new Map<string, LogFile[]>()
  for (const f of files) {
    const key = rotationSet(f.path)
    sets.set(key, [...(sets.get(key) ?? []), f])
  }
  const protectedFiles = new Set<string>()
  for (const members of sets.values()) {
    const newest = members.reduce((a, b) => (b.mtime > a.mtime ? b : a))
    protectedFiles.add(newest.path)
  }
  const minAge = parseDuration(rule.minAge) ?? 600_000
  for (const f of files) if (now - f.mtime < minAge) protectedFiles.add(f.path)
  const deleteAfter = rule.deleteAfter !== undefined ? parseDuration(rule.deleteAfter) : undefined
  const compressAfter = rule.compressAfter !== undefined ? parseDuration(rule.compressAfter) : undefined
  const steps: LogStep[] = []
  for (const f of [...files].sort((a, b) => a.mtime - b.mtime)) {
    if (protectedFiles.has(f.path)) continue
    const age = now - f.mtime
    if (deleteAfter !== undefined && age > deleteAfter) {
      steps.push({ file: f, do: 'delete', reason: `modified ${formatDuration(age)} ago (deleteAfter ${String(rule.deleteAfter)})` })
    } else if (compressAfter !== undefined && age > compressAfter && !f.path.endsWith('.gz')) {
      steps.push({ file: f, do: 'compress', reason: `modified ${formatDuration(age)} ago (compressAfter ${String(rule.compressAfter)})` })
    }
  }
  return { steps, protectedFiles }
}

/** Oldest first, the files to delete so that the total is at most `max`; protected files stay. */
export function planSizeCap(files: ReadonlyArray<LogFile>, max: number, protectedFiles: ReadonlySet<string>): { remove: LogFile[]; total: number } {
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

async function listLogFiles(globs: string[], report: RuleReport): Promise<LogFile[]> {
  const found = new Map<string, LogFile>()
  for (const glob of globs) {
    const matches = picomatch(glob, { dot: false })
    const base = globBase(glob)
    const deep = glob.slice(base.length + 1).includes('/')
    const walk = async (dir: string): Promise<void> => {
      let names: string[]
      try {
        names = await readdir(dir)
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') report.warnings.push(`cannot read ${dir}: ${(error as NodeJS.ErrnoException).code ?? ''}`)
        return
      }
      for (const n of names.sort()) {
        const path = join(dir, n)
        let stats: Stats
        try {
          stats = await lstat(path)
        } catch {
          continue
        }
        if (stats.isDirectory()) {
          if (deep) await walk(path)
          continue
        }
        if (!stats.isFile()) continue // never a symlink: its target may be anywhere
        if (n.includes('.ownops-')) continue // our own temporary files
        if (matches(path) || matches(unrotated(path))) found.set(path, { path, size: stats.size, mtime: stats.mtimeMs })
      }
    }
    await walk(base)
  }
  return [...found.values()]
}

/** The size gzip -6 makes of a file, without writing anything. */
async function gzipSize(path: string, signal: AbortSignal): Promise<number> {
  let size = 0
  await pipeline(createReadStream(path), createGzip({ level: 6 }), new Writable({ write(chunk: Buffer, _e, cb) { size += chunk.length; cb() } }), { signal })
  return size
}

type Compressed = { ok: true; size: number } | { ok: false; why: string }

/** NAME → NAME.gz atomically; mode, owner and times carried over; the original removed last. */
async function compressFile(file: LogFile, signal: AbortSignal): Promise<Compressed> {
  const target = `${file.path}.gz`
  const exists = await lstat(target).then(() => true, () => false)
  if (exists) return { ok: false, why: `${basename(target)} exists already` }
  const before = await lstat(file.path)
  const temp = join(dirname(file.path), `.${basename(file.path)}.gz.ownops-${process.pid}`)
  try {
    const handle = await open(temp, 'wx', 0o600)
    try {
      await pipeline(createReadStream(file.path), createGzip({ level: 6 }), createWriteStream('', { fd: handle.fd, autoClose: false }), { signal })
      await handle.sync()
    } finally {
      await handle.close()
    }
    const after = await lstat(file.path)
    if (after.size !== before.size || after.mtimeMs !== before.mtimeMs) return { ok: false, why: 'written to while being compressed; left as it is' }
    await chmod(temp, before.mode & 0o7777)
    await chown(temp, before.uid, before.gid).catch(() => undefined) // only root may give files away
    await utimes(temp, before.atime, before.mtime)
    await rename(temp, target)
    await fsyncDir(dirname(target))
    const size = (await lstat(target)).size
    await rm(file.path)
    await fsyncDir(dirname(target))
    return { ok: true, size }
  } finally {
    await rm(temp, { force: true })
  }
}

export async function runLogsRule(name: string, rule: LogsRule, env: RuleEnv): Promise<RuleReport> {
  const report = ruleReport(name, 'logs')
  const globs = [rule.path].flat()
  if (!rule.force) {
    for (const glob of globs) {
      const why = refusedRoot(globBase(glob))
      if (why !== undefined) throw new Error(`refusing ${glob}: ${why}`)
    }
  }
  const files = await listLogFiles(globs, report)
  const now = env.now.getTime()
  const { steps, protectedFiles } = planLogSteps(files, rule, now)
  const after = new Map(files.map((f) => [f.path, { ...f }]))
  for (const step of steps) {
    if (env.signal.aborted) break
    const f = step.file
    if (step.do === 'delete') {
      const action = { action: 'remove' as const, what: f.path, reason: step.reason, bytes: f.size }
      if (!env.dryRun) {
        const now2 = await lstat(f.path).catch(() => undefined)
        if (now2 === undefined || now2.mtimeMs !== f.mtime) {
          record(report, { ...action, skipped: now2 === undefined ? 'gone already' : 'modified since the plan' })
          continue
        }
        await rm(f.path)
        env.log.info({ rule: name, path: f.path }, 'removed')
      }
      after.delete(f.path)
      record(report, action)
      continue
    }
    const result: Compressed = env.dryRun ? { ok: true, size: await gzipSize(f.path, env.signal) } : await compressFile(f, env.signal)
    if (!result.ok) {
      record(report, { action: 'compress', what: f.path, reason: step.reason, bytes: 0, skipped: result.why })
      continue
    }
    record(report, { action: 'compress', what: f.path, reason: `${step.reason} → ${formatBytes(result.size)}`, bytes: f.size - result.size })
    if (!env.dryRun) env.log.info({ rule: name, path: f.path, bytes: f.size, gz: result.size }, 'compressed')
    after.delete(f.path)
    after.set(`${f.path}.gz`, { path: `${f.path}.gz`, size: result.size, mtime: f.mtime })
  }
  if (rule.maxTotalSize !== undefined) {
    const max = parseByteSize(rule.maxTotalSize) ?? Number.POSITIVE_INFINITY
    const remaining = [...after.values()]
    const cap = planSizeCap(remaining, max, protectedFiles)
    for (const f of cap.remove) {
      if (env.signal.aborted) break
      const action = { action: 'remove' as const, what: f.path, reason: `oldest while the logs exceed maxTotalSize ${String(rule.maxTotalSize)}`, bytes: f.size }
      if (!env.dryRun) {
        await rm(f.path, { force: true })
        env.log.info({ rule: name, path: f.path }, 'removed (maxTotalSize)')
      }
      record(report, action)
    }
    if (cap.total > max) report.warnings.push(`the files that are never touched (newest of each set, modified in the last ${String(rule.minAge)}) alone are ${formatBytes(cap.total)}, over maxTotalSize ${String(rule.maxTotalSize)}`)
  }
  return report
}
