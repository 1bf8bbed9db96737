/**
 * `DOCKER_HOST=ssh://user@host:port` against a real OpenSSH server: the host's sshd on a
 * loopback port with its own config, host key and a key made for the test, reaching the
 * local engine through `docker system dial-stdio`. ownops runs as a user who may not use
 * /var/run/docker.sock, so everything it does goes through SSH: monitor (containers and their
 * stats), a PostgreSQL backup (the exec API streamed over SSH), a restart, and the clear
 * refusals — a volume target needs the engine's disk, an unknown host key is not accepted.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { tempDir } from '../helpers/cli.js'
import {
  cleanupAll,
  describeDocker,
  getDocker,
  runContainer,
  startPostgres,
  uniqueName,
  type PostgresContainer,
} from '../helpers/docker.js'
import { createUser, ownopsAs, type TestUser } from '../helpers/users.js'

let dir: string
let cleanup: () => void
let sshd: ChildProcess | undefined
let port: number
let user: TestUser | undefined

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer()
    server.listen(0, '127.0.0.1', () => {
      const p = (server.address() as { port: number }).port
      server.close(() => resolve(p))
    })
  })
}

function keygen(file: string): void {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'ownops-test', '-f', file])
}

beforeAll(async () => {
  ;({ dir, cleanup } = tempDir('ownops-ssh-'))
  chmodSync(dir, 0o755) // the test user's home is inside
  if (!existsSync('/run/sshd')) mkdirSync('/run/sshd', { mode: 0o755 }) // sshd's privilege separation directory
  const server = join(dir, 'sshd')
  mkdirSync(server, { mode: 0o700 })
  keygen(join(server, 'host_ed25519'))
  port = await freePort()
  user = createUser(dir)
  const ssh = join(user.home, '.ssh')
  mkdirSync(ssh, { mode: 0o700 })
  keygen(join(ssh, 'id_ed25519'))
  writeFileSync(join(server, 'authorized_keys'), readFileSync(join(ssh, 'id_ed25519.pub')))
  writeFileSync(
    join(ssh, 'known_hosts'),
    `[127.0.0.1]:${port} ${readFileSync(join(server, 'host_ed25519.pub'), 'utf8').split(' ').slice(0, 2).join(' ')}\n`,
  )
  for (const f of ['', 'id_ed25519', 'id_ed25519.pub', 'known_hosts']) chownSync(join(ssh, f), user.uid, user.gid)
  writeFileSync(
    join(server, 'sshd_config'),
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${join(server, 'host_ed25519')}`,
      `PidFile ${join(server, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(server, 'authorized_keys')}`,
      'AuthenticationMethods publickey',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin prohibit-password',
      'AllowUsers root',
      'StrictModes no', // the test's files live under /tmp
      'UsePAM no',
      'LogLevel VERBOSE',
      '',
    ].join('\n'),
  )
  sshd = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', join(server, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] })
  let log = ''
  sshd.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString('utf8')))
  for (let i = 0; !log.includes('Server listening'); i++) {
    if (sshd.exitCode !== null || i > 100) throw new Error(`sshd did not start: ${log}`)
    await sleep(100)
  }
})

afterAll(async () => {
  if (sshd?.pid !== undefined && sshd.exitCode === null) sshd.kill('SIGTERM')
  await cleanupAll()
  user?.remove()
  cleanup()
})

function env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const home = (user as TestUser).home
  return {
    PATH: process.env.PATH,
    HOME: home,
    DOCKER_HOST: `ssh://root@127.0.0.1:${port}`,
    OWNOPS_CONFIG: join(home, 'ownops.yml'),
    OWNOPS_STATE_DIR: join(home, 'state'),
    OWNOPS_LOCK_DIR: join(home, 'lock'),
    OWNOPS_LOG_FORMAT: 'json',
    ...extra,
  }
}

function config(value: unknown): void {
  const file = join((user as TestUser).home, 'ownops.yml')
  writeFileSync(file, JSON.stringify(value))
  chownSync(file, (user as TestUser).uid, (user as TestUser).gid)
}

describeDocker('a remote engine over SSH', () => {
  let pg: PostgresContainer

  it('the user cannot use the local socket: without DOCKER_HOST doctor says so', async () => {
    config({})
    const local = await ownopsAs(user as TestUser, ['--json', 'doctor'], { env: env({ DOCKER_HOST: 'unix:///var/run/docker.sock' }) })
    expect(JSON.parse(local.stdout).checks.find((c: { name: string }) => c.name === 'docker')).toMatchObject({
      status: 'fail',
      exitCode: 77,
    })
  })

  it('monitor, backup and restart work through ssh://', async () => {
    // Ends on SIGTERM, as a service does (a bare sleep as PID 1 would make the restart wait out its grace period).
    const app = await runContainer({
      name: uniqueName('ssh-app'),
      cmd: ['sh', '-c', 'trap "exit 0" TERM; while :; do sleep 0.2; done'],
      healthcheck: { test: ['CMD', 'true'], intervalMs: 300, retries: 1 },
    })
    pg = await startPostgres()
    const volume = uniqueName('ssh-vol')
    await getDocker().createVolume({ Name: volume, Labels: { 'ownops-test': '1' } })
    const backups = join((user as TestUser).home, 'backups')
    config({
      backup: {
        dir: backups,
        targets: {
          db: { type: 'postgres', container: pg.container, database: 'postgres', user: 'postgres' },
          files: { type: 'directory', volume },
        },
      },
      monitor: { builtins: false, failuresBeforeAlert: 1, checks: { app: { kind: 'container', name: app.name } } },
    })

    const doctor = await ownopsAs(user as TestUser, ['--json', 'doctor'], { env: env() })
    expect(JSON.parse(doctor.stdout).checks.find((c: { name: string }) => c.name === 'docker')).toMatchObject({
      status: 'ok',
      detail: expect.stringContaining(`at ssh://root@127.0.0.1:${port}`),
    })

    const mon = await ownopsAs(user as TestUser, ['--json', 'monitor'], { env: env() })
    expect(mon.code, mon.stderr).toBe(0)
    const rows = JSON.parse(mon.stdout).checks as Array<{ id: string; status: string; value: string }>
    expect(rows.find((r) => r.id === 'docker')).toMatchObject({
      status: 'ok',
      value: expect.stringMatching(new RegExp(`^engine \\S+ at ssh://root@127\\.0\\.0\\.1:${port}$`)),
    })
    expect(rows.find((r) => r.id === 'app')).toMatchObject({
      status: 'ok',
      value: expect.stringMatching(/^running, healthy, up \S+; mem \S+ \S+ of \S+/),
    })

    // PostgreSQL through the exec API over SSH works; a volume needs the engine's own disk and says so.
    const backup = await ownopsAs(user as TestUser, ['--json', 'backup'], { env: env() })
    const report = JSON.parse(backup.stdout) as { targets: Array<{ target: string; ok: boolean; error?: string }> }
    expect(report.targets.find((t) => t.target === 'db')).toMatchObject({ ok: true })
    expect(report.targets.find((t) => t.target === 'files')).toMatchObject({
      ok: false,
      error: expect.stringContaining(`volume ${volume} is read from the Docker host's disk, but the Docker engine is on another machine`),
    })
    expect(backup.code).toBe(1)
    const dumps = readdirSync(join(backups, 'db')).filter((f) => f.endsWith('.pgdump'))
    expect(dumps).toHaveLength(1)
    expect(
      readFileSync(join(backups, 'db', dumps[0] as string))
        .subarray(0, 5)
        .toString(),
    ).toBe('PGDMP')

    const before = (await getDocker().getContainer(app.name).inspect()).State.StartedAt
    const restart = await ownopsAs(user as TestUser, ['restart', app.name], { env: env() })
    expect(restart.code, restart.stderr).toBe(0)
    const after = await getDocker().getContainer(app.name).inspect()
    expect(after.State.Running).toBe(true)
    expect(after.State.StartedAt).not.toBe(before)
    await getDocker()
      .getVolume(volume)
      .remove()
      .catch(() => undefined)
  })

  it('an unknown host key is refused, with what to do', async () => {
    const home = (user as TestUser).home
    const knownHosts = join(home, '.ssh', 'known_hosts')
    const saved = readFileSync(knownHosts)
    writeFileSync(knownHosts, '')
    try {
      const doctor = await ownopsAs(user as TestUser, ['--json', 'doctor'], { env: env() })
      expect(doctor.code).toBe(69)
      const line = JSON.parse(doctor.stdout).checks.find((c: { name: string }) => c.name === 'docker')
      expect(line.detail).toContain('Host key verification failed')
      expect(line.hint).toContain(`\`ssh -p ${port} root@127.0.0.1 docker version\` must work without a question`)
    } finally {
      writeFileSync(knownHosts, saved)
    }
  })
})
