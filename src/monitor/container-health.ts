/**
 * How a container is doing, from `docker inspect` and what the previous run remembered:
 * running, health, restart loops, exit codes, and — for a stopped container — whether it
 * stopped by itself or was stopped. Pure: shared by `kind: containers` and `kind: container`.
 */
import { formatDuration } from '../duration.js'
import type { ContainerEvent } from '../sys/docker.js'
import type { ContainerRef, FailureLevel, Finding } from './types.js'

/** The parts of `docker inspect` this looks at. */
export interface InspectLike {
  Id: string
  Name: string
  RestartCount: number
  State: {
    Status: string
    Running: boolean
    Paused: boolean
    Restarting: boolean
    OOMKilled: boolean
    Dead: boolean
    ExitCode: number
    Error?: string
    StartedAt: string
    FinishedAt: string
    Health?: { Status: string; FailingStreak?: number; Log?: Array<{ ExitCode: number; Output: string }> }
  }
  HostConfig?: { RestartPolicy?: { Name?: string }; Memory?: number; NanoCpus?: number; CpuQuota?: number; CpuPeriod?: number }
}

/** What the previous run saw of this container. */
export interface ContainerMemo {
  id: string
  restartCount: number
  finishedAt?: string
  stoppedBy?: ContainerRef['stoppedBy']
  /** Resource readings of earlier runs (see resources.ts). */
  res?: unknown
}

export interface AssessOptions {
  now: Date
  /** Restarts between two runs that make a restart loop. */
  restartLoop: number
  /** `container` checks: the container is meant to run, so a stopped one is a failure. */
  mustRun: boolean
  /** Level of a failure (default critical). */
  severity: FailureLevel
}

/** Exit codes of a process ended by a signal an administrator typically sends (SIGINT, SIGKILL, SIGTERM). */
const STOP_EXIT_CODES = new Set([0, 130, 137, 143])

/**
 * Who stopped a container that is not running: its events since the last start tell
 * (`kill`/`stop` = someone asked; only `die` = it ended by itself). Without events (the
 * engine keeps only recent ones) a restart policy that would have restarted a crash, or a
 * stop-like exit code, points to an administrator.
 */
export function stoppedBy(info: InspectLike, events: readonly ContainerEvent[] | undefined): NonNullable<ContainerRef['stoppedBy']> {
  if (info.State.OOMKilled) return 'crash'
  if (events !== undefined && events.length > 0) {
    const sorted = [...events].sort((a, b) => a.time - b.time)
    let lastStart = -1
    sorted.forEach((e, i) => {
      if (e.action === 'start') lastStart = i
    })
    const since = sorted.slice(lastStart + 1)
    if (since.some((e) => e.action === 'stop' || e.action === 'kill' || e.action.startsWith('kill'))) return 'admin'
    if (since.some((e) => e.action === 'die' || e.action === 'oom')) return 'crash'
  }
  const policy = info.HostConfig?.RestartPolicy?.Name ?? ''
  if (policy === 'always' || policy === 'unless-stopped') return 'admin'
  if (STOP_EXIT_CODES.has(info.State.ExitCode)) return info.State.ExitCode === 0 ? 'unknown' : 'admin'
  return 'crash'
}

