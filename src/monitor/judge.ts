/**
 * From one cycle's observations and the state of earlier runs to this run's rows,
 * transitions and recovery plans: quiet periods applied, each row through the alert state
 * machine, rows that are gone closed. Pure: data in, data out.
 */
import { quietFor, type Quiet } from './maintenance.js'
import { ENGINE_CHECK, type PlannedCheck } from './plan.js'
import { blockedByAdminStop } from './recover.js'
import type { ReportRow } from './report.js'
import type { RecoverSpec } from './spec.js'
import { evaluate, vanished, type CheckState, type Policy, type RecoveryPlan, type Transition } from './state.js'
import type { Observation } from './types.js'

/** State of rows not seen for this long is dropped. */
export const FORGET_AFTER_MS = 30 * 86_400_000

export interface JudgeInput {
  observations: readonly Observation[]
  /** Checks that ran to the end this run. */
  completed: ReadonlySet<string>
  previous: Readonly<Record<string, CheckState>>
  /** Every configured check by name (not only those that ran). */
  checks: ReadonlyMap<string, PlannedCheck>
  /** The policy of the Docker engine row. */
  enginePolicy: Policy
  quiet: readonly Quiet[]
  now: Date
}

export interface PlannedRecovery {
  plan: RecoveryPlan
  check: PlannedCheck
  observation: Observation
}

export interface Judgement {
  /** The next state of every row. */
  states: Record<string, CheckState>
  rows: ReportRow[]
  transitions: Transition[]
  recoveries: PlannedRecovery[]
  /** Rows in a quiet period. */
  quietIds: Set<string>
}

export function recoverSpecOf(check: PlannedCheck | undefined): RecoverSpec | undefined {
  return check !== undefined && 'recover' in check.spec ? check.spec.recover : undefined
}

export function judge(input: JudgeInput): Judgement {
  const { now } = input
  const states: Record<string, CheckState> = { ...input.previous }
  const transitions: Transition[] = []
  const rows: ReportRow[] = []
  const quietIds = new Set<string>()
  const recoveries: PlannedRecovery[] = []

  for (const obs of input.observations) {
    const check = input.checks.get(obs.check)
    const policy = check?.policy ?? input.enginePolicy
    const prev = input.previous[obs.id]
    const row: ReportRow = {
      id: obs.id,
      check: obs.check,
      kind: obs.kind,
      ...(obs.subject !== undefined ? { subject: obs.subject } : {}),
      status: obs.status,
      value: obs.value,
      ...(obs.threshold !== undefined ? { threshold: obs.threshold } : {}),
      message: obs.message,
      alerting: prev?.alert !== undefined,
      failuresBeforeAlert: policy.failuresBeforeAlert,
      ...(obs.metrics !== undefined ? { metrics: obs.metrics } : {}),
      ...(prev !== undefined ? { since: prev.since } : {}),
    }
    rows.push(row)
    // Not checked (its dependency is down): nothing to judge, the state stays as it was.
    if (obs.status === 'unknown') continue

    const quiet = quietFor(input.quiet, [...(obs.names ?? [obs.check]), ...(check?.spec.dependsOn ?? [])])
    if (quiet !== undefined) {
      quietIds.add(obs.id)
      Object.assign(row, { status: 'maintenance', observed: obs.status, quiet: quiet.reason })
      if (prev !== undefined)
        states[obs.id] = { ...prev, lastSeen: now.toISOString(), ...(obs.memo !== undefined ? { memo: obs.memo } : {}) }
      continue
    }

    const recover = recoverSpecOf(check)
    // With alwaysRun the container must run whoever stopped it: stopped, it is down.
    const c = obs.container
    const down =
      recover?.alwaysRun === true && obs.status === 'warning' && c !== undefined && c.state !== 'running' && c.state !== 'restarting'
    if (down) Object.assign(row, { status: 'critical' })
    const evaluation = evaluate(
      prev,
      { id: obs.id, status: down ? 'critical' : obs.status, message: obs.message, memo: obs.memo },
      policy,
      now,
      { canRecover: recover !== undefined && !blockedByAdminStop(recover, obs) },
    )
    states[obs.id] = evaluation.state
    const what = check?.spec.description
    transitions.push(...(what ? evaluation.transitions.map((t) => ({ ...t, what })) : evaluation.transitions))
    if (evaluation.plan !== undefined && check !== undefined) recoveries.push({ plan: evaluation.plan, check, observation: obs })
    Object.assign(row, {
      since: evaluation.state.since,
      alerting: evaluation.state.alert !== undefined,
      failures: evaluation.state.failures,
      ...(evaluation.inGrace ? { grace: true } : {}),
    })
  }

  // Rows that are gone: a removed container of a check that ran to the end.
  const observed = new Set(input.observations.map((o) => o.id))
  for (const [id, prev] of Object.entries(input.previous)) {
    if (observed.has(id)) continue
    const owner = id.split(':')[0] as string
    if (owner !== ENGINE_CHECK && !input.checks.has(owner)) {
      delete states[id] // its check was removed from the config or turned off
    } else if (input.completed.has(owner) && id !== owner) {
      transitions.push(...vanished(id, prev))
      delete states[id]
    } else if (now.getTime() - Date.parse(prev.lastSeen) > FORGET_AFTER_MS) {
      delete states[id]
    }
  }

  // The engine's alert says what it left unchecked: one line instead of one per container check.
  const unchecked = [...new Set(input.observations.filter((o) => o.cause === ENGINE_CHECK).map((o) => o.check))]
  for (const t of transitions) {
    if (t.id === ENGINE_CHECK && unchecked.length > 0 && (t.type === 'alert' || t.type === 'escalate' || t.type === 'remind'))
      t.message += ` (not checked meanwhile: ${unchecked.join(', ')})`
  }

  return { states, rows, transitions, recoveries, quietIds }
}
