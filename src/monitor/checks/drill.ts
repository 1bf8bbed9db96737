/**
 * `kind: drill` — a restore drill (`ownops verify --drill`) succeeded for each target within
 * `maxAge` (default 35 days, for a monthly drill). Reads the results verify records in the
 * state directory (drills.json). A target never drilled, or whose last success is too old,
 * is critical; a last drill that failed is a warning while an older success is still recent.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { z } from 'zod'
import { duration } from '../../config/fields.js'
import { formatDuration, formatDurationSetting } from '../../duration.js'
import { commonFields } from '../spec.js'
import type { CheckKind, Finding } from '../types.js'

export const schema = z.strictObject({
  kind: z.literal('drill'),
  ...commonFields,
  targets: z
    .array(z.string())
    .optional()
    .meta({ description: 'Backup targets whose drills to watch (default: every target in backup.targets).' }),
  maxAge: duration
    .prefault('35d')
    .meta({ description: 'Critical when the last successful restore drill is older than this (default 35d: monthly drills).' }),
})
export type DrillSpec = z.output<typeof schema>

interface DrillRecord {
  lastRun?: string
  ok?: boolean
  backup?: string
  lastSuccess?: string
  problem?: string
}

export const drill: CheckKind<DrillSpec> = {
  usesDocker: false,
  recoverable: false,
  async run(spec, ctx) {
    const targets = spec.targets ?? ctx.paths.backupTargets
    if (targets.length === 0) return [{ status: 'warning', value: 'no targets', message: 'no backup targets configured to watch' }]
    let records: Record<string, DrillRecord>
    try {
      records = JSON.parse(await readFile(join(ctx.paths.stateDir, 'drills.json'), 'utf8')) as Record<string, DrillRecord>
    } catch {
      records = {}
    }
    const maxAgeMs = spec.maxAge
    const findings: Finding[] = []
    for (const target of targets) {
      const record = records[target]
      const base = { subject: target, threshold: `max age ${formatDurationSetting(spec.maxAge)}` }
      const success = record?.lastSuccess !== undefined ? Date.parse(record.lastSuccess) : Number.NaN
      if (Number.isNaN(success)) {
        findings.push({
          ...base,
          status: 'critical',
          value: record?.lastRun ? 'no successful drill' : 'never drilled',
          message: `${target}: no successful restore drill on record${record?.problem ? ` (last: ${record.problem})` : ''}; run ownops verify --drill ${target}`,
        })
        continue
      }
      const ageMs = Math.max(0, ctx.now.getTime() - success)
      const metrics = { last_success_age_seconds: Math.round(ageMs / 1000), last_success_timestamp_seconds: success / 1000 }
      const value = `last success ${formatDuration(ageMs)} ago`
      if (ageMs > maxAgeMs) {
        findings.push({
          ...base,
          status: 'critical',
          value,
          metrics,
          message: `${target}: the last successful restore drill was ${formatDuration(ageMs)} ago (more than ${formatDurationSetting(spec.maxAge)})`,
        })
      } else if (record?.ok === false) {
        findings.push({
          ...base,
          status: 'warning',
          value: `${value}; the last drill failed`,
          metrics,
          message: `${target}: the last restore drill failed: ${record.problem ?? 'see ownops verify --drill'}`,
        })
      } else {
        findings.push({ ...base, status: 'ok', value, metrics, message: `${target}: restore drill ok ${formatDuration(ageMs)} ago` })
      }
    }
    return findings
  },
}
