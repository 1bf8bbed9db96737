/**
 * `ownops monitor` against real containers on the test engine: healthy, unhealthy,
 * crashed, stopped by an administrator, restart-looping; restart-based recovery with its
 * grace period; and the zero-config table with a reachable engine.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type Docker from 'dockerode'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { HostLock } from '../../src/sys/lock.js'
import { runBin, tempDir, testEnv } from '../helpers/cli.js'
import { startHttpPeer, type HttpPeer } from '../helpers/http-peer.js'
import { Clock, monitorRun, writeMonitorConfig } from '../helpers/monitor.js'
import {
  cleanupAll,
  describeDocker,
  dockerEnv,
  getDocker,
  IMAGE_PATH,
  runContainer,
  RUN_LABEL,
  TEST_IMAGE,
  TEST_LABEL,
  uniqueName,
} from '../helpers/docker.js'

let dir: string
let cleanup: () => void
let env: NodeJS.ProcessEnv
let configFile: string
let hook: HttpPeer
const own: string[] = []

beforeAll(async () => {
  ;({ dir, cleanup } = tempDir('ownops-monitor-docker-'))
  configFile = join(dir, 'ownops.yml')
  env = testEnv(dir, { OWNOPS_CONFIG: configFile })
  hook = await startHttpPeer()
})
afterAll(async () => {
  await Promise.all(
    own.map((name) =>
      getDocker()
        .getContainer(name)
        .remove({ force: true })
        .catch(() => undefined),
    ),
  )
  await cleanupAll()
  await hook.close()
  cleanup()
})

/** A container with a restart policy (the shared helper has none). */
async function createWithPolicy(name: string, cmd: string[], policy: string): Promise<void> {
  const container = await getDocker().createContainer({
    name,
    Image: TEST_IMAGE,
    Cmd: cmd,
    Env: [`PATH=${IMAGE_PATH}`],
    Labels: { [TEST_LABEL]: '1', [RUN_LABEL]: dockerEnv.runId },
    HostConfig: { NetworkMode: 'none', RestartPolicy: { Name: policy } },
  })
  own.push(name)
  await container.start()
}

async function waitFor(
  name: string,
  what: string,
  test: (info: Docker.ContainerInspectInfo) => boolean,
  timeoutMs = 30_000,
): Promise<Docker.ContainerInspectInfo> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const info = await getDocker().getContainer(name).inspect()
    if (test(info)) return info
    if (Date.now() > deadline) throw new Error(`${name} did not become ${what} within ${timeoutMs} ms: ${JSON.stringify(info.State)}`)
    await sleep(100)
  }
}

/** The engine's containers are real: the clock starts at the real time, then moves as told. */
const monitor = (clock: Clock) => monitorRun({ env, cwd: dir }, clock)

function config(checks: Record<string, unknown>, extra: Record<string, unknown> = {}): void {
  writeMonitorConfig(configFile, { checks, ...extra }, { notify: { channels: { ops: { url: `json://127.0.0.1:${hook.port}/hook` } } } })
}

