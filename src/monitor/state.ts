/**
 * Alert semantics across runs, as pure functions: the previous state of a check and this
 * run's observation in, the next state and the transitions to notify out. No clock of its
 * own (`now` is an argument), no I/O.
 *
 * - A check alerts after `failuresBeforeAlert` failed runs in a row, or — with a flap
 *   window — after `flap.failures` failed runs among the last `flap.runs`.
 * - One alert per transition to failing; an escalation warning → critical is notified,
 *   a step back is not; reminders every `remindMs` while failing, if set.
 * - One recovery notice after `successesBeforeRecovery` good runs in a row (and, with a
 *   flap window, once the window has calmed down), for alerted checks and for checks an
 *   action was taken on.
 * - Recovery acts on a check that is down (critical), never on a warning unless
 *   `recover.on: warning` says so: a slow answer is no reason to restart a service.
 * - Recovery: after `recover.after` failed runs, an action (restart or exec), then
 *   failures are ignored for `grace`; at most `maxAttempts` within `within`; then one
 *   `recreate` if configured; then one "gave up" alert and no more actions until the
 *   check has been healthy again.
 */
import { formatDuration } from '../duration.js'
import type { Level } from '../notify/types.js'
import type { FailureLevel, MetricRow } from './types.js'

export const STATE_VERSION = 1
/** The state file of monitor's runs (monitor.json in the state directory). */
export const MONITOR_STATE = 'monitor'
const HISTORY_LENGTH = 64

export interface RecoverPolicy {
  action: 'restart' | 'exec'
  /** Which failures recovery acts on: only a check that is down (critical), or warnings too. */
  on?: 'critical' | 'warning' | undefined
  after: number
  maxAttempts: number
  withinMs: number
  graceMs: number
  recreate: boolean
}

export interface Policy {
  failuresBeforeAlert: number
  successesBeforeRecovery: number
  flap?: { failures: number; runs: number } | undefined
  remindMs?: number | undefined
  recover?: RecoverPolicy | undefined
}

export interface RecoveryState {
  /** When each restart/exec attempt was made (ISO), oldest first. */
  attempts: string[]
  recreatedAt?: string
  /** Failures before this time are ignored: the service is (re)starting. */
  graceUntil?: string
  /** The budget is spent: no more actions until the check has been healthy again. */
  gaveUp?: boolean
  /** Since when a restart has waited for the players to leave (recover.ifEmpty). */
  waitingSince?: string
}

export interface CheckState {
  /** The last status observed (outside quiet periods). */
  status: 'ok' | FailureLevel
  /** When that status began. */
  since: string
  /** The first failure of the current run of failures. */
  failingSince?: string
  /** Failed runs in a row, and good runs in a row. */
  failures: number
  successes: number
  /** The last runs, oldest first: "o" good, "f" failed. */
  history: string
  message: string
  lastSeen: string
  /** Set while an alert is out: from the alert until the recovery notice. */
  alert?: {
    level: FailureLevel
    since: string
    notifiedAt: string
    /** When the alert went out (escalation counts from here; older states: since). */
    openedAt?: string
    /** Escalation steps taken. */
    escalated?: number
    /** The channels it went to, so its recovery goes there too. */
    notified?: string[]
  }
  /** An action was notified and no recovery notice has followed yet. */
  acted?: boolean
  recovery?: RecoveryState
  memo?: Record<string, unknown>
}

export type TransitionType = 'alert' | 'escalate' | 'remind' | 'recover' | 'action' | 'gave-up' | 'gone' | 'escalation'

export interface Transition {
  type: TransitionType
  id: string
  level: Level
  /** For recoveries: the level of the alert they resolve (recovery notices go where the alert went). */
  resolves?: FailureLevel
  message: string
  /** What the check is for (its `description:`), said before the message in alerts. */
  what?: string
  /** When the failure began (alerts, reminders, recoveries). */
  since?: string
  action?: { step: RecoveryStep; attempt: number; of: number; ok: boolean }
  /** An escalation over time: the further channels it goes to, and its step (1, 2…). */
  escalation?: { step: number; channels: string[] }
  /** A recovery: the channels its alert went to. */
  notified?: string[]
}

export type RecoveryStep = 'restart' | 'exec' | 'recreate'

export interface RecoveryPlan {
  id: string
  step: RecoveryStep
  attempt: number
  of: number
}

