/**
 * What is worth a warning before scheduled jobs run: daylight-saving times a job falls
 * into, schedules that restrict both day fields (cron runs them on either), and what a job
 * needs that its unit or its user would not let it do.
 */
import type { ConfigProblem } from '../config/problems.js'
import type { Config } from '../config/schema.js'
import type { Ctx } from '../context.js'
import { dockerEndpoint } from '../sys/docker.js'
import { ownopsRuntime } from '../sys/runtime.js'
import { isValidTimeZone, localTimeZone } from '../time-zone.js'
import { jobAccessProblems } from './access.js'
import { dayRuleWarning, dstWarning } from './cron.js'
import { planSchedule, type SchedulePlan } from './jobs.js'

type Problem = Omit<ConfigProblem, 'file' | 'line'>

export type Backend = 'systemd' | 'cron' | 'crontab'

/** The zone a job without a time zone runs in: the host's (TZ of this process' environment). */
export function hostZone(env: NodeJS.ProcessEnv): string {
  const tz = env.TZ?.replace(/^:/, '')
  return tz !== undefined && tz !== '' && isValidTimeZone(tz) ? tz : localTimeZone()
}

function dstWarnings(ctx: Ctx, p: SchedulePlan): string[] {
  const warnings: string[] = []
  for (const job of p.jobs) {
    const message = dstWarning(job.schedule, job.timeZone ?? hostZone(ctx.env), { from: ctx.clock() })
    if (message === undefined) continue
    const text = `job ${job.name}: ${message}`
    ctx.log.warn({ key: job.scheduleKey.join('.') }, text)
    warnings.push(text)
  }
  return warnings
}

/**
 * Everything worth a warning before the jobs run: daylight-saving times, schedules that restrict
 * both day fields, and what a job needs that its unit or its user would not let it do.
 */
export function planWarnings(ctx: Ctx, p: SchedulePlan, backend: Backend): string[] {
  const warnings = dstWarnings(ctx, p)
  for (const job of p.jobs) {
    const days = dayRuleWarning(job.schedule, job.timeZone ?? hostZone(ctx.env), { from: ctx.clock() })
    if (days === undefined) continue
    const text = `job ${job.name}: ${days.message} (${days.hint})`
    ctx.log.warn({ key: job.scheduleKey.join('.') }, text)
    warnings.push(text)
  }
  for (const problem of jobAccessProblems(p, {
    backend: backend === 'systemd' ? 'systemd' : 'cron',
    dockerSocket: dockerSocket(ctx.config().config),
  })) {
    const text = `${problem.path.join('.')}: ${problem.message}${problem.hint ? ` (${problem.hint})` : ''}`
    ctx.log.warn({ key: problem.path.join('.') }, `${problem.message}${problem.hint ? ` (${problem.hint})` : ''}`)
    warnings.push(text)
  }
  return warnings
}

/**
 * What `config validate` adds about the schedule: schedules that restrict both day fields
 * (with their next runs), and what a job needs that its unit or its user would not let it
 * write, as warnings at the keys they come from.
 */
export function scheduleChecks(ctx: Ctx, config: Config, file: string): Problem[] {
  let p: SchedulePlan
  try {
    p = planSchedule(config, { configFile: file, runtime: ownopsRuntime() })
  } catch {
    return [] // the config rules report the schedule's problems
  }
  const problems: Problem[] = []
  for (const job of p.jobs) {
    const days = dayRuleWarning(job.schedule, job.timeZone ?? hostZone(ctx.env), { from: ctx.clock() })
    if (days !== undefined)
      problems.push({ severity: 'warning', path: job.scheduleKey, message: `job ${job.name}: ${days.message}`, hint: days.hint })
  }
  problems.push(...jobAccessProblems(p, { backend: 'systemd', dockerSocket: dockerSocket(config) }))
  return problems
}

/** The Docker engine's local socket the jobs use: the config's, not this shell's $DOCKER_HOST. */
function dockerSocket(config: Config): string | undefined {
  try {
    return dockerEndpoint({}, config.docker.host).options.socketPath
  } catch {
    return undefined
  }
}
