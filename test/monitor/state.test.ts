/**
 * The alert state machine, run after run, with an injected clock: every row of a table is
 * a sequence of observations and the transitions each run must produce.
 */
import { describe, expect, it } from 'vitest'
import {
  applyRecovery,
  emptyState,
  evaluate,
  validateState,
  vanished,
  type CheckState,
  type Policy,
  type RecoveryPlan,
  type Transition,
} from '../../src/monitor/state.js'

const T0 = Date.parse('2026-03-01T03:00:00Z')
const MIN = 60_000

type Obs = 'ok' | 'warning' | 'critical'
interface Run {
  /** What the check saw. */
  see: Obs
  /** Minutes after T0 (default: one run a minute). */
  at?: number
  /** Transition types expected this run, e.g. ['alert'] (default none). */
  expect?: string[]
}

function play(
  policy: Policy,
  runs: Run[],
  options: { canRecover?: boolean; outcome?: { ok: boolean; skipped?: boolean } } = {},
): { states: CheckState[]; transitions: Transition[][]; plans: Array<RecoveryPlan | undefined> } {
  let state: CheckState | undefined
  const states: CheckState[] = []
  const transitions: Transition[][] = []
  const plans: Array<RecoveryPlan | undefined> = []
  runs.forEach((run, i) => {
    const now = new Date(T0 + (run.at ?? i) * MIN)
    const ev = evaluate(
      state,
      { id: 'api', status: run.see, message: run.see === 'ok' ? 'HTTP 200' : `HTTP 500 (${run.see})` },
      policy,
      now,
      { canRecover: options.canRecover ?? true },
    )
    let next = ev.state
    const list = [...ev.transitions]
    if (ev.plan) {
      const applied = applyRecovery(
        next,
        ev.plan,
        { ok: options.outcome?.ok ?? true, detail: `restarted container app`, ...(options.outcome?.skipped ? { skipped: true } : {}) },
        policy,
        now,
      )
      next = applied.state
      list.push(...applied.transitions)
    }
    plans.push(ev.plan)
    state = next
    states.push(next)
    transitions.push(list)
  })
  return { states, transitions, plans }
}

function expectRuns(policy: Policy, runs: Run[], options?: Parameters<typeof play>[2]) {
  const { transitions } = play(policy, runs, options)
  const got = transitions.map((list) => list.map((t) => t.type))
  expect(got).toEqual(runs.map((r) => r.expect ?? []))
  return play(policy, runs, options)
}

const base: Policy = { failuresBeforeAlert: 2, successesBeforeRecovery: 1 }

