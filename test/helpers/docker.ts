/**
 * Helpers for Docker-backed tests (project "docker" in vitest.config.ts).
 *
 *   import { afterAll, expect, it } from 'vitest';
 *   import { cleanupAll, describeDocker, runContainer } from './helpers/docker.js';
 *
 *   describeDocker('backups', () => {
 *     afterAll(cleanupAll);
 *     it('...', async () => { const c = await runContainer({ cmd: ['sleep', '60'] }); ... });
 *   });
 *
 * Everything created here is named `ownops-test-*` and labelled `ownops-test=1` plus
 * `ownops-test.run=<run id>`, so `scripts/test-env.sh down` and the global teardown can
 * always find leftovers.
 */
import { randomBytes } from 'node:crypto'
import { existsSync, readdirSync } from 'node:fs'
import { PassThrough } from 'node:stream'
import Docker from 'dockerode'
import type { ContainerCreateOptions, HealthConfig } from 'dockerode'
import { describe, inject, it } from 'vitest'
import type { DockerProvided } from '../global-setup.js'

export type { DockerProvided } from '../global-setup.js'

export const TEST_IMAGE = 'ownops-test/busybox:1'
export const NAME_PREFIX = 'ownops-test-'
export const TEST_LABEL = 'ownops-test'
export const RUN_LABEL = 'ownops-test.run'
/** PATH inside TEST_IMAGE (busybox applets live in /bin so they survive a /usr bind mount). */
export const IMAGE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

// ---------------------------------------------------------------------------
// Engine state / test gating
// ---------------------------------------------------------------------------

function envRequired(): boolean {
  return process.env.CI === 'true' || process.env.OWNOPS_REQUIRE_DOCKER === '1'
}

function readProvided(): DockerProvided {
  let provided: DockerProvided | undefined
  try {
    provided = inject('docker')
  } catch {
    provided = undefined // not inside a vitest worker
  }
  return (
    provided ?? {
      ok: false,
      reason: 'test/global-setup.ts did not run for this project',
      required: envRequired(),
      runId: `p${process.pid.toString(36)}`,
    }
  )
}

/** The engine state decided once by test/global-setup.ts (`inject('docker')`). */
export const dockerEnv: DockerProvided = readProvided()

/** `describe` minus `skipIf`/`runIf`: what `describe.skip` offers (`.each`, `.concurrent`, `.sequential`, ...). */
export type DockerDescribe = typeof describe.skip

function failingDescribe(reason: string): DockerDescribe {
  const message =
    `[ownops tests] Docker-backed tests cannot run: ${reason.replace(/\.+$/, '')}. ` +
    'CI=true / OWNOPS_REQUIRE_DOCKER=1 makes a working Docker engine mandatory.'
  return new Proxy(describe, {
    apply(_target, _this, args: unknown[]) {
      const name = typeof args[0] === 'string' ? args[0] : String(args[0])
      describe(name, () => {
        it('needs a Docker engine', () => {
          throw new Error(message)
        })
      })
    },
  })
}

function pickDescribe(): DockerDescribe {
  if (dockerEnv.ok) return describe
  if (dockerEnv.required) return failingDescribe(dockerEnv.reason)
  if (dockerEnv.reason === 'test/global-setup.ts did not run for this project') {
    // The global setup normally prints this line once per run.
    console.warn(`[ownops tests] Docker-backed tests skipped: ${dockerEnv.reason} (set OWNOPS_REQUIRE_DOCKER=1 to make this an error)`)
  }
  return describe.skip
}

/**
 * `describe` when the engine answered in the global setup, `describe.skip` otherwise;
 * when Docker is required (CI=true / OWNOPS_REQUIRE_DOCKER=1) and missing, each suite
 * becomes one failing test carrying the reason.
 */
export const describeDocker: DockerDescribe = pickDescribe()

let client: Docker | undefined
/** Shared dockerode client (honours DOCKER_HOST: unix://, tcp://, npipe://). */
export function getDocker(): Docker {
  client ??= new Docker()
  return client
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e)
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms)
  })
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer))
}

