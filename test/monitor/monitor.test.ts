/**
 * `ownops monitor` end to end without Docker: real HTTP(S), TCP and Minecraft peers on
 * 127.0.0.1, real sqlite3 and commands, a real webhook receiving the digests, a real
 * second process holding the host lock, a real tmpfs — and an injected clock for the
 * runs that must be minutes apart.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { MonitorReport } from '../../src/monitor/report.js'
import type { MonitorOptions } from '../../src/monitor/run.js'
import { currentLockHolder } from '../../src/sys/lock.js'
import { BIN, runBin, tempDir, testEnv } from '../helpers/cli.js'
import { peer, startHttpPeer, type HttpPeer } from '../helpers/http-peer.js'
import { Clock, monitorRun, writeMonitorConfig } from '../helpers/monitor.js'
import { startMinecraftPeer } from '../helpers/minecraft-peer.js'

let dir: string
let cleanup: () => void
let env: NodeJS.ProcessEnv
let configFile: string
const closers: Array<() => unknown> = []

beforeEach(() => {
  ;({ dir, cleanup } = tempDir('ownops-monitor-'))
  configFile = join(dir, 'ownops.yml')
  env = testEnv(dir, { DOCKER_HOST: `unix://${join(dir, 'no-docker.sock')}`, OWNOPS_CONFIG: configFile })
})
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close()
  cleanup()
})

const config = (monitor: Record<string, unknown>, extra: Record<string, unknown> = {}) => writeMonitorConfig(configFile, monitor, extra)

const monitor = (clock: Clock, opts: Partial<MonitorOptions> = {}) => monitorRun({ env, cwd: dir }, clock, opts)

/** An HTTP server answering by path: /ok 200, /fail 500, /slow after 400 ms, /toggle as set. */
async function target(): Promise<HttpPeer & { toggle: { status: number } }> {
  const p = await peer()
  const toggle = { status: 500 }
  p.reply((req) => {
    if (req.path.startsWith('/ok')) return { status: 200, body: '{"status": "ok"}' }
    if (req.path.startsWith('/fail')) return { status: 500, body: 'database unavailable' }
    if (req.path.startsWith('/slow')) return { status: 200, body: 'ok', delayMs: 400 }
    if (req.path.startsWith('/hang')) return { hang: true }
    if (req.path.startsWith('/toggle')) return { status: toggle.status }
    return { status: 404 }
  })
  return Object.assign(p, { toggle })
}

/** A json:// webhook channel that records every digest. */
async function webhook(levels?: string[]): Promise<{ hook: HttpPeer; channels: Record<string, unknown> }> {
  const hook = await peer()
  return { hook, channels: { channels: { ops: { url: `json://127.0.0.1:${hook.port}/hook`, ...(levels ? { levels } : {}) } } } }
}

const titles = (hook: HttpPeer) => hook.requests.map((r) => (r.json as { title: string }).title)

