/**
 * Docker engine access: a thin layer over dockerode that honours config docker.host,
 * $DOCKER_HOST and the default socket, and turns "cannot reach the engine" into one
 * clear error (exit 69, or 77 for a permission problem on docker.sock).
 * dockerode is imported lazily: commands that never talk to Docker do not pay for it.
 */
import type Dockerode from 'dockerode'
import { OwnopsError } from '../errors.js'
import { maskUrlCredentials } from '../redact.js'
import { parseSshUrl, type SshTarget } from './ssh-url.js'

export type Docker = Dockerode

export interface DockerEndpoint {
  /** As the user wrote it, credentials masked (for messages): unix:///var/run/docker.sock, tcp://127.0.0.1:2375 */
  display: string
  options: Dockerode.DockerOptions
  /** ssh://user@host: the API through `ssh host docker system dial-stdio` (see docker-ssh.ts). */
  ssh?: { target: SshTarget; env: NodeJS.ProcessEnv }
}

export function dockerEndpoint(env: NodeJS.ProcessEnv, configured?: string): DockerEndpoint {
  const raw = configured ?? env.DOCKER_HOST ?? 'unix:///var/run/docker.sock'
  if (raw.startsWith('unix://')) return { display: raw, options: { socketPath: raw.slice('unix://'.length) } }
  if (raw.startsWith('/')) return { display: `unix://${raw}`, options: { socketPath: raw } }
  if (raw.startsWith('ssh://')) {
    const target = parseSshUrl(raw)
    if (target === undefined)
      throw new OwnopsError(`unsupported Docker endpoint: ${maskUrlCredentials(raw)}`, {
        kind: 'config',
        hint: 'use ssh://user@host or ssh://user@host:port (keys and passwords belong in ~/.ssh or the ssh-agent, not in the URL)',
      })
    return { display: raw, options: { protocol: 'http', host: 'docker', port: 80 }, ssh: { target, env } }
  }
  const match = /^(tcp|http|https):\/\/([^:/]+|\[[^\]]+\])(?::(\d+))?/.exec(raw)
  if (match) {
    const tls = match[1] === 'https' || env.DOCKER_TLS_VERIFY === '1'
    return {
      display: maskUrlCredentials(raw),
      options: {
        protocol: tls ? 'https' : 'http',
        host: (match[2] ?? '').replace(/^\[|\]$/g, ''),
        port: Number(match[3] ?? (tls ? 2376 : 2375)),
      },
    }
  }
  throw new OwnopsError(`unsupported Docker endpoint: ${raw}`, {
    kind: 'config',
    hint: 'use unix:///var/run/docker.sock, tcp://HOST:PORT or ssh://USER@HOST',
  })
}

/** Clients whose engine is on another machine (its paths, volumes and logs are not here). */
const remote = new WeakSet<Docker>()
/** The ssh transport, once an ssh:// endpoint has needed it (it is not loaded otherwise). */
let ssh: typeof import('./docker-ssh.js') | undefined

export async function createDocker(endpoint: DockerEndpoint): Promise<Docker> {
  const { default: DockerClass } = await import('dockerode')
  if (endpoint.ssh !== undefined) {
    ssh ??= await import('./docker-ssh.js')
    const agent = ssh.sshAgent(endpoint.ssh.target, { env: endpoint.ssh.env, display: endpoint.display })
    const docker = new DockerClass({ ...endpoint.options, agent, timeout: 30_000 } as Dockerode.DockerOptions)
    remote.add(docker)
    return docker
  }
  return new DockerClass({ ...endpoint.options, timeout: 30_000 })
}

/** Whether the engine runs on another machine (ssh://): its host paths are not this machine's. */
export function isRemoteEngine(docker: Docker): boolean {
  return remote.has(docker)
}

/** Ends the connections a run opened to remote engines (ssh processes). */
export function closeDockerConnections(): void {
  ssh?.closeSshAgents()
}

export interface DockerInfo {
  version: string
  apiVersion: string
  os: string
}

/** Checks the engine answers; returns its version or throws a typed error. */
export async function pingDocker(docker: Docker, endpoint: DockerEndpoint): Promise<DockerInfo> {
  try {
    const version = await docker.version()
    return { version: version.Version, apiVersion: version.ApiVersion, os: `${version.Os}/${version.Arch}` }
  } catch (error) {
    throw dockerError(error, endpoint)
  }
}