/** Ping the engine (DOCKER_HOST honoured). Never throws. */
export async function dockerState(): Promise<{ ok: true; version: string } | { ok: false; reason: string }> {
  const where = process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock'
  let docker: Docker
  try {
    docker = getDocker()
  } catch (e) {
    return { ok: false, reason: `cannot create a Docker client: ${errorMessage(e)}` }
  }
  try {
    await withTimeout(docker.ping(), 5_000, `ping ${where}`)
    const v = await withTimeout(docker.version(), 5_000, `version ${where}`)
    return { ok: true, version: v.Version }
  } catch (e) {
    return { ok: false, reason: `Docker engine at ${where} does not answer: ${errorMessage(e)}` }
  }
}

// ---------------------------------------------------------------------------
// Names, labels, bookkeeping
// ---------------------------------------------------------------------------

/** `ownops-test-<prefix>-<pid>-<random>`: lowercase and valid as a container/volume name. */
export function uniqueName(prefix: string): string {
  const clean =
    prefix
      .toLowerCase()
      .replace(/[^a-z0-9_.-]+/g, '-')
      .replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '') || 'x'
  return `${NAME_PREFIX}${clean}-${process.pid}-${randomBytes(4).toString('hex')}`
}

function ourLabels(extra?: Record<string, string>): Record<string, string> {
  return { ...extra, [TEST_LABEL]: '1', [RUN_LABEL]: dockerEnv.runId }
}

function assertOurName(kind: string, name: string): void {
  if (!name.startsWith(NAME_PREFIX)) {
    throw new Error(`test ${kind} name "${name}" must start with "${NAME_PREFIX}" (use uniqueName())`)
  }
}

const created = { containers: new Set<string>(), volumes: new Set<string>() }

function isNotFound(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { statusCode?: unknown }).statusCode === 404
}

async function removeContainer(name: string): Promise<void> {
  try {
    await getDocker().getContainer(name).remove({ force: true, v: true })
  } catch (e) {
    if (!isNotFound(e)) throw e
  }
  created.containers.delete(name)
}

async function removeVolume(name: string): Promise<void> {
  // A volume can stay "in use" for a moment after its container is gone.
  for (let attempt = 0; ; attempt++) {
    try {
      await getDocker().getVolume(name).remove({ force: true })
      break
    } catch (e) {
      if (isNotFound(e)) break
      if (attempt >= 10) throw e
      await sleep(200)
    }
  }
  created.volumes.delete(name)
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}

/** Create a labelled named volume (name defaults to uniqueName('vol')). */
export async function createVolume(name: string = uniqueName('vol')): Promise<{ name: string; remove(): Promise<void> }> {
  assertOurName('volume', name)
  await getDocker().createVolume({ Name: name, Labels: ourLabels() })
  created.volumes.add(name)
  return { name, remove: () => removeVolume(name) }
}

async function ensureVolume(name: string): Promise<void> {
  try {
    await getDocker().getVolume(name).inspect()
  } catch (e) {
    if (!isNotFound(e)) throw e
    await createVolume(name)
  }
}

/** Remove every container and volume this process created (containers first). */
export async function cleanupAll(): Promise<void> {
  const errors: string[] = []
  await Promise.all([...created.containers].map((n) => removeContainer(n).catch((e: unknown) => errors.push(`${n}: ${errorMessage(e)}`))))
  await Promise.all([...created.volumes].map((n) => removeVolume(n).catch((e: unknown) => errors.push(`${n}: ${errorMessage(e)}`))))
  if (errors.length) throw new Error(`cleanupAll could not remove: ${errors.join('; ')}`)
}

// ---------------------------------------------------------------------------
// Containers
// ---------------------------------------------------------------------------

export interface HealthcheckOptions {
  /** e.g. ['CMD', 'pg_isready'] or ['CMD-SHELL', 'test -f /tmp/ready'] */
  test: string[]
  intervalMs?: number
  timeoutMs?: number
  retries?: number
  startPeriodMs?: number
}