describe('checks against real peers', () => {
  it('http: status, body regex, latency, timeout; tcp; minecraft — one run, every row', async () => {
    const http = await target()
    const mc = await startMinecraftPeer({ online: 3, max: 20 })
    closers.push(() => mc.close())
    const closed = await startHttpPeer()
    await closed.close()
    config({
      timeout: '2s',
      checks: {
        ok: { kind: 'http', url: `${http.url}/ok`, match: '"status":\\s*"ok"' },
        fail: { kind: 'http', url: `${http.url}/fail` },
        nomatch: { kind: 'http', url: `${http.url}/ok`, match: 'healthy' },
        slow: { kind: 'http', url: `${http.url}/slow`, maxLatency: '100ms' },
        hang: { kind: 'http', url: `${http.url}/hang`, timeout: '300ms' },
        expected: { kind: 'http', url: `${http.url}/nothing`, status: 404, method: 'POST', headers: { 'x-probe': 'ownops' }, body: 'ping' },
        port: { kind: 'tcp', port: http.port },
        closed: { kind: 'tcp', port: closed.port, severity: 'warning' },
        mc: { kind: 'minecraft', port: mc.port },
      },
    })
    const run = await monitor(new Clock())
    expect(run.row('ok')).toMatchObject({ status: 'ok', value: expect.stringMatching(/^HTTP 200 in \d+ ms$/) })
    expect(run.row('fail')).toMatchObject({
      status: 'critical',
      message: `GET ${http.url}/fail answered HTTP 500, expected 2xx or 3xx: database unavailable`,
    })
    expect(run.row('nomatch')).toMatchObject({ status: 'critical', message: expect.stringContaining('the body does not match /healthy/') })
    expect(run.row('slow')).toMatchObject({ status: 'warning', message: expect.stringContaining('is slow') })
    expect(run.row('hang')).toMatchObject({ status: 'critical', value: 'no answer within 300 ms' })
    expect(run.row('expected').status).toBe('ok')
    const probe = http.requests.find((r) => r.path === '/nothing')
    expect(probe).toMatchObject({ method: 'POST', text: 'ping', headers: expect.objectContaining({ 'x-probe': 'ownops' }) })
    expect(run.row('port')).toMatchObject({ status: 'ok', value: expect.stringMatching(/^connected in \d+ ms$/) })
    expect(run.row('closed')).toMatchObject({ status: 'warning', value: 'connection refused' })
    expect(run.row('mc')).toMatchObject({
      status: 'ok',
      value: expect.stringMatching(/^3\/20 players, 1\.21\.4, \d+ ms$/),
      metrics: expect.objectContaining({ players_online: 3, players_max: 20 }),
    })
    expect(mc.handshakes).toEqual([{ protocol: -1, address: '127.0.0.1', port: mc.port, nextState: 1 }])
    expect(run.exitCode).toBe(1)
    expect(run.report.summary).toMatchObject({ ok: 4, warning: 2, critical: 3 })
  })

  it('https: a self-signed certificate near expiry (made with openssl) is a warning when trusted, critical when not', async () => {
    const key = join(dir, 'key.pem')
    const cert = join(dir, 'cert.pem')
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '5',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    )
    const server: HttpsServer = createHttpsServer({ key: readFileSync(key), cert: readFileSync(cert) }, (_req, res) => res.end('ok'))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    closers.push(() => new Promise((resolve) => server.close(resolve)))
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/`
    config({
      checks: {
        trusted: { kind: 'http', url, tls: { ca: cert } },
        untrusted: { kind: 'http', url },
        unverified: { kind: 'http', url, tls: { verify: false }, certDays: { warn: 30, critical: 7 } },
      },
    })
    const clock = new Clock()
    clock.t = Date.now()
    const run = await monitor(clock)
    expect(run.row('trusted')).toMatchObject({
      status: 'warning',
      value: expect.stringContaining('certificate 4 days left'),
      metrics: expect.objectContaining({ cert_days_left: 4 }),
    })
    expect(run.row('trusted').message).toMatch(/the TLS certificate expires in 4 days \(\d{4}-\d\d-\d\d\)/)
    expect(run.row('untrusted')).toMatchObject({ status: 'critical', value: expect.stringContaining('self-signed') })
    expect(run.row('unverified')).toMatchObject({ status: 'critical', message: expect.stringContaining('expires in 4 days') })
  })

  it('sqlite: quick_check passes, a corrupt file fails, a database held by a writer is "locked"', async () => {
    const db = join(dir, 'jobs.db')
    execFileSync('sqlite3', [db, 'PRAGMA journal_mode=DELETE; CREATE TABLE t(x); INSERT INTO t VALUES (1);'])
    const corrupt = join(dir, 'corrupt.db')
    writeFileSync(corrupt, Buffer.concat([Buffer.from('SQLite format 3\0'), Buffer.alloc(4096, 0xab)]))
    config({
      checks: {
        jobs: { kind: 'sqlite', path: db, busyTimeout: '300ms' },
        broken: { kind: 'sqlite', path: corrupt },
        missing: { kind: 'sqlite', path: join(dir, 'nope.db') },
      },
    })
    const first = await monitor(new Clock())
    expect(first.row('jobs')).toMatchObject({ status: 'ok', value: expect.stringMatching(/^quick_check ok in \d+ ms$/) })
    expect(first.row('broken')).toMatchObject({ status: 'critical' })
    expect(first.row('missing')).toMatchObject({ status: 'critical', value: 'no such file' })

    const writer: ChildProcess = spawn('sqlite3', [db], { stdio: ['pipe', 'pipe', 'ignore'] })
    closers.push(() => writer.kill())
    const locked = new Promise<void>((resolve) => writer.stdout?.on('data', (d: Buffer) => d.toString().includes('holding') && resolve()))
    writer.stdin?.write("BEGIN EXCLUSIVE;\nINSERT INTO t VALUES (2);\nSELECT 'holding';\n")
    await locked
    const second = await monitor(new Clock(), { checks: ['jobs'] })
    expect(second.row('jobs')).toMatchObject({
      status: 'critical',
      message: `${db}: the database is locked (a writer held the lock for more than 300ms)`,
    })
    writer.stdin?.end()
  })

  it('command: exit codes, warning codes, output regex, not found, timeout', async () => {
    config({
      checks: {
        good: { kind: 'command', command: ['sh', '-c', 'echo "replication lag 2s"'], match: 'lag \\d+s' },
        warn: { kind: 'command', command: ['sh', '-c', 'echo WARNING - 3 jobs queued; exit 1'], warningExitCodes: [1] },
        bad: { kind: 'command', command: ['sh', '-c', 'echo CRITICAL >&2; exit 2'] },
        nomatch: { kind: 'command', command: ['echo', 'lag unknown'], match: 'lag \\d+s' },
        missing: { kind: 'command', command: ['ownops-no-such-command'] },
        slow: { kind: 'command', command: ['sleep', '10'], timeout: '300ms' },
      },
    })
    const run = await monitor(new Clock())
    expect(run.row('good')).toMatchObject({ status: 'ok', value: expect.stringMatching(/^exit 0 in \d+ ms: replication lag 2s$/) })
    expect(run.row('warn')).toMatchObject({ status: 'warning', message: 'sh exited 1: WARNING - 3 jobs queued' })
    expect(run.row('bad')).toMatchObject({ status: 'critical', message: 'sh exited 2: CRITICAL' })
    expect(run.row('nomatch')).toMatchObject({ status: 'critical', message: 'echo: the output does not match /lag \\d+s/: lag unknown' })
    expect(run.row('missing')).toMatchObject({ status: 'critical', value: 'command not found: ownops-no-such-command' })
    expect(run.row('slow')).toMatchObject({ status: 'critical', value: expect.stringMatching(/timed out/) })
  })

  it('a hanging check cannot hang the run: the deadline cuts it, checks never started say so', async () => {
    config({
      concurrency: 1,
      deadline: '1s',
      checks: {
        first: { kind: 'command', command: ['sleep', '30'], timeout: '30s' },
        second: { kind: 'command', command: ['sleep', '30'], timeout: '30s' },
      },
    })
    const run = await monitor(new Clock())
    expect(run.row('first')).toMatchObject({ status: 'critical', value: "did not finish before the run's deadline (1s)" })
    expect(run.row('second')).toMatchObject({ status: 'unknown', value: 'not run: the run deadline passed' })
    expect(run.exitCode).toBe(1)
  })

  it('filesystem: a tmpfs of 8 MiB filled with 7.5 MiB is critical, and a warn/critical pair of its own applies', async (ctx) => {
    if (process.getuid?.() !== 0) {
      ctx.skip('needs root to mount a tmpfs (run the tests as root, as CI does)')
      return
    }
    const mnt = join(dir, 'tmpfs')
    mkdirSync(mnt)
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'ownops-test', mnt])
    closers.push(() => execFileSync('umount', ['-l', mnt]))
    writeFileSync(join(mnt, 'fill'), Buffer.alloc(7.5 * 1024 * 1024))
    config({
      checks: { small: { kind: 'filesystem', paths: [mnt] }, lenient: { kind: 'filesystem', paths: [mnt], warn: 95, critical: 99 } },
    })
    const run = await monitor(new Clock())
    expect(run.row(`small:${mnt}`)).toMatchObject({
      status: 'critical',
      value: expect.stringMatching(/^9[34]% used \(512 KiB free\), inodes/),
    })
    expect(run.row(`lenient:${mnt}`).status).toBe('ok')
  })
})

describe('alert semantics across runs', () => {
  it('digest: three failures in one run → one message; still failing → nothing; back → one resolved message to the same channel', async () => {
    const http = await target()
    const { hook, channels } = await webhook() // default levels: warning and above
    config(
      {
        failuresBeforeAlert: 1,
        checks: {
          api: { kind: 'http', url: `${http.url}/toggle/a` },
          web: { kind: 'http', url: `${http.url}/toggle/b` },
          admin: { kind: 'http', url: `${http.url}/toggle/c`, severity: 'warning' },
        },
      },
      { notify: channels },
    )
    const clock = new Clock()
    const first = await monitor(clock)
    expect(hook.requests).toHaveLength(1)
    const message = hook.requests[0]?.json as { level: string; title: string; body: string; source: unknown }
    expect(message).toMatchObject({ level: 'critical', title: '3 problems (api, web, admin) on box1', source: { command: 'monitor' } })
    expect(message.body.split('\n').filter((l) => /^(CRITICAL|WARNING)/.test(l))).toHaveLength(3)
    expect(first.report.notification).toMatchObject({ level: 'critical', channels: [{ channel: 'ops', status: 'delivered' }] })

    await monitor(clock.advance(1))
    expect(hook.requests).toHaveLength(1)

    http.toggle.status = 200
    const back = await monitor(clock.advance(5))
    expect(back.report.transitions.map((t) => t.type)).toEqual(['recover', 'recover', 'recover'])
    expect(hook.requests).toHaveLength(2) // info, yet delivered: the channel took the alerts
    expect(hook.requests[1]?.json).toMatchObject({ level: 'info', title: '3 resolved on box1' })
    expect((hook.requests[1]?.json as { body: string }).body).toContain('RESOLVED   api — healthy again after 6m')
  })

  it('the /health scenario: 2 failures in a row alert, one does not; reminders while it stays down', async () => {
    const http = await target()
    const { hook, channels } = await webhook()
    config({ remind: '1h', checks: { health: { kind: 'http', url: `${http.url}/toggle` } } }, { notify: channels })
    const clock = new Clock()
    const one = await monitor(clock)
    expect(one.row('health')).toMatchObject({ status: 'critical', failures: 1, alerting: false })
    expect(one.text).toMatch(/^health +CRITICAL 1\/2 /m)
    http.toggle.status = 200
    await monitor(clock.advance(5))
    http.toggle.status = 500
    await monitor(clock.advance(5))
    expect(hook.requests).toHaveLength(0)
    const alert = await monitor(clock.advance(5))
    expect(alert.report.transitions).toMatchObject([{ type: 'alert', id: 'health', level: 'critical' }])
    expect(titles(hook)).toEqual([`health critical: GET ${http.url}/toggle answered HTTP 500, expected 2xx or 3xx`])
    await monitor(clock.advance(30))
    expect(hook.requests).toHaveLength(1)
    await monitor(clock.advance(31))
    expect(titles(hook)[1]).toBe(
      `health still critical: still failing after 1h6m: GET ${http.url}/toggle answered HTTP 500, expected 2xx or 3xx`,
    )
  })

  it('flapping: failures that never come twice in a row alert once the flap window fills', async () => {
    const http = await target()
    const { hook, channels } = await webhook()
    config({ checks: { api: { kind: 'http', url: `${http.url}/toggle`, flap: { failures: 3, runs: 5 } } } }, { notify: channels })
    const clock = new Clock()
    for (const status of [500, 200, 500, 200]) {
      http.toggle.status = status
      await monitor(clock.advance(1))
    }
    expect(hook.requests).toHaveLength(0)
    http.toggle.status = 500
    const run = await monitor(clock.advance(1))
    expect(run.report.transitions[0]?.message).toContain('flapping: 3 of the last 5 runs failed')
    expect(hook.requests).toHaveLength(1)
  })

  it('auto-recovery with exec: acts at once, notifies the action, the recovery follows within the grace period', async () => {
    const flag = join(dir, 'service-up')
    const { hook, channels } = await webhook()
    config(
      {
        checks: {
          jobs: {
            kind: 'command',
            command: ['test', '-f', flag],
            recover: { action: 'exec', command: ['touch', flag], after: 1, grace: '2m' },
          },
        },
      },
      { notify: channels },
    )
    const clock = new Clock()
    const first = await monitor(clock)
    expect(first.report.transitions).toMatchObject([
      {
        type: 'action',
        level: 'warning',
        message: `run the recovery command: ran touch ${flag} (attempt 1 of 3 within 1h)`,
        action: { step: 'exec', ok: true },
      },
    ])
    expect(existsSync(flag)).toBe(true)
    const second = await monitor(clock.advance(1))
    expect(second.report.transitions).toMatchObject([{ type: 'recover', message: 'healthy again after 1m: test exited 0' }])
    expect(titles(hook)).toEqual([
      `jobs action: run the recovery command: ran touch ${flag} (attempt 1 of 3 within 1h)`,
      'jobs resolved: healthy again after 1m: test exited 0',
    ])
  })

  it('a check\'s description is what its alerts say first ("Minecraft server process: pgrep exited 1")', async () => {
    const { hook, channels } = await webhook()
    config(
      {
        failuresBeforeAlert: 1,
        checks: {
          'mc-proc': { kind: 'command', description: 'Minecraft server process', command: ['sh', '-c', 'echo no process; exit 1'] },
        },
      },
      { notify: channels },
    )
    await monitor(new Clock())
    expect(titles(hook)).toEqual(['mc-proc critical: Minecraft server process: sh exited 1: no process'])
    expect((hook.requests[0]?.json as { body: string }).body).toContain(
      'CRITICAL   mc-proc — Minecraft server process: sh exited 1: no process',
    )
  })

  it('a warning (a slow answer) is alerted but never acted on: the recovery command does not run', async () => {
    const counter = join(dir, 'attempts')
    const { hook, channels } = await webhook()
    config(
      {
        failuresBeforeAlert: 1,
        checks: {
          mc: {
            kind: 'command',
            command: ['sh', '-c', 'echo slow: 12 ms; exit 1'],
            warningExitCodes: [1],
            recover: { action: 'exec', command: ['sh', '-c', `echo x >> ${counter}`], maxAttempts: 1 },
          },
        },
      },
      { notify: channels },
    )
    const clock = new Clock()
    const types: string[][] = []
    for (let i = 0; i < 4; i++) types.push((await monitor(clock.advance(3))).report.transitions.map((t) => t.type))
    expect(types).toEqual([['alert'], [], [], []])
    expect(existsSync(counter)).toBe(false)
    expect(titles(hook)).toEqual(['mc warning: sh exited 1: slow: 12 ms'])
  })

  it('budget spent: attempts 1-3, then exactly one "gave up" alert, then no more actions', async () => {
    const counter = join(dir, 'attempts')
    const { hook, channels } = await webhook()
    config(
      {
        checks: {
          jobs: {
            kind: 'command',
            command: ['false'],
            recover: { action: 'exec', command: ['sh', '-c', `echo x >> ${counter}; exit 1`], maxAttempts: 3, within: '1h', grace: '2m' },
          },
        },
      },
      { notify: channels },
    )
    const clock = new Clock()
    const types: string[][] = []
    for (let i = 0; i < 6; i++) types.push((await monitor(clock.advance(3))).report.transitions.map((t) => t.type))
    expect(types).toEqual([['action'], ['alert', 'action'], ['action'], ['gave-up'], [], []])
    expect(readFileSync(counter, 'utf8').trim().split('\n')).toHaveLength(3)
    expect(titles(hook).filter((t) => t.includes('gave up'))).toEqual([
      'jobs gave up: gave up on jobs after 3 recovery commands in 1h: false exited 1. It needs a human.',
    ])
    expect(hook.requests.at(-1)?.json).toMatchObject({ level: 'critical' })
  })
})

describe('quiet periods', () => {
  it('while another process holds the host lock with --stops api, api is in maintenance: no alert, no counting', async () => {
    const http = await target()
    const { hook, channels } = await webhook()
    config(
      {
        failuresBeforeAlert: 1,
        checks: {
          api: { kind: 'http', url: `${http.url}/fail` },
          web: { kind: 'http', url: `${http.url}/fail`, dependsOn: ['api'] },
          other: { kind: 'http', url: `${http.url}/ok` },
        },
      },
      { notify: channels },
    )
    const holder = spawn(process.execPath, [BIN, 'lock', 'run', '--stops', 'api', '--name', 'backup db', '--', 'sleep', '60'], {
      env,
      stdio: 'ignore',
    })
    closers.push(() => holder.kill('SIGKILL'))
    const lockDir = env.OWNOPS_LOCK_DIR as string
    for (let i = 0; i < 200 && (await currentLockHolder(lockDir)) === undefined; i++) await sleep(50)
    expect(await currentLockHolder(lockDir)).toMatchObject({ stops: ['api'] })

    const clock = new Clock()
    const quiet = await monitor(clock)
    expect(quiet.row('api')).toMatchObject({
      status: 'maintenance',
      observed: 'critical',
      quiet: `ownops backup db (pid ${holder.pid}) stops it`,
    })
    expect(quiet.row('web').status).toBe('maintenance') // it depends on api
    expect(quiet.row('other').status).toBe('ok')
    expect(quiet.exitCode).toBe(0)
    expect(quiet.report.quiet).toEqual([`ownops backup db (pid ${holder.pid}) stops it (api)`])
    expect(hook.requests).toHaveLength(0)

    holder.kill('SIGTERM')
    await new Promise((resolve) => holder.once('exit', resolve))
    const after = await monitor(clock.advance(1))
    expect(after.report.transitions.map((t) => `${t.type} ${t.id}`)).toEqual(['alert api', 'alert web'])
    expect(hook.requests).toHaveLength(1)
    const body = (hook.requests[0]?.json as { body: string }).body
    expect(body).toContain('↳ also failing, probably because of api: web')
    expect(after.exitCode).toBe(1)
  })

  it('--pause 30m quiets everything (or the checks named) until it ends; --resume ends it early', async () => {
    const http = await target()
    config({
      failuresBeforeAlert: 1,
      checks: { api: { kind: 'http', url: `${http.url}/fail` }, web: { kind: 'http', url: `${http.url}/fail` } },
    })
    const clock = new Clock()
    const paused = await monitor(clock, { pause: '30m' })
    expect(paused.text).toContain('monitor paused for 30m (until 2026-03-01T03:30:00.000Z)')
    const during = await monitor(clock.advance(10))
    expect(during.report.checks.map((r) => r.status)).toEqual(['maintenance', 'maintenance'])
    expect(during.report.transitions).toEqual([])
    const after = await monitor(clock.advance(25))
    expect(after.report.transitions.map((t) => t.id)).toEqual(['api', 'web'])

    await monitor(clock, { pause: '1h', checks: ['api'] })
    const partly = await monitor(clock.advance(1))
    expect(partly.report.checks.map((r) => r.status)).toEqual(['maintenance', 'critical'])
    expect((await monitor(clock, { resume: true })).text).toContain('monitor resumed')
    expect((await monitor(clock.advance(1))).row('api').status).toBe('critical')
  })

  it('a maintenance window from the config quiets the checks it names while it lasts', async () => {
    const http = await target()
    config({
      failuresBeforeAlert: 1,
      maintenance: [{ cron: '0 4 * * *', duration: '30m', checks: ['api'], timezone: 'UTC' }],
      checks: { api: { kind: 'http', url: `${http.url}/fail` } },
    })
    const clock = new Clock()
    clock.t = Date.parse('2026-03-01T04:10:00Z')
    expect((await monitor(clock)).row('api')).toMatchObject({
      status: 'maintenance',
      quiet: expect.stringContaining('maintenance window "0 4 * * *" for 30m'),
    })
    expect((await monitor(clock.advance(25))).row('api')).toMatchObject({ status: 'critical', alerting: true })
  })
})

describe('state, output, exit codes', () => {
  it('a corrupted state file is survived with a warning and replaced by a valid one', async () => {
    config({ checks: { up: { kind: 'command', command: ['true'] } } })
    const stateFile = join(env.OWNOPS_STATE_DIR as string, 'monitor.json')
    mkdirSync(env.OWNOPS_STATE_DIR as string, { recursive: true })
    writeFileSync(stateFile, '{"version": 1, "checks": {"up": {"status": "ok", "fail')
    const run = await monitor(new Clock())
    expect(run.exitCode).toBe(0)
    expect(run.logs.join('')).toContain('state file is corrupt: moved aside; starting from a fresh state')
    expect(readdirSync(env.OWNOPS_STATE_DIR as string).filter((f) => f.startsWith('monitor.json.corrupt-'))).toHaveLength(1)
    expect(JSON.parse(readFileSync(stateFile, 'utf8'))).toMatchObject({ version: 1, checks: { up: { status: 'ok', successes: 1 } } })
    writeFileSync(stateFile, JSON.stringify({ version: 1, checks: { up: 'nonsense' } }))
    expect((await monitor(new Clock())).exitCode).toBe(0)
  })

  it('a full disk: the lock and the state cannot be written, yet the table prints and the alert goes out', async (ctx) => {
    if (process.getuid?.() !== 0) {
      ctx.skip('needs root to mount a tmpfs (run the tests as root, as CI does)')
      return
    }
    const full = join(dir, 'full')
    mkdirSync(full)
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'ownops-test', full])
    closers.push(() => execFileSync('umount', ['-l', full]))
    const stateDir = join(full, 'state')
    const lockDir = join(full, 'lock')
    mkdirSync(stateDir)
    mkdirSync(lockDir)
    try {
      for (let i = 0; ; i++) writeFileSync(join(full, `fill-${i}`), Buffer.alloc(64 * 1024))
    } catch (error) {
      expect((error as NodeJS.ErrnoException).code).toBe('ENOSPC')
    }
    const { hook, channels } = await webhook()
    config({ failuresBeforeAlert: 1, checks: { disk: { kind: 'filesystem', paths: [full] } } }, { notify: channels })
    env = { ...env, OWNOPS_STATE_DIR: stateDir, OWNOPS_LOCK_DIR: lockDir }
    const run = await monitor(new Clock())
    expect(run.row(`disk:${full}`)).toMatchObject({ status: 'critical', value: expect.stringMatching(/^100% used \(0 B free\)/) })
    expect(run.text).toMatch(/^disk \/.* +CRITICAL +100% used/m)
    expect(titles(hook)).toEqual([expect.stringMatching(/^disk:\/.* critical: 100% used, 0 B free of 1(\.0)? MiB$/)])
    const logs = run.logs.join('\n')
    expect(logs).toContain('no space left for the monitor lock; running without it')
    expect(logs).toContain('could not write the monitor state')
    expect(run.exitCode).toBe(1)
  })

  it('writes the Prometheus textfile atomically (readable by node_exporter), and pings the heartbeat: start, then the exit status with the log tail', async () => {
    const http = await target()
    const hc = await peer()
    const prom = join(dir, 'textfile', 'ownops.prom')
    config(
      {
        prometheus: { textfile: prom },
        checks: { api: { kind: 'http', url: `${http.url}/ok` }, db: { kind: 'http', url: `${http.url}/fail` } },
      },
      { notify: { channels: { ping: { url: `hc://127.0.0.1:${hc.port}/ping/5f1d2f2e-0000-4000-8000-000000000001` } } } },
    )
    const run = await monitor(new Clock())
    const text = readFileSync(prom, 'utf8')
    expect(text).toContain('ownops_monitor_status{check="api",kind="http"} 0')
    expect(text).toContain('ownops_monitor_status{check="db",kind="http"} 2')
    expect(text).toContain('ownops_monitor_http_status_code{check="db",kind="http"} 500')
    expect(statSync(prom).mode & 0o777).toBe(0o644)
    expect(run.exitCode).toBe(1) // db is critical
    expect(hc.requests.map((r) => r.path)).toEqual([
      `/ping/5f1d2f2e-0000-4000-8000-000000000001/start?rid=${run.report.runId}`,
      `/ping/5f1d2f2e-0000-4000-8000-000000000001/1?rid=${run.report.runId}`,
    ])
    expect(hc.requests[1]?.text).toMatch(/monitor run done .*critical=1/)
  })

  it('a failed heartbeat ping is a warning, not a failure of the run', async () => {
    const dead = await startHttpPeer()
    await dead.close()
    config(
      { checks: { up: { kind: 'command', command: ['true'] } } },
      { notify: { retries: 0, channels: { ping: { url: `hc://127.0.0.1:${dead.port}/ping/x` } } } },
    )
    const run = await monitor(new Clock())
    expect(run.exitCode).toBe(0)
    expect(run.logs.join('\n')).toMatch(/"level":40.*heartbeat ping not delivered/)
  })

  it('failOn: warning makes a warning exit 1; never always exits 0', async () => {
    config({ failOn: 'warning', checks: { w: { kind: 'command', command: ['sh', '-c', 'exit 1'], warningExitCodes: [1] } } })
    expect((await monitor(new Clock())).exitCode).toBe(1)
    config({ failOn: 'never', checks: { c: { kind: 'command', command: ['false'] } } })
    expect((await monitor(new Clock())).exitCode).toBe(0)
    config({ checks: { w: { kind: 'command', command: ['sh', '-c', 'exit 1'], warningExitCodes: [1] } } })
    expect((await monitor(new Clock())).exitCode).toBe(0)
  })

  it('--dry-run shows what would happen and changes nothing', async () => {
    const flag = join(dir, 'flag')
    const { hook, channels } = await webhook()
    config(
      {
        failuresBeforeAlert: 1,
        checks: { jobs: { kind: 'command', command: ['test', '-f', flag], recover: { action: 'exec', command: ['touch', flag] } } },
      },
      { notify: channels },
    )
    const run = await monitor(new Clock(), { dryRun: true })
    expect(run.report.transitions.map((t) => `${t.type}: ${t.message}`)).toEqual([
      'alert: test exited 1',
      `action: (dry run) would run the recovery command: touch ${flag}`,
    ])
    expect(existsSync(flag)).toBe(false)
    expect(hook.requests).toHaveLength(0)
    expect(existsSync(join(env.OWNOPS_STATE_DIR as string, 'monitor.json'))).toBe(false)
  })
})