export function dockerError(error: unknown, endpoint: DockerEndpoint): OwnopsError {
  const code = (error as NodeJS.ErrnoException).code
  if (code === 'EACCES' || code === 'EPERM') {
    return new OwnopsError(`permission denied on the Docker socket (${endpoint.display})`, {
      kind: 'permission',
      hint: 'run as root, or add this user to the "docker" group',
      cause: error,
    })
  }
  if (code === 'ESSH') {
    const { user, host, port } = endpoint.ssh?.target ?? { host: '' }
    return new OwnopsError(`the Docker engine is unreachable at ${endpoint.display} (${(error as Error).message})`, {
      kind: 'unavailable',
      hint: `\`ssh ${port ? `-p ${port} ` : ''}${user ? `${user}@` : ''}${host} docker version\` must work without a question: a key in ~/.ssh or an ssh-agent (SSH_AUTH_SOCK), the host key in ~/.ssh/known_hosts, and a user in the remote docker group`,
      cause: error,
    })
  }
  const reason = code ?? (error as Error).message
  return new OwnopsError(`the Docker engine is unreachable at ${endpoint.display} (${reason})`, {
    kind: 'unavailable',
    hint: 'is dockerd running? `systemctl status docker`; set DOCKER_HOST or docker.host for another endpoint',
    cause: error,
  })
}

export function isNotFound(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { statusCode?: unknown }).statusCode === 404
}

export interface ContainerEvent {
  action: string
  /** Seconds since the epoch, with the nanosecond part as a fraction. */
  time: number
  /** A `die` event's exit code. */
  exitCode?: number
}

/** The engine's recorded events of one container between two times (seconds since the epoch). */
export async function containerEvents(
  docker: Docker,
  id: string,
  sinceSec: number,
  untilSec: number,
  signal?: AbortSignal,
): Promise<ContainerEvent[]> {
  // An `until` in the future makes the engine stream until then: never ask past now. The
  // engine takes fractional seconds: a whole second cut off here would miss a stop that
  // happened within the last second.
  const until = Math.min(untilSec, Date.now() / 1000)
  const stream = await docker.getEvents({
    since: Math.floor(Math.min(sinceSec, until)),
    until: until.toFixed(9),
    filters: { container: [id], type: ['container'] },
  } as unknown as Dockerode.GetEventsOptions)
  const chunks: Buffer[] = []
  await new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      ;(stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.()
      reject(signal?.reason ?? new Error('aborted'))
    }
    signal?.addEventListener('abort', onAbort, { once: true })
    stream.on('data', (chunk: Buffer) => chunks.push(Buffer.from(chunk)))
    stream.on('end', () => resolve())
    stream.on('close', () => resolve())
    stream.on('error', reject)
  })
  const events: ContainerEvent[] = []
  for (const line of Buffer.concat(chunks).toString('utf8').split('\n')) {
    if (line.trim() === '') continue
    try {
      const event = JSON.parse(line) as {
        Action?: string
        status?: string
        time?: number
        timeNano?: number
        Actor?: { Attributes?: Record<string, string> }
      }
      const action = event.Action ?? event.status
      if (action === undefined) continue
      const exitCode = Number(event.Actor?.Attributes?.exitCode)
      events.push({
        action,
        time: event.timeNano !== undefined ? event.timeNano / 1e9 : (event.time ?? 0),
        ...(action === 'die' && Number.isInteger(exitCode) ? { exitCode } : {}),
      })
    } catch {
      // a partial line: ignore
    }
  }
  return events
}

export interface ContainerSummary {
  id: string
  name: string
  labels: Record<string, string>
  /** Docker's state: running, exited, … */
  state: string
}

