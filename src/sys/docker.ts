/**
 * Docker engine access: a thin layer over dockerode that honours config docker.host,
 * $DOCKER_HOST and the default socket, and turns "cannot reach the engine" into one
 * clear error (exit 69, or 77 for a permission problem on docker.sock).
 * dockerode is imported lazily: commands that never talk to Docker do not pay for it.
 */
import type Dockerode from 'dockerode'
import { ExitCode, OwnopsError } from '../errors.js'
import { maskUrlCredentials } from '../redact.js'

export type Docker = Dockerode

export interface DockerEndpoint {
  /** As the user wrote it, credentials masked (for messages): unix:///var/run/docker.sock, tcp://127.0.0.1:2375 */
  display: string
  options: Dockerode.DockerOptions
}

export function dockerEndpoint(env: NodeJS.ProcessEnv, configured?: string): DockerEndpoint {
  const raw = configured ?? env.DOCKER_HOST ?? 'unix:///var/run/docker.sock'
  if (raw.startsWith('unix://')) return { display: raw, options: { socketPath: raw.slice('unix://'.length) } }
  if (raw.startsWith('/')) return { display: `unix://${raw}`, options: { socketPath: raw } }
  const match = /^(tcp|http|https):\/\/([^:/]+|\[[^\]]+\])(?::(\d+))?/.exec(raw)
  if (match) {
    const tls = match[1] === 'https' || env.DOCKER_TLS_VERIFY === '1'
    return {
      display: maskUrlCredentials(raw),
      options: { protocol: tls ? 'https' : 'http', host: (match[2] ?? '').replace(/^\[|\]$/g, ''), port: Number(match[3] ?? (tls ? 2376 : 2375)) },
    }
  }
  throw new OwnopsError(`unsupported Docker endpoint: ${raw}`, { exitCode: ExitCode.config, hint: 'use unix:///var/run/docker.sock or tcp://HOST:PORT' })
}

export async function createDocker(endpoint: DockerEndpoint): Promise<Docker> {
  const { default: DockerClass } = await import('dockerode')
  return new DockerClass({ ...endpoint.options, timeout: 30_000 } as Dockerode.DockerOptions)
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
      exitCode: ExitCode.noperm,
      hint: 'run as root, or add this user to the "docker" group',
      cause: error,
    })
  }
  const reason = code ?? (error as Error).message
  return new OwnopsError(`the Docker engine is unreachable at ${endpoint.display} (${reason})`, {
    exitCode: ExitCode.unavailable,
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
}

/** The engine's recorded events of one container between two times (seconds since the epoch). */
export async function containerEvents(docker: Docker, id: string, sinceSec: number, untilSec: number, signal?: AbortSignal): Promise<ContainerEvent[]> {
  // An `until` in the future makes the engine stream until then: never ask past now. The
  // engine takes fractional seconds: a whole second cut off here would miss a stop that
  // happened within the last second.
  const until = Math.min(untilSec, Date.now() / 1000)
  const stream = await docker.getEvents({ since: Math.floor(Math.min(sinceSec, until)), until: until.toFixed(9), filters: { container: [id], type: ['container'] } } as unknown as Dockerode.GetEventsOptions)
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
      const event = JSON.parse(line) as { Action?: string; status?: string; time?: number; timeNano?: number }
      const action = event.Action ?? event.status
      if (action === undefined) continue
      events.push({ action, time: event.timeNano !== undefined ? event.timeNano / 1e9 : (event.time ?? 0) })
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
}

/** Every container on the engine (running or not), optionally those with a label (`key` or `key=value`). */
export async function listContainers(docker: Docker, label?: string): Promise<ContainerSummary[]> {
  const list = await docker.listContainers({ all: true, ...(label === undefined ? {} : { filters: { label: [label] } }) })
  return list.map((c) => ({ id: c.Id, name: (c.Names[0] ?? c.Id).replace(/^\//, ''), labels: c.Labels ?? {} }))
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
  const raw = (await docker.getContainer(container).logs({ stdout: true, stderr: true, tail: lines, follow: false })) as unknown as Buffer
  const info = await docker.getContainer(container).inspect().catch(() => undefined)
  if (info?.Config.Tty) return raw.toString('utf8')
  // Without a TTY the engine frames each chunk: 1 byte stream, 3 zero bytes, 4 bytes length.
  const parts: Buffer[] = []
  for (let at = 0; at + 8 <= raw.length; ) {
    const size = raw.readUInt32BE(at + 4)
    parts.push(raw.subarray(at + 8, at + 8 + size))
    at += 8 + size
  }
  return Buffer.concat(parts).toString('utf8')
}