describe('N in a row', () => {
  const cases: Array<[string, Policy, Run[]]> = [
    ['one failure does not alert (default 2)', base, [{ see: 'critical' }, { see: 'ok' }]],
    [
      'two in a row alert once; staying down stays quiet',
      base,
      [{ see: 'critical' }, { see: 'critical', expect: ['alert'] }, { see: 'critical' }, { see: 'critical' }],
    ],
    [
      'recovery after one good run',
      base,
      [{ see: 'critical' }, { see: 'critical', expect: ['alert'] }, { see: 'ok', expect: ['recover'] }, { see: 'ok' }],
    ],
    [
      'a good run resets the count',
      base,
      [{ see: 'critical' }, { see: 'ok' }, { see: 'critical' }, { see: 'ok' }, { see: 'critical' }, { see: 'critical', expect: ['alert'] }],
    ],
    [
      'failuresBeforeAlert 1 alerts at once',
      { ...base, failuresBeforeAlert: 1 },
      [
        { see: 'warning', expect: ['alert'] },
        { see: 'ok', expect: ['recover'] },
      ],
    ],
    [
      'failuresBeforeAlert 3',
      { ...base, failuresBeforeAlert: 3 },
      [{ see: 'critical' }, { see: 'critical' }, { see: 'critical', expect: ['alert'] }],
    ],
    [
      'successesBeforeRecovery 3: a failure in between restarts the count, no second alert',
      { ...base, successesBeforeRecovery: 3 },
      [
        { see: 'critical' },
        { see: 'critical', expect: ['alert'] },
        { see: 'ok' },
        { see: 'ok' },
        { see: 'critical' },
        { see: 'ok' },
        { see: 'ok' },
        { see: 'ok', expect: ['recover'] },
      ],
    ],
    ['warning then critical counts as one streak', base, [{ see: 'warning' }, { see: 'critical', expect: ['alert'] }]],
    [
      'warning alert escalates to critical once',
      base,
      [{ see: 'warning' }, { see: 'warning', expect: ['alert'] }, { see: 'critical', expect: ['escalate'] }, { see: 'critical' }],
    ],
    [
      'critical → warning is not notified, warning → critical again is',
      base,
      [{ see: 'critical' }, { see: 'critical', expect: ['alert'] }, { see: 'warning' }, { see: 'critical', expect: ['escalate'] }],
    ],
  ]
  it.each(cases)('%s', (_name, policy, runs) => {
    expectRuns(policy, runs)
  })

  it('the alert carries the level and when the failure began; the recovery says how long it lasted and resolves that level', () => {
    const { transitions } = play(base, [{ see: 'critical' }, { see: 'critical', at: 5 }, { see: 'ok', at: 65 }])
    expect(transitions[1]?.[0]).toMatchObject({
      type: 'alert',
      level: 'critical',
      since: new Date(T0).toISOString(),
      message: 'HTTP 500 (critical)',
    })
    expect(transitions[2]?.[0]).toMatchObject({
      type: 'recover',
      level: 'info',
      resolves: 'critical',
      message: 'healthy again after 1h5m: HTTP 200',
    })
  })

  it('since moves with the observed status; failingSince with the streak', () => {
    const { states } = play(base, [{ see: 'ok' }, { see: 'warning', at: 10 }, { see: 'critical', at: 11 }, { see: 'ok', at: 20 }])
    expect(states[1]).toMatchObject({
      status: 'warning',
      since: new Date(T0 + 10 * MIN).toISOString(),
      failingSince: new Date(T0 + 10 * MIN).toISOString(),
    })
    expect(states[2]).toMatchObject({
      status: 'critical',
      since: new Date(T0 + 11 * MIN).toISOString(),
      failingSince: new Date(T0 + 10 * MIN).toISOString(),
      failures: 2,
    })
    expect(states[3]).toMatchObject({ status: 'ok', failures: 0, successes: 1 })
    expect(states[3]?.failingSince).toBeUndefined()
  })
})

describe('flapping', () => {
  const flap: Policy = { ...base, flap: { failures: 3, runs: 6 } }
  it('alternating failures never make two in a row, but alert as flapping', () => {
    const { transitions } = expectRuns(flap, [
      { see: 'critical' },
      { see: 'ok' },
      { see: 'critical' },
      { see: 'ok' },
      { see: 'critical', expect: ['alert'] },
      { see: 'ok' },
    ])
    expect(transitions[4]?.[0]?.message).toContain('flapping: 3 of the last 6 runs failed')
  })
  it('a flapping check recovers only once the window has calmed down', () => {
    expectRuns(flap, [
      { see: 'critical' },
      { see: 'ok' },
      { see: 'critical' },
      { see: 'ok' },
      { see: 'critical', expect: ['alert'] },
      { see: 'ok' }, // window: f o f o f o → 3 failures: still flapping
      { see: 'ok', expect: ['recover'] }, // o f o f o o → 2: calm
    ])
  })
  it('without a flap window the same pattern never alerts', () => {
    expectRuns(base, [{ see: 'critical' }, { see: 'ok' }, { see: 'critical' }, { see: 'ok' }, { see: 'critical' }, { see: 'ok' }])
  })
})

