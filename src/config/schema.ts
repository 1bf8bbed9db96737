/**
 * The configuration schema: the single source of the config types, of validation,
 * of the JSON Schema printed by `ownops config schema`, and of the documented example.
 */
import { z } from 'zod'
import { levels } from '../notify/types.js'
import { DEFAULT_BACKUP_DIR } from '../sys/paths.js'
import { duration, name, timerDuration } from './fields.js'
import { keepSchema } from '../targets/common.js'
import { directorySchema, mysqlSchema, postgresSchema, sqliteSchema } from '../targets/schema.js'
import { monitorSchema } from '../monitor/schema.js'
import { cleanupSchema } from '../cleanup/schema.js'
import { restartSchema } from '../restart/schema.js'
import { destinationSchema } from '../copies/schema.js'
import { routeSchema } from '../notify/routes.js'

export { levels, type Level } from '../notify/types.js'

export { keepSchema }

export const backupTargetTypes = ['postgres', 'mysql', 'mariadb', 'sqlite', 'directory'] as const
export type BackupTargetType = (typeof backupTargetTypes)[number]

const backupTarget = z.discriminatedUnion('type', [postgresSchema, mysqlSchema, sqliteSchema, directorySchema])

const channel = z.strictObject({
  url: z.string().meta({
    description:
      "Channel URL: discord://ID/TOKEN, slack://A/B/C, mailto(s)://user:pass@host?to=…, ntfy(s)://[token@]host/topic, tgram://TOKEN/CHAT, gotify(s)://host/TOKEN, json(s)://host/path, hc://UUID, pagerduty://ROUTING_KEY, rcon://:PASSWORD@HOST:PORT (a game server's chat), or the service's own https webhook URL. A secret: put it in the env file.",
  }),
  levels: z.array(z.enum(levels)).optional().meta({
    description:
      'Levels sent to this channel (default: warning, error, critical; a game chat (rcon://): none, only what is sent or routed to it by name). Heartbeat (hc) channels receive the heartbeat pings of jobs instead (limit them with commands:).',
  }),
  baseUrl: z.string().optional().meta({ description: 'Replaces the service base URL (a proxy, a self-hosted instance).' }),
  method: z.enum(['POST', 'PUT', 'PATCH']).optional().meta({ description: 'json channels: HTTP method (default POST).' }),
  headers: z.record(z.string(), z.string()).optional().meta({ description: 'Extra HTTP request headers.' }),
  overflow: z
    .enum(['truncate', 'split'])
    .optional()
    .meta({ description: 'discord: cut long text with a marker (default) or split it over several messages.' }),
  format: z.enum(['ownops', 'apprise']).optional().meta({
    description:
      "json: the body sent: ownops' event (default) or apprise's {version, title, message, type, attachments}, for receivers written for apprise.",
  }),
  tailBytes: z.number().int().min(0).optional().meta({ description: 'hc: bytes of log tail sent with a ping (default 10000).' }),
  commands: z.array(z.string().min(1)).min(1).optional().meta({
    description:
      'Only events of these commands or jobs (backup, backup-world, monitor, cleanup, verify-drill, restart-mc, lock-run…). A heartbeat channel of one check gets the pings of one job this way.',
  }),
  timeout: timerDuration.optional().meta({ description: 'Timeout of one delivery attempt (default: notify.timeout).' }),
})

const notify = z
  .strictObject({
    channels: z.record(name, channel).prefault({}),
    routes: z.array(routeSchema).prefault([]).meta({
      description:
        'Routing rules by check, target or command, tried in order after the own `notify:` of checks, targets and services: the first that matches decides where an event goes (continue: true tries the next too); an event no rule matches goes to the channels that take its level.',
    }),
    timeout: timerDuration.prefault('10s').meta({ description: 'Timeout of one delivery attempt.' }),
    retries: z
      .number()
      .int()
      .min(0)
      .max(10)
      .default(3)
      .meta({ description: 'Retries after the first attempt, for network errors, 5xx and 429.' }),
    budget: timerDuration
      .prefault('60s')
      .meta({ description: 'Total time one notification may spend on retries and rate limits before it goes to the outbox.' }),
    outbox: z
      .strictObject({
        maxEntries: z
          .number()
          .int()
          .min(0)
          .default(200)
          .meta({ description: 'Undelivered notifications kept for later runs; the oldest are dropped beyond this.' }),
        maxAge: duration.prefault('24h').meta({ description: 'Undelivered notifications older than this are dropped (with a log line).' }),
      })
      .prefault({}),
  })
  .prefault({})

