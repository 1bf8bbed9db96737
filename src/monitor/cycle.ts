/**
 * One check cycle: every planned check, at most `concurrency` at a time, each within its
 * timeout, all within the run's deadline — a hanging check cannot hang the run. The
 * Docker engine is asked once; when it does not answer, the checks that need it are not
 * run and the engine row says why (they roll up under it).
 */
import type { Logger } from 'pino'
import { mapLimit } from '../concurrency.js'
import { describeError } from '../errors.js'
import { formatDuration } from '../duration.js'
import type { Docker } from '../sys/docker.js'
import { ENGINE_CHECK, type PlannedCheck } from './plan.js'
import type { Finding, MonitorPaths, Observation } from './types.js'

export interface Engine {
  docker: Docker
  /** For the engine row: "engine 24.0.7 at unix:///var/run/docker.sock". */
  description: string
}

export interface CycleOptions {
  checks: readonly PlannedCheck[]
  concurrency: number
  deadlineMs: number
  /** Replaces BACKSTOP_MS (tests). */
  backstopMs?: number
  now: Date
  log: Logger
  env: NodeJS.ProcessEnv
  signal: AbortSignal
  /** Connects to the Docker engine and checks it answers; throws with a readable message when not. */
  connectDocker: () => Promise<Engine>
  /** Time limit of the engine's answer. */
  engineTimeoutMs: number
  memo: (id: string) => Record<string, unknown> | undefined
  paths: MonitorPaths
}

export interface CycleResult {
  observations: Observation[]
  /** Checks that ran to the end: rows they did not report this time are gone. */
  completed: Set<string>
  durationMs: number
}

/**
 * How long after its timeout a check that ignores it is cut off. Every check keeps its own
 * time and says so ("no answer within 300 ms"); this is only for one that does not, so it
 * is generous: a busy machine must not turn a check's own verdict into the backstop's.
 */
export const BACKSTOP_MS = 5000

class CheckTimeout extends Error {
  constructor(readonly why: 'timeout' | 'deadline') {
    super(why)
  }
}

function rowId(check: string, subject: string | undefined): string {
  return subject === undefined ? check : `${check}:${subject}`
}

function toObservation(check: PlannedCheck, finding: Finding): Observation {
  const names = [check.name, ...(finding.names ?? [])]
  return { ...finding, check: check.name, kind: check.spec.kind, id: rowId(check.name, finding.subject), names: [...new Set(names)] }
}

/** Resolves with `promise`, or rejects when `signal` aborts first (whether or not the promise listens). */
function raceSignal<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason)
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort)
        resolve(value)
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(error)
      },
    )
  })
}

