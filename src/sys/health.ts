/**
 * "Is it up again?" after a start: the container runs and its Docker healthcheck says
 * healthy (or it has none), and, when a service check is configured, that check passes
 * too: an HTTP status, a TCP connect, or a Minecraft Server List Ping.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { pingServer } from './minecraft-ping.js'
import type { Docker } from './docker.js'
import { probeHttp } from './http-probe.js'
import { tcpConnect } from './net.js'

export type HealthCheck =
  | { kind: 'docker' }
  | { kind: 'http'; url: string; status?: number | undefined; match?: string | undefined }
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'minecraft'; host: string; port: number }

export interface HealthResult {
  ok: boolean
  /** What was seen last: "healthy", "HTTP 503", "connection refused", "3/20 players". */
  detail: string
}

export function describeHealth(check: HealthCheck): string {
  switch (check.kind) {
    case 'docker':
      return 'the container runs (and its Docker healthcheck says healthy)'
    case 'http':
      return `GET ${check.url} answers ${check.status ?? '2xx/3xx'}`
    case 'tcp':
      return `${check.host}:${check.port} accepts connections`
    case 'minecraft':
      return `the Minecraft server at ${check.host}:${check.port} answers a Server List Ping`
  }
}

async function containerState(docker: Docker, container: string): Promise<HealthResult> {
  const info = await docker
    .getContainer(container)
    .inspect()
    .catch(() => undefined)
  if (info === undefined) return { ok: false, detail: 'no such container' }
  if (!info.State.Running) return { ok: false, detail: `not running (${info.State.Status}, exit ${info.State.ExitCode})` }
  const health = info.State.Health?.Status
  if (health !== undefined && health !== 'healthy') return { ok: false, detail: health }
  return { ok: true, detail: health ?? 'running' }
}

/** One look: the container, then the service check. */
export async function probeHealth(
  docker: Docker,
  container: string,
  check: HealthCheck,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<HealthResult> {
  const state = await containerState(docker, container)
  if (!state.ok || check.kind === 'docker') return state
  try {
    switch (check.kind) {
      case 'http': {
        const res = await probeHttp({ url: check.url, method: 'GET', headers: {}, timeoutMs, ...(signal ? { signal } : {}), verify: true })
        const statusOk = check.status !== undefined ? res.status === check.status : res.status >= 200 && res.status < 400
        if (!statusOk) return { ok: false, detail: `HTTP ${res.status}` }
        if (check.match !== undefined && !new RegExp(check.match).test(res.body))
          return { ok: false, detail: `HTTP ${res.status}, body does not match /${check.match}/` }
        return { ok: true, detail: `HTTP ${res.status}` }
      }
      case 'tcp':
        await tcpConnect(check.host, check.port, timeoutMs, signal)
        return { ok: true, detail: 'accepts connections' }
      case 'minecraft': {
        const status = await pingServer(check.host, check.port, timeoutMs, signal)
        return { ok: true, detail: `${status.online}/${status.max} players, ${status.version}` }
      }
    }
  } catch (error) {
    if (signal?.aborted) throw error
    return { ok: false, detail: (error as Error).message }
  }
}

/** Polls until healthy or the time is up; resolves with the last look. */
export async function waitHealthy(
  docker: Docker,
  container: string,
  check: HealthCheck,
  timeoutMs: number,
  options: { signal?: AbortSignal; intervalMs?: number } = {},
): Promise<HealthResult & { waitedMs: number }> {
  const started = performance.now()
  const interval = options.intervalMs ?? 1000
  for (;;) {
    const left = timeoutMs - (performance.now() - started)
    const result = await probeHealth(docker, container, check, Math.max(1000, Math.min(5000, left)), options.signal)
    const waitedMs = performance.now() - started
    if (result.ok || waitedMs >= timeoutMs) return { ...result, waitedMs }
    await sleep(Math.min(interval, Math.max(0, timeoutMs - waitedMs)), undefined, options.signal ? { signal: options.signal } : {})
  }
}

/** Several containers running and healthy (restore): undefined when all are, else what is not. */
export async function waitContainersHealthy(
  docker: Docker,
  containers: string[],
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<string | undefined> {
  if (containers.length === 0) return undefined
  const results = await Promise.all(
    containers.map(async (c) => ({
      c,
      r: await waitHealthy(docker, c, { kind: 'docker' }, timeoutMs, { intervalMs: 500, ...(signal ? { signal } : {}) }),
    })),
  )
  const waiting = results.filter(({ r }) => !r.ok)
  return waiting.length === 0 ? undefined : waiting.map(({ c, r }) => `${c} is ${r.detail}`).join('; ')
}
