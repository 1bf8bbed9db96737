/**
 * Schema pieces every check kind shares: alert policy, dependencies, recovery.
 * Each kind's own fields live in checks/<kind>.ts next to its implementation.
 */
import { z } from 'zod'
import { argv, duration, timerDuration } from '../config/fields.js'
import { ownRouteSchema } from '../notify/routes.js'

export const severity = z.enum(['warning', 'critical']).meta({ description: 'How bad a failure of this check is (default critical).' })

export const recoverSchema = z
  .strictObject({
    action: z
      .enum(['restart', 'exec'])
      .default('restart')
      .meta({ description: 'restart: restart the container through the Docker API; exec: run `command`.' }),
    container: z
      .string()
      .optional()
      .meta({ description: 'The container to restart (default: the container the check watches; required for other kinds).' }),
    command: argv.optional().meta({ description: 'action exec: the command to run, e.g. ["systemctl", "restart", "jobs"].' }),
    on: z.enum(['critical', 'warning']).default('critical').meta({
      description:
        'Act only when the check is down (critical, the default), or on warnings too (warning: a slow answer restarts the service).',
    }),
    after: z.number().int().min(1).default(1).meta({ description: 'Failed runs in a row before acting.' }),
    maxAttempts: z.number().int().min(1).max(100).default(3).meta({
      description: 'Attempts allowed within `within`; then one "gave up" alert, and no more action until the check is healthy again.',
    }),
    within: duration.prefault('1h').meta({ description: 'The window attempts are counted in.' }),
    grace: duration.prefault('2m').meta({ description: 'Failures in this time after an attempt are ignored (the service is starting).' }),
    recreate: argv.optional().meta({
      description:
        'Escalation when the attempts are spent: one run of this command before giving up, e.g. ["docker", "compose", "-f", "/srv/app/compose.yml", "up", "-d", "--force-recreate", "app"].',
    }),
    timeout: timerDuration.prefault('2m').meta({ description: 'Time limit of one restart, command or recreate.' }),
    service: z.string().optional().meta({
      description:
        'The restart.services entry that restarts it (default: the one whose container is the container restarted). A service with an entry is restarted the safe way: players told, saved, stopped gracefully, waited for until healthy.',
    }),
    safe: z.boolean().default(true).meta({
      description:
        'For a service in restart.services: tell the players and save before the stop (false: only the graceful stop and the health wait).',
    }),
    ifEmpty: duration.optional().meta({
      description:
        'For a service that counts players (RCON or Server List Ping): wait across runs, at most this long, for the server to be empty before restarting it; the players read once that a restart is pending. E.g. 15m.',
    }),
    alwaysRun: z
      .boolean()
      .default(false)
      .meta({ description: 'Start the container even when an administrator stopped it (by default a stopped container is left alone).' }),
  })
  .meta({ description: 'Auto-recovery: restart → recreate (optional) → alert a human. Every action is notified.' })

export const flapSchema = z
  .strictObject({
    failures: z.number().int().min(1).meta({ description: 'Alert when at least this many of the last `runs` runs failed.' }),
    runs: z.number().int().min(2).max(64),
  })
  .meta({ description: 'Flap detection: X failures within the last Y runs alert even when not in a row.' })

/** Fields every check has. */
export const commonFields = {
  enabled: z.boolean().default(true).meta({ description: 'false turns the check off (also a built-in one).' }),
  description: z.string().optional(),
  timeout: timerDuration.optional().meta({ description: 'Time limit of the check (default monitor.timeout).' }),
  failuresBeforeAlert: z
    .number()
    .int()
    .min(1)
    .optional()
    .meta({ description: 'Failed runs in a row before an alert (default monitor.failuresBeforeAlert, 2).' }),
  successesBeforeRecovery: z
    .number()
    .int()
    .min(1)
    .optional()
    .meta({ description: 'Good runs in a row before a recovery notice (default 1).' }),
  flap: flapSchema.optional(),
  remind: duration.optional().meta({ description: 'Repeat the alert this often while the check keeps failing (default: never).' }),
  notify: ownRouteSchema.optional(),
  dependsOn: z.array(z.string()).optional().meta({
    description:
      'Checks or containers this one depends on: their failure rolls this one up in the digest, and their quiet period (a backup stopping them) quiets this one.',
  }),
}

/** Fields of checks that pass or fail (as opposed to threshold checks). */
export const passFailFields = {
  ...commonFields,
  severity: severity.optional(),
  recover: recoverSchema.optional(),
}

export type RecoverSpec = z.output<typeof recoverSchema>
export type FlapSpec = z.output<typeof flapSchema>

/** Threshold pair in percent: warn below critical. */
export function percentThresholds(warn: number, critical: number) {
  return {
    warn: z
      .number()
      .min(0)
      .max(100)
      .default(warn)
      .meta({ description: `Warning at this percentage (default ${warn}).` }),
    critical: z
      .number()
      .min(0)
      .max(100)
      .default(critical)
      .meta({ description: `Critical at this percentage (default ${critical}).` }),
  }
}

/** The level a value reaches against a warn/critical pair. */
export function levelOf(value: number, warn: number, critical: number): 'ok' | 'warning' | 'critical' {
  if (value >= critical) return 'critical'
  if (value >= warn) return 'warning'
  return 'ok'
}
