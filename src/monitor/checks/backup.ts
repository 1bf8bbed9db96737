/**
 * `kind: backup` — the newest valid backup of each target (or the listed ones) is younger
 * than `maxAge` (critical; `warnAge` for a warning first), and not much smaller than the
 * ones before it (`sizeDrop`, a fraction of the median of the previous five: a dump that
 * silently lost its data); pre-restore safety copies do not count. Leftover partial files
 * of killed runs are a warning, and so is a backup dated in the future (the clock was
 * wrong; it stops retention). Reads the
 * manifests in backup.dir; a target without any valid backup is critical. Destinations off the
 * box are watched from the copy state: the newest copy of each target there must be younger
 * than the destination's maxAge (critical), and a failed last copy run is a warning.
 */
import { z } from 'zod'
import { duration } from '../../config/fields.js'
import { futureDated, readCatalog, sizeDropWarning } from '../../backup/catalog.js'
import { formatDuration, formatDurationSetting } from '../../duration.js'
import { StateStore } from '../../sys/state.js'
import { readCopiesState } from '../../copies/state.js'
import { formatBytes } from '../../text.js'
import { commonFields } from '../spec.js'
import type { CheckKind, Finding } from '../types.js'

export const schema = z.strictObject({
  kind: z.literal('backup'),
  ...commonFields,
  targets: z.array(z.string()).optional().meta({ description: 'Backup targets to watch (default: every target in backup.targets).' }),
  maxAge: duration
    .prefault('26h')
    .meta({ description: 'Critical when the newest valid backup is older than this (default 26h: a daily backup plus slack).' }),
  warnAge: duration.optional().meta({ description: 'Warning when the newest valid backup is older than this.' }),
  sizeDrop: z.number().min(0).max(1).default(0.5).meta({
    description: 'Warning when the newest backup is smaller than this fraction of the median of the previous five (0 turns it off).',
  }),
  destinations: z.array(z.string()).optional().meta({
    description:
      "Destinations off the box to watch (default: all in backup.destinations): the newest copy of each target there is younger than the destination's maxAge.",
  }),
})
export type BackupSpec = z.output<typeof schema>

