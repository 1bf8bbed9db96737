/**
 * The judgement of `ownops status`, pure: facts with their clock in, what needs attention and
 * the exit code out — freshness by the schedule (random delay and grace), copies, drills,
 * alerts, job results (monitor's 1 and 75 are not failures), the lock.
 */
import { describe, expect, it } from 'vitest'
import { assessStatus, backupDue, jobsOf } from '../../src/status/assess.js'
import type { JobFacts, StatusFacts, TargetFacts } from '../../src/status/facts.js'

const NOW = new Date('2026-03-10T12:00:00Z')

function job(name: string, args: string[], schedule: string, extra: Partial<JobFacts> = {}): JobFacts {
  return { name, args, schedule, timeZone: undefined, randomDelaySec: undefined, installed: ['systemd'], atBoot: false, ...extra }
}

function target(name: string, newest?: string, extra: Partial<TargetFacts> = {}): TargetFacts {
  return {
    name,
    type: 'directory',
    ...(newest ? { newest: { id: `${name}-x`, time: newest, size: 10, warnings: [] } } : {}),
    count: newest ? 1 : 0,
    leftovers: 0,
    ahead: 0,
    ...extra,
  }
}

function facts(extra: Partial<StatusFacts> = {}): StatusFacts {
  return {
    now: NOW,
    configFile: '/etc/ownops/ownops.yml',
    hostZone: 'UTC',
    backupDir: '/b',
    stateDir: '/s',
    lockDir: '/l',
    targets: [target('db', '2026-03-10T03:02:00Z')],
    destinations: [],
    copies: { version: 1, destinations: {} },
    verified: {},
    drills: {},
    drillChecks: [],
    monitor: { version: 1, checks: {}, lastRun: { at: '2026-03-10T11:55:00Z', runId: 'r', durationMs: 5 } },
    restarts: [],
    jobs: [job('backup', ['backup'], '0 3 * * *', { randomDelaySec: 900 })],
    systemd: false,
    root: undefined,
    lock: {},
    problems: [],
    ...extra,
  }
}

describe('freshness by the schedule', () => {
  const daily = [job('backup', ['backup'], '0 3 * * *', { randomDelaySec: 900 })]
  it.each([
    // now, the scheduled time the newest backup must date from
    ['2026-03-10T04:14:00Z', '2026-03-09T03:00:00.000Z'], // today's run may still be going (15 min delay + 1 h)
    ['2026-03-10T04:15:00Z', '2026-03-10T03:00:00.000Z'],
    ['2026-03-10T02:00:00Z', '2026-03-09T03:00:00.000Z'],
  ])('at %s: due %s', (now, due) => {
    expect(backupDue(daily, new Date(now), 'UTC')?.time.toISOString()).toBe(due)
  })

  it('the zone of the job, or the host', () => {
    expect(backupDue([job('b', ['backup'], '0 3 * * *')], NOW, 'Asia/Tokyo')?.time.toISOString()).toBe('2026-03-09T18:00:00.000Z')
    expect(backupDue([job('b', ['backup'], '0 3 * * *', { timeZone: 'America/New_York' })], NOW, 'Asia/Tokyo')?.time.toISOString()).toBe(
      '2026-03-10T07:00:00.000Z',
    )
  })

  it('the jobs that back a target up: naming it, else the ones for all', () => {
    const jobs = [job('backup', ['backup', '--unscheduled'], '0 3 * * *'), job('backup-world', ['backup', 'world'], '0 */6 * * *')]
    expect(jobsOf('world', jobs).map((j) => j.name)).toEqual(['backup-world'])
    expect(jobsOf('db', jobs).map((j) => j.name)).toEqual(['backup'])
    expect(jobsOf('db', [job('refresh', ['restart', 'mc'], '0 4 * * *')])).toEqual([])
  })

  it('fresh, stale, missing; no job at all: 26 hours', () => {
    expect(assessStatus(facts()).exitCode).toBe(0)
    const stale = assessStatus(facts({ targets: [target('db', '2026-03-09T02:59:00Z')] }))
    expect(stale.targets[0]?.status).toBe('stale')
    expect(stale.exitCode).toBe(1)
    expect(stale.attention).toEqual(['db: the newest backup is 1d9h1m old: none since the backup run due 2026-03-10T03:00:00.000Z'])
    // A run that started on the minute of its schedule counts.
    expect(assessStatus(facts({ targets: [target('db', '2026-03-10T02:59:30Z')] })).targets[0]?.status).toBe('ok')
    expect(assessStatus(facts({ targets: [target('db')] })).attention).toEqual(['db: no backup yet (ownops backup db)'])
    const unscheduled = facts({ jobs: [], targets: [target('db', '2026-03-09T09:00:00Z')] })
    expect(assessStatus(unscheduled).targets[0]).toMatchObject({ status: 'stale', notes: ['no scheduled job backs it up'] })
    expect(assessStatus({ ...unscheduled, targets: [target('db', '2026-03-09T11:00:00Z')] }).targets[0]?.status).toBe('ok')
  })
})