describeDocker('monitor against real containers', () => {
  it('every container: healthy, unhealthy (failing HEALTHCHECK), crashed, stopped, restart-looping', async () => {
    const healthy = await runContainer({
      name: uniqueName('mon-healthy'),
      cmd: ['sleep', '600'],
      healthcheck: { test: ['CMD', 'true'], intervalMs: 300, retries: 1 },
    })
    const unhealthy = await runContainer({
      name: uniqueName('mon-sick'),
      cmd: ['sleep', '600'],
      healthcheck: { test: ['CMD-SHELL', 'echo db connection refused; exit 1'], intervalMs: 300, retries: 1 },
    })
    const crashed = await runContainer({ name: uniqueName('mon-crash'), cmd: ['sh', '-c', 'exit 3'] })
    const stopped = await runContainer({ name: uniqueName('mon-stopped'), cmd: ['sleep', '600'] })
    const looping = uniqueName('mon-loop')
    await createWithPolicy(looping, ['sh', '-c', 'exit 4'], 'always')
    await getDocker().getContainer(stopped.name).stop({ t: 0 })
    await waitFor(healthy.name, 'healthy', (i) => i.State.Health?.Status === 'healthy')
    await waitFor(unhealthy.name, 'unhealthy', (i) => i.State.Health?.Status === 'unhealthy')
    await waitFor(crashed.name, 'exited', (i) => i.State.Status === 'exited')
    await waitFor(looping, 'restarting', (i) => i.RestartCount >= 3)

    config({ containers: { kind: 'containers' } }, { failuresBeforeAlert: 1 })
    const run = await monitor(new Clock(Date.now()))
    expect(run.row('docker')).toMatchObject({ status: 'ok', value: expect.stringMatching(/^engine \S+ at /) })
    expect(run.row(`containers:${healthy.name}`)).toMatchObject({ status: 'ok', value: expect.stringMatching(/^running, healthy, up /) })
    expect(run.row(`containers:${unhealthy.name}`)).toMatchObject({
      status: 'critical',
      value: expect.stringMatching(/^unhealthy: db connection refused; mem \S+ \S+ of \S+ GiB \((<?[\d.]+)%\)$/),
    })
    expect(run.row(`containers:${crashed.name}`)).toMatchObject({
      status: 'warning',
      value: expect.stringMatching(/^exited .*\(exit 3\)$/),
    })
    expect(run.row(`containers:${stopped.name}`)).toMatchObject({ status: 'ok', value: expect.stringMatching(/^stopped .*\(exit 137\)$/) })
    expect(run.row(`containers:${looping}`)).toMatchObject({
      status: 'critical',
      value: expect.stringMatching(/^restart loop \(\d+ restarts.*last exit 4\)$/),
    })
    expect(run.exitCode).toBe(1)

    // A container removed between two runs: its row goes, closing its alert.
    await getDocker().getContainer(looping).remove({ force: true })
    const second = await monitor(new Clock(Date.now()).advance(1))
    expect(second.report.checks.some((r) => r.id === `containers:${looping}`)).toBe(false)
    expect(second.report.transitions.filter((t) => t.id === `containers:${looping}`).map((t) => t.type)).toEqual(['gone'])
    expect(second.row(`containers:${unhealthy.name}`)).toMatchObject({ alerting: true })
  })

  it('a crashed container is restarted, notified, and its recovery follows within the grace period', async () => {
    const name = uniqueName('mon-recover')
    // Crashes on its first start, runs on the second (its /tmp survives a restart).
    await runContainer({ name, cmd: ['sh', '-c', 'if [ -f /tmp/crashed ]; then exec sleep 600; fi; touch /tmp/crashed; exit 3'] })
    await waitFor(name, 'exited', (i) => i.State.Status === 'exited')
    config({ app: { kind: 'container', name, recover: { action: 'restart', after: 1, maxAttempts: 2, within: '1h', grace: '2m' } } })
    const before = hook.requests.length
    const clock = new Clock(Date.now())
    const first = await monitor(clock)
    expect(first.row('app')).toMatchObject({ status: 'critical', message: expect.stringContaining('exited') })
    expect(first.report.transitions).toMatchObject([
      { type: 'action', message: `started container ${name} (attempt 1 of 2 within 1h)`, action: { step: 'restart', ok: true } },
    ])
    await waitFor(name, 'running', (i) => i.State.Running)
    const second = await monitor(clock.advance(1))
    expect(second.row('app').status).toBe('ok')
    expect(second.report.transitions.map((t) => t.type)).toEqual(['recover'])
    expect(hook.requests.slice(before).map((r) => (r.json as { title: string }).title)).toEqual([
      `app action: started container ${name} (attempt 1 of 2 within 1h)`,
      expect.stringMatching(/^app resolved: healthy again after 1m: /),
    ])
  })

  it('a container an administrator stopped is not started, unless alwaysRun says it should always run', async () => {
    const left = await runContainer({ name: uniqueName('mon-admin'), cmd: ['sleep', '600'] })
    const always = await runContainer({ name: uniqueName('mon-always'), cmd: ['sleep', '600'] })
    await Promise.all([getDocker().getContainer(left.name).stop({ t: 0 }), getDocker().getContainer(always.name).stop({ t: 0 })])
    config({
      left: { kind: 'container', name: left.name, recover: { after: 1 } },
      always: { kind: 'container', name: always.name, recover: { after: 1, alwaysRun: true } },
    })
    const clock = new Clock(Date.now())
    const first = await monitor(clock)
    const second = await monitor(clock.advance(3))
    expect(first.row('left')).toMatchObject({ status: 'warning', message: expect.stringContaining('was stopped') })
    expect([...first.report.transitions, ...second.report.transitions].filter((t) => t.id === 'left').map((t) => t.type)).toEqual(['alert'])
    expect((await getDocker().getContainer(left.name).inspect()).State.Running).toBe(false)
    expect(first.report.transitions.filter((t) => t.id === 'always').map((t) => t.type)).toEqual(['action'])
    expect((await getDocker().getContainer(always.name).inspect()).State.Running).toBe(true)
  })

  it('a backup holding the host lock quiets the containers it stops: by name, and by the ownops.stop-during-backup label', async () => {
    const byName = await runContainer({ name: uniqueName('mon-bk-name'), cmd: ['sleep', '600'] })
    const byLabel = await runContainer({
      name: uniqueName('mon-bk-label'),
      cmd: ['sleep', '600'],
      labels: { 'ownops.stop-during-backup': 'world' },
    })
    await Promise.all([getDocker().getContainer(byName.name).stop({ t: 0 }), getDocker().getContainer(byLabel.name).stop({ t: 0 })])
    config(
      { app: { kind: 'container', name: byName.name, recover: { after: 1, alwaysRun: true } }, all: { kind: 'containers' } },
      { failuresBeforeAlert: 1 },
    )
    const lock = await HostLock.acquire({ dir: env.OWNOPS_LOCK_DIR as string, command: 'backup world', stops: ['world', byName.name] })
    try {
      const run = await monitor(new Clock(Date.now()))
      expect(run.row('app')).toMatchObject({ status: 'maintenance', quiet: expect.stringContaining('ownops backup world') })
      expect(run.row(`all:${byLabel.name}`).status).toBe('maintenance')
      expect(run.row(`all:${byName.name}`).status).toBe('maintenance')
      // No alert and no restart (although alwaysRun is set) for what the backup stops.
      expect(run.report.transitions.filter((t) => t.id === 'app' || t.id.endsWith(byName.name) || t.id.endsWith(byLabel.name))).toEqual([])
      expect((await getDocker().getContainer(byName.name).inspect()).State.Running).toBe(false)
    } finally {
      await lock.release()
    }
  })

  it('by label: every container with it is a row; no container with it is a failure', async () => {
    const role = `mon-${Date.now().toString(36)}`
    const a = await runContainer({ name: uniqueName('mon-label-a'), cmd: ['sleep', '600'], labels: { 'ownops-test.role': role } })
    const b = await runContainer({ name: uniqueName('mon-label-b'), cmd: ['sleep', '600'], labels: { 'ownops-test.role': role } })
    config({
      web: { kind: 'container', label: `ownops-test.role=${role}` },
      none: { kind: 'container', label: 'ownops-test.role=nobody-has-this' },
    })
    const run = await monitor(new Clock(Date.now()))
    expect(
      run.report.checks
        .filter((r) => r.check === 'web')
        .map((r) => [r.subject, r.status])
        .sort(),
    ).toEqual(
      [
        [a.name, 'ok'],
        [b.name, 'ok'],
      ].sort(),
    )
    expect(run.row('none')).toMatchObject({ status: 'critical', value: 'no such container' })
  })

  it('zero-config with a reachable engine: the table lists the engine and the containers', async () => {
    const c = await runContainer({ name: uniqueName('mon-zero'), cmd: ['sleep', '600'] })
    const { dir: empty, cleanup: cleanEmpty } = tempDir('ownops-monitor-zero-')
    const result = await runBin(['monitor'], { env: testEnv(empty), cwd: empty }).finally(cleanEmpty)
    expect([0, 1]).toContain(result.code)
    expect(result.stdout).toMatch(/^docker +OK +engine /m)
    expect(result.stdout).toMatch(new RegExp(`^containers ${c.name} +OK +running, up`, 'm'))
    expect(result.stdout).toMatch(/^memory +(OK|WARNING|CRITICAL)/m)
  })
})

