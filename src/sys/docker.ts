/**
 * Docker engine access: a thin layer over dockerode that honours config docker.host,
 * $DOCKER_HOST and the default socket, and turns "cannot reach the engine" into one
 * clear error (exit 69, or 77 for a permission problem on docker.sock).
 * dockerode is imported lazily: commands that never talk to Docker do not pay for it.
 */
import type Dockerode from 'dockerode'
import { ExitCode, OwnopsError } from '../errors.js'

export type Docker = Dockerode

export interface DockerEndpoint {
  /** As the user wrote it (for messages): unix:///var/run/docker.sock, tcp://127.0.0.1:2375 */
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
      display: raw,
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