export const backup: CheckKind<BackupSpec> = {
  usesDocker: false,
  recoverable: false,
  async run(spec, ctx) {
    const targets = spec.targets ?? ctx.paths.backupTargets
    if (targets.length === 0) return [{ status: 'warning', value: 'no targets', message: 'no backup targets configured to watch' }]
    const maxAgeMs = spec.maxAge
    const warnAgeMs = spec.warnAge
    const findings: Finding[] = []
    for (const target of targets) {
      const catalog = await readCatalog(ctx.paths.backupDir, target)
      // A pre-restore safety copy is the data a restore replaced, not a fresh backup of the service;
      // a backup dated in the future (taken while the clock was wrong) is not the newest either:
      // the age is judged on the real ones, and the future one is flagged (it stops retention).
      const ahead = futureDated(catalog.backups, ctx.now)
      const backups = catalog.backups.filter((b) => !b.tags.includes('pre-restore') && !ahead.includes(b))
      const newest = backups[0]
      const base = { subject: target }
      const aheadText =
        ahead.length > 0
          ? `${ahead.length} backup(s) dated in the future (${ahead.map((b) => b.manifest.time).join(', ')}): the clock was wrong; retention is suspended until they are moved out of ${catalog.dir}`
          : undefined
      if (newest === undefined) {
        findings.push({
          ...base,
          status: 'critical',
          value: 'no valid backup',
          threshold: `max age ${formatDurationSetting(spec.maxAge)}`,
          message: `${target}: no valid backup in ${catalog.dir}${aheadText ? `; ${aheadText}` : ''}`,
        })
        continue
      }
      const ageMs = Math.max(0, ctx.now.getTime() - newest.time.getTime())
      const value = `newest ${formatDuration(ageMs)} ago, ${formatBytes(newest.manifest.size)}`
      const threshold = `${warnAgeMs !== undefined ? `warn ${formatDurationSetting(warnAgeMs ?? 0)}, ` : ''}crit ${formatDurationSetting(spec.maxAge)}`
      const metrics = {
        age_seconds: Math.round(ageMs / 1000),
        newest_timestamp_seconds: newest.time.getTime() / 1000,
        size_bytes: newest.manifest.size,
        count: backups.length,
      }
      const drop = sizeDropWarning(backups, newest.manifest.size, spec.sizeDrop)
      const stale = catalog.oddities.filter((o) => o.kind === 'partial' && o.stale === true)
      if (ageMs > maxAgeMs) {
        findings.push({
          ...base,
          status: 'critical',
          value,
          threshold,
          metrics,
          message: `${target}: the newest backup is ${formatDuration(ageMs)} old (more than ${formatDurationSetting(spec.maxAge)})`,
        })
      } else if (warnAgeMs !== undefined && ageMs > warnAgeMs) {
        findings.push({
          ...base,
          status: 'warning',
          value,
          threshold,
          metrics,
          message: `${target}: the newest backup is ${formatDuration(ageMs)} old (more than ${formatDurationSetting(warnAgeMs ?? 0)})`,
        })
      } else if (aheadText !== undefined) {
        findings.push({ ...base, status: 'warning', value, threshold, metrics, message: `${target}: ${aheadText}` })
      } else if (drop !== undefined) {
        findings.push({
          ...base,
          status: 'warning',
          value,
          threshold,
          metrics,
          message: `${target}: ${drop.replace(/; old backups were not pruned this run$/, '')}`,
        })
      } else if (stale.length > 0) {
        findings.push({
          ...base,
          status: 'warning',
          value,
          threshold,
          metrics,
          message: `${target}: ${stale.length} partial file(s) of an interrupted backup in ${catalog.dir}`,
        })
      } else {
        findings.push({
          ...base,
          status: 'ok',
          value,
          threshold,
          metrics,
          message: `${target}: newest backup ${formatDuration(ageMs)} old`,
        })
      }
    }
    const watched = (ctx.paths.destinations ?? []).filter((d) => spec.destinations === undefined || spec.destinations.includes(d.name))
    if (watched.length > 0) {
      const state = await readCopiesState(new StateStore(ctx.paths.stateDir, ctx.log))
      for (const dest of watched) {
        const s = state.destinations[dest.name]
        const failed = s?.lastOk === false ? `; the last copy run failed: ${s.error ?? 'see ownops backups --from ' + dest.name}` : ''
        for (const target of dest.targets.filter((t) => targets.includes(t))) {
          const subject = `${target}@${dest.name}`
          const threshold = `crit ${formatDuration(dest.maxAgeMs)}`
          const newest = s?.targets[target]?.newest
          if (newest === undefined) {
            findings.push({
              subject,
              status: 'critical',
              value: 'no copy',
              threshold,
              message: `${target}: no copy at ${dest.name} yet${failed}`,
            })
            continue
          }
          const ageMs = Math.max(0, ctx.now.getTime() - Date.parse(newest.time))
          const value = `newest copy ${formatDuration(ageMs)} old`
          const metrics = { age_seconds: Math.round(ageMs / 1000) }
          if (ageMs > dest.maxAgeMs)
            findings.push({
              subject,
              status: 'critical',
              value,
              threshold,
              metrics,
              message: `${target}: the newest copy at ${dest.name} is ${formatDuration(ageMs)} old (more than ${formatDuration(dest.maxAgeMs)})${failed}`,
            })
          else if (failed !== '')
            findings.push({ subject, status: 'warning', value, threshold, metrics, message: `${target}@${dest.name}${failed}` })
          else
            findings.push({
              subject,
              status: 'ok',
              value,
              threshold,
              metrics,
              message: `${target}: newest copy at ${dest.name} ${formatDuration(ageMs)} old`,
            })
        }
      }
    }
    return findings
  },
}
