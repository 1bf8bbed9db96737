/** The `cleanup:` section of the config: the built-in backups rule and named rules of five types. */
import { z } from 'zod'
import { byteSize, duration, timerDuration, name } from '../config/fields.js'

const globs = z.union([z.string(), z.array(z.string()).min(1)])

const common = {
  enabled: z.boolean().default(true).meta({ description: 'false keeps the rule in the config without running it.' }),
}

export const filesRule = z
  .strictObject({
    type: z.literal('files'),
    root: z.string().meta({
      description:
        'The directory the rule works in; nothing outside it is ever touched. System directories (/, /etc, /home, /var, …) are refused unless force: true.',
    }),
    match: globs.default('*').meta({
      description:
        'Globs relative to root, e.g. "abaqus_*" or "**/*.tmp" (default "*": every entry directly in root). A matched directory goes whole, only when everything in it is old enough.',
    }),
    exclude: z.array(z.string()).default([]).meta({ description: 'Globs relative to root that are never removed.' }),
    olderThan: duration.meta({ description: 'Remove what was last modified longer ago than this, e.g. 1d or 90d.' }),
    force: z.boolean().default(false).meta({ description: 'Allow a system directory as root.' }),
    ...common,
  })
  .meta({ description: 'Old files and directories under a root (temp files, old results). Symlinks are removed as links, never followed.' })

export const logsRule = z
  .strictObject({
    type: z.literal('logs'),
    path: globs.meta({
      description:
        "Absolute globs of the log files, e.g. /srv/app/logs/*.log; rotated siblings (app.log.1, app.log.2.gz, app.log-20261120, app-2026-11-20.log, and winston's app1.log, app2.log.gz beside app.log) belong to the same set.",
    }),
    compressAfter: duration
      .optional()
      .meta({ description: 'gzip files last modified longer ago than this (written as NAME.gz, then the original is removed).' }),
    deleteAfter: duration.optional().meta({ description: 'Delete files (compressed or not) last modified longer ago than this.' }),
    maxTotalSize: byteSize
      .optional()
      .meta({ description: 'Then delete the oldest files until all matched files together are at most this size.' }),
    minAge: duration.prefault('10m').meta({ description: 'Never touch a file modified more recently than this (it is being written).' }),
    force: z.boolean().default(false).meta({ description: 'Allow logs directly in a system directory.' }),
    ...common,
  })
  .meta({
    description:
      'Compress and expire log files. The newest file of each rotating set (app.log, app.log.1, app.log.2.gz, …) is never touched.',
  })

const labelFilter = z.array(z.string()).meta({ description: 'Docker label filters, "key" or "key=value"; all must match.' })

export const dockerRule = z
  .strictObject({
    type: z.literal('docker'),
    images: z
      .union([z.boolean(), z.strictObject({ olderThan: duration.optional(), label: labelFilter.optional() })])
      .optional()
      .meta({ description: 'Remove dangling (untagged) images, optionally only those older than olderThan or carrying labels.' }),
    containers: z
      .strictObject({
        olderThan: duration.meta({ description: 'Stopped for longer than this.' }),
        label: labelFilter.optional(),
        name: z.array(z.string()).optional().meta({ description: 'Container name globs, e.g. "job-*".' }),
      })
      .optional()
      .meta({ description: 'Remove stopped containers; a label or name filter is required, so nothing else is ever removed.' }),
    buildCache: z
      .union([z.boolean(), z.strictObject({ olderThan: duration.optional() })])
      .optional()
      .meta({ description: 'Prune the build cache (optionally only entries unused for olderThan).' }),
    volumes: z.array(z.string()).optional().meta({
      description: 'Named volumes to remove when no container uses them. Volumes hold data: only the names listed here are ever removed.',
    }),
    logs: z
      .strictObject({
        truncateOver: byteSize.meta({ description: 'Truncate a log bigger than this, e.g. 1GB.' }),
        name: z.array(z.string()).optional().meta({ description: 'Container name globs (default: every container).' }),
      })
      .optional()
      .meta({
        description:
          'Empty the json-file logs of containers that have no size limit (json-file without max-size) once they are bigger than truncateOver. A log with a size limit is never touched. The lasting fix is max-size in /etc/docker/daemon.json.',
      }),
    ...common,
  })
  .meta({ description: 'Docker leftovers, and logs without a size limit. Volumes are never pruned; only volumes named here are removed.' })

export const sqlRule = z
  .strictObject({
    type: z.literal('sql'),
    target: z.string().meta({
      description:
        "A postgres, mysql/mariadb or sqlite backup target: its container, database and user are used, through the container's own client.",
    }),
    table: z.string().meta({ description: 'The table, e.g. frames or public.frames.' }),
    where: z.string().meta({
      description:
        "The condition of the rows to delete, in the database's SQL, e.g. \"detected = 0 AND captured_at < now() - interval '14 days'\".",
    }),
    key: z.string().optional().meta({
      description:
        'A unique column used to pick each batch (needed for partitioned PostgreSQL tables and SQLite WITHOUT ROWID tables; default: ctid / rowid).',
    }),
    batch: z
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .default(10_000)
      .meta({ description: 'Rows deleted per statement (each its own transaction).' }),
    budget: duration.prefault('30m').meta({ description: 'Stop starting new batches after this long.' }),
    pause: timerDuration.prefault('0s').meta({ description: 'Rest between batches, to leave room for the service.' }),
    vacuum: z
      .boolean()
      .default(false)
      .meta({ description: 'VACUUM the table afterwards (PostgreSQL VACUUM, MariaDB OPTIMIZE TABLE, SQLite VACUUM of the whole file).' }),
    analyze: z.boolean().default(false).meta({ description: 'ANALYZE the table afterwards.' }),
    ...common,
  })
  .meta({ description: 'Delete old rows in batches until a batch deletes nothing or the time budget ends.' })

export const cleanupRuleSchema = z.discriminatedUnion('type', [filesRule, logsRule, dockerRule, sqlRule])

export const cleanupRuleTypes = ['backups', 'logs', 'docker', 'files', 'sql'] as const
export type CleanupRuleType = (typeof cleanupRuleTypes)[number]

export const cleanupSchema = z
  .strictObject({
    backups: z
      .union([
        z.literal(false),
        z.strictObject({
          partialsAfter: duration
            .prefault('1d')
            .meta({ description: 'Remove partial files of interrupted backups and restores older than this.' }),
        }),
      ])
      .prefault({ partialsAfter: '1d' })
      .meta({
        description:
          "The built-in rule: every target's keep policy, partial files of interrupted runs, and data kept by restores once restore.keepOld has passed. false turns it off.",
      }),
    rules: z.record(name, cleanupRuleSchema).prefault({}).meta({ description: 'Rules by name: `ownops cleanup NAME` runs one of them.' }),
    notifyOnSuccess: z
      .boolean()
      .default(false)
      .meta({ description: 'Send an info notification after a run that freed something (failures always notify).' }),
  })
  .prefault({})

export type CleanupConfig = z.output<typeof cleanupSchema>
export type CleanupRule = z.output<typeof cleanupRuleSchema>
export type FilesRule = z.output<typeof filesRule>
export type LogsRule = z.output<typeof logsRule>
export type DockerRule = z.output<typeof dockerRule>
export type SqlRule = z.output<typeof sqlRule>