export interface RunContainerOptions {
  /** Must start with `ownops-test-`; defaults to uniqueName('c'). */
  name?: string
  cmd: string[]
  /** "volume:/path[:ro]" (created, labelled, if missing) or "/host/path:/path[:ro]". */
  volumes?: string[]
  env?: Record<string, string>
  /** Default 'none'. Bridge networks are never used by the tests. */
  network?: 'none' | 'host'
  /** Bind the host's /usr, /lib, /lib64 read-only (to run host binaries such as PostgreSQL). */
  hostUsr?: boolean
  healthcheck?: HealthcheckOptions
  labels?: Record<string, string>
  /** "name", "uid" or "uid:gid" */
  user?: string
  /** The container's own stop grace (`docker run --stop-timeout`, compose's stop_grace_period). */
  stopTimeoutSec?: number
}

export interface RunningContainer {
  id: string
  name: string
  remove(): Promise<void>
}

const MS = 1_000_000 // Docker durations are nanoseconds

function toHealthConfig(h: HealthcheckOptions): HealthConfig {
  const cfg: HealthConfig = { Test: h.test }
  if (h.intervalMs !== undefined) cfg.Interval = h.intervalMs * MS
  if (h.timeoutMs !== undefined) cfg.Timeout = h.timeoutMs * MS
  if (h.retries !== undefined) cfg.Retries = h.retries
  if (h.startPeriodMs !== undefined) cfg.StartPeriod = h.startPeriodMs * MS
  return cfg
}

/** Binds for the host's /usr, /lib, /lib64 (those that exist), read-only. */
export function hostUsrBinds(): string[] {
  return ['/usr', '/lib', '/lib64'].filter((p) => existsSync(p)).map((p) => `${p}:${p}:ro`)
}

/** Create and start a container from TEST_IMAGE; registered for cleanupAll(). */
export async function runContainer(opts: RunContainerOptions): Promise<RunningContainer> {
  const name = opts.name ?? uniqueName('c')
  assertOurName('container', name)
  const docker = getDocker()

  const binds: string[] = []
  for (const spec of opts.volumes ?? []) {
    const source = spec.split(':')[0] ?? ''
    if (!source || spec.split(':').length < 2) throw new Error(`bad volume spec "${spec}" (want "src:/path[:ro]")`)
    if (!source.startsWith('/')) await ensureVolume(source)
    binds.push(spec)
  }
  if (opts.hostUsr) binds.push(...hostUsrBinds())

  const env: Record<string, string> = { PATH: IMAGE_PATH, ...opts.env }
  const create: ContainerCreateOptions = {
    name,
    Image: TEST_IMAGE,
    Cmd: opts.cmd,
    Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
    Labels: ourLabels(opts.labels),
    HostConfig: { NetworkMode: opts.network ?? 'none', Binds: binds },
  }
  if (opts.user !== undefined) create.User = opts.user
  if (opts.healthcheck) create.Healthcheck = toHealthConfig(opts.healthcheck)
  if (opts.stopTimeoutSec !== undefined) create.StopTimeout = opts.stopTimeoutSec

  let container: Docker.Container
  try {
    container = await docker.createContainer(create)
  } catch (e) {
    if (isNotFound(e)) {
      throw new Error(`image ${TEST_IMAGE} not found: run \`bash scripts/test-env.sh up\` (${errorMessage(e)})`, { cause: e })
    }
    throw e
  }
  created.containers.add(name)
  try {
    await container.start()
  } catch (e) {
    await removeContainer(name).catch(() => undefined)
    throw new Error(`starting container ${name} failed: ${errorMessage(e)}`, { cause: e })
  }
  return { id: container.id, name, remove: () => removeContainer(name) }
}

/** Split Docker's multiplexed (non-TTY) stream format into stdout/stderr, keeping order in `all`. */
function demux(buf: Buffer): { stdout: Buffer; stderr: Buffer; all: Buffer } {
  const out: Buffer[] = []
  const err: Buffer[] = []
  const all: Buffer[] = []
  let i = 0
  while (i + 8 <= buf.length) {
    const type = buf[i]
    const size = buf.readUInt32BE(i + 4)
    const chunk = buf.subarray(i + 8, i + 8 + size)
    ;(type === 2 ? err : out).push(chunk)
    all.push(chunk)
    i += 8 + size
  }
  return { stdout: Buffer.concat(out), stderr: Buffer.concat(err), all: Buffer.concat(all) }
}

