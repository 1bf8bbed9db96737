/**
 * Restarts against a real Docker engine: a Minecraft stand-in (test/fixtures/game-server.mjs,
 * the host's node in a container, real RCON and Server List Ping on loopback) and a web-app
 * container with a Docker healthcheck. Countdowns are configured in seconds.
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest'
import { BIN, runBin, runCli, tempDir, testEnv } from '../helpers/cli.js'
import {
  cleanupAll,
  containerLogs,
  describeDocker,
  dockerEnv,
  getDocker,
  IMAGE_PATH,
  RUN_LABEL,
  runContainer,
  TEST_IMAGE,
  TEST_LABEL,
  uniqueName,
  type RunningContainer,
} from '../helpers/docker.js'
import { startHttpPeer, type HttpPeer } from '../helpers/http-peer.js'

const FIXTURE = resolve(import.meta.dirname, '../fixtures')

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as { port: number }).port
  await new Promise((r) => server.close(r))
  return port
}

async function startedAt(container: string): Promise<string> {
  return (await getDocker().getContainer(container).inspect()).State.StartedAt
}

async function until(what: string, test: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!(await test())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

interface Notice {
  level: string
  title: string
  body: string
}

describeDocker('restart: a Minecraft server', () => {
  let dir: string
  let done: () => void
  let state: string
  let mc: RunningContainer
  let peer: HttpPeer
  let rconPort: number
  let gamePort: number
  const password = `rcon-${Math.random().toString(36).slice(2)}`
  const events = () => (existsSync(join(state, 'events.log')) ? readFileSync(join(state, 'events.log'), 'utf8').trim().split('\n') : [])
  const notices = (): Notice[] => peer.requests.map((r) => JSON.parse(r.body.toString('utf8')) as Notice)

  beforeAll(async () => {
    ;({ dir, cleanup: done } = tempDir('ownops-restart-mc-'))
    state = join(dir, 'state-mc')
    mkdirSync(state)
    rconPort = await freePort()
    gamePort = await freePort()
    peer = await startHttpPeer()
    mc = await runContainer({
      name: uniqueName('mc'),
      cmd: ['node', '/fixture/game-server.mjs'],
      hostUsr: true,
      network: 'host',
      volumes: [`${FIXTURE}:/fixture:ro`, `${state}:/state`],
      env: {
        RCON_PORT: String(rconPort),
        GAME_PORT: String(gamePort),
        RCON_PASSWORD: password,
        STATE_DIR: '/state',
        READY_DELAY_MS: '1500',
      },
    })
    await until('the stand-in to be ready', () => events().includes('READY'))
    writeFileSync(
      join(dir, 'ownops.yml'),
      [
        'notify:',
        '  channels:',
        `    ops: { url: "json://127.0.0.1:${peer.port}/hook", levels: [info, warning, error, critical] }`,
        'restart:',
        '  services:',
        '    mc:',
        `      container: ${mc.name}`,
        `      rcon: { port: ${rconPort}, password: "${password}" }`,
        `      health: { minecraft: { port: ${gamePort} } }`,
        '      warnAt: [3s, 2s, 1s]',
        '      stopTimeout: 10s',
        '      healthyTimeout: 30s',
        '      ifEmpty: { interval: 1s, maxWait: 60s }',
      ].join('\n'),
    )
  }, 120_000)

  beforeEach(() => {
    writeFileSync(join(state, 'events.log'), '')
    writeFileSync(join(state, 'players'), '0')
    peer.requests.length = 0
  })

  afterAll(async () => {
    await peer?.close()
    await cleanupAll()
    done?.()
  })

  it('--safe --in: the countdown, the save, then the stop, in that order; healthy again; one notice at the start and one at the end', async () => {
    const before = await startedAt(mc.name)
    const r = await runCli(['--json', 'restart', 'mc', '--safe', '--in', '4s', '--reason', 'maintenance'], { env: testEnv(dir), cwd: dir })
    expect(r.code, r.stderr).toBe(0)
    const report = JSON.parse(r.stdout) as { ok: boolean; attempts: number; downtimeMs: number; health: string; saved: string }
    expect(report).toMatchObject({ ok: true, attempts: 1, saved: 'Saved the game' })
    expect(report.health).toMatch(/^0\/20 players, 1\.21\.1$/)
    const seen = events().map((e) =>
      e.replace(/^RCON tellraw @a (.*)$/, (_, json: string) => `tellraw ${(JSON.parse(json) as Array<{ text: string }>)[1]?.text ?? ''}`),
    )
    expect(seen).toEqual([
      'tellraw Server restart in 3 seconds: maintenance',
      'tellraw Server restart in 2 seconds: maintenance',
      'tellraw Server restart in 1 second: maintenance',
      'tellraw Server restarting now: maintenance',
      'RCON save-all flush',
      'SIGTERM',
      'START',
      'READY',
    ])
    expect(await startedAt(mc.name)).not.toBe(before)
    expect(readFileSync(join(state, 'world', 'level.dat'), 'utf8')).toMatch(/^saved /)
    const n = notices()
    expect(n.map((x) => [x.level, x.title])).toEqual([
      ['info', expect.stringMatching(/^restart of mc at \d\d:\d\d/)],
      ['info', 'mc restarted'],
    ])
    expect(n[0]?.body).toMatch(/in 4 seconds\), reason: maintenance$/)
    expect(n[1]?.body).toMatch(/^mc restarted: healthy after \d+(ms|s) of downtime, reason: maintenance$/)
    expect(r.stdout + r.stderr).not.toContain(password)
  }, 90_000)

  it('`ownops restart --in 30m` on the only service, which has safe: true: every warning of the 30 minutes, the save, the restart, healthy (virtual clock)', async () => {
    writeFileSync(
      join(dir, 'game.yml'),
      [
        'notify:',
        '  channels:',
        `    ops: { url: "json://127.0.0.1:${peer.port}/hook", levels: [info, warning, error, critical] }`,
        'restart:',
        '  services:',
        '    mc:',
        `      container: ${mc.name}`,
        `      rcon: { port: ${rconPort}, password: "${password}" }`,
        `      health: { minecraft: { port: ${gamePort} } }`,
        '      safe: true',
      ].join('\n'),
    )
    // The countdown runs on a virtual clock: each wait moves it on at once. The stop, the
    // start and the health wait are real.
    const start = Date.parse('2026-06-15T03:30:00Z')
    let now = start
    const waits: number[] = []
    const clock = () => new Date(now)
    const sleep = async (ms: number, signal: AbortSignal) => {
      signal.throwIfAborted()
      waits.push(ms)
      now += ms
    }
    const before = await startedAt(mc.name)
    const r = await runCli(['restart', '--in', '30m'], {
      env: testEnv(dir, { OWNOPS_CONFIG: join(dir, 'game.yml') }),
      cwd: dir,
      clock,
      sleep,
    })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/^mc restarted: healthy after \d+(ms|s) of downtime\n$/)
    expect(now - start).toBe(30 * 60_000) // the stop came exactly 30 minutes after the start
    const seen = events().map((e) =>
      e.startsWith('RCON tellraw') ? (JSON.parse(e.slice('RCON tellraw @a '.length)) as Array<{ text: string }>)[1]?.text : e,
    )
    expect(seen).toEqual([
      'Server restart in 30 minutes',
      'Server restart in 15 minutes',
      'Server restart in 10 minutes',
      'Server restart in 5 minutes',
      'Server restart in 1 minute',
      'Server restart in 30 seconds',
      'Server restart in 10 seconds',
      'Server restarting now',
      'RCON save-all flush',
      'SIGTERM',
      'START',
      'READY',
    ])
    expect(await startedAt(mc.name)).not.toBe(before)
    expect(notices().map((n) => n.title)).toEqual([expect.stringMatching(/^restart of mc at \d\d:\d\d$/), 'mc restarted'])
  }, 90_000)

  it('--if-empty waits while players are online, says a restart is pending, and goes ahead when the count drops to 0', async () => {
    writeFileSync(join(state, 'players'), '2')
    const running = runCli(['--json', 'restart', 'mc', '--safe', '--if-empty'], { env: testEnv(dir), cwd: dir })
    await until('two player counts', () => events().filter((e) => e === 'RCON list').length >= 2)
    expect(events()).not.toContain('SIGTERM')
    writeFileSync(join(state, 'players'), '0')
    const r = await running
    expect(r.code, r.stderr).toBe(0)
    const seen = events()
    const lists = seen.filter((e) => e === 'RCON list').length
    expect(lists).toBeGreaterThanOrEqual(3)
    const firstSave = seen.indexOf('RCON save-all flush')
    expect(
      seen
        .slice(0, firstSave)
        .filter((e) => e.startsWith('RCON tellraw'))
        .map((e) => (JSON.parse(e.slice('RCON tellraw @a '.length)) as Array<{ text: string }>)[1]?.text),
    ).toEqual(['A server restart is pending: it happens as soon as everyone has left', 'Server restarting now'])
    expect(seen.slice(firstSave)).toEqual(['RCON save-all flush', 'SIGTERM', 'START', 'READY'])
  }, 90_000)

  it('cancelled during the countdown (restart --cancel from another shell): announced, the container keeps running', async () => {
    const before = await startedAt(mc.name)
    const env = testEnv(dir)
    const child = spawn(process.execPath, [BIN, 'restart', 'mc', '--safe', '--in', '30s', '--reason', 'update'], {
      env,
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)))
    // warnAt 3s, 2s, 1s: nothing is announced for the first 27 seconds; the notice says when.
    await until('the start notice', () => peer.requests.length >= 1)
    const list = await runBin(['--json', 'restart', '--list'], { env, cwd: dir })
    expect(
      (JSON.parse(list.stdout) as { pending: Array<{ service: string; phase: string; pid: number; reason: string }> }).pending,
    ).toEqual([expect.objectContaining({ service: 'mc', phase: 'countdown', pid: child.pid, reason: 'update' })])
    const cancel = await runBin(['restart', '--cancel', 'mc'], { env, cwd: dir })
    expect(cancel.code, cancel.stderr).toBe(0)
    expect(await exited).toBe(130)
    expect(
      events().map((e) =>
        e.startsWith('RCON tellraw') ? (JSON.parse(e.slice('RCON tellraw @a '.length)) as Array<{ text: string }>)[1]?.text : e,
      ),
    ).toEqual(['Server restart cancelled'])
    expect(await startedAt(mc.name)).toBe(before)
    expect(notices().map((x) => x.title)).toEqual([expect.stringMatching(/^restart of mc at /), 'restart of mc cancelled'])
    const after = await runBin(['--json', 'restart', '--list'], { env, cwd: dir })
    expect((JSON.parse(after.stdout) as { pending: unknown[] }).pending).toEqual([])
  }, 90_000)

  it('a wrong RCON password: the restart still happens, and its notice says (warning) that nobody was warned and the save failed', async () => {
    writeFileSync(join(dir, 'wrong.yml'), readFileSync(join(dir, 'ownops.yml'), 'utf8').replace(password, 'not-the-password'))
    const r = await runCli(['--json', '-c', join(dir, 'wrong.yml'), 'restart', 'mc', '--safe', '--in', '2s'], {
      env: testEnv(dir),
      cwd: dir,
    })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toMatch(/wrong password/)
    expect(events()).toEqual(['SIGTERM', 'START', 'READY'])
    const report = JSON.parse(r.stdout) as { problems: string[] }
    expect(report.problems).toEqual([
      expect.stringMatching(/^players were not warned 2 of 2 times during the countdown \(2 seconds before: .*wrong password/),
      expect.stringMatching(/^players were not warned: .*wrong password/),
      expect.stringMatching(/^the save before the stop failed \(.*wrong password.*\); the server saved only on its own stop$/),
    ])
    const done = notices().at(-1)
    expect(done).toMatchObject({ level: 'warning', title: 'mc restarted, with 3 problems' })
    expect(done?.body).toMatch(/What went wrong:\n- players were not warned 2 of 2 times[\s\S]*\n- the save before the stop failed/)
    expect(JSON.stringify(notices())).not.toContain('not-the-password')
  }, 90_000)

  it('players as a channel: notify --channel mc-chat puts the message in the game chat over RCON; by level it takes nothing; a wrong password is refused, not retried', async () => {
    const chat = (pw: string) =>
      [
        'notify:',
        '  channels:',
        `    ops: { url: "json://127.0.0.1:${peer.port}/hook" }`,
        `    mc-chat: { url: "rcon://:${pw}@127.0.0.1:${rconPort}" }`,
      ].join('\n')
    writeFileSync(join(dir, 'chat.yml'), chat(password))
    const r = await runCli(['-c', join(dir, 'chat.yml'), 'notify', '--channel', 'mc-chat', 'Server maintenance at 04:00'], {
      env: testEnv(dir),
      cwd: dir,
    })
    expect(r.code, r.stderr).toBe(0)
    const told = events()
      .filter((e) => e.startsWith('RCON tellraw'))
      .map((e) => JSON.parse(e.slice('RCON tellraw @a '.length)) as Array<{ text: string }>)
    expect(told.map((parts) => parts.map((p) => p.text).join(''))).toEqual(['[Server] Server maintenance at 04:00'])
    const byLevel = await runCli(['-c', join(dir, 'chat.yml'), 'notify', '--level', 'critical', 'disk full'], {
      env: testEnv(dir),
      cwd: dir,
    })
    expect(byLevel.code, byLevel.stderr).toBe(0)
    expect(events().filter((e) => e.startsWith('RCON tellraw'))).toHaveLength(1) // the game chat takes nothing by level
    writeFileSync(join(dir, 'chat.yml'), chat('not-the-password'))
    const refused = await runCli(['--json', '-c', join(dir, 'chat.yml'), 'notify', '--channel', 'mc-chat', 'hello'], {
      env: testEnv(dir),
      cwd: dir,
    })
    expect(refused.code).toBe(1)
    expect((JSON.parse(refused.stdout) as { deliveries: Array<{ status: string; attempts: number; error: string }> }).deliveries).toEqual([
      expect.objectContaining({ status: 'failed', attempts: 1, error: expect.stringContaining('wrong password') }),
    ])
    expect(refused.stdout + refused.stderr).not.toContain('not-the-password')
  }, 60_000)

  it('hooks: before and after run with the service, trigger, reason and outcome in their environment; a failed after hook is in the notice and exit 1; a failed before hook stops nothing', async () => {
    const out = join(dir, 'hooks.log')
    writeFileSync(out, '')
    const hook = (phase: string, code: number) =>
      `["sh", "-c", "echo ${phase} $OWNOPS_HOOK $OWNOPS_SERVICE $OWNOPS_CONTAINER $OWNOPS_TRIGGER [$OWNOPS_REASON] $OWNOPS_OUTCOME >> ${out}; echo tunnel refused >&2; exit ${code}"]`
    const base = readFileSync(join(dir, 'ownops.yml'), 'utf8')
    writeFileSync(join(dir, 'hooks.yml'), `${base}\n      hooks: { before: ${hook('B', 0)}, after: ${hook('A', 3)} }\n`)
    const r = await runCli(['--json', '-c', join(dir, 'hooks.yml'), 'restart', 'mc', '--reason', 'update'], { env: testEnv(dir), cwd: dir })
    expect(r.code, r.stderr).toBe(1)
    expect(readFileSync(out, 'utf8').trim().split('\n')).toEqual([
      `B before mc ${mc.name} restart [update]`,
      `A after mc ${mc.name} restart [update] healthy`,
    ])
    expect(events()).toEqual(['SIGTERM', 'START', 'READY'])
    expect((JSON.parse(r.stdout) as { problems: string[] }).problems).toEqual([
      expect.stringMatching(/^the after hook sh -c .* failed: exited 3: tunnel refused$/),
    ])
    expect(notices().at(-1)).toMatchObject({ level: 'warning', title: 'mc restarted, with 1 problem' })

    writeFileSync(out, '')
    writeFileSync(join(state, 'events.log'), '')
    peer.requests.length = 0
    writeFileSync(join(dir, 'hooks.yml'), `${base}\n      hooks: { before: ${hook('B', 2)}, after: ${hook('A', 0)} }\n`)
    const refused = await runCli(['-c', join(dir, 'hooks.yml'), 'restart', 'mc'], { env: testEnv(dir), cwd: dir })
    expect(refused.code).toBe(1)
    expect(refused.stderr).toMatch(/restart of mc not done: the before hook .* failed: exited 2: tunnel refused/)
    expect(events().filter(Boolean)).toEqual([]) // nothing stopped
    expect(readFileSync(out, 'utf8').trim().split('\n')).toEqual([`B before mc ${mc.name} restart [] `.trimEnd()])
    expect(notices().at(-1)).toMatchObject({ level: 'error', title: 'restart of mc not done' })
  }, 90_000)
})

describeDocker('restart: containers with a Docker healthcheck', () => {
  let dir: string
  let done: () => void
  let peer: HttpPeer

  beforeAll(async () => {
    ;({ dir, cleanup: done } = tempDir('ownops-restart-web-'))
    peer = await startHttpPeer()
  })
  afterAll(async () => {
    await peer?.close()
    await cleanupAll()
    done?.()
  })

  it('a web app without any config: stopped, started, and only reported once its healthcheck says healthy; found as a compose service too', async () => {
    const project = `ownops-test-${Math.random().toString(36).slice(2, 8)}`
    const web = await runContainer({
      name: uniqueName('web'),
      labels: { 'com.docker.compose.project': project, 'com.docker.compose.service': 'web' },
      cmd: ['sh', '-c', 'trap "exit 0" TERM; rm -f /tmp/ready; echo booting; (sleep 2; touch /tmp/ready) & while :; do sleep 1; done'],
      healthcheck: { test: ['CMD', 'test', '-f', '/tmp/ready'], intervalMs: 500, retries: 1 },
    })
    await until('healthy', async () => (await getDocker().getContainer(web.name).inspect()).State.Health?.Status === 'healthy')
    const before = await startedAt(web.name)
    writeFileSync(
      join(dir, 'ownops.yml'),
      `notify:\n  channels:\n    ops: { url: "json://127.0.0.1:${peer.port}/hook", levels: [info, warning, error, critical] }\n`,
    )
    const r = await runCli(['--json', 'restart', web.name], { env: testEnv(dir), cwd: dir })
    expect(r.code, r.stderr).toBe(0)
    const info = await getDocker().getContainer(web.name).inspect()
    expect(info.State.StartedAt).not.toBe(before)
    expect(info.State.Health?.Status).toBe('healthy') // reported only once healthy
    expect((JSON.parse(r.stdout) as { health: string; attempts: number }).health).toBe('healthy')
    expect(peer.requests.map((q) => (JSON.parse(q.body.toString('utf8')) as Notice).title)).toEqual([
      `restart of ${web.name} now`,
      `${web.name} restarted`,
    ])

    writeFileSync(join(dir, 'compose.yml'), `restart:\n  services:\n    site:\n      compose: { project: ${project}, service: web }\n`)
    const second = info.State.StartedAt
    const c = await runCli(['--json', '-c', join(dir, 'compose.yml'), 'restart', 'site'], { env: testEnv(dir), cwd: dir })
    expect(c.code, c.stderr).toBe(0)
    expect(JSON.parse(c.stdout)).toMatchObject({ ok: true, service: 'site', container: web.name })
    expect(await startedAt(web.name)).not.toBe(second)
  }, 60_000)

  it('never healthy: a second start, then a critical alert with the log tail, exit 1', async () => {
    const sick = await runContainer({
      name: uniqueName('sick'),
      cmd: [
        'sh',
        '-c',
        'trap "exit 0" TERM; echo "booting at $(date +%s%N)"; echo "ERROR: cannot open /data/config.toml"; while :; do sleep 1; done',
      ],
      healthcheck: { test: ['CMD', 'false'], intervalMs: 500, retries: 1 },
    })
    writeFileSync(
      join(dir, 'sick.yml'),
      `notify:\n  channels:\n    ops: { url: "json://127.0.0.1:${peer.port}/hook", levels: [info, warning, error, critical] }\nrestart:\n  services:\n    api:\n      container: ${sick.name}\n      healthyTimeout: 3s\n      stopTimeout: 5s\n`,
    )
    peer.requests.length = 0
    const r = await runCli(['-c', join(dir, 'sick.yml'), 'restart', 'api'], { env: testEnv(dir), cwd: dir })
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/api did not come up healthy after 2 starts: unhealthy|starting/)
    const logs = await containerLogs(sick.name)
    expect(logs.match(/booting at/g)).toHaveLength(3) // the first start, the restart, one more start
    const alert = peer.requests.map((q) => JSON.parse(q.body.toString('utf8')) as Notice).find((x) => x.level === 'critical')
    expect(alert?.title).toBe('restart of api failed')
    expect(alert?.body).toMatch(/last 50 lines of .*'s log:\n[\s\S]*ERROR: cannot open \/data\/config\.toml/)
    expect(alert?.body.match(/booting at/g)?.length).toBe(3)
  }, 60_000)
})

describeDocker('restart --pull: a newer image of the same tag from a registry on 127.0.0.1 (docker-registry)', () => {
  let dir: string
  let done: () => void
  let registry: ReturnType<typeof spawn> | undefined
  let port: number
  const images: string[] = []
  const containers: string[] = []
  const repo = () => `127.0.0.1:${port}/ownops-test/app-${dockerEnv.runId.toLowerCase().replace(/[^a-z0-9]/g, '')}`

  /** An image whose command writes its version to /version and then runs until SIGTERM. */
  async function build(version: string, run = 'trap "exit 0" TERM; while :; do sleep 1; done'): Promise<string> {
    const docker = getDocker()
    const name = uniqueName(`img-${version}`)
    const c = await docker.createContainer({
      name,
      Image: TEST_IMAGE,
      Cmd: ['sh', '-c', `echo ${version} > /version; ${run}`],
      Env: [`PATH=${IMAGE_PATH}`],
      Labels: { [TEST_LABEL]: '1', [RUN_LABEL]: dockerEnv.runId },
      HostConfig: { NetworkMode: 'none' },
    })
    const image = (await c.commit({ repo: repo(), tag: version })) as { Id: string }
    await c.remove({ force: true })
    images.push(image.Id)
    return image.Id
  }

  async function push(id: string): Promise<void> {
    const docker = getDocker()
    await docker.getImage(id).tag({ repo: repo(), tag: '1' })
    const stream = await docker.getImage(`${repo()}:1`).push({ authconfig: { serveraddress: `127.0.0.1:${port}` } })
    await new Promise<void>((resolve, reject) =>
      docker.modem.followProgress(stream, (error: Error | null, out: Array<{ error?: string }>) =>
        error ? reject(error) : out.some((o) => o.error) ? reject(new Error(JSON.stringify(out.filter((o) => o.error)))) : resolve(),
      ),
    )
  }

  const version = async (name: string) => {
    const exec = await getDocker()
      .getContainer(name)
      .exec({ Cmd: ['cat', '/version'], AttachStdout: true, AttachStderr: true })
    const stream = (await exec.start({ hijack: true, stdin: false })) as NodeJS.ReadableStream
    const chunks: Buffer[] = []
    for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk)
    return Buffer.concat(chunks).subarray(8).toString('utf8').trim()
  }

  beforeAll(async () => {
    ;({ dir, cleanup: done } = tempDir('ownops-restart-pull-'))
    port = await freePort()
    writeFileSync(
      join(dir, 'registry.yml'),
      [
        'version: 0.1',
        'log: { level: error }',
        'storage:',
        `  filesystem: { rootdirectory: ${join(dir, 'registry')} }`,
        'http:',
        `  addr: 127.0.0.1:${port}`,
      ].join('\n'),
    )
    registry = spawn('docker-registry', ['serve', join(dir, 'registry.yml')], { stdio: 'ignore' })
    await until(
      'the registry',
      async () =>
        (await fetch(`http://127.0.0.1:${port}/v2/`).then(
          (r) => r.status,
          () => 0,
        )) === 200,
    )
  }, 60_000)
  afterAll(async () => {
    for (const c of containers)
      await getDocker()
        .getContainer(c)
        .remove({ force: true })
        .catch(() => undefined)
    for (const id of images.reverse())
      await getDocker()
        .getImage(id)
        .remove({ force: true })
        .catch(() => undefined)
    registry?.kill('SIGTERM')
    done?.()
  })

  it('pulls before the stop and starts the newer image under the same name; a newer image that does not come up is rolled back', async () => {
    const docker = getDocker()
    const v1 = await build('v1')
    await push(v1)
    const name = uniqueName('pull-app')
    const c = await docker.createContainer({
      name,
      Image: `${repo()}:1`,
      Env: [`PATH=${IMAGE_PATH}`, 'APP_MODE=prod'],
      Labels: { [TEST_LABEL]: '1', [RUN_LABEL]: dockerEnv.runId },
      Healthcheck: { Test: ['CMD', 'test', '-e', '/version'], Interval: 300_000_000, Retries: 1 },
      HostConfig: { NetworkMode: 'none' },
    })
    containers.push(name)
    await c.start()
    await until('v1 to run', async () => (await version(name).catch(() => '')) === 'v1')
    // The registry gets v2 under the same tag; here the tag stays on v1 until the pull.
    const v2 = await build('v2')
    await push(v2)
    await docker.getImage(v1).tag({ repo: repo(), tag: '1' })
    writeFileSync(join(dir, 'ownops.yml'), `restart:\n  services:\n    app: { container: ${name}, stopTimeout: 5s, healthyTimeout: 4s }\n`)

    const r = await runCli(['--json', 'restart', 'app', '--pull'], { env: testEnv(dir), cwd: dir })
    expect(r.code, r.stderr).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, image: { ref: `${repo()}:1`, updated: true }, problems: [] })
    const info = await docker.getContainer(name).inspect()
    expect(info.Image).toBe(v2)
    expect(info.Config.Env).toContain('APP_MODE=prod') // its own settings stay
    expect(await version(name)).toBe('v2')
    expect(
      await docker
        .getContainer(`${name}-ownops-previous`)
        .inspect()
        .catch(() => undefined),
    ).toBeUndefined()

    // v3 exits at once: not healthy → the container as it was (v2) is put back.
    const v3 = await build('v3', 'exit 1')
    await push(v3)
    await docker.getImage(v2).tag({ repo: repo(), tag: '1' })
    const bad = await runCli(['--json', 'restart', 'app', '--pull'], { env: testEnv(dir), cwd: dir })
    expect(bad.code).toBe(0) // healthy again, on the previous image
    const report = JSON.parse(bad.stdout) as { image: unknown; problems: string[] }
    expect(report.image, bad.stdout + bad.stderr.slice(-2000)).toMatchObject({ updated: false, rolledBack: true })
    expect(report.problems).toEqual([
      expect.stringMatching(
        /^the new image of .* did not come up healthy \(not running \(exited, exit 1\)\): rolled back to the previous container and image$/,
      ),
    ])
    expect((await docker.getContainer(name).inspect()).Config.Healthcheck?.Test).toEqual(['CMD', 'test', '-e', '/version'])
    expect((await docker.getContainer(name).inspect()).Image).toBe(v2)
    expect(await version(name)).toBe('v2')

    // Up to date: nothing pulled changes, a plain restart.
    const same = await runCli(['--json', 'restart', 'app', '--pull'], { env: testEnv(dir), cwd: dir })
    expect(JSON.parse(same.stdout)).toMatchObject({ ok: true, image: { updated: false } })
  }, 120_000)
})
