/**
 * Carrying out a recovery step that state.ts planned: restart a container through the
 * Docker API, run a command, or recreate. A container an administrator stopped is never
 * started unless the check says `alwaysRun: true`. Never throws: the outcome says what
 * happened, and state.ts turns it into an "action" notice.
 */
import type { Logger } from 'pino'
import { describeError } from '../errors.js'
import { announce, playerCount, resolveService, restartSequence, serviceOfContainer, type RestartDeps } from '../restart/service.js'
import { renderMessage } from '../restart/plan.js'
import type { RestartService } from '../restart/schema.js'
import { containerEvents, inspectContainer, restartContainer, type Docker } from '../sys/docker.js'
import { runCapture } from '../sys/exec.js'
import { stoppedBy, type InspectLike } from './container-health.js'
import { formatDuration } from '../duration.js'
import type { PlannedCheck } from './plan.js'
import type { ReportRow } from './report.js'
import type { RecoverSpec } from './spec.js'
import { applyRecovery, type CheckState, type RecoveryOutcome, type RecoveryPlan, type Transition } from './state.js'
import type { Observation } from './types.js'

export interface RecoverContext {
  log: Logger
  env: NodeJS.ProcessEnv
  signal: AbortSignal
  docker: () => Promise<Docker>
  dryRun: boolean
  timeoutMs: number
  /** restart.services: a container with an entry is restarted the safe way. */
  services?: Readonly<Record<string, RestartService>>
  /** Takes the host lock for a restart (throws when another run holds it). */
  lock?: (container: string) => Promise<void>
  /** The row's state before this run (how long the recovery has been waiting for players). */
  state?: CheckState | undefined
  now?: Date
}

/** The container a recovery acts on: `recover.container`, or the one the check watches (or names). */
export function recoveryContainer(spec: RecoverSpec, observation: Observation, watched?: string): string | undefined {
  return spec.container ?? observation.container?.name ?? watched
}

/**
 * Whether the check's own observation already forbids acting: its container was stopped
 * by an administrator (or nobody can tell) and the config does not say it always runs.
 */
export function blockedByAdminStop(spec: RecoverSpec, observation: Observation): boolean {
  if (spec.alwaysRun || spec.action !== 'restart') return false
  const c = observation.container
  if (c === undefined || (spec.container !== undefined && c.name !== spec.container)) return false
  return c.state !== 'running' && c.state !== 'restarting' && c.stoppedBy !== 'crash'
}

function commandLine(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w./:=@%+-]+$/.test(a) ? a : JSON.stringify(a))).join(' ')
}

async function runStep(argv: readonly string[], what: string, ctx: RecoverContext): Promise<RecoveryOutcome> {
  const line = commandLine(argv)
  if (ctx.dryRun) return { ok: true, skipped: true, detail: `(dry run) would ${what}: ${line}` }
  const result = await runCapture(argv, { log: ctx.log, timeoutMs: ctx.timeoutMs, signal: ctx.signal, env: ctx.env })
  if (result.exitCode === 0) return { ok: true, detail: `${what}: ran ${line}` }
  const output = `${result.stderr}\n${result.stdout}`.trim().split('\n')[0] ?? ''
  const why = result.exitCode === undefined ? (result.reason ?? 'did not run') : `exit ${result.exitCode}${output ? `: ${output}` : ''}`
  return { ok: false, detail: `tried to ${what}: ${line} failed (${why})` }
}

export async function executeRecovery(
  plan: RecoveryPlan,
  spec: RecoverSpec,
  observation: Observation,
  ctx: RecoverContext,
  watched?: string,
): Promise<RecoveryOutcome> {
  if (plan.step === 'recreate') return runStep(spec.recreate ?? [], 'recreate', ctx)
  if (plan.step === 'exec') return runStep(spec.command ?? [], 'run the recovery command', ctx)

  const name = recoveryContainer(spec, observation, watched)
  if (name === undefined) return { ok: false, detail: 'no container to restart (set recover.container)' }
  let docker: Docker
  try {
    docker = await ctx.docker()
  } catch (error) {
    return { ok: false, detail: `could not restart ${name}: ${describeError(error)}` }
  }
  try {
    const info = (await inspectContainer(docker, name)) as InspectLike | undefined
    if (info === undefined) return { ok: false, detail: `could not restart ${name}: there is no such container` }
    if (!info.State.Running && !info.State.Restarting && !spec.alwaysRun) {
      let cause = observation.container?.name === name ? observation.container.stoppedBy : undefined
      if (cause === undefined) {
        const finished = Date.parse(info.State.FinishedAt) / 1000
        const events =
          Number.isFinite(finished) && finished > 0
            ? await containerEvents(docker, info.Id, finished - 600, finished + 5, ctx.signal).catch(() => undefined)
            : undefined
        cause = stoppedBy(info, events)
      }
      if (cause !== 'crash') {
        return {
          ok: false,
          skipped: true,
          detail: `left ${name} stopped: ${cause === 'admin' ? 'an administrator stopped it' : 'it is not known who stopped it'} (recover.alwaysRun: true starts it anyway)`,
        }
      }
    }
    const service = spec.service ?? (ctx.services ? serviceOfContainer(ctx.services, name) : undefined)
    if (service !== undefined) return await safeRestart(service, spec, ctx, info.State.Running)
    const verb = info.State.Running ? 'restarted' : 'started'
    if (ctx.dryRun) return { ok: true, skipped: true, detail: `(dry run) would restart container ${name}` }
    ctx.log.warn({ container: name, attempt: plan.attempt, of: plan.of }, `restarting container ${name}`)
    await restartContainer(docker, name, 10)
    return { ok: true, detail: `${verb} container ${name}` }
  } catch (error) {
    return { ok: false, detail: `restarting container ${name} failed: ${describeError(error)}` }
  }
}

