/** The `monitor:` section of the config. */
import { z } from 'zod'
import { duration, timerDuration, name } from '../config/fields.js'
import { checkSchemas } from './checks/index.js'
import { flapSchema } from './spec.js'

export const checkSchema = z.discriminatedUnion('kind', [...checkSchemas])

const maintenanceWindow = z
  .strictObject({
    cron: z.string().meta({ description: 'When the window starts: a cron expression in local time (or `timezone`), e.g. "0 4 * * *".' }),
    duration: duration.meta({ description: 'How long it lasts, e.g. 30m.' }),
    checks: z.array(z.string()).optional().meta({ description: 'Checks or containers it quiets (default: every check).' }),
    timezone: z.string().optional().meta({ description: "IANA time zone of the cron expression (default: the system's)." }),
  })
  .meta({ description: 'A recurring maintenance window: checks run, but nothing alerts and nothing is restarted.' })

export const monitorSchema = z
  .strictObject({
    builtins: z
      .boolean()
      .default(true)
      .meta({ description: 'Run the built-in checks (filesystems, memory, load, swap, containers) beside the configured ones.' }),
    checks: z.record(name, checkSchema).prefault({}).meta({
      description:
        'Checks by name. A built-in name (filesystems, memory, load, swap, containers) replaces that built-in check; `enabled: false` turns it off.',
    }),
    failOn: z
      .enum(['critical', 'warning', 'never'])
      .default('critical')
      .meta({ description: 'Exit 1 when a check is at this level or worse (never: always exit 0).' }),
    failuresBeforeAlert: z
      .number()
      .int()
      .min(1)
      .default(2)
      .meta({ description: 'Failed runs in a row before an alert, for every check that does not set its own.' }),
    successesBeforeRecovery: z.number().int().min(1).default(1),
    flap: flapSchema.optional(),
    remind: duration.optional().meta({ description: 'Repeat alerts this often while a check keeps failing (default: never).' }),
    timeout: timerDuration.prefault('10s').meta({ description: 'Time limit of one check.' }),
    deadline: timerDuration
      .prefault('50s')
      .meta({ description: 'Time limit of the whole run: checks still running then count as failed (timed out).' }),
    concurrency: z.number().int().min(1).max(64).default(8).meta({ description: 'Checks run at the same time.' }),
    maintenance: z.array(maintenanceWindow).prefault([]),
    prometheus: z
      .strictObject({
        textfile: z.string().meta({
          description:
            "Write every check's status and values here, e.g. /var/lib/prometheus/node-exporter/ownops.prom (node_exporter textfile collector).",
        }),
      })
      .optional(),
    heartbeat: z.boolean().default(true).meta({
      description:
        'Ping heartbeat (hc) channels at the start and the end of every run (the end with its exit status and last log lines); false: no pings from monitor.',
    }),
  })
  .prefault({})

export type MonitorConfig = z.output<typeof monitorSchema>
export type MaintenanceWindow = z.output<typeof maintenanceWindow>