/** stdout+stderr of a container (non-TTY), as text. */
export async function containerLogs(nameOrId: string, opts: { tail?: number } = {}): Promise<string> {
  const buf = await getDocker()
    .getContainer(nameOrId)
    .logs({ stdout: true, stderr: true, follow: false, ...(opts.tail !== undefined ? { tail: opts.tail } : {}) })
  return demux(Buffer.isBuffer(buf) ? buf : Buffer.from(buf)).all.toString('utf8')
}

/** Wait for a container to exit; returns its exit code. */
export async function waitForExit(nameOrId: string, timeoutMs = 30_000): Promise<number> {
  const res = (await withTimeout(getDocker().getContainer(nameOrId).wait(), timeoutMs, `waiting for ${nameOrId}`)) as {
    StatusCode: number
  }
  return res.StatusCode
}

export interface ExecResult {
  exitCode: number
  /** stdout as UTF-8 text */
  stdout: string
  stderr: string
  /** raw stdout bytes (binary output such as `pg_dump -Fc`) */
  stdoutBuffer: Buffer
}

/** `docker exec` without a TTY; collects output and the exit code. */
export async function exec(
  nameOrId: string,
  cmd: string[],
  opts: { user?: string; env?: Record<string, string>; workdir?: string; timeoutMs?: number } = {},
): Promise<ExecResult> {
  const container = getDocker().getContainer(nameOrId)
  const execOpts: Docker.ExecCreateOptions = { Cmd: cmd, AttachStdout: true, AttachStderr: true, Tty: false }
  if (opts.user !== undefined) execOpts.User = opts.user
  if (opts.env) execOpts.Env = Object.entries(opts.env).map(([k, v]) => `${k}=${v}`)
  if (opts.workdir !== undefined) execOpts.WorkingDir = opts.workdir
  const ex = await container.exec(execOpts)

  const run = async (): Promise<ExecResult> => {
    const stream = await ex.start({ hijack: true, stdin: false })
    const out: Buffer[] = []
    const err: Buffer[] = []
    const so = new PassThrough()
    const se = new PassThrough()
    so.on('data', (c: Buffer) => out.push(c))
    se.on('data', (c: Buffer) => err.push(c))
    await new Promise<void>((resolve, reject) => {
      stream.on('end', resolve)
      stream.on('close', resolve)
      stream.on('error', reject)
      getDocker().modem.demuxStream(stream, so, se)
    })
    // The stream can end a moment before the engine records the exit code.
    let info = await ex.inspect()
    for (let i = 0; info.Running && i < 100; i++) {
      await sleep(20)
      info = await ex.inspect()
    }
    const stdoutBuffer = Buffer.concat(out)
    return {
      exitCode: info.ExitCode ?? -1,
      stdout: stdoutBuffer.toString('utf8'),
      stderr: Buffer.concat(err).toString('utf8'),
      stdoutBuffer,
    }
  }
  return withTimeout(run(), opts.timeoutMs ?? 60_000, `exec ${cmd.join(' ')} in ${nameOrId}`)
}

/** Like exec() but throws (with stderr) on a non-zero exit code; returns stdout text. */
export async function execOk(nameOrId: string, cmd: string[], opts: Parameters<typeof exec>[2] = {}): Promise<string> {
  const r = await exec(nameOrId, cmd, opts)
  if (r.exitCode !== 0) {
    throw new Error(`\`${cmd.join(' ')}\` in ${nameOrId} exited ${r.exitCode}: ${r.stderr.trim() || r.stdout.trim()}`)
  }
  return r.stdout
}

// ---------------------------------------------------------------------------
// PostgreSQL
// ---------------------------------------------------------------------------

export const PG_DATA_DIR = '/var/lib/postgresql/data'
export const PG_SOCKET_DIR = '/var/run/postgresql'

