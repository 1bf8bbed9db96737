/** The pure parts of monitor: /proc parsers, container assessment, quiet periods, digest, report. */
import { join, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config/load.js'
import { assessUsage, realMounts } from '../../src/monitor/checks/filesystem.js'
import { assessLoad } from '../../src/monitor/checks/load.js'
import { assessMemory } from '../../src/monitor/checks/memory.js'
import { decodeVarInt, encodeVarInt, packetComplete, parseStatusResponse, statusRequest } from '../../src/sys/minecraft-ping.js'
import { assessSwap } from '../../src/monitor/checks/swap.js'
import { assessResponse, schema as httpSchema } from '../../src/monitor/checks/http.js'
import { assessContainer, needsEvents, stoppedBy, type InspectLike } from '../../src/monitor/container-health.js'
import { buildDigest, rollUps } from '../../src/monitor/digest.js'
import { judge } from '../../src/monitor/judge.js'
import { activeWindowStart, quietFor, quietPeriods } from '../../src/monitor/maintenance.js'
import { nextRuns } from '../../src/schedule/cron.js'
import { planChecks } from '../../src/monitor/plan.js'
import { monitorSchema } from '../../src/monitor/schema.js'
import { renderPrometheus, renderReport, summarize, type MonitorReport, type ReportRow } from '../../src/monitor/report.js'
import type { CheckState, Transition } from '../../src/monitor/state.js'
import type { Observation } from '../../src/monitor/types.js'
import { parseLoadavg, parseMeminfo, parseMounts, usageFromStatfs } from '../../src/sys/host.js'

const NOW = new Date('2026-03-01T03:00:00Z')

describe('host readings', () => {
  const mounts = parseMounts(
    [
      'proc /proc proc rw,relatime 0 0',
      'sysfs /sys sysfs rw 0 0',
      '/dev/vda1 / ext4 rw,relatime 0 0',
      '/dev/vda1 /var/lib/docker ext4 rw,relatime 0 0',
      'overlay /var/lib/docker/overlay2/abc/merged overlay rw 0 0',
      'tmpfs /dev/shm tmpfs rw 0 0',
      'tmpfs /run tmpfs rw 0 0',
      '/dev/sdb1 /srv/my\\040data xfs rw 0 0',
      '/dev/loop3 /snap/core/123 squashfs ro 0 0',
      '/dev/sdc1 /mnt/usb vfat ro 0 0',
      'tank/data /tank/data zfs rw 0 0',
      'nas:/export /mnt/nas nfs4 rw 0 0',
      'cgroup2 /sys/fs/cgroup cgroup2 rw 0 0',
      '/dev/sdd1 /mnt/backup1 ext4 rw 0 0',
      '',
    ].join('\n'),
  )

  it('parses /proc/self/mounts with escapes, and keeps only real, writable filesystems', () => {
    expect(mounts.find((m) => m.source === '/dev/sdb1')?.mountPoint).toBe('/srv/my data')
    // /var/lib/docker stays (often a disk of its own); the same device at / is de-duplicated when checked.
    expect(realMounts(mounts).map((m) => m.mountPoint)).toEqual([
      '/',
      '/var/lib/docker',
      '/srv/my data',
      '/tank/data',
      '/mnt/nas',
      '/mnt/backup1',
    ])
    expect(realMounts(mounts, ['/mnt/backup*', '/tank/*', '/var/lib/docker']).map((m) => m.mountPoint)).toEqual([
      '/',
      '/srv/my data',
      '/mnt/nas',
    ])
    // One glob dialect, as in cleanup rules: * stays within a path segment, ** crosses /.
    expect(realMounts(mounts, ['/*']).map((m) => m.mountPoint)).toEqual([
      '/',
      '/var/lib/docker',
      '/srv/my data',
      '/tank/data',
      '/mnt/nas',
      '/mnt/backup1',
    ])
    expect(realMounts(mounts, ['/**']).map((m) => m.mountPoint)).toEqual([])
    expect(realMounts(mounts, ['/{tank,mnt}/**', '/srv/my?data']).map((m) => m.mountPoint)).toEqual(['/', '/var/lib/docker'])
  })

  it('computes usage as df does (reserved blocks count as used) and judges space and inodes', () => {
    const usage = usageFromStatfs({ bsize: 4096, blocks: 1000, bfree: 100, bavail: 50, files: 100, ffree: 5 })
    expect(usage.usedPercent).toBeCloseTo((900 / 950) * 100)
    expect(usage.inodesUsedPercent).toBe(95)
    const spec = { warn: 80, critical: 99, inodesWarn: 80, inodesCritical: 90 }
    expect(assessUsage(usage, spec)).toMatchObject({ status: 'critical', message: 'inodes 95% used (5 free)' })
    expect(assessUsage(usageFromStatfs({ bsize: 4096, blocks: 1000, bfree: 150, bavail: 150, files: 0, ffree: 0 }), spec)).toMatchObject({
      status: 'warning',
      value: '85% used (600 KiB free)',
      threshold: 'warn 80%, crit 99%',
    })
  })

  it('memory from MemAvailable, swap, load per core', () => {
    const info = parseMeminfo(
      'MemTotal:       1000 kB\nMemFree:  50 kB\nMemAvailable:    100 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\nHugePages_Total:       0\n',
    )
    expect(info).toMatchObject({ MemTotal: 1024000, MemAvailable: 102400, HugePages_Total: 0 })
    expect(assessMemory(info, { warn: 85, critical: 95 })).toMatchObject({ status: 'warning', metrics: { used_percent: 90 } })
    expect(assessSwap(info, { warn: 80, critical: 95 })).toMatchObject({ status: 'ok', value: 'no swap' })
    expect(assessSwap({ SwapTotal: 100, SwapFree: 4 }, { warn: 80, critical: 95 })).toMatchObject({ status: 'critical' })
    expect(parseLoadavg('0.50 3.00 1.00 1/123 4567\n')).toEqual([0.5, 3, 1])
    expect(() => parseLoadavg('garbage')).toThrow(/loadavg/)
    expect(assessLoad([0.5, 3, 1], 2, { warn: 1.5, critical: 3, period: 5 })).toMatchObject({
      status: 'warning',
      value: '1.50 per core (5-min load 3.00 on 2 cores)',
    })
    expect(assessLoad([0.5, 3, 1], 2, { warn: 1.5, critical: 3, period: 1 }).status).toBe('ok')
  })
})

function inspect(state: Partial<InspectLike['State']>, extra: Partial<InspectLike> = {}): InspectLike {
  return {
    Id: 'abc',
    Name: '/app',
    RestartCount: 0,
    HostConfig: { RestartPolicy: { Name: 'no' } },
    ...extra,
    State: {
      Status: 'running',
      Running: true,
      Paused: false,
      Restarting: false,
      OOMKilled: false,
      Dead: false,
      ExitCode: 0,
      StartedAt: '2026-03-01T01:00:00Z',
      FinishedAt: '0001-01-01T00:00:00Z',
      ...state,
    },
  }
}
const exited = (code: number, extra: Partial<InspectLike> = {}) =>
  inspect({ Status: 'exited', Running: false, ExitCode: code, FinishedAt: '2026-03-01T02:50:00Z' }, extra)
const opts = { now: NOW, restartLoop: 3, mustRun: false, severity: 'critical' as const }

describe('container assessment', () => {
  it('running, healthy, unhealthy, starting, paused', () => {
    expect(assessContainer(inspect({}), undefined, undefined, opts).finding).toMatchObject({ status: 'ok', value: 'running, up 2h' })
    expect(assessContainer(inspect({ Health: { Status: 'healthy' } }), undefined, undefined, opts).finding.value).toBe(
      'running, healthy, up 2h',
    )
    const sick = inspect({
      Health: { Status: 'unhealthy', FailingStreak: 3, Log: [{ ExitCode: 1, Output: 'curl: (7) Failed to connect\n' }] },
    })
    expect(assessContainer(sick, undefined, undefined, opts).finding).toMatchObject({
      status: 'critical',
      value: 'unhealthy: curl: (7) Failed to connect',
      message: 'app is unhealthy (3 failed health checks in a row): curl: (7) Failed to connect',
    })
    expect(assessContainer(inspect({ Health: { Status: 'starting' } }), undefined, undefined, opts).finding.status).toBe('ok')
    expect(assessContainer(inspect({ Paused: true, Status: 'paused' }), undefined, undefined, opts).finding.status).toBe('warning')
  })

  it('restart loops: Restarting, or RestartCount growing between runs', () => {
    expect(
      assessContainer(inspect({ Restarting: true, Running: true, ExitCode: 3 }, { RestartCount: 7 }), undefined, undefined, opts).finding,
    ).toMatchObject({ status: 'critical', value: 'restart loop (7 restarts, last exit 3)' })
    const memo = { id: 'abc', restartCount: 2 }
    // Running again: its ExitCode is 0 whatever the last run ended with — that comes from its last die event.
    expect(assessContainer(inspect({}, { RestartCount: 5 }), memo, undefined, opts).finding).toMatchObject({
      status: 'critical',
      value: 'restart loop (3 restarts since the last run)',
    })
    expect(needsEvents(inspect({}, { RestartCount: 5 }), memo, opts)).toBe(true)
    const dies = [
      { action: 'start', time: 1 },
      { action: 'die', time: 2, exitCode: 4 },
      { action: 'start', time: 3 },
      { action: 'die', time: 4, exitCode: 5 },
      { action: 'start', time: 5 },
    ]
    expect(assessContainer(inspect({}, { RestartCount: 5 }), memo, dies, opts).finding).toMatchObject({
      status: 'critical',
      value: 'restart loop (3 restarts since the last run, last exit 5)',
    })
    expect(assessContainer(inspect({}, { RestartCount: 3 }), memo, undefined, opts).finding.status).toBe('warning')
    expect(assessContainer(inspect({}, { RestartCount: 9 }), { id: 'other', restartCount: 0 }, undefined, opts).finding.status).toBe('ok') // recreated container
    expect(assessContainer(inspect({}, { RestartCount: 9 }), undefined, undefined, opts).memo).toEqual({ id: 'abc', restartCount: 9 })
    // First seen just after one of many restarts: a loop too.
    expect(
      assessContainer(
        inspect({ StartedAt: '2026-03-01T02:59:50Z' }, { RestartCount: 5 }),
        undefined,
        [{ action: 'die', time: 1, exitCode: 4 }],
        opts,
      ).finding,
    ).toMatchObject({ status: 'critical', value: 'restart loop (5 restarts, last exit 4)' })
    expect(needsEvents(inspect({}, { RestartCount: 5 }), undefined, opts)).toBe(false) // up for 2h: not a loop, no events needed
    expect(assessContainer(inspect({}, { RestartCount: 5 }), undefined, undefined, opts).finding.status).toBe('ok') // up for 2h
  })

  it('who stopped it: events first, then the restart policy and the exit code', () => {
    const ev = (...actions: string[]) => actions.map((action, i) => ({ action, time: 1000 + i }))
    expect(stoppedBy(exited(143), ev('start', 'kill', 'die', 'stop'))).toBe('admin')
    expect(stoppedBy(exited(3), ev('start', 'die'))).toBe('crash')
    expect(stoppedBy(exited(3), ev('kill', 'die', 'stop', 'start', 'die'))).toBe('crash') // only what follows the last start counts
    expect(stoppedBy(exited(137, {}), [])).toBe('admin')
    expect(stoppedBy(exited(1, { HostConfig: { RestartPolicy: { Name: 'unless-stopped' } } }), undefined)).toBe('admin')
    expect(stoppedBy(exited(1), undefined)).toBe('crash')
    expect(stoppedBy(exited(0), undefined)).toBe('unknown')
    expect(stoppedBy(inspect({ Status: 'exited', Running: false, OOMKilled: true, ExitCode: 137 }), ev('start', 'kill', 'die'))).toBe(
      'crash',
    )
  })

  it('stopped containers: fine in the all-containers check unless they failed; a failure when they must run', () => {
    const admin = [{ action: 'stop', time: 1 }]
    expect(assessContainer(exited(0), undefined, admin, opts).finding).toMatchObject({
      status: 'ok',
      value: 'stopped 10m ago (exit 0)',
      container: { stoppedBy: 'admin' },
    })
    expect(assessContainer(exited(0), undefined, [{ action: 'die', time: 1 }], opts).finding).toMatchObject({
      status: 'ok',
      value: 'exited 10m ago (exit 0)',
    })
    expect(assessContainer(exited(2), undefined, [{ action: 'die', time: 1 }], opts).finding).toMatchObject({
      status: 'warning',
      value: 'exited 10m ago (exit 2)',
    })
    expect(
      assessContainer(exited(2, { HostConfig: { RestartPolicy: { Name: 'on-failure' } } }), undefined, [{ action: 'die', time: 1 }], opts)
        .finding.status,
    ).toBe('critical')
    const must = { ...opts, mustRun: true }
    expect(assessContainer(exited(0), undefined, admin, must).finding).toMatchObject({
      status: 'warning',
      message: 'app was stopped by a person 10m ago (exit 0, after a stop request); not a crash: it is left stopped',
    })
    // Exit 0 after a graceful stop whose events the engine no longer keeps: not paged as a crash.
    expect(assessContainer(exited(0), undefined, undefined, must).finding).toMatchObject({
      status: 'warning',
      value: 'stopped 10m ago (exit 0)',
      container: { stoppedBy: 'unknown' },
    })
    expect(assessContainer(exited(143), undefined, undefined, must).finding).toMatchObject({
      status: 'warning',
      container: { stoppedBy: 'admin' },
    })
    expect(assessContainer(exited(2), undefined, [{ action: 'die', time: 1 }], must).finding).toMatchObject({
      status: 'critical',
      message: 'app is not running: it exited 10m ago with exit code 2',
      container: { stoppedBy: 'crash' },
    })
    expect(assessContainer(exited(2), undefined, [{ action: 'die', time: 1 }], { ...must, severity: 'warning' }).finding.status).toBe(
      'warning',
    )
  })

  it('remembers who stopped it, so events are read once per stop', () => {
    const first = assessContainer(exited(3), undefined, [{ action: 'die', time: 1 }], opts)
    expect(first.memo).toMatchObject({ finishedAt: '2026-03-01T02:50:00Z', stoppedBy: 'crash' })
    expect(needsEvents(exited(3), undefined)).toBe(true)
    expect(needsEvents(exited(3), first.memo)).toBe(false)
    expect(assessContainer(exited(3), first.memo, undefined, opts).finding.container?.stoppedBy).toBe('crash')
    expect(needsEvents(inspect({}), undefined)).toBe(false)
  })
})

describe('quiet periods', () => {
  it('a maintenance window covers [start, start + duration)', () => {
    const w = { cron: '0 4 * * *', duration: 30 * 60_000 }
    expect(activeWindowStart(w, new Date('2026-03-01T04:00:00Z'), 'UTC')?.toISOString()).toBe('2026-03-01T04:00:00.000Z')
    expect(activeWindowStart(w, new Date('2026-03-01T04:29:59Z'), 'UTC')).toBeDefined()
    expect(activeWindowStart(w, new Date('2026-03-01T04:30:00Z'), 'UTC')).toBeUndefined()
    expect(activeWindowStart(w, new Date('2026-03-01T03:59:00Z'), 'UTC')).toBeUndefined()
    expect(activeWindowStart({ ...w, timezone: 'Asia/Tokyo' }, new Date('2026-03-01T19:10:00Z'))).toBeDefined() // 04:10 in Tokyo
  })

  it("a window reads cron as the schedules do: Vixie cron's day fields, whatever cron-parser would say", () => {
    // "*/2" in day-of-month starts with "*": cron ANDs the day fields — Mondays that are odd days.
    const w = { cron: '0 4 */2 * 1', duration: 3_600_000 }
    const at = (day: string) => activeWindowStart(w, new Date(`${day}T04:30:00Z`), 'UTC')?.toISOString()
    expect(at('2026-06-15')).toBe('2026-06-15T04:00:00.000Z') // Monday the 15th
    expect(at('2026-06-08')).toBeUndefined() // Monday, but an even day
    expect(at('2026-06-09')).toBeUndefined() // an odd day, but a Tuesday
    for (const day of ['2026-06-15', '2026-06-08', '2026-06-09']) {
      const runs = nextRuns(w.cron, 1, { from: new Date(`${day}T03:00:00Z`), timeZone: 'UTC' })
      expect(at(day) !== undefined, day).toBe(runs[0]?.toISOString() === `${day}T04:00:00.000Z`)
    }
    // A repeated hour at the end of daylight saving time starts one window, at its first occurrence.
    const fall = { cron: '30 2 * * *', duration: 90 * 60_000, timezone: 'Europe/Berlin' }
    expect(activeWindowStart(fall, new Date('2026-10-25T01:10:00Z'))?.toISOString()).toBe('2026-10-25T00:30:00.000Z') // 02:10 CET, second pass
  })

  it("pause, windows and the host lock holder's stops, matched by name", () => {
    const periods = quietPeriods({
      now: NOW,
      windows: [{ cron: '0 3 * * *', duration: 3_600_000, checks: ['db'], timezone: 'UTC' }],
      pause: { until: '2026-03-01T03:30:00Z', checks: ['api'] },
      lockHolder: { command: 'backup db', stops: ['app'], pid: 42 },
    })
    expect(periods.map((p) => p.reason)).toEqual([
      'paused until 2026-03-01T03:30:00Z',
      'maintenance window "0 3 * * *" for 1h since 2026-03-01T03:00:00.000Z',
      'ownops backup db (pid 42) stops it',
    ])
    expect(quietFor(periods, ['containers', 'app'])?.reason).toContain('backup db')
    expect(quietFor(periods, ['api'])?.reason).toContain('paused')
    expect(quietFor(periods, ['memory'])).toBeUndefined()
    expect(quietPeriods({ now: NOW, windows: [], pause: { until: '2026-03-01T02:00:00Z' } })).toEqual([]) // expired
    expect(quietFor(quietPeriods({ now: NOW, windows: [], pause: { until: '2026-03-01T04:00:00Z' } }), ['anything'])).toBeDefined()
  })
})

const obs = (id: string, status: Observation['status'], kind = 'http', extra: Partial<Observation> = {}): Observation => ({
  check: id.split(':')[0]!,
  kind,
  id,
  status,
  value: '',
  message: `${id} is ${status}`,
  names: [id.split(':')[0]!, ...(id.includes(':') ? [id.split(':')[1]!] : [])],
  ...extra,
})
const tr = (type: Transition['type'], id: string, level: Transition['level'], extra: Partial<Transition> = {}): Transition => ({
  type,
  id,
  level,
  message: `${id} ${type}`,
  ...extra,
})

describe('digest', () => {
  it('one message for the run, at the worst level; recoveries route where their alert went', () => {
    const d = buildDigest(
      [
        tr('alert', 'api', 'critical'),
        tr('alert', 'filesystems:/srv', 'warning'),
        tr('recover', 'memory', 'info', { resolves: 'warning' }),
      ],
      new Map(),
      'box1',
    )!
    expect(d.level).toBe('critical')
    expect(d.title).toBe('2 problems (api, filesystems:/srv), 1 resolved on box1')
    expect(d.body.split('\n').slice(0, 3)).toEqual([
      'CRITICAL   api — api alert',
      'WARNING    filesystems:/srv — filesystems:/srv alert',
      'RESOLVED   memory — memory recover',
    ])
    expect(d.routeLevels.sort()).toEqual(['critical', 'warning'])
    expect(d.target).toBeUndefined()
  })

  it('a single transition is the title', () => {
    expect(
      buildDigest([tr('recover', 'api', 'info', { resolves: 'critical', message: 'healthy again after 5m: HTTP 200' })], new Map(), 'box1'),
    ).toMatchObject({ level: 'info', title: 'api resolved: healthy again after 5m: HTTP 200', routeLevels: ['critical'], target: 'api' })
    expect(buildDigest([], new Map(), 'box1')).toBeUndefined()
  })

  it('dependents roll up under the failing dependency', () => {
    const observations = [
      obs('filesystems:/', 'critical', 'filesystem'),
      obs('containers:db', 'critical', 'containers'),
      obs('api', 'critical'),
      obs('web', 'critical'),
      obs('memory', 'ok', 'memory'),
    ]
    const parents = rollUps(
      observations,
      (check) => (check === 'api' ? ['db'] : undefined),
      () => false,
    )
    expect([...parents]).toEqual([
      ['containers:db', 'filesystems:/'],
      ['api', 'filesystems:/'],
    ])
    const d = buildDigest(
      [
        tr('alert', 'filesystems:/', 'critical'),
        tr('alert', 'containers:db', 'critical'),
        tr('alert', 'api', 'critical'),
        tr('alert', 'web', 'critical'),
      ],
      parents,
      'box1',
    )!
    expect(d.title).toBe('4 problems (filesystems:/, web) on box1')
    expect(d.body.split('\n').slice(0, 4)).toEqual([
      'CRITICAL   filesystems:/ — filesystems:/ alert',
      '           ↳ also failing, probably because of filesystems:/: containers:db — containers:db alert',
      '           ↳ also failing, probably because of filesystems:/: api — api alert',
      'CRITICAL   web — web alert',
    ])
    expect(d.body.split('\n').filter((l) => l.startsWith('CRITICAL'))).toHaveLength(2)
    expect(
      rollUps(
        observations,
        () => undefined,
        (id) => id === 'filesystems:/',
      ).size,
    ).toBe(0) // a quiet failure explains nothing
  })
})

describe('minecraft Server List Ping encoding', () => {
  it('VarInts as the protocol defines them', () => {
    for (const [n, bytes] of [
      [0, [0x00]],
      [1, [0x01]],
      [127, [0x7f]],
      [128, [0x80, 0x01]],
      [255, [0xff, 0x01]],
      [25565, [0xdd, 0xc7, 0x01]],
      [2147483647, [0xff, 0xff, 0xff, 0xff, 0x07]],
      [-1, [0xff, 0xff, 0xff, 0xff, 0x0f]],
    ] as const) {
      expect([...encodeVarInt(n)]).toEqual(bytes)
      expect(decodeVarInt(Buffer.from(bytes))).toEqual({ value: n, size: bytes.length })
    }
    expect(decodeVarInt(Buffer.from([0x80]))).toBeUndefined()
  })

  it('handshake + status request, and the status response', () => {
    const req = statusRequest('localhost', 25565)
    // length 19: id, VarInt -1 (5 bytes), "localhost" (1 + 9), port (2), next state (1)
    expect(req.toString('hex')).toBe(`1300ffffffff0f096c6f63616c686f737463dd01${'0100'}`)
    const json = JSON.stringify({
      version: { name: '1.21.4', protocol: 769 },
      players: { max: 20, online: 3 },
      description: { text: '§aA ', extra: [{ text: 'server' }] },
    })
    const body = Buffer.concat([Buffer.from([0x00]), encodeVarInt(Buffer.byteLength(json)), Buffer.from(json)])
    const packet = Buffer.concat([encodeVarInt(body.length), body])
    expect(packetComplete(packet.subarray(0, 10))).toBe(false)
    expect(packetComplete(packet)).toBe(true)
    expect(parseStatusResponse(packet)).toEqual({ version: '1.21.4', protocol: 769, online: 3, max: 20, motd: 'A server' })
    expect(() => parseStatusResponse(Buffer.from([0x02, 0x01, 0x00]))).toThrow(/not a status response/)
  })
})

describe('http judgement', () => {
  const spec = (extra: Record<string, unknown> = {}) => httpSchema.parse({ kind: 'http', url: 'https://example.org/health', ...extra })
  const res = (status: number, body = 'ok', latencyMs = 20, days?: number) => ({
    status,
    body,
    latencyMs,
    headers: {},
    ...(days === undefined
      ? {}
      : { certificate: { subject: 'x', issuer: 'x', validTo: new Date(NOW.getTime() + days * 86_400_000 + 3_600_000) } }),
  })
  it.each([
    ['2xx by default', {}, res(204), 'ok'],
    ['5xx fails with the severity', {}, res(500, 'boom'), 'critical'],
    ['an expected status', { status: [200, 401] }, res(401), 'ok'],
    ['not the expected status', { status: 200 }, res(302), 'critical'],
    ['severity warning', { severity: 'warning' }, res(503), 'warning'],
    ['body regex', { match: '"status":\\s*"ok"' }, res(200, '{"status": "ok"}'), 'ok'],
    ['body regex not matched', { match: '"status":\\s*"ok"' }, res(200, '{"status": "degraded"}'), 'critical'],
    ['slow', { maxLatency: '1s' }, res(200, '', 1500), 'warning'],
    ['certificate far from expiry', {}, res(200, '', 10, 60), 'ok'],
    ['certificate soon', {}, res(200, '', 10, 10), 'warning'],
    ['certificate very soon', {}, res(200, '', 10, 2), 'critical'],
  ] as const)('%s', (_name, extra, response, status) => {
    expect(assessResponse(spec(extra as Record<string, unknown>), response, NOW).status).toBe(status)
  })
  it('says what is wrong', () => {
    expect(assessResponse(spec(), res(500, '{"error":"db down"}'), NOW).message).toBe(
      'GET https://example.org/health answered HTTP 500, expected 2xx or 3xx: {"error":"db down"}',
    )
    expect(assessResponse(spec(), res(200, '', 10, 10), NOW)).toMatchObject({
      value: 'HTTP 200 in 10 ms, certificate 10 days left',
      metrics: { cert_days_left: 10 },
    })
  })
})

describe('report', () => {
  const rows: ReportRow[] = [
    {
      id: 'filesystems:/',
      check: 'filesystems',
      kind: 'filesystem',
      subject: '/',
      status: 'ok',
      value: '24% used',
      threshold: 'warn 80%, crit 90%',
      message: '',
      since: '2026-03-01T01:00:00Z',
      alerting: false,
      metrics: { used_percent: 24.5 },
    },
    {
      id: 'api',
      check: 'api',
      kind: 'http',
      status: 'critical',
      value: 'HTTP 500 in 3 ms',
      message: '',
      since: '2026-03-01T02:59:00Z',
      alerting: false,
      failures: 1,
      failuresBeforeAlert: 2,
      metrics: { status_code: 500, latency_seconds: 0.003 },
    },
    {
      id: 'containers:a"b',
      check: 'containers',
      kind: 'containers',
      subject: 'a"b',
      status: 'maintenance',
      observed: 'critical',
      value: 'exited',
      message: '',
      quiet: 'ownops backup db (pid 1) stops it',
      alerting: false,
    },
  ]
  const report: MonitorReport = {
    ok: false,
    runId: 'r',
    time: NOW.toISOString(),
    durationMs: 1234,
    dryRun: false,
    summary: summarize(rows),
    checks: rows,
    transitions: [],
    quiet: ['ownops backup db (pid 1) stops it (a"b)'],
    exitCode: 1,
  }

  it('renders a table with pending alerts as n/N and quiet rows with their reason', () => {
    const text = renderReport(report, NOW)
    expect(text).toMatch(/^CHECK +STATUS +VALUE +THRESHOLD +SINCE$/m)
    expect(text).toMatch(/^filesystems \/ +OK +24% used +warn 80%, crit 90% +2h$/m)
    expect(text).toMatch(/^api +CRITICAL 1\/2 +HTTP 500 in 3 ms +1m$/m)
    expect(text).toMatch(/^containers a"b +MAINT +critical: exited +ownops backup db \(pid 1\) stops it$/m)
    expect(text).toContain('3 checks: 1 ok, 1 critical, 1 in maintenance (1s)')
  })

  it('renders the Prometheus text format, labels escaped, no empty labels, ratios 0–1, one name per quantity', () => {
    const text = renderPrometheus(report)
    expect(text).toContain('# TYPE ownops_monitor_status gauge')
    expect(text).toContain('ownops_monitor_status{check="filesystems",kind="filesystem",subject="/"} 0')
    expect(text).toContain('ownops_monitor_status{check="api",kind="http"} 2')
    expect(text).toContain('ownops_monitor_status{check="containers",kind="containers",subject="a\\"b"} 2')
    expect(text).toContain('ownops_monitor_quiet{check="containers",kind="containers",subject="a\\"b"} 1')
    expect(text).toContain('ownops_monitor_used_ratio{check="filesystems",kind="filesystem",subject="/"} 0.245')
    expect(text).toContain('ownops_monitor_probe_duration_seconds{check="api",kind="http"} 0.003')
    expect(text).toContain(`ownops_monitor_check_timestamp_seconds{check="api",kind="http"} ${NOW.getTime() / 1000}`)
    expect(text).not.toContain('=""')
    expect(text).not.toMatch(/percent/)
    expect(text).toContain(`ownops_monitor_last_run_timestamp_seconds ${NOW.getTime() / 1000}`)
    expect(text).toContain('ownops_monitor_checks{status="maintenance"} 1')
    // every sample line belongs to a family declared just before
    const declared = new Set(
      text
        .split('\n')
        .filter((l) => l.startsWith('# TYPE'))
        .map((l) => l.split(' ')[2]),
    )
    for (const line of text.split('\n').filter((l) => l && !l.startsWith('#'))) expect(declared.has(line.split(/[{ ]/)[0])).toBe(true)
  })
})

describe('judging a run', () => {
  const monitor = monitorSchema.parse({
    builtins: false,
    failuresBeforeAlert: 1,
    checks: { all: { kind: 'containers' }, api: { kind: 'http', url: 'http://127.0.0.1/' } },
  })
  const checks = new Map(planChecks(monitor).map((c) => [c.name, c]))
  const alerted = (since: string): CheckState => ({
    status: 'critical',
    since,
    failures: 3,
    successes: 0,
    history: 'fff',
    message: 'down',
    lastSeen: since,
    alert: { level: 'critical', since, notifiedAt: since },
  })
  const previous = {
    'all:old': alerted('2026-03-01T02:00:00Z'),
    'all:quiet': { ...alerted('2026-03-01T02:00:00Z'), alert: undefined },
    'removed:x': alerted('2026-03-01T02:00:00Z'),
    api: alerted('2026-03-01T02:00:00Z'),
    'all:ancient': { ...alerted('2026-01-01T00:00:00Z'), alert: undefined },
  } as Record<string, CheckState>
  const base = { previous, checks, enginePolicy: { failuresBeforeAlert: 2, successesBeforeRecovery: 1 }, now: NOW }

  it('closes rows that are gone from a check that ran to the end, forgets removed checks and old rows', () => {
    const j = judge({ ...base, observations: [obs('all:new', 'ok', 'containers')], completed: new Set(['all']), quiet: [] })
    expect(j.transitions.map((t) => `${t.type} ${t.id}`)).toEqual(['gone all:old'])
    expect(Object.keys(j.states).sort()).toEqual(['all:new', 'api'])
  })

  it('keeps the rows of a check that did not finish', () => {
    const j = judge({ ...base, observations: [obs('all', 'unknown', 'containers', { cause: 'docker' })], completed: new Set(), quiet: [] })
    expect(j.transitions).toEqual([])
    expect(Object.keys(j.states)).toEqual(expect.arrayContaining(['all:old', 'all:quiet', 'api']))
    expect(j.rows[0]).toMatchObject({ status: 'unknown' })
  })

  it('a quiet row keeps its counts and its alert; the others are judged', () => {
    const quiet = [{ reason: 'paused', names: ['api'] }]
    const j = judge({
      ...base,
      observations: [obs('api', 'ok'), obs('all:new', 'critical', 'containers')],
      completed: new Set(['all', 'api']),
      quiet,
    })
    expect(j.rows.map((r) => [r.id, r.status])).toEqual([
      ['api', 'maintenance'],
      ['all:new', 'critical'],
    ])
    expect(j.states.api).toMatchObject({ failures: 3, alert: { level: 'critical' } })
    expect(j.transitions.map((t) => `${t.type} ${t.id}`)).toEqual(['alert all:new', 'gone all:old'])
    expect([...j.quietIds]).toEqual(['api'])
  })
})

describe("the users' monitors", () => {
  const ROOT = resolve(import.meta.dirname, '../..')
  const load = (file: string) =>
    planChecks(loadConfig({ path: join(ROOT, file), env: {}, defaultEnvFile: join(ROOT, 'no-such.env') }).config.monitor)

  it('PostgreSQL backend: disk over 80 % and memory over 90 % alert on the first hourly run; /health after 2 failures in a row', () => {
    const checks = new Map(load('examples/postgres-backend.yml').map((c) => [c.name, c]))
    expect(checks.get('filesystems')).toMatchObject({
      spec: { kind: 'filesystem', warn: 80, critical: 90 },
      policy: { failuresBeforeAlert: 1 },
    })
    expect(checks.get('memory')).toMatchObject({ spec: { kind: 'memory', warn: 90 }, policy: { failuresBeforeAlert: 1 } })
    expect(checks.get('health')).toMatchObject({
      spec: { kind: 'http', url: 'http://127.0.0.1:8080/health' },
      policy: { failuresBeforeAlert: 2 },
    })
    expect([...checks.keys()]).toEqual(['filesystems', 'memory', 'load', 'swap', 'containers', 'health'])
  })

  it('ownops.example.yml: a crashed process restarted with a cap, then recreated, then a human', () => {
    const checks = new Map(load('ownops.example.yml').map((c) => [c.name, c]))
    expect(checks.get('app-db')?.policy.recover).toEqual({
      action: 'restart',
      on: 'critical',
      after: 1,
      maxAttempts: 3,
      withinMs: 3_600_000,
      graceMs: 120_000,
      recreate: true,
    })
    expect(checks.get('mc')?.policy.recover).toMatchObject({ action: 'restart', maxAttempts: 3, graceMs: 300_000 })
    expect(checks.get('api')?.policy).toMatchObject({ failuresBeforeAlert: 2, remindMs: 14_400_000 })
  })
})
