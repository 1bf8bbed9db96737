/**
 * The run's time limits: a check's own verdict on its timeout wins even when it comes late on
 * a busy machine; the backstop cuts only a check that ignores its time; the deadline cuts all.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import pino from 'pino'
import { describe, expect, it } from 'vitest'
import { runCycle, type CycleOptions } from '../../src/monitor/cycle.js'
import { checkSchema } from '../../src/monitor/schema.js'
import { policyOf, type PlannedCheck } from '../../src/monitor/plan.js'
import type { CheckSpec } from '../../src/monitor/checks/index.js'
import type { CheckKind } from '../../src/monitor/types.js'

const spec = checkSchema.parse({ kind: 'command', command: ['true'] })

function planned(name: string, timeoutMs: number, run: CheckKind<CheckSpec>['run']): PlannedCheck {
  return {
    name,
    spec,
    impl: { usesDocker: false, recoverable: false, run },
    timeoutMs,
    policy: policyOf({}, { failuresBeforeAlert: 1, successesBeforeRecovery: 1, flap: undefined, remind: undefined }),
    builtin: false,
  }
}

function cycle(checks: PlannedCheck[], extra: Partial<CycleOptions> = {}) {
  return runCycle({
    checks,
    concurrency: 4,
    deadlineMs: 60_000,
    now: new Date('2026-03-01T03:00:00Z'),
    log: pino({ level: 'silent' }),
    env: {},
    signal: new AbortController().signal,
    connectDocker: () => Promise.reject(new Error('no engine here')),
    engineTimeoutMs: 1000,
    memo: () => undefined,
    paths: { backupDir: '/nonexistent', backupTargets: [], stateDir: '/nonexistent' },
    ...extra,
  })
}

describe('check time limits', () => {
  it('a check that reports its own timeout late (a loaded machine) keeps its own verdict', async () => {
    // Its timeout is 50 ms; it says so 400 ms later than that — beyond what a short backstop allowed.
    const late = planned('late', 50, async () => {
      await sleep(450)
      return [{ status: 'critical', value: 'no answer within 50 ms', message: 'no answer within 50 ms' }]
    })
    const { observations } = await cycle([late])
    expect(observations[0]).toMatchObject({ check: 'late', status: 'critical', value: 'no answer within 50 ms' })
  })

  it('a check that ignores its time is cut off by the backstop', async () => {
    const stuck = planned('stuck', 20, () => new Promise(() => undefined))
    const { observations } = await cycle([stuck], { backstopMs: 30 })
    expect(observations[0]).toMatchObject({ check: 'stuck', status: 'critical', value: 'timed out after 20ms' })
  })

  it('the deadline cuts a running check and marks the ones never started', async () => {
    const stuck = planned('stuck', 60_000, () => new Promise(() => undefined))
    const never = planned('never', 60_000, async () => [{ status: 'ok', value: 'fine', message: 'fine' }])
    const { observations } = await cycle([stuck, never], { concurrency: 1, deadlineMs: 50 })
    expect(observations.map((o) => [o.check, o.status, o.value])).toEqual([
      ['stuck', 'critical', "did not finish before the run's deadline (50ms)"],
      ['never', 'unknown', 'not run: the run deadline passed'],
    ])
  })
})