/** Major version of the host's PostgreSQL (OWNOPS_TEST_PG_VERSION overrides). */
export function hostPostgresVersion(): string {
  const forced = process.env.OWNOPS_TEST_PG_VERSION
  if (forced) return forced
  let versions: string[]
  try {
    versions = readdirSync('/usr/lib/postgresql').filter((v) => /^\d+$/.test(v) && existsSync(`/usr/lib/postgresql/${v}/bin/postgres`))
  } catch {
    versions = []
  }
  versions.sort((a, b) => Number(b) - Number(a))
  const v = versions[0]
  if (!v) {
    throw new Error(
      'no PostgreSQL server on the host (/usr/lib/postgresql/<major>/bin/postgres); ' +
        'Debian: apt-get install postgresql-15 (the test container runs the host binaries)',
    )
  }
  return v
}

export interface PostgresContainer {
  /** container name (usable with `docker exec`) */
  container: string
  id: string
  /** named volume holding PGDATA */
  volume: string
  user: 'postgres'
  pgVersion: string
  dataDir: typeof PG_DATA_DIR
  socketDir: typeof PG_SOCKET_DIR
  /** removes the container, and the volume if startPostgres created it */
  remove(): Promise<void>
}

/**
 * A real PostgreSQL server (the host's binaries) in a TEST_IMAGE container:
 * network none, PGDATA on a named volume, listening only on the unix socket in
 * /var/run/postgresql, trust auth for user postgres. Resolves once pg_isready answers.
 */
export async function startPostgres(
  opts: {
    name?: string
    volume?: string
    timeoutMs?: number
    /** A host directory (mode 0777) where the server also puts its socket, for host clients (`url: postgresql:///db?host=DIR`). */
    hostSocketDir?: string
  } = {},
): Promise<PostgresContainer> {
  const pgVersion = hostPostgresVersion()
  const name = opts.name ?? uniqueName('pg')
  assertOurName('container', name)
  const volume = opts.volume ?? `${name}-data`
  assertOurName('volume', volume)
  const timeoutMs = opts.timeoutMs ?? 60_000

  let ownVolume = false
  try {
    await getDocker().getVolume(volume).inspect()
  } catch (e) {
    if (!isNotFound(e)) throw e
    await createVolume(volume)
    ownVolume = true
  }

  // The image's /var/lib/postgresql/data is owned by postgres (uid 999) with mode 0700,
  // so a fresh named volume mounted there inherits that ownership.
  const script = [
    'set -e',
    `if [ ! -s "$PGDATA/PG_VERSION" ]; then initdb -D "$PGDATA" --auth=trust -U postgres -E UTF8 --locale=C --no-sync; fi`,
    `exec postgres -D "$PGDATA" -k ${opts.hostSocketDir ? `${PG_SOCKET_DIR},/ownops-host-socket` : PG_SOCKET_DIR} -c listen_addresses='' -c fsync=off`,
  ].join('\n')

  const c = await runContainer({
    name,
    cmd: ['sh', '-c', script],
    volumes: [`${volume}:${PG_DATA_DIR}`, ...(opts.hostSocketDir ? [`${opts.hostSocketDir}:/ownops-host-socket`] : [])],
    env: {
      PATH: `/usr/lib/postgresql/${pgVersion}/bin:${IMAGE_PATH}`,
      PGDATA: PG_DATA_DIR,
      PGHOST: PG_SOCKET_DIR,
      PGUSER: 'postgres',
      TZ: 'UTC',
    },
    network: 'none',
    hostUsr: true,
    user: 'postgres',
    labels: { 'ownops-test.role': 'postgres' },
  })

  const remove = async (): Promise<void> => {
    await c.remove()
    if (ownVolume) await removeVolume(volume)
  }

  const deadline = Date.now() + timeoutMs
  const fail = async (why: string): Promise<never> => {
    const tail = await containerLogs(name, { tail: 40 }).catch((e: unknown) => `(logs unavailable: ${errorMessage(e)})`)
    await remove().catch(() => undefined)
    throw new Error(`PostgreSQL in ${name} ${why}; last log lines:\n${tail}`)
  }
  for (;;) {
    const info = await getDocker().getContainer(name).inspect()
    if (!info.State.Running) await fail(`exited with code ${info.State.ExitCode}`)
    const r = await exec(name, ['pg_isready', '-q', '-h', PG_SOCKET_DIR, '-U', 'postgres'], { timeoutMs: 10_000 }).catch(() => undefined)
    if (r?.exitCode === 0) break
    if (Date.now() > deadline) await fail(`did not become ready within ${timeoutMs} ms`)
    await sleep(200)
  }

  return {
    container: name,
    id: c.id,
    volume,
    user: 'postgres',
    pgVersion,
    dataDir: PG_DATA_DIR,
    socketDir: PG_SOCKET_DIR,
    remove,
  }
}