describeDocker('monitor recovery of a game server (the stand-in in test/fixtures/game-server.mjs)', () => {
  const FIXTURE = join(import.meta.dirname, '../fixtures')
  let state: string
  let mc: { name: string }
  let rconPort: number
  let gamePort: number
  const password = `rcon-${Math.random().toString(36).slice(2)}`
  const events = () =>
    existsSync(join(state, 'events.log')) ? readFileSync(join(state, 'events.log'), 'utf8').split('\n').filter(Boolean) : []
  const said = () =>
    events().map((e) =>
      e.startsWith('RCON tellraw')
        ? `tellraw ${(JSON.parse(e.slice('RCON tellraw @a '.length)) as Array<{ text: string }>)[1]?.text ?? ''}`
        : e,
    )

  async function freePort(): Promise<number> {
    const server = createServer()
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const port = (server.address() as { port: number }).port
    await new Promise((r) => server.close(r))
    return port
  }

  beforeAll(async () => {
    state = join(dir, 'mc-state')
    mkdirSync(state)
    rconPort = await freePort()
    gamePort = await freePort()
    mc = await runContainer({
      name: uniqueName('mon-mc'),
      cmd: ['node', '/fixture/game-server.mjs'],
      hostUsr: true,
      network: 'host',
      volumes: [`${FIXTURE}:/fixture:ro`, `${state}:/state`],
      env: {
        RCON_PORT: String(rconPort),
        GAME_PORT: String(gamePort),
        RCON_PASSWORD: password,
        STATE_DIR: '/state',
        READY_DELAY_MS: '300',
      },
    })
    for (let i = 0; i < 300 && !events().includes('READY'); i++) await sleep(100)
  }, 120_000)

  function mcConfig(checks: Record<string, unknown>): void {
    writeFileSync(
      configFile,
      JSON.stringify({
        hostname: 'box1',
        notify: { channels: { ops: { url: `json://127.0.0.1:${hook.port}/hook` } } },
        restart: {
          services: {
            mc: { container: mc.name, rcon: { port: rconPort, password }, health: { minecraft: { port: gamePort } }, stopTimeout: '10s' },
          },
        },
        monitor: { builtins: false, failuresBeforeAlert: 1, checks },
      }),
    )
  }

  it('a service in restart.services is recovered the safe way: it waits for the players to leave (ifEmpty), tells them, saves, stops gracefully, waits until healthy', async () => {
    const flag = join(dir, 'mc-healthy')
    writeFileSync(join(state, 'players'), '2')
    writeFileSync(join(state, 'events.log'), '')
    mcConfig({
      world: {
        kind: 'command',
        description: 'Minecraft world answers',
        command: ['test', '-f', flag],
        recover: { container: mc.name, ifEmpty: '30m', grace: '1m' },
      },
    })
    const clock = new Clock(Date.now())
    const first = await monitor(clock)
    expect(first.report.transitions.map((t) => [t.type, t.level])).toEqual([
      ['alert', 'critical'],
      ['action', 'warning'],
    ])
    expect(first.report.transitions[1]?.message).toMatch(
      /^left mc running while 2 players are online: it is restarted once the server is empty, at the latest at /,
    )
    const second = await monitor(clock.advance(5))
    expect(second.report.transitions).toEqual([]) // still waiting, said once
    expect(said()).toEqual(['RCON list', 'tellraw A server restart is pending: it happens as soon as everyone has left', 'RCON list'])

    writeFileSync(join(state, 'players'), '0')
    writeFileSync(join(state, 'events.log'), '')
    const third = await monitor(clock.advance(5))
    expect(said()).toEqual([
      'RCON list',
      'tellraw Server restarting now: automatic recovery',
      'RCON save-all flush',
      'SIGTERM',
      'START',
      'READY',
    ])
    expect(third.report.transitions).toMatchObject([
      {
        type: 'action',
        level: 'warning',
        what: 'Minecraft world answers',
        message: expect.stringMatching(
          /^restarted mc \(.*\) the safe way \(players told, saved, stopped gracefully\): healthy after \S+ of downtime \(attempt 1 of 3 within 1h\)$/,
        ),
      },
    ])
  })

  it("an administrator's docker stop is not a crash: the service's check says so at warning, nothing pages critical, nothing is started", async () => {
    mcConfig({ game: { kind: 'tcp', port: gamePort, recover: { container: mc.name, after: 1 } } })
    writeFileSync(join(state, 'events.log'), '')
    await getDocker().getContainer(mc.name).stop({ t: 10 }) // the stand-in exits 0 on SIGTERM
    const before = hook.requests.length
    const run = await monitor(new Clock(Date.now()))
    expect(run.row('game')).toMatchObject({
      status: 'warning',
      message: expect.stringMatching(new RegExp(`^${mc.name} was stopped by a person just now, not a crash: it is left stopped \\(`)),
    })
    expect(run.report.transitions.map((t) => [t.type, t.level])).toEqual([['alert', 'warning']])
    expect(hook.requests.slice(before).map((r) => (r.json as { level: string }).level)).toEqual(['warning'])
    expect((await getDocker().getContainer(mc.name).inspect()).State.Running).toBe(false)
    expect(events()).toEqual(['SIGTERM'])
    await getDocker().getContainer(mc.name).start()
  })
})