export interface Observed {
  id: string
  status: 'ok' | FailureLevel
  message: string
  memo?: Record<string, unknown> | undefined
}

export interface Evaluation {
  state: CheckState
  transitions: Transition[]
  plan?: RecoveryPlan
  /** Failing within the grace period of a recovery attempt: not counted. */
  inGrace?: boolean
}

const iso = (d: Date) => d.toISOString()
const ms = (text: string | undefined) => (text === undefined ? Number.NaN : Date.parse(text))

function fresh(observed: Observed, now: Date): CheckState {
  return { status: observed.status, since: iso(now), failures: 0, successes: 0, history: '', message: observed.message, lastSeen: iso(now) }
}

function failuresIn(history: string, runs: number): number {
  return [...history.slice(-runs)].filter((c) => c === 'f').length
}

function stepWord(step: RecoveryStep, n: number): string {
  const word = step === 'restart' ? 'restart' : step === 'exec' ? 'recovery command' : 'recreate'
  return `${n} ${word}${n === 1 ? '' : 's'}`
}

/** One run of one check outside a quiet period. */
export function evaluate(
  prev: CheckState | undefined,
  observed: Observed,
  policy: Policy,
  now: Date,
  options: { canRecover?: boolean } = {},
): Evaluation {
  const base = prev ?? fresh(observed, now)
  const state: CheckState = {
    ...base,
    history: base.history,
    recovery: base.recovery ? { ...base.recovery, attempts: [...base.recovery.attempts] } : undefined,
    alert: base.alert ? { ...base.alert } : undefined,
    message: observed.message,
    lastSeen: iso(now),
    ...(observed.memo !== undefined ? { memo: observed.memo } : {}),
  }
  if (state.recovery === undefined) delete state.recovery
  if (state.alert === undefined) delete state.alert
  if (prev === undefined || prev.status !== observed.status) state.since = iso(now)
  state.status = observed.status
  const transitions: Transition[] = []
  const failing = observed.status !== 'ok'
  const graceUntil = ms(state.recovery?.graceUntil)
  const inGrace = !Number.isNaN(graceUntil) && now.getTime() < graceUntil

  if (failing && inGrace) {
    // The service is (re)starting after an action: neither counted nor alerted.
    return { state, transitions, inGrace: true }
  }
  // Grace ends with its time, or with the first good run.
  if (state.recovery?.graceUntil !== undefined) delete state.recovery.graceUntil
  state.history = `${state.history}${failing ? 'f' : 'o'}`.slice(-HISTORY_LENGTH)

  if (failing) {
    const level = observed.status as FailureLevel
    if (state.failures === 0) state.failingSince = iso(now)
    state.failures += 1
    state.successes = 0
    const since = state.failingSince ?? iso(now)
    const flapping = policy.flap !== undefined && failuresIn(state.history, policy.flap.runs) >= policy.flap.failures
    if (state.alert === undefined) {
      if (state.failures >= policy.failuresBeforeAlert || flapping) {
        state.alert = { level, since, notifiedAt: iso(now), openedAt: iso(now) }
        const why =
          state.failures >= policy.failuresBeforeAlert
            ? ''
            : ` (flapping: ${failuresIn(state.history, policy.flap!.runs)} of the last ${policy.flap!.runs} runs failed)`
        transitions.push({ type: 'alert', id: observed.id, level, message: `${observed.message}${why}`, since })
      }
    } else if (level === 'critical' && state.alert.level === 'warning') {
      state.alert = { ...state.alert, level, notifiedAt: iso(now) }
      transitions.push({ type: 'escalate', id: observed.id, level, message: observed.message, since })
    } else {
      if (level === 'warning' && state.alert.level === 'critical') state.alert.level = 'warning'
      if (policy.remindMs !== undefined && policy.remindMs > 0 && now.getTime() - ms(state.alert.notifiedAt) >= policy.remindMs) {
        state.alert.notifiedAt = iso(now)
        transitions.push({
          type: 'remind',
          id: observed.id,
          level,
          message: `still failing after ${formatDuration(now.getTime() - ms(since))}: ${observed.message}`,
          since,
        })
      }
    }

    const recover = policy.recover
    const actsOn = level === 'critical' || recover?.on === 'warning'
    if (
      recover !== undefined &&
      actsOn &&
      options.canRecover !== false &&
      state.failures >= recover.after &&
      state.recovery?.gaveUp !== true
    ) {
      const recovery: RecoveryState = state.recovery ?? { attempts: [] }
      const windowStart = now.getTime() - recover.withinMs
      recovery.attempts = recovery.attempts.filter((t) => ms(t) > windowStart)
      state.recovery = recovery
      if (recovery.attempts.length < recover.maxAttempts) {
        return {
          state,
          transitions,
          plan: { id: observed.id, step: recover.action, attempt: recovery.attempts.length + 1, of: recover.maxAttempts },
        }
      }
      const recreatedRecently = !Number.isNaN(ms(recovery.recreatedAt)) && ms(recovery.recreatedAt) > windowStart
      if (recover.recreate && !recreatedRecently) {
        return { state, transitions, plan: { id: observed.id, step: 'recreate', attempt: 1, of: 1 } }
      }
      recovery.gaveUp = true
      const spent = [stepWord(recover.action, recovery.attempts.length), ...(recreatedRecently ? ['a recreate'] : [])].join(' and ')
      transitions.push({
        type: 'gave-up',
        id: observed.id,
        level: 'critical',
        message: `gave up on ${observed.id} after ${spent} in ${formatDuration(recover.withinMs)}: ${observed.message}. It needs a human.`,
        since,
      })
      state.alert = {
        ...state.alert,
        level: 'critical',
        since: state.alert?.since ?? since,
        notifiedAt: iso(now),
        openedAt: state.alert?.openedAt ?? iso(now),
      }
    }
    return { state, transitions }
  }

  // A good run.
  state.successes += 1
  state.failures = 0
  const calm = policy.flap === undefined || failuresIn(state.history, policy.flap.runs) < policy.flap.failures
  if (state.successes >= policy.successesBeforeRecovery && calm) {
    if (state.alert !== undefined || state.acted === true) {
      const since = state.alert?.since ?? state.failingSince
      const downFor = since === undefined ? '' : ` after ${formatDuration(Math.max(0, now.getTime() - ms(since)))}`
      transitions.push({
        type: 'recover',
        id: observed.id,
        level: 'info',
        resolves: state.alert?.level ?? 'warning',
        message: `healthy again${downFor}: ${observed.message}`,
        ...(since ? { since } : {}),
        ...(state.alert?.notified ? { notified: state.alert.notified } : {}),
      })
    }
    delete state.alert
    delete state.acted
    delete state.failingSince
    if (state.recovery !== undefined) {
      delete state.recovery.gaveUp
      delete state.recovery.waitingSince
      if (state.recovery.attempts.length === 0 && state.recovery.recreatedAt === undefined) delete state.recovery
    }
  }
  return { state, transitions }
}

