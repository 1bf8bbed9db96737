/**
 * Retention after a successful backup of a target — never after a failed run. The plan
 * comes from the pure `planRetention` (restic's forget semantics); this module applies it:
 * removes manifest first (so a half-removed backup never looks valid), then the artifact.
 * It never removes the newest valid backup, and a new backup much smaller than the ones
 * before it (a sign of a broken dump) suspends pruning for that run.
 */
import { rm } from 'node:fs/promises'
import type { Logger } from 'pino'
import type { BackupTarget, Config } from '../config/schema.js'
import { futureDated, readCatalog, sizeDropWarning, type BackupEntry } from './catalog.js'
import type { StateStore } from '../sys/state.js'
import { copyHolds } from '../copies/holds.js'
import { readCopiesState } from '../copies/state.js'
import { planRetention } from './retention.js'
import type { TargetReport } from './run.js'

export interface PruneReport {
  policy: string
  kept: Array<{ id: string; reasons: string[] }>
  removed: string[]
  /** Bytes of the removed backups (artifact and manifest). */
  freed: number
  /** Set when pruning was suspended because the new backup is suspiciously small. */
  sizeDrop?: string
  /** Set when pruning was refused because a backup is dated in the future (the clock was wrong). */
  futureDated?: string
  dryRun: boolean
}

export interface PruneEnv {
  config: Config
  log: Logger
  dryRun: boolean
  timeZone?: string
  now?: Date
  /** The copy state: the newest backup a destination has not received yet is kept. */
  state?: StateStore | undefined
}

export async function pruneTarget(
  name: string,
  target: BackupTarget,
  report: TargetReport | undefined,
  env: PruneEnv,
): Promise<PruneReport> {
  const policy = target.keep ?? env.config.backup.keep
  const catalog = await readCatalog(env.config.backup.dir, name)
  const result: PruneReport = { policy: policy ? JSON.stringify(policy) : 'keep all', kept: [], removed: [], freed: 0, dryRun: env.dryRun }
  if (report !== undefined && report.ok && report.size !== undefined) {
    const drop = sizeDropWarning(catalog.backups, report.size, env.config.backup.sizeDropRatio)
    if (drop !== undefined) {
      env.log.warn({ target: name }, drop)
      result.sizeDrop = drop
      return result
    }
  }
  if (policy === undefined || catalog.backups.length === 0) return result
  // Retention counts back from the newest backup: one dated in the future would make every
  // real backup look old, and the newest real one (this run's) would be pruned.
  const ahead = futureDated(catalog.backups, env.now ?? new Date())
  if (ahead.length > 0) {
    result.futureDated = `${ahead.length === 1 ? 'backup' : 'backups'} ${ahead.map((b) => `${b.manifest.id} (${b.manifest.time})`).join(', ')} ${ahead.length === 1 ? 'is' : 'are'} dated in the future: the clock was wrong when ${ahead.length === 1 ? 'it was' : 'they were'} taken; nothing was pruned. Check the clock, then move ${ahead.length === 1 ? 'it' : 'them'} out of ${catalog.dir} (or remove ${ahead.length === 1 ? 'it' : 'them'}) to let retention run again`
    env.log.warn({ target: name, futureDated: ahead.map((b) => b.manifest.id) }, result.futureDated)
    return result
  }
  // Safety copies taken before a restore stay for restore.keepSafetyCopy, whatever the policy.
  const now = (env.now ?? new Date()).getTime()
  const hold = env.config.restore.keepSafetyCopy
  const held = new Set(catalog.backups.filter((b) => b.tags.includes('pre-restore') && now - b.time.getTime() < hold))
  const plan = planRetention(
    catalog.backups.filter((b) => !held.has(b)),
    policy,
    env.timeZone !== undefined ? { timeZone: env.timeZone } : {},
  )
  for (const b of held) result.kept.push({ id: b.manifest.id, reasons: ['pre-restore safety copy'] })
  result.kept.push(...plan.keep.map((k) => ({ id: k.item.manifest.id, reasons: k.reasons })))
  const newest = catalog.backups[0]
  const copyHeld =
    env.state !== undefined && Object.keys(env.config.backup.destinations).length > 0
      ? copyHolds(env.config, name, catalog.backups, await readCopiesState(env.state))
      : new Map<BackupEntry, string[]>()
  for (const entry of plan.remove) {
    if (entry === newest) continue // never, whatever the policy says
    const dests = copyHeld.get(entry)
    if (dests !== undefined) {
      result.kept.push({ id: entry.manifest.id, reasons: [`not yet copied to ${dests.join(', ')}`] })
      continue
    }
    result.removed.push(entry.manifest.id)
    result.freed += entry.manifest.size
    if (env.dryRun) {
      env.log.info({ target: name, backup: entry.manifest.id }, '(dry run) would remove')
      continue
    }
    await rm(entry.manifestPath, { force: true })
    await rm(entry.path, { force: true })
    env.log.info({ target: name, backup: entry.manifest.id }, 'removed by retention')
  }
  return result
}