describe('the command line', () => {
  it('zero-config: no config file at all → a table of filesystems, memory, load, swap, and the Docker engine row saying it is unreachable', async () => {
    const bare = testEnv(dir, { DOCKER_HOST: `unix://${join(dir, 'no-docker.sock')}` })
    const result = await runBin(['monitor'], { env: bare, cwd: dir })
    expect(result.stdout).toMatch(/^CHECK +STATUS +VALUE +THRESHOLD +SINCE$/m)
    expect(result.stdout).toMatch(/^filesystems \/ +(OK|WARNING|CRITICAL)\b.*% used/m)
    for (const row of ['memory', 'load', 'swap']) expect(result.stdout).toMatch(new RegExp(`^${row} +(OK|WARNING|CRITICAL)`, 'm'))
    expect(result.stdout).toMatch(/^docker +CRITICAL 1\/2 +the Docker engine is unreachable at unix:\/\//m)
    expect(result.stdout).toMatch(/^containers +UNKNOWN +not checked: the Docker engine is unreachable/m)
    expect(result.stderr).toContain('no config file: running the built-in checks')
    expect(result.code).toBe(1)

    // The second run alerts about the engine, naming what it could not check.
    const json = await runBin(['--json', 'monitor'], { env: bare, cwd: dir })
    const report = JSON.parse(json.stdout) as MonitorReport
    expect(report.checks.map((c) => c.check)).toEqual(
      expect.arrayContaining(['filesystems', 'memory', 'load', 'swap', 'docker', 'containers']),
    )
    expect(report.checks.find((c) => c.check === 'docker')?.message).toBe(
      `the Docker engine is unreachable at unix://${join(dir, 'no-docker.sock')} (ENOENT)`,
    )
    expect(report.exitCode).toBe(1)
    expect(report.transitions.find((t) => t.id === 'docker')).toMatchObject({
      type: 'alert',
      message: expect.stringMatching(/\(not checked meanwhile: containers\)$/),
    })
  })

  it("an unusable DOCKER_HOST is the engine row's failure, not the run's", async () => {
    config({ checks: { all: { kind: 'containers' }, up: { kind: 'command', command: ['true'] } } })
    env = { ...env, DOCKER_HOST: 'npipe:////./pipe/docker_engine' }
    const run = await monitor(new Clock())
    expect(run.row('docker')).toMatchObject({ status: 'critical', value: 'unsupported Docker endpoint: npipe:////./pipe/docker_engine' })
    expect(run.row('all').status).toBe('unknown')
    expect(run.row('up').status).toBe('ok')
  })

  it('an explicit --config that is missing stays an error (78); an unknown check name is a usage error (2)', async () => {
    const missing = await runBin(['-c', join(dir, 'nope.yml'), 'monitor'], { env: testEnv(dir), cwd: dir })
    expect(missing.code).toBe(78)
    expect(missing.stderr).toContain('file not found')
    config({ checks: { api: { kind: 'tcp', port: 1 } } })
    const unknown = await runBin(['monitor', 'apx'], { env, cwd: dir })
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain('no check named \\"apx\\"')
    expect(unknown.stderr).toContain('did you mean \\"api\\"?')
  })

  it("a check's URL is shown, its credentials and secret headers are not", async () => {
    const http = await target()
    config({
      checks: {
        api: {
          kind: 'http',
          url: `http://ops:hunter22@127.0.0.1:${http.port}/fail?api_key=abcdef123&x=1`,
          headers: { Authorization: 'Bearer sekr3t-token' },
        },
      },
    })
    const result = await runBin(['--json', 'monitor'], { env, cwd: dir })
    const report = JSON.parse(result.stdout) as MonitorReport
    expect(report.checks[0]?.message).toBe(
      `GET http://***@127.0.0.1:${http.port}/fail?api_key=***&x=1 answered HTTP 500, expected 2xx or 3xx: database unavailable`,
    )
    expect(http.requests[0]?.headers.authorization).toBe('Bearer sekr3t-token')
    expect(result.stdout + result.stderr).not.toMatch(/hunter22|abcdef123|sekr3t/)
  })

  it('two monitor runs never overlap: the second exits 75', async () => {
    config({ checks: { slow: { kind: 'command', command: ['sleep', '2'] } } })
    const first = runBin(['monitor'], { env, cwd: dir })
    const lockFile = join(env.OWNOPS_LOCK_DIR as string, 'monitor.lock')
    for (let i = 0; i < 200 && !existsSync(lockFile); i++) await sleep(25)
    const second = await runBin(['monitor'], { env, cwd: dir })
    expect(second.code).toBe(75)
    expect(second.stderr).toContain('another ownops run holds the monitor lock')
    expect((await first).code).toBe(0)
  })

  it('config validation names file, line and key for monitor mistakes', async () => {
    writeFileSync(
      configFile,
      [
        'monitor:',
        '  checks:',
        '    bk:',
        '      kind: backup',
        '    api:',
        '      kind: http',
        '      url: http://127.0.0.1/',
        '      match: "(["',
        '',
      ].join('\n'),
    )
    const result = await runBin(['config', 'validate'], { env, cwd: dir })
    expect(result.code).toBe(78)
    expect(result.stdout + result.stderr).toContain('ownops.yml:8 monitor.checks.api.match: not a valid regular expression')
  })
})