export interface RecoveryOutcome {
  /** Whether the action was carried out (a failed restart still counts as an attempt). */
  ok: boolean
  /** What was done, for people: "restarted container mc", "docker restart failed: …". */
  detail: string
  /** Nothing was done (an administrator stopped the container; dry run): no attempt counted. */
  skipped?: boolean
  /** Nothing was done yet: the restart waits for the players to leave (notified once, when the wait begins). */
  waiting?: boolean
}

/** Records an attempt (or a skipped one) in the state, and the notice that goes with it. */
export function applyRecovery(
  state: CheckState,
  plan: RecoveryPlan,
  outcome: RecoveryOutcome,
  policy: Policy,
  now: Date,
): { state: CheckState; transitions: Transition[] } {
  if (outcome.waiting && policy.recover !== undefined) {
    const first = state.recovery?.waitingSince === undefined
    const recovery: RecoveryState = { attempts: [], ...state.recovery, waitingSince: state.recovery?.waitingSince ?? iso(now) }
    return {
      state: { ...state, recovery, acted: true },
      transitions: first
        ? [
            {
              type: 'action',
              id: plan.id,
              level: 'warning',
              message: outcome.detail,
              action: { step: plan.step, attempt: plan.attempt, of: plan.of, ok: true },
            },
          ]
        : [],
    }
  }
  if (outcome.skipped || policy.recover === undefined) return { state, transitions: [] }
  const recovery: RecoveryState = state.recovery ? { ...state.recovery, attempts: [...state.recovery.attempts] } : { attempts: [] }
  delete recovery.waitingSince
  if (plan.step === 'recreate') recovery.recreatedAt = iso(now)
  else recovery.attempts.push(iso(now))
  recovery.graceUntil = iso(new Date(now.getTime() + policy.recover.graceMs))
  const next: CheckState = { ...state, recovery, acted: true }
  const of =
    plan.step === 'recreate'
      ? 'escalation after the restarts'
      : `attempt ${plan.attempt} of ${plan.of} within ${formatDuration(policy.recover.withinMs)}`
  return {
    state: next,
    transitions: [
      {
        type: 'action',
        id: plan.id,
        level: 'warning',
        message: `${outcome.detail} (${of})`,
        action: { step: plan.step, attempt: plan.attempt, of: plan.of, ok: outcome.ok },
      },
    ],
  }
}