/**
 * A service in restart.services is recovered the way `ownops restart --safe` restarts it:
 * the players told "restarting now", the world saved, a graceful stop, the start, the wait
 * until healthy (within recover.timeout), its hooks. With `ifEmpty`, a server with players
 * online is left running for up to that long across runs.
 */
async function safeRestart(service: string, spec: RecoverSpec, ctx: RecoverContext, running: boolean): Promise<RecoveryOutcome> {
  const r = resolveService(ctx.services ?? {}, service)
  const deps: RestartDeps = { log: ctx.log, env: ctx.env, signal: ctx.signal, docker: ctx.docker }
  // A server that is not running has nobody to tell and nothing to save.
  const safe = spec.safe && running
  const how = safe ? 'players told, saved, stopped gracefully' : running ? 'stopped gracefully' : 'started'
  if (ctx.dryRun) return { ok: true, skipped: true, detail: `(dry run) would restart ${service} (${r.container}) the safe way: ${how}` }
  const patience = spec.ifEmpty
  if (patience !== undefined && patience > 0 && running) {
    const now = (ctx.now ?? new Date()).getTime()
    const since = ctx.state?.recovery?.waitingSince
    const waited = since === undefined ? 0 : now - Date.parse(since)
    if (waited < patience) {
      // A server that cannot say how many are online is down for its players too.
      const online = await playerCount(deps, r).then(
        (p) => p.online,
        () => 0,
      )
      if (online > 0) {
        const until = new Date((since === undefined ? now : Date.parse(since)) + patience)
        if (since === undefined && safe) await announce(deps, r, renderMessage(r.svc.messages.pending, {}), 'pending')
        return {
          ok: true,
          skipped: true,
          waiting: true,
          detail: `left ${service} running while ${online} player${online === 1 ? ' is' : 's are'} online: it is restarted once the server is empty, at the latest at ${until.toISOString()} (recover.ifEmpty ${formatDuration(patience)})`,
        }
      }
    }
  }
  if (ctx.lock !== undefined) {
    try {
      await ctx.lock(r.container)
    } catch (error) {
      return { ok: false, skipped: true, detail: `left the restart of ${service} for the next run: ${describeError(error)}` }
    }
  }
  ctx.log.warn({ service, container: r.container }, `restarting ${service} the safe way`)
  const healthyMs = Math.min(ctx.timeoutMs, r.svc.healthyTimeout)
  const result = await restartSequence(deps, r, {
    safe,
    reason: 'automatic recovery',
    trigger: 'monitor',
    starts: 1,
    healthyTimeoutMs: healthyMs,
  })
  const problems = result.problems.length > 0 ? `; what went wrong: ${result.problems.join('; ')}` : ''
  if (result.refused !== undefined) return { ok: false, detail: `did not restart ${service}: ${result.refused}` }
  if (result.interrupted)
    return { ok: false, detail: `the restart of ${service} (${r.container}) was interrupted: ${result.detail}${problems}` }
  const outcome = result.ok
    ? `healthy after ${formatDuration(result.downtimeMs)} of downtime`
    : `not healthy within ${formatDuration(healthyMs)}: ${result.detail}`
  return { ok: result.ok, detail: `restarted ${service} (${r.container}) the safe way (${how}): ${outcome}${problems}` }
}

export interface RecoveriesInput {
  recoveries: ReadonlyArray<{ plan: RecoveryPlan; check: PlannedCheck; observation: Observation }>
  states: Record<string, CheckState>
  rows: ReportRow[]
  now: Date
}

/**
 * Carries out the planned recoveries one at a time (they are rare, and a restart storm
 * helps nobody), records them in `states` and `rows`, and returns their notices. In a dry
 * run nothing is done or counted; the notices say what would have been.
 */
export async function runRecoveries(
  input: RecoveriesInput,
  ctx: Omit<RecoverContext, 'timeoutMs' | 'log' | 'state' | 'now'> & { log: Logger },
): Promise<Transition[]> {
  const transitions: Transition[] = []
  for (const { plan, check, observation } of input.recoveries) {
    const spec = (check.spec as { recover?: RecoverSpec }).recover
    if (spec === undefined) continue
    const log = ctx.log.child({ check: check.name })
    const outcome = await executeRecovery(
      plan,
      spec,
      observation,
      { ...ctx, log, timeoutMs: spec.timeout, state: input.states[observation.id], now: input.now },
      check.spec.kind === 'container' ? check.spec.name : undefined,
    )
    if (ctx.dryRun) {
      const detail = outcome.detail.startsWith('(dry run)') ? outcome.detail : `(dry run) ${outcome.detail}`
      log.info({ row: observation.id }, detail)
      if (!outcome.skipped || outcome.ok)
        transitions.push({
          type: 'action',
          id: observation.id,
          level: 'warning',
          message: detail,
          action: { step: plan.step, attempt: plan.attempt, of: plan.of, ok: outcome.ok },
        })
      continue
    }
    if (outcome.skipped && !outcome.waiting) {
      log.info({ row: observation.id }, outcome.detail)
      continue
    }
    ;(outcome.ok ? log.warn.bind(log) : log.error.bind(log))(
      { row: observation.id, step: plan.step, attempt: plan.attempt },
      outcome.detail,
    )
    const applied = applyRecovery(input.states[observation.id] as CheckState, plan, outcome, check.policy, input.now)
    input.states[observation.id] = applied.state
    transitions.push(
      ...(check.spec.description ? applied.transitions.map((t) => ({ ...t, what: check.spec.description })) : applied.transitions),
    )
    const row = input.rows.find((r) => r.id === observation.id)
    if (row !== undefined) row.alerting = applied.state.alert !== undefined
  }
  return transitions
}