export function containerName(info: Pick<InspectLike, 'Name'>): string {
  return info.Name.replace(/^\//, '')
}

function ago(iso: string, now: Date): string {
  const t = Date.parse(iso)
  if (Number.isNaN(t) || t <= 0) return ''
  const ms = Math.max(0, now.getTime() - t)
  // Seconds while it is young, then whole minutes: "12s", "3h5m", "2d4h1m".
  return ` ${ms < 60_000 ? `${Math.floor(ms / 1000)}s` : formatDuration(Math.floor(ms / 60_000) * 60_000)} ago`
}

function lastHealthOutput(info: InspectLike): string {
  const log = info.State.Health?.Log ?? []
  const last = log[log.length - 1]
  if (last === undefined) return ''
  const text = last.Output.replace(/\s+/g, ' ').trim()
  return text === '' ? `exit ${last.ExitCode}` : text.length > 120 ? `${text.slice(0, 119)}…` : text
}

export interface Assessment {
  finding: Finding
  memo: ContainerMemo
}

/**
 * Assesses one container. `events` are needed only for a stopped container whose stop the
 * memo does not already explain (see `needsEvents`).
 */
export function assessContainer(
  info: InspectLike,
  memo: ContainerMemo | undefined,
  events: readonly ContainerEvent[] | undefined,
  options: AssessOptions,
): Assessment {
  const name = containerName(info)
  const state = info.State
  const restartsSince = memo !== undefined && memo.id === info.Id ? Math.max(0, info.RestartCount - memo.restartCount) : 0
  const nextMemo: ContainerMemo = { id: info.Id, restartCount: info.RestartCount }
  const ref: ContainerRef = { id: info.Id, name, state: state.Status }
  const metrics: Record<string, number> = { running: state.Running ? 1 : 0, restart_count: info.RestartCount, exit_code: state.ExitCode }
  const base = { subject: name, names: [name], container: ref, metrics }
  const fail = options.severity
  // A running container's ExitCode is 0 whatever its last run ended with: that one is in its
  // last `die` event, when the events were read.
  const exitCode = state.Running && !state.Restarting ? lastDieExitCode(events) : state.ExitCode
  const lastExit = exitCode === undefined ? '' : `last exit ${exitCode}${state.OOMKilled ? ', out of memory' : ''}`

  if (inRestartLoop(info, memo, options)) {
    const count = restartsSince > 0 ? `${restartsSince} restarts since the last run` : `${info.RestartCount} restarts`
    const what = [count, lastExit].filter(Boolean).join(', ')
    return {
      finding: { ...base, status: fail, value: `restart loop (${what})`, message: `${name} is in a restart loop: ${what}` },
      memo: nextMemo,
    }
  }

  if (state.Running) {
    const health = state.Health?.Status
    const up = `up${ago(state.StartedAt, options.now).replace(/ ago$/, '')}`
    if (state.Paused) return { finding: { ...base, status: 'warning', value: 'paused', message: `${name} is paused` }, memo: nextMemo }
    if (health === 'unhealthy') {
      const output = lastHealthOutput(info)
      return {
        finding: {
          ...base,
          status: fail,
          value: `unhealthy${output ? `: ${output}` : ''}`,
          message: `${name} is unhealthy (${state.Health?.FailingStreak ?? '?'} failed health checks in a row)${output ? `: ${output}` : ''}`,
        },
        memo: nextMemo,
      }
    }
    if (restartsSince > 0) {
      return {
        finding: {
          ...base,
          status: 'warning',
          value: `restarted ${restartsSince}× since the last run (${lastExit})`,
          message: `${name} restarted ${restartsSince}× since the last run (${lastExit})`,
        },
        memo: nextMemo,
      }
    }
    const healthText = health === undefined || health === 'none' ? '' : `, ${health === 'starting' ? 'health: starting' : health}`
    return {
      finding: { ...base, status: 'ok', value: `running${healthText}, ${up}`, message: `${name} is running${healthText}` },
      memo: nextMemo,
    }
  }

  if (state.Dead || state.Status === 'dead') {
    return {
      finding: { ...base, status: fail, value: 'dead', message: `${name} is dead${state.Error ? `: ${state.Error}` : ''}` },
      memo: nextMemo,
    }
  }
  if (state.Status === 'created') {
    const status = options.mustRun ? fail : 'ok'
    return {
      finding: { ...base, status, value: 'created, never started', message: `${name} was created but never started` },
      memo: nextMemo,
    }
  }

  // exited
  const known = memo !== undefined && memo.id === info.Id && memo.finishedAt === state.FinishedAt ? memo.stoppedBy : undefined
  const by = known ?? stoppedBy(info, events)
  ref.stoppedBy = by
  nextMemo.finishedAt = state.FinishedAt
  nextMemo.stoppedBy = by
  const when = ago(state.FinishedAt, options.now)
  const policy = info.HostConfig?.RestartPolicy?.Name ?? 'no'
  if (by === 'admin') {
    const value = `stopped${when} (exit ${state.ExitCode})`
    return {
      finding: {
        ...base,
        status: options.mustRun ? 'warning' : 'ok',
        value,
        message: `${name} was stopped by a person${when} (exit ${state.ExitCode}, after a stop request); not a crash: it is left stopped`,
      },
      memo: nextMemo,
    }
  }
  if (by === 'unknown') {
    // Exit 0 and the engine no longer has the events: a stop request or a clean end, not a crash.
    const value = `stopped${when} (exit ${state.ExitCode})`
    return {
      finding: {
        ...base,
        status: options.mustRun ? 'warning' : 'ok',
        value,
        message: `${name} stopped${when} with exit ${state.ExitCode} (a stop request or a clean end; the engine no longer says which), not a crash: it is left stopped`,
      },
      memo: nextMemo,
    }
  }
  const value = `exited${when} (${state.OOMKilled ? 'out of memory' : `exit ${state.ExitCode}`})`
  if (options.mustRun)
    return {
      finding: {
        ...base,
        status: fail,
        value,
        message: `${name} is not running: it exited${when} with ${state.OOMKilled ? 'out of memory' : `exit code ${state.ExitCode}`}`,
      },
      memo: nextMemo,
    }
  if (state.ExitCode === 0 && !state.OOMKilled)
    return { finding: { ...base, status: 'ok', value, message: `${name} exited normally${when}` }, memo: nextMemo }
  // Not meant to stay up (no restart policy): a failed job is worth a look; a service the engine gave up on is down.
  const status: Finding['status'] = policy === 'no' || policy === '' ? 'warning' : fail
  return {
    finding: {
      ...base,
      status,
      value,
      message: `${name} exited${when} with ${state.OOMKilled ? 'out of memory' : `exit code ${state.ExitCode}`} (restart policy ${policy})`,
    },
    memo: nextMemo,
  }
}

/** Whether assessing this container needs its events (a stop the memo does not explain yet). */
/** Restarting, restarts piling up between runs, or seen for the first time just after one of many restarts. */
function inRestartLoop(info: InspectLike, memo: ContainerMemo | undefined, options: Pick<AssessOptions, 'now' | 'restartLoop'>): boolean {
  const restartsSince = memo !== undefined && memo.id === info.Id ? Math.max(0, info.RestartCount - memo.restartCount) : 0
  const upMs = options.now.getTime() - Date.parse(info.State.StartedAt)
  const freshLoop = memo === undefined && info.State.Running && info.RestartCount >= options.restartLoop && upMs < 60_000
  return info.State.Restarting || (restartsSince >= options.restartLoop && options.restartLoop > 0) || freshLoop
}

function lastDieExitCode(events: readonly ContainerEvent[] | undefined): number | undefined {
  const dies = (events ?? []).filter((e) => e.action === 'die' && e.exitCode !== undefined).sort((a, b) => a.time - b.time)
  return dies.at(-1)?.exitCode
}

/**
 * Whether the container's recorded events are needed: for a stopped container whose stop the
 * memo does not explain (who stopped it), and for one running in a restart loop (how its
 * last run ended). The events to read are those before the container's last start or stop.
 */
export function needsEvents(
  info: InspectLike,
  memo: ContainerMemo | undefined,
  options?: Pick<AssessOptions, 'now' | 'restartLoop'>,
): boolean {
  if (info.State.Running && !info.State.Restarting) return options !== undefined && inRestartLoop(info, memo, options)
  if (info.State.Restarting || info.State.Status !== 'exited' || info.State.OOMKilled) return false
  return !(memo !== undefined && memo.id === info.Id && memo.finishedAt === info.State.FinishedAt && memo.stoppedBy !== undefined)
}

export function parseMemo(value: Record<string, unknown> | undefined): ContainerMemo | undefined {
  if (value === undefined || typeof value.id !== 'string' || typeof value.restartCount !== 'number') return undefined
  return value as unknown as ContainerMemo
}