// ---------------------------------------------------------------------------
// MariaDB
// ---------------------------------------------------------------------------

export interface MariadbContainer {
  container: string
  volume: string
  /** root's password, also in the container's MARIADB_ROOT_PASSWORD (as the official image has it) */
  rootPassword: string
  remove(): Promise<void>
}

/**
 * A real MariaDB server (the host's mariadb-server package) in a TEST_IMAGE container:
 * network none, datadir on a named volume, listening only on /run/mysqld/mysqld.sock,
 * root with a password. Resolves once the server answers.
 */
export async function startMariadb(
  opts: {
    name?: string
    timeoutMs?: number
    /** false: the root password is not in the container's environment */ rootPasswordInEnv?: boolean
  } = {},
): Promise<MariadbContainer> {
  if (!existsSync('/usr/sbin/mariadbd')) {
    throw new Error('MariaDB is not installed on the host (Debian: apt-get install mariadb-server; scripts/test-env.sh install does it)')
  }
  const name = opts.name ?? uniqueName('maria')
  assertOurName('container', name)
  const volume = `${name}-data`
  await createVolume(volume)
  const rootPassword = `pw-${randomBytes(6).toString('hex')}`
  const script = [
    'set -e',
    'mkdir -p /run/mysqld',
    'if [ ! -d /var/lib/mysql/mysql ]; then mariadb-install-db --user=root --datadir=/var/lib/mysql --auth-root-authentication-method=normal --skip-test-db >/tmp/install.log 2>&1; fi',
    'exec mariadbd --user=root --datadir=/var/lib/mysql --skip-networking --socket=/run/mysqld/mysqld.sock --innodb-buffer-pool-size=32M --skip-log-bin',
  ].join('\n')
  const c = await runContainer({
    name,
    cmd: ['sh', '-c', script],
    volumes: [`${volume}:/var/lib/mysql`, '/etc/mysql:/etc/mysql:ro'],
    env: { [opts.rootPasswordInEnv === false ? 'TEST_ROOT_PASSWORD' : 'MARIADB_ROOT_PASSWORD']: rootPassword, TZ: 'UTC' },
    network: 'none',
    hostUsr: true,
    labels: { 'ownops-test.role': 'mariadb' },
  })
  const remove = async (): Promise<void> => {
    await c.remove()
    await removeVolume(volume)
  }
  const deadline = Date.now() + (opts.timeoutMs ?? 90_000)
  for (;;) {
    const info = await getDocker().getContainer(name).inspect()
    if (!info.State.Running) {
      const tail = await containerLogs(name, { tail: 40 }).catch(() => '')
      await remove().catch(() => undefined)
      throw new Error(`MariaDB in ${name} exited with code ${info.State.ExitCode}:\n${tail}`)
    }
    const r = await exec(name, ['mariadb', '-uroot', '-e', 'select 1'], { timeoutMs: 10_000 }).catch(() => undefined)
    if (r?.exitCode === 0) break
    if (Date.now() > deadline) {
      await remove().catch(() => undefined)
      throw new Error(`MariaDB in ${name} did not become ready`)
    }
    await sleep(300)
  }
  await execOk(name, ['mariadb', '-uroot', '-e', `ALTER USER root@localhost IDENTIFIED BY '${rootPassword}'; FLUSH PRIVILEGES;`])
  return { container: name, volume, rootPassword, remove }
}