describe('reminders', () => {
  const remind: Policy = { ...base, remindMs: 60 * MIN }
  it('repeat every remindMs while failing, counted from the last notice', () => {
    const { transitions } = expectRuns(remind, [
      { see: 'critical', at: 0 },
      { see: 'critical', at: 1, expect: ['alert'] },
      { see: 'critical', at: 30 },
      { see: 'critical', at: 61, expect: ['remind'] },
      { see: 'critical', at: 100 },
      { see: 'critical', at: 121, expect: ['remind'] },
      { see: 'ok', at: 122, expect: ['recover'] },
    ])
    expect(transitions[3]?.[0]?.message).toBe('still failing after 1h1m: HTTP 500 (critical)')
  })
  it('an escalation counts as a notice', () => {
    expectRuns(remind, [
      { see: 'warning', at: 0 },
      { see: 'warning', at: 1, expect: ['alert'] },
      { see: 'critical', at: 50, expect: ['escalate'] },
      { see: 'critical', at: 70 },
      { see: 'critical', at: 110, expect: ['remind'] },
    ])
  })
  it('no reminders without remindMs', () => {
    expectRuns(base, [
      { see: 'critical', at: 0 },
      { see: 'critical', at: 1, expect: ['alert'] },
      { see: 'critical', at: 1000 },
    ])
  })
})

