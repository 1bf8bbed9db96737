/**
 * Schema pieces every target type shares: retention, schedule, the containers stopped for a
 * backup and for a restore, hooks. Each type's own fields live in targets/schema.ts.
 */
import { z } from 'zod'
import { ownRouteSchema } from '../notify/routes.js'
import { RETENTION_DURATION_HINT, RETENTION_DURATION_PATTERN } from '../backup/retention.js'
import { FIX } from '../config/problems.js'
import { argv, duration, timerDuration } from '../config/fields.js'

const hook = z.union([argv, z.strictObject({ run: argv, timeout: timerDuration.optional() })])

const keepCount = z.number().int().min(-1).meta({ description: 'How many to keep; -1 keeps all.' })

/**
 * A span has calendar units, and `m` is months here: a bare number (`within: 30`) is refused
 * with the fix rather than taken as seconds as elsewhere in the config.
 */
const spanError = (issue: { input?: unknown }): string => {
  const bare =
    typeof issue.input === 'number'
      ? String(issue.input)
      : typeof issue.input === 'string' && /^\s*\d+\s*$/.test(issue.input)
        ? issue.input.trim()
        : undefined
  return bare !== undefined
    ? `a span needs its unit: y years, m months, d days, h hours${FIX}use "${bare}d" for ${bare} days`
    : `expected ${RETENTION_DURATION_HINT}`
}

const keepSpan = (description: string) =>
  z
    .string({ error: spanError })
    .regex(RETENTION_DURATION_PATTERN, { error: spanError })
    .optional()
    .meta({ description: `${description} Units: y years, m months, d days, h hours, e.g. 7d, 36h, 1y2m3d4h.` })

export const keepSchema = z
  .strictObject({
    last: keepCount.optional().meta({ description: 'Keep the n newest backups; -1 keeps all.' }),
    hourly: keepCount.optional().meta({ description: 'Keep the newest backup of each of the n newest hours that have one; -1: no limit.' }),
    daily: keepCount.optional().meta({ description: 'Keep the newest backup of each of the n newest days that have one; -1: no limit.' }),
    weekly: keepCount
      .optional()
      .meta({ description: 'Keep the newest backup of each of the n newest ISO weeks that have one; -1: no limit.' }),
    monthly: keepCount
      .optional()
      .meta({ description: 'Keep the newest backup of each of the n newest months that have one; -1: no limit.' }),
    yearly: keepCount.optional().meta({ description: 'Keep the newest backup of each of the n newest years that have one; -1: no limit.' }),
    within: keepSpan('Keep every backup within this span of the newest backup (calendar arithmetic).'),
    withinHourly: keepSpan('Keep the newest backup of every hour within this span of the newest backup.'),
    withinDaily: keepSpan('Keep the newest backup of every day within this span of the newest backup.'),
    withinWeekly: keepSpan('Keep the newest backup of every ISO week within this span of the newest backup.'),
    withinMonthly: keepSpan('Keep the newest backup of every month within this span of the newest backup.'),
    withinYearly: keepSpan('Keep the newest backup of every year within this span of the newest backup.'),
    tags: z.array(z.string()).optional().meta({ description: 'Keep every backup with these tags; an entry "a,b" needs both a and b.' }),
  })
  .meta({ description: 'Retention, with the semantics of restic forget. Without any rule, every backup is kept.' })

export const targetCommon = {
  notify: ownRouteSchema.optional(),
  keep: keepSchema.optional(),
  schedule: z.string().optional().meta({ description: 'Cron expression for a schedule of its own (ownops-backup-<target>.timer).' }),
  stop: z
    .array(z.string())
    .optional()
    .meta({ description: 'Containers stopped during the backup (only those running), started again after. A restore stops them too.' }),
  restore: z
    .strictObject({
      stop: z.array(z.string()).default([]).meta({
        description:
          'Containers stopped only for a restore of this target (besides stop: and the containers found using its data), started again after.',
      }),
    })
    .optional()
    .meta({ description: 'Restore settings of this target.' }),
  before: hook.optional(),
  after: hook.optional(),
  onError: hook.optional(),
  timeout: duration.optional(),
}

export const compression = z.enum(['zstd', 'gzip', 'none'])