/** Every container on the engine (running or not), optionally those with a label (`key` or `key=value`). */
export async function listContainers(docker: Docker, label?: string): Promise<ContainerSummary[]> {
  const list = await docker.listContainers({ all: true, ...(label === undefined ? {} : { filters: { label: [label] } }) })
  return list.map((c) => ({ id: c.Id, name: (c.Names[0] ?? c.Id).replace(/^\//, ''), labels: c.Labels ?? {}, state: c.State }))
}

/** The parts of the engine's stats of a container that monitor reads (cgroup v1 and v2). */
export interface ContainerStats {
  read?: string
  cpu_stats?: { cpu_usage?: { total_usage?: number }; system_cpu_usage?: number; online_cpus?: number }
  memory_stats?: { usage?: number; limit?: number; stats?: Record<string, number> }
  pids_stats?: { current?: number }
}

/**
 * One reading of a running container's stats (`stream=false&one-shot=true`: one sample,
 * no second one a second later). The engine answers at its next collection tick (up to a
 * second), so callers ask for many containers at once rather than one after another.
 * Undefined when the container is gone.
 */
export async function containerStats(docker: Docker, id: string, signal?: AbortSignal): Promise<ContainerStats | undefined> {
  try {
    const options = { stream: false as const, 'one-shot': true, ...(signal ? { abortSignal: signal } : {}) }
    const stats = await docker.getContainer(id).stats(options)
    return stats
  } catch (error) {
    if (isNotFound(error)) return undefined
    throw error
  }
}

/** `docker inspect`, or undefined when there is no such container. */
export async function inspectContainer(docker: Docker, nameOrId: string): Promise<Dockerode.ContainerInspectInfo | undefined> {
  try {
    return await docker.getContainer(nameOrId).inspect()
  } catch (error) {
    if (isNotFound(error)) return undefined
    throw error
  }
}

/** Restarts a container (starts it when it is stopped); `timeoutSec` is the stop timeout. */
export async function restartContainer(docker: Docker, nameOrId: string, timeoutSec = 10): Promise<void> {
  await docker.getContainer(nameOrId).restart({ t: timeoutSec })
}

/** The last `lines` lines of a container's log (stdout and stderr, in order). */
export async function containerLogTail(docker: Docker, container: string, lines = 50): Promise<string> {
  const raw = await docker.getContainer(container).logs({ stdout: true, stderr: true, tail: lines, follow: false })
  const info = await docker
    .getContainer(container)
    .inspect()
    .catch(() => undefined)
  if (info?.Config.Tty) return raw.toString('utf8')
  // Without a TTY the engine frames each chunk: 1 byte stream, 3 zero bytes, 4 bytes length.
  const parts: Buffer[] = []
  for (let at = 0; at + 8 <= raw.length;) {
    const size = raw.readUInt32BE(at + 4)
    parts.push(raw.subarray(at + 8, at + 8 + size))
    at += 8 + size
  }
  return Buffer.concat(parts).toString('utf8')
}

/** The ID of a local image (by reference or ID), or undefined when there is none. */
export async function imageId(docker: Docker, ref: string): Promise<string | undefined> {
  try {
    return (await docker.getImage(ref).inspect()).Id
  } catch (error) {
    if (isNotFound(error)) return undefined
    throw error
  }
}

/** `docker pull REF`: waits until the engine has it; throws with the engine's message when it cannot. */
export async function pullImage(docker: Docker, ref: string): Promise<void> {
  const stream = await docker.pull(ref)
  await new Promise<void>((resolve, reject) => {
    docker.modem.followProgress(stream, (error: Error | null, output: Array<{ error?: string; errorDetail?: { message?: string } }>) => {
      const failed = output?.find((o) => o.error !== undefined || o.errorDetail !== undefined)
      if (error) reject(error)
      else if (failed) reject(new Error(failed.errorDetail?.message ?? failed.error ?? 'pull failed'))
      else resolve()
    })
  })
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null)
}

export interface Recreated {
  /** The old container, renamed, stopped, kept until the new one is healthy. */
  previous: { id: string; name: string }
  id: string
}

/**
 * Replaces a stopped container by one of the same name and settings from `image`: what
 * the old container only had from its old image (environment, command, labels, health
 * check…) comes from the new image; its volumes, anonymous ones too, stay. The old one is
 * renamed `NAME-ownops-previous` and kept for `rollBack` until `dropPrevious`.
 */
export async function recreateContainer(docker: Docker, name: string, image: string): Promise<Recreated> {
  const info = await docker.getContainer(name).inspect()
  const old = await docker
    .getImage(info.Image)
    .inspect()
    .catch(() => undefined)
  const oc = (old?.Config ?? {}) as Dockerode.ImageInspectInfo['Config'] & { Healthcheck?: unknown }
  const c = info.Config as Dockerode.ContainerInspectInfo['Config'] & { Healthcheck?: unknown; StopSignal?: string }
  const oldEnv = new Set(oc.Env ?? [])
  const oldLabels = oc.Labels ?? {}
  const config: Record<string, unknown> = {
    Image: image,
    Env: (c.Env ?? []).filter((e) => !oldEnv.has(e)),
    Labels: Object.fromEntries(Object.entries(c.Labels ?? {}).filter(([k, v]) => oldLabels[k] !== v)),
    Tty: c.Tty,
    OpenStdin: c.OpenStdin,
    StdinOnce: c.StdinOnce,
    AttachStdin: c.AttachStdin,
    AttachStdout: c.AttachStdout,
    AttachStderr: c.AttachStderr,
    ...(c.Hostname && !info.Id.startsWith(c.Hostname) ? { Hostname: c.Hostname } : {}),
    ...(c.Domainname ? { Domainname: c.Domainname } : {}),
    ...(!sameJson(c.Cmd, oc.Cmd) ? { Cmd: c.Cmd } : {}),
    ...(!sameJson(c.Entrypoint, oc.Entrypoint) ? { Entrypoint: c.Entrypoint } : {}),
    ...(c.WorkingDir !== (oc.WorkingDir ?? '') ? { WorkingDir: c.WorkingDir } : {}),
    ...(c.User !== (oc.User ?? '') ? { User: c.User } : {}),
    ...(!sameJson(c.Healthcheck, oc.Healthcheck) && c.Healthcheck !== undefined ? { Healthcheck: c.Healthcheck } : {}),
    ...(c.StopSignal !== undefined && c.StopSignal !== (oc as { StopSignal?: string }).StopSignal ? { StopSignal: c.StopSignal } : {}),
  }
  const host = { ...(info.HostConfig as Record<string, unknown>) }
  // Anonymous volumes (an image's VOLUME) are kept by name: the world stays with the server.
  const binds = [...((host.Binds as string[] | null) ?? [])]
  const taken = new Set([
    ...binds.map((b) => b.split(':')[1]),
    ...((host.Mounts as Array<{ Target: string }> | null) ?? []).map((m) => m.Target),
  ])
  for (const m of info.Mounts ?? []) {
    if (m.Type === 'volume' && m.Name && !taken.has(m.Destination)) binds.push(`${m.Name}:${m.Destination}${m.RW ? '' : ':ro'}`)
  }
  host.Binds = binds
  const mode = typeof host.NetworkMode === 'string' ? host.NetworkMode : 'default'
  const networking =
    mode === 'host' || mode === 'none' || mode.startsWith('container:')
      ? undefined
      : {
          EndpointsConfig: Object.fromEntries(
            Object.entries(info.NetworkSettings.Networks ?? {}).map(([net, ep]) => [
              net,
              { Aliases: ((ep.Aliases ?? []) as string[]).filter((a) => !info.Id.startsWith(a)) },
            ]),
          ),
        }
  const previousName = `${name}-ownops-previous`
  await docker.getContainer(info.Id).rename({ name: previousName })
  try {
    const created = await docker.createContainer({
      name,
      ...config,
      HostConfig: host,
      ...(networking ? { NetworkingConfig: networking } : {}),
    })
    return { previous: { id: info.Id, name }, id: created.id }
  } catch (error) {
    await docker
      .getContainer(info.Id)
      .rename({ name })
      .catch(() => undefined)
    throw error
  }
}

/** Puts the old container back: the new one removed, the old one renamed back (not started). */
export async function rollBack(docker: Docker, recreated: Recreated): Promise<void> {
  await docker
    .getContainer(recreated.id)
    .remove({ force: true })
    .catch((error: unknown) => {
      if (!isNotFound(error)) throw error
    })
  await docker.getContainer(recreated.previous.id).rename({ name: recreated.previous.name })
}

/** Removes the old container once the new one is healthy (its named volumes stay). */
export async function dropPrevious(docker: Docker, recreated: Recreated): Promise<void> {
  await docker.getContainer(recreated.previous.id).remove({ force: true, v: false })
}