/** A subject that no longer exists (a removed container): a notice if it was alerted. */
export function vanished(id: string, prev: CheckState): Transition[] {
  if (prev.alert === undefined && prev.acted !== true) return []
  return [
    {
      type: 'gone',
      id,
      level: 'info',
      resolves: prev.alert?.level ?? 'warning',
      message: `${id} no longer exists; its alert is closed`,
      ...(prev.alert ? { since: prev.alert.since } : {}),
      ...(prev.alert?.notified ? { notified: prev.alert.notified } : {}),
    },
  ]
}

/** The whole state file. */
export interface MonitorState {
  version: typeof STATE_VERSION
  checks: Record<string, CheckState>
  /** `ownops monitor --pause`: until when, for every check (`all`) or some. */
  pause?: { until: string; checks?: string[]; by?: string }
  lastRun?: { at: string; runId: string; durationMs: number }
  /** Every row's last result, for the Prometheus textfile (a partial run keeps the others). */
  results?: Record<string, MetricRow>
}

export function emptyState(): MonitorState {
  return { version: STATE_VERSION, checks: {} }
}

/** Accepts a parsed state file when it has the expected shape; undefined otherwise. */
export function validateState(value: unknown): MonitorState | undefined {
  if (value === null || typeof value !== 'object') return undefined
  const v = value as Partial<MonitorState>
  if (v.version !== STATE_VERSION || v.checks === null || typeof v.checks !== 'object' || Array.isArray(v.checks)) return undefined
  for (const entry of Object.values(v.checks)) {
    if (entry === null || typeof entry !== 'object') return undefined
    const e = entry as Partial<CheckState>
    if (typeof e.failures !== 'number' || typeof e.successes !== 'number' || typeof e.history !== 'string' || typeof e.since !== 'string')
      return undefined
    if (e.status !== 'ok' && e.status !== 'warning' && e.status !== 'critical') return undefined
  }
  if (v.pause !== undefined && (typeof v.pause !== 'object' || v.pause === null || Number.isNaN(Date.parse(String(v.pause.until)))))
    return undefined
  // The textfile's memory is not worth the alert state: a malformed one is only forgotten.
  if (
    v.results !== undefined &&
    (v.results === null ||
      typeof v.results !== 'object' ||
      Object.values(v.results).some((r) => r === null || typeof r !== 'object' || typeof r.check !== 'string' || typeof r.at !== 'string'))
  )
    delete v.results
  return v as MonitorState
}

/**
 * Escalation over time: an alert still open `afterMs` after it went out goes to further
 * channels, once per step. Steps due together (the monitor did not run for a while) go
 * out as one. Changes `state.alert.escalated`; returns the transition, if one is due.
 */
export function escalate(
  id: string,
  state: CheckState,
  steps: ReadonlyArray<{ afterMs: number; channels: string[] }>,
  now: Date,
): Transition | undefined {
  const alert = state.alert
  if (alert === undefined || steps.length === 0) return undefined
  const done = alert.escalated ?? 0
  const open = now.getTime() - ms(alert.openedAt ?? alert.since)
  const due = steps.slice(done).filter((s) => open >= s.afterMs)
  if (due.length === 0) return undefined
  alert.escalated = done + due.length
  const channels = [...new Set(due.flatMap((s) => s.channels))]
  return {
    type: 'escalation',
    id,
    level: alert.level,
    message: `unresolved for ${formatDuration(open)}: ${state.message}`,
    since: alert.since,
    escalation: { step: alert.escalated, channels },
  }
}