const unixUser = z.string().regex(/^[a-z_][a-z0-9_-]*\$?$/i, { error: 'expected a user name such as root or backup' })

export const scheduleJobSchema = z
  .strictObject({
    command: z
      .union([z.array(z.string().min(1)).min(1), z.string().min(1)])
      .optional()
      .meta({
        description:
          'The ownops arguments to run, e.g. ["restart", "app", "--safe"]; a string is split on spaces. Required for jobs of your own.',
      }),
    schedule: z.string().optional().meta({
      description:
        'When to run, in cron syntax (5 fields, or @hourly @daily @weekly @monthly @yearly @reboot). Required for jobs of your own.',
    }),
    timezone: z
      .string()
      .optional()
      .meta({ description: "IANA time zone of the schedule (default: schedule.timezone, else the host's local time). systemd only." }),
    randomDelay: duration.optional().meta({ description: 'Start up to this much later, at random (systemd RandomizedDelaySec=).' }),
    timeout: duration.optional().meta({
      description: 'Stop a run that takes longer than this (systemd TimeoutStartSec=, cron: timeout). Default 1h for jobs of your own.',
    }),
    user: unixUser.optional().meta({ description: 'Run as this user (default: schedule.user).' }),
    persistent: z.boolean().optional().meta({
      description: 'Catch up a run missed while the machine was off (systemd Persistent=). Default: true for daily and rarer schedules.',
    }),
    readWritePaths: z
      .array(z.string())
      .optional()
      .meta({ description: 'Extra paths the job may write (the units make the rest of the system read-only).' }),
    description: z.string().optional(),
  })
  .meta({ description: 'A scheduled job: an ownops command line run by a systemd timer or a cron.d entry.' })

export const bootUnitSchema = z
  .strictObject({
    compose: z.union([z.string(), z.array(z.string()).min(1)]).meta({
      description: 'The compose file (absolute path), or several: docker compose -f FILE up -d runs after docker.service at boot.',
    }),
    project: z.string().optional().meta({ description: "Compose project name (-p); default: compose's own (the directory name)." }),
    envFile: z.string().optional().meta({ description: 'An env file for compose (--env-file, absolute path).' }),
    onStop: z.enum(['stop', 'down', 'none']).default('stop').meta({
      description: 'At shutdown or `systemctl stop`: stop the containers (default), remove them (down), or leave them to Docker.',
    }),
    timeout: duration.prefault('10m').meta({ description: 'How long `up -d` may take (image pulls included).' }),
    description: z.string().optional(),
  })
  .meta({ description: 'A unit that brings a Docker Compose project up at boot (ownops-boot-<name>.service).' })

const schedule = z
  .strictObject({
    bin: z.string().optional().meta({
      description:
        'The ownops executable the units and cron entries run. Default: the Node that runs `ownops schedule` and its bin/ownops.js, by absolute paths (nvm, fnm and volta installs work under systemd and cron); the single executable itself when that is what runs `ownops schedule`.',
    }),
    docker: z.string().default('/usr/bin/docker').meta({ description: 'The docker executable boot units run.' }),
    timezone: z.string().optional().meta({ description: "Default IANA time zone of the jobs (default: the host's local time)." }),
    user: unixUser.default('root').meta({ description: 'Default user the jobs run as.' }),
    jobs: z
      .record(name, z.union([z.literal(false), scheduleJobSchema]))
      .prefault({})
      .meta({
        description:
          'Jobs by name (unit ownops-<name>.timer). backup, monitor and cleanup are built in: override their keys, or turn one off with false.',
      }),
    boot: z.record(name, bootUnitSchema).prefault({}).meta({ description: 'Compose projects started at boot.' }),
  })
  .prefault({})