export async function runCycle(options: CycleOptions): Promise<CycleResult> {
  const started = performance.now()
  const deadline = new AbortController()
  const deadlineTimer = setTimeout(() => deadline.abort(new CheckTimeout('deadline')), options.deadlineMs)
  const runSignal = AbortSignal.any([options.signal, deadline.signal])
  const completed = new Set<string>()

  const needsDocker = options.checks.some((c) => c.impl.usesDocker)
  let engine: Promise<Engine> | undefined
  if (needsDocker) {
    const timeout = AbortSignal.timeout(Math.min(options.engineTimeoutMs, options.deadlineMs))
    engine = raceSignal(options.connectDocker(), AbortSignal.any([runSignal, timeout])).catch((error: unknown) => {
      if (timeout.aborted && !runSignal.aborted)
        throw new Error(`the Docker engine did not answer within ${formatDuration(options.engineTimeoutMs)}`)
      throw error
    })
    engine.catch(() => undefined) // observed below; never an unhandled rejection
  }

  const runOne = async (check: PlannedCheck): Promise<Observation[]> => {
    if (runSignal.aborted) {
      if (options.signal.aborted) throw options.signal.reason
      return [
        toObservation(check, {
          status: 'unknown',
          value: 'not run: the run deadline passed',
          message: `${check.name} was not run: the run's deadline (${formatDuration(options.deadlineMs)}) passed`,
        }),
      ]
    }
    let docker: Docker | undefined
    if (check.impl.usesDocker && engine !== undefined) {
      try {
        docker = (await engine).docker
      } catch (error) {
        if (options.signal.aborted) throw options.signal.reason
        if (deadline.signal.aborted)
          return [
            toObservation(check, {
              status: 'unknown',
              value: 'not run: the run deadline passed',
              message: `${check.name} was not run: the run's deadline (${formatDuration(options.deadlineMs)}) passed`,
            }),
          ]
        return [
          toObservation(check, {
            status: 'unknown',
            value: 'not checked: the Docker engine is unreachable',
            message: `${check.name} not checked: ${describeError(error)}`,
            cause: ENGINE_CHECK,
          }),
        ]
      }
    }
    // Checks keep their own time (their messages say more: "connection refused", "no answer
    // within 5000 ms"); this is the backstop for one that does not, a moment later.
    const timeout = new AbortController()
    const timer = setTimeout(() => timeout.abort(new CheckTimeout('timeout')), check.timeoutMs + (options.backstopMs ?? BACKSTOP_MS))
    const signal = AbortSignal.any([runSignal, timeout.signal])
    const log = options.log.child({ check: check.name })
    const startedCheck = performance.now()
    try {
      const findings = await raceSignal(
        check.impl.run(check.spec, {
          name: check.name,
          signal,
          now: options.now,
          timeoutMs: check.timeoutMs,
          log,
          env: options.env,
          docker: async () => docker ?? (await (engine as Promise<Engine>)).docker,
          memo: options.memo,
          paths: options.paths,
        }),
        signal,
      )
      completed.add(check.name)
      log.debug({ ms: Math.round(performance.now() - startedCheck), rows: findings.length }, 'check done')
      return findings.map((f) => toObservation(check, f))
    } catch (error) {
      if (options.signal.aborted) throw options.signal.reason
      const severity = 'severity' in check.spec && check.spec.severity !== undefined ? check.spec.severity : 'critical'
      if (error instanceof CheckTimeout || signal.aborted) {
        const why = error instanceof CheckTimeout ? error.why : deadline.signal.aborted ? 'deadline' : 'timeout'
        const text =
          why === 'deadline'
            ? `did not finish before the run's deadline (${formatDuration(options.deadlineMs)})`
            : `timed out after ${formatDuration(check.timeoutMs)}`
        log.warn({ timeoutMs: check.timeoutMs }, `check ${text}`)
        return [toObservation(check, { status: severity, value: text, message: `${check.name} ${text}` })]
      }
      log.warn({ err: error }, 'check failed to run')
      return [
        toObservation(check, {
          status: severity,
          value: `check failed: ${describeError(error)}`,
          message: `${check.name} could not be checked: ${describeError(error)}`,
        }),
      ]
    } finally {
      clearTimeout(timer)
    }
  }

  try {
    const results = await mapLimit(options.checks, options.concurrency, runOne)
    const observations: Observation[] = []
    let engineRow: Observation | undefined
    if (engine !== undefined) {
      try {
        const e = await engine
        engineRow = {
          check: ENGINE_CHECK,
          kind: 'docker',
          id: ENGINE_CHECK,
          status: 'ok',
          value: e.description,
          message: `the Docker engine answers (${e.description})`,
          names: [ENGINE_CHECK],
        }
      } catch (error) {
        if (options.signal.aborted) throw options.signal.reason
        const reason = describeError(error)
        engineRow = {
          check: ENGINE_CHECK,
          kind: 'docker',
          id: ENGINE_CHECK,
          status: 'critical',
          value: reason,
          message: reason,
          names: [ENGINE_CHECK],
        }
      }
    }
    options.checks.forEach((check, i) => {
      if (engineRow !== undefined && check.impl.usesDocker) {
        observations.push(engineRow)
        engineRow = undefined
      }
      observations.push(...(results[i] ?? []))
    })
    return { observations, completed, durationMs: performance.now() - started }
  } finally {
    clearTimeout(deadlineTimer)
  }
}