describe('what else needs attention', () => {
  it('copies: failed, stale, none yet; holding the newest or not', () => {
    const f = facts({
      destinations: [
        { name: 'offsite', targets: ['db'], maxAgeMs: 8 * 86_400_000 },
        { name: 'usb', targets: ['db'], maxAgeMs: 86_400_000 },
        { name: 'gdrive', targets: ['db'], maxAgeMs: 86_400_000 },
        { name: 'nas', targets: ['db'], maxAgeMs: 86_400_000 },
      ],
      copies: {
        version: 1,
        destinations: {
          offsite: { lastOk: true, targets: { db: { received: ['db-x'], newest: { id: 'db-x', time: '2026-03-10T03:30:00Z' } } } },
          usb: { lastOk: true, targets: { db: { received: ['db-old'], newest: { id: 'db-old', time: '2026-03-01T03:30:00Z' } } } },
          gdrive: { lastOk: false, error: 'rclone: 403 Forbidden', targets: {} },
        },
      },
    })
    const r = assessStatus(f)
    expect(r.targets[0]?.copies.map((c) => [c.destination, c.status, c.holdsNewest])).toEqual([
      ['offsite', 'ok', true],
      ['usb', 'stale', false],
      ['gdrive', 'failed', false],
      ['nas', 'none', false],
    ])
    expect(r.attention).toEqual([
      'db: the newest copy at usb is 9d8h30m old (more than 1d)',
      'db: the last copy to gdrive failed: rclone: 403 Forbidden',
      'db: no copy at nas yet (ownops copy --to nas)',
    ])
  })

  it('drills: a failed one always; an old or missing one only when a drill check asks for it', () => {
    const failed = facts({ drills: { db: { lastRun: '2026-03-09T00:00:00Z', ok: false, backup: 'db-x', problem: 'row count 0' } } })
    expect(assessStatus(failed).attention).toEqual(['db: the last restore drill failed: row count 0'])
    expect(assessStatus(facts()).targets[0]?.drill.status).toBe('never')
    expect(assessStatus(facts()).exitCode).toBe(0)
    const watched = facts({ drillChecks: [{ targets: undefined, maxAgeMs: 35 * 86_400_000 }] })
    expect(assessStatus(watched).attention).toEqual(['db: no successful restore drill on record (ownops verify --drill db)'])
    const old = { db: { lastRun: '2026-01-01T00:00:00Z', ok: true, backup: 'db-x', lastSuccess: '2026-01-01T00:00:00Z' } }
    expect(assessStatus({ ...watched, drills: old }).targets[0]?.drill.status).toBe('stale')
    expect(assessStatus({ ...watched, drillChecks: [{ targets: ['other'], maxAgeMs: 1 }], drills: old }).exitCode).toBe(0)
  })

  it("job results: a failure with its reason; monitor's 1 (a check failing) and 75 (still running) are not failures", () => {
    const last = (exitStatus: number, summary?: string) => ({
      name: 'x',
      command: 'x',
      args: [],
      runId: 'r',
      started: '2026-03-10T11:00:00Z',
      finished: '2026-03-10T11:01:00Z',
      exitStatus,
      ok: exitStatus === 0,
      ...(summary ? { summary } : {}),
    })
    const r = assessStatus(
      facts({
        jobs: [
          job('backup', ['backup'], '0 3 * * *', { last: last(0) }),
          job('monitor', ['monitor'], '*/5 * * * *', { last: last(1) }),
          job('monitor-api', ['monitor', 'api'], '* * * * *', { last: last(75) }),
          job('cleanup', ['cleanup'], '0 4 * * *', { last: last(69, 'the Docker engine is unreachable') }),
          job('copy-usb', ['copy', '--to', 'usb'], '0 5 * * *', { installed: [] }),
        ],
      }),
    )
    expect(r.jobs.map((j) => [j.job, j.status])).toEqual([
      ['backup', 'ok'],
      ['monitor', 'ok'],
      ['monitor-api', 'ok'],
      ['cleanup', 'failed'],
      ['copy-usb', 'never run'],
    ])
    expect(r.attention).toEqual([
      'job cleanup: the last run failed (exit 69, 59m ago): the Docker engine is unreachable',
      'not scheduled: copy-usb is installed neither as a systemd timer nor in cron (sudo ownops schedule install)',
    ])
  })

  it('open alerts, a pause, a killed run that left containers stopped, unreadable state', () => {
    const r = assessStatus(
      facts({
        monitor: {
          version: 1,
          pause: { until: '2026-03-10T12:30:00Z' },
          checks: {
            api: {
              status: 'critical',
              since: '2026-03-10T11:40:00Z',
              failures: 4,
              successes: 0,
              history: 'ffff',
              message: 'GET /health: 500',
              lastSeen: '2026-03-10T11:55:00Z',
              alert: { level: 'critical', since: '2026-03-10T11:40:00Z', notifiedAt: '2026-03-10T11:45:00Z' },
            },
            disk: {
              status: 'warning',
              since: '2026-03-10T11:50:00Z',
              failures: 1,
              successes: 0,
              history: 'f',
              message: '84%',
              lastSeen: '2026-03-10T11:55:00Z',
            },
          },
        },
        lock: {
          abandoned: {
            pid: 42,
            command: 'backup',
            host: 'h',
            startedAt: '2026-03-10T03:00:00Z',
            nonce: 'n',
            stops: ['app'],
            stopped: ['app'],
          },
        },
        problems: ['/s/verified.json is corrupt (the next run that writes it starts afresh)'],
      }),
    )
    expect(r.monitor.alerts).toEqual([{ check: 'api', level: 'critical', since: '2026-03-10T11:40:00Z', message: 'GET /health: 500' }])
    expect(r.monitor.pausedUntil).toBe('2026-03-10T12:30:00Z')
    expect(r.attention).toEqual([
      'alert api (critical for 20m): GET /health: 500',
      'ownops backup (pid 42) was killed with app stopped: the next run that takes the lock starts them again',
      '/s/verified.json is corrupt (the next run that writes it starts afresh)',
    ])
  })

  it('nothing configured: what is not set up, and exit 1', () => {
    const r = assessStatus(facts({ configFile: undefined, targets: [], jobs: [], monitor: undefined }))
    expect(r.notSetUp).toEqual([
      'no config file: running on the built-in defaults (ownops.yml; see ownops.example.yml)',
      'no backup targets (backup.targets)',
      'monitor has not run yet (ownops monitor)',
    ])
    expect(r.exitCode).toBe(1)
  })
})