export const configSchema = z
  .strictObject({
    $schema: z.string().optional(),
    envFile: z.string().optional().meta({ description: 'KEY=value file read for ${VAR} interpolation (default /etc/ownops/ownops.env).' }),
    hostname: z.string().optional().meta({ description: 'Host name used in notifications (default: the system host name).' }),
    stateDir: z.string().optional().meta({ description: 'Where ownops keeps its state (default /var/lib/ownops, or $OWNOPS_STATE_DIR).' }),
    lock: z
      .strictObject({
        dir: z.string().optional().meta({
          description:
            'Directory of the host-wide lock (default /run/ownops as root, ~/.local/state/ownops/lock otherwise); only root or the user running ownops may write it.',
        }),
        wait: duration.prefault('0s').meta({ description: 'How long a run waits for the lock before exiting 75.' }),
      })
      .prefault({}),
    log: z.strictObject({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info') }).prefault({}),
    docker: z
      .strictObject({
        host: z
          .string()
          .optional()
          .meta({ description: 'Docker endpoint, e.g. unix:///var/run/docker.sock (default: $DOCKER_HOST or the default socket).' }),
      })
      .prefault({}),
    notify,
    restore: z
      .strictObject({
        keepSafetyCopy: duration
          .prefault('7d')
          .meta({ description: 'How long the pre-restore safety backup is kept out of normal retention.' }),
        healthTimeout: timerDuration
          .prefault('2m')
          .meta({ description: 'How long a restore waits for restarted containers to be healthy before it rolls back.' }),
        keepOld: duration.prefault('7d').meta({
          description:
            'How long the data a restore replaced (<db>__pre_restore_<time>, <path>.pre-restore-<time>) is kept before `ownops cleanup` removes it.',
        }),
      })
      .prefault({}),
    backup: z
      .strictObject({
        dir: z.string().default(DEFAULT_BACKUP_DIR),
        keep: keepSchema.optional().meta({ description: 'Default retention for targets without their own keep.' }),
        sizeDropRatio: z.number().min(0).max(1).default(0.5).meta({
          description:
            'A new backup smaller than this fraction of the median of the last 5 is flagged, notified, and suspends pruning for that run.',
        }),
        freeSpaceMargin: z
          .number()
          .min(1)
          .default(1.2)
          .meta({ description: 'Before a run, free space must be at least the last backup size times this.' }),
        prometheus: z.string().optional().meta({
          description:
            'Prometheus textfile (node_exporter textfile collector) written after each run, e.g. /var/lib/prometheus/node-exporter/ownops_backup.prom',
        }),
        notifyOnSuccess: z.boolean().default(true).meta({ description: 'Send an info notification when every target succeeded.' }),
        targets: z.record(name, backupTarget).prefault({}),
        destinations: z.record(name, destinationSchema(keepSchema)).prefault({}).meta({
          description:
            'Copies off the box: rclone remotes, restic repositories and paths (external disks), each with its own schedule, retention and targets.',
        }),
      })
      .prefault({}),
    schedule,
    monitor: monitorSchema,
    cleanup: cleanupSchema,
    restart: restartSchema,
  })
  .meta({ title: 'ownops configuration' })

export type ConfigInput = z.input<typeof configSchema>
export type Config = z.output<typeof configSchema>
export type BackupTarget = Config['backup']['targets'][string]
export type KeepPolicy = z.output<typeof keepSchema>
export type ChannelConfig = Config['notify']['channels'][string]
export type ScheduleConfig = Config['schedule']
export type ScheduleJobConfig = z.output<typeof scheduleJobSchema>
export type BootUnitConfig = z.output<typeof bootUnitSchema>
export type DestinationConfig = Config['backup']['destinations'][string]

/** JSON Schema for editors (yaml-language-server). */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>
  return { ...schema, $id: 'https://ownops.dev/schema/ownops.schema.json' }
}