describe('recovery budget', () => {
  const recover: Policy = {
    ...base,
    recover: { action: 'restart', after: 1, maxAttempts: 3, withinMs: 60 * MIN, graceMs: 2 * MIN, recreate: false },
  }

  it('acts after `after` failures, ignores failures in the grace period, and notices the recovery', () => {
    const { states, plans } = expectRuns(recover, [
      { see: 'critical', at: 0, expect: ['action'] },
      { see: 'critical', at: 1 }, // grace: not counted, no alert
      { see: 'ok', at: 2, expect: ['recover'] },
    ])
    expect(plans[0]).toEqual({ id: 'api', step: 'restart', attempt: 1, of: 3 })
    expect(states[1]).toMatchObject({ failures: 1 })
    expect(states[2]?.acted).toBeUndefined()
  })

  it('budget spent → exactly one gave-up alert, then no more actions until healthy again', () => {
    const { transitions, plans } = expectRuns(recover, [
      { see: 'critical', at: 0, expect: ['action'] },
      { see: 'critical', at: 1 }, // grace
      { see: 'critical', at: 3, expect: ['alert', 'action'] }, // 2 in a row: alert, and the 2nd attempt
      { see: 'critical', at: 6, expect: ['action'] },
      { see: 'critical', at: 9, expect: ['gave-up'] },
      { see: 'critical', at: 12 },
      { see: 'critical', at: 80 }, // the window has moved on, but it gave up: no action
      { see: 'ok', at: 81, expect: ['recover'] },
      { see: 'critical', at: 82, expect: ['action'] }, // healthy again: acting is allowed again
    ])
    expect(plans.filter(Boolean).map((p) => p?.attempt)).toEqual([1, 2, 3, 1])
    expect(transitions[4]?.[0]).toMatchObject({
      level: 'critical',
      message: 'gave up on api after 3 restarts in 1h: HTTP 500 (critical). It needs a human.',
    })
  })

  it('attempts older than the window do not count', () => {
    const { plans } = expectRuns({ ...recover, recover: { ...recover.recover!, maxAttempts: 1 } }, [
      { see: 'critical', at: 0, expect: ['action'] },
      { see: 'ok', at: 3, expect: ['recover'] },
      { see: 'critical', at: 30, expect: ['gave-up'] }, // the attempt at 0 is still in the window
      { see: 'critical', at: 31 },
      { see: 'ok', at: 32, expect: ['recover'] },
      { see: 'critical', at: 70, expect: ['action'] },
    ])
    expect(plans.filter(Boolean)).toHaveLength(2)
  })

  it('escalation ladder: restarts, then one recreate, then gave up', () => {
    const ladder: Policy = {
      ...base,
      failuresBeforeAlert: 10,
      recover: { action: 'restart', after: 1, maxAttempts: 2, withinMs: 60 * MIN, graceMs: 0, recreate: true },
    }
    const { plans, transitions } = expectRuns(ladder, [
      { see: 'critical', at: 0, expect: ['action'] },
      { see: 'critical', at: 1, expect: ['action'] },
      { see: 'critical', at: 2, expect: ['action'] },
      { see: 'critical', at: 3, expect: ['gave-up'] },
    ])
    expect(plans.map((p) => p?.step)).toEqual(['restart', 'restart', 'recreate', undefined])
    expect(transitions[3]?.[0]?.message).toContain('after 2 restarts and a recreate in 1h')
  })

  it('a warning (a slow answer) is never acted on: no restart, no gave-up; only a check that is down is', () => {
    const { plans } = expectRuns(recover, [
      { see: 'warning', at: 0 },
      { see: 'warning', at: 1, expect: ['alert'] },
      { see: 'warning', at: 5 },
      { see: 'critical', at: 6, expect: ['escalate', 'action'] },
    ])
    expect(plans.map((p) => p?.step)).toEqual([undefined, undefined, undefined, 'restart'])
  })

  it('after an earlier give-up, a mere warning says nothing of giving up (the spent budget is for critical failures)', () => {
    const spent: Policy = { ...recover, recover: { ...recover.recover!, maxAttempts: 1 } }
    const { transitions } = expectRuns(spent, [
      { see: 'critical', at: 0, expect: ['action'] },
      { see: 'critical', at: 3, expect: ['alert', 'gave-up'] },
      { see: 'ok', at: 10, expect: ['recover'] },
      { see: 'warning', at: 11 },
      { see: 'warning', at: 12, expect: ['alert'] },
      { see: 'warning', at: 13 },
    ])
    expect(transitions.flat().filter((t) => t.type === 'gave-up')).toHaveLength(1)
    expect(transitions[4]?.[0]).toMatchObject({ level: 'warning', message: 'HTTP 500 (warning)' })
  })

  it('recover.on: warning acts on warnings too, as the config says', () => {
    const { plans } = expectRuns({ ...recover, recover: { ...recover.recover!, on: 'warning' } }, [
      { see: 'warning', at: 0, expect: ['action'] },
    ])
    expect(plans[0]?.step).toBe('restart')
  })

  it('after: 3 waits for three failures in a row', () => {
    expectRuns({ ...base, failuresBeforeAlert: 5, recover: { ...recover.recover!, after: 3 } }, [
      { see: 'critical' },
      { see: 'critical' },
      { see: 'critical', expect: ['action'] },
    ])
  })

  it('no action when the check may not recover (an administrator stopped the container)', () => {
    const { plans } = expectRuns(recover, [{ see: 'critical' }, { see: 'critical', expect: ['alert'] }], { canRecover: false })
    expect(plans).toEqual([undefined, undefined])
  })

  it('a skipped action counts nothing and says nothing', () => {
    const { states } = expectRuns(recover, [{ see: 'critical' }, { see: 'critical', expect: ['alert'] }], {
      outcome: { ok: false, skipped: true },
    })
    expect(states[1]?.recovery?.attempts).toEqual([])
    expect(states[1]?.acted).toBeUndefined()
  })

  it('a failed action still counts as an attempt, and says it failed', () => {
    const { states, transitions } = play(recover, [{ see: 'critical' }], { outcome: { ok: false } })
    expect(states[0]?.recovery?.attempts).toHaveLength(1)
    expect(transitions[0]?.[0]?.action?.ok).toBe(false)
  })

  it('an action without an alert still gets its recovery notice', () => {
    expectRuns({ ...recover, failuresBeforeAlert: 5 }, [
      { see: 'critical', at: 0, expect: ['action'] },
      { see: 'ok', at: 5, expect: ['recover'] },
    ])
  })
})

describe('gone, validation', () => {
  it('a vanished row closes its alert with a notice; a quiet one just goes', () => {
    const { states } = play(base, [{ see: 'critical' }, { see: 'critical' }])
    expect(vanished('containers:old', states[1]!)).toEqual([expect.objectContaining({ type: 'gone', level: 'info', resolves: 'critical' })])
    expect(vanished('containers:old', play(base, [{ see: 'critical' }]).states[0]!)).toEqual([])
  })

  it('validateState accepts its own output and rejects other shapes', () => {
    const { states } = play(base, [{ see: 'critical' }, { see: 'critical' }])
    const good = { ...emptyState(), checks: { api: states[1] } }
    expect(validateState(JSON.parse(JSON.stringify(good)))).toEqual(good)
    for (const bad of [
      null,
      [],
      { version: 2, checks: {} },
      { version: 1, checks: [] },
      { version: 1, checks: { a: { failures: '1' } } },
      { version: 1, checks: {}, pause: { until: 'soon' } },
    ]) {
      expect(validateState(bad)).toBeUndefined()
    }
  })
})
