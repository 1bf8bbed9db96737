/**
 * Containers ownops stops for a job — a backup's `stop:`, the swap of a restore — are
 * always started again. Each is written into the host lock before its stop is asked for
 * (the engine may stop it even when the connection drops before it answers) and struck off
 * once it runs again. Starting again is retried while the engine does not answer (a dropped
 * connection, a restarting dockerd). What still cannot be started stays in the lock record,
 * and the lock file is left behind: the next run that takes the lock starts them — as it
 * does for a run that was killed outright (`settleKilledRun`), after ending the processes
 * that run left in containers.
 */
import type { Logger } from 'pino'
import { setTimeout as sleep } from 'node:timers/promises'
import { describeError, OwnopsError } from '../errors.js'
import type { Docker } from './docker.js'
import { endExec, STOP_GRACE_SEC, stopContainer, stopGraceSec } from './docker-exec.js'
import { heldHostLock, leftBehind, type HostLock } from './lock.js'

/** Waits between attempts to start a container again: about a minute in all. */
export const START_RETRY_DELAYS_MS: readonly number[] = [500, 1000, 2000, 4000, 8000, 15_000, 30_000]

export interface StopEnv {
  docker(): Promise<Docker>
  log: Logger
  /**
   * Checked before each stop: an interrupted run stops nothing more. It also cuts short a
   * stop under way (and the settling stop before a start): a few seconds, then the kill.
   */
  signal?: AbortSignal
  retryDelaysMs?: readonly number[]
}

export { STOP_GRACE_SEC }

export class StoppedContainers {
  /** In the order they were stopped (or asked to stop). */
  readonly names: string[] = []
  /** Those whose stop the engine did not confirm (the connection dropped): they may still be stopping. */
  private readonly unconfirmed = new Set<string>()

  constructor(private readonly env: StopEnv) {}

  /**
   * Stops a running container for the job; it counts as stopped from the moment it is asked
   * to stop. The grace is the container's own stop timeout (compose's stop_grace_period),
   * else STOP_GRACE_SEC; a signal meanwhile cuts it short (see stopContainer).
   */
  async stop(container: string, graceSec?: number): Promise<void> {
    if (this.env.signal?.aborted) throw this.env.signal.reason
    this.names.push(container)
    this.unconfirmed.add(container)
    await heldHostLock()?.update((p) => {
      if (!p.stopped.includes(container)) p.stopped.push(container)
    })
    try {
      const docker = await this.env.docker()
      await stopContainer(docker, container, graceSec ?? (await stopGraceSec(docker, container)), {
        log: this.env.log,
        ...(this.env.signal ? { signal: this.env.signal } : {}),
      })
    } catch (error) {
      if (!lostConnection(error)) throw error
      throw new OwnopsError(`lost the connection to the Docker engine while stopping ${container} (${describeError(error)})`, {
        kind: 'unavailable',
        hint: 'is dockerd restarting? `systemctl status docker`; ownops starts what it stopped again as soon as the engine answers',
        cause: error,
      })
    }
    this.unconfirmed.delete(container)
  }

  /** Starts them all again, the last stopped first; throws naming those that would not start. */
  async startAll(): Promise<void> {
    const names = [...this.names].reverse()
    this.names.length = 0
    const failures = await startAgain(names, this.env, this.unconfirmed)
    this.unconfirmed.clear()
    if (failures.length > 0) throw new Error(`could not start again: ${failures.join('; ')}`)
  }
}

/** The engine did not answer (as opposed to answering with an error). */
function lostConnection(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code
  return (
    (code !== undefined && ['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ENOENT', 'ETIMEDOUT', 'ECONNABORTED'].includes(code)) ||
    /socket hang up|timeout/i.test((error as Error).message ?? '')
  )
}

/**
 * Starts containers, each retried while the engine does not answer; one that runs (or is
 * gone) is struck off the lock record. A container in `uncertain` may still be stopping
 * (its stop was asked for, but never confirmed): it is first stopped for good — a start
 * while it is stopping would find it running and leave it to stop right after.
 * Returns "name: why" for each that would not start.
 */
export async function startAgain(names: readonly string[], env: StopEnv, uncertain: ReadonlySet<string> = new Set()): Promise<string[]> {
  const failures: string[] = []
  for (const name of names) {
    const problem = await startWithRetries(name, env, uncertain.has(name))
    if (problem === undefined || problem === 'no such container') {
      await heldHostLock()
        ?.update((p) => void (p.stopped = p.stopped.filter((n) => n !== name)))
        .catch(() => undefined)
    }
    if (problem === undefined) env.log.info({ container: name }, 'started again')
    else {
      env.log.error({ container: name }, `could not start ${name} again: ${problem}`)
      failures.push(`${name}: ${problem}`)
    }
  }
  return failures
}

async function startWithRetries(name: string, env: StopEnv, settle: boolean): Promise<string | undefined> {
  const delays = env.retryDelaysMs ?? START_RETRY_DELAYS_MS
  for (let attempt = 0; ; attempt++) {
    try {
      const docker = await env.docker()
      if (settle) {
        await stopContainer(docker, name, await stopGraceSec(docker, name), env.signal ? { signal: env.signal } : {})
        settle = false
      }
      await docker.getContainer(name).start()
      return undefined
    } catch (error) {
      const status = (error as { statusCode?: number }).statusCode
      if (status === 304) return undefined // running already
      if (status === 404) return 'no such container'
      const message = (error as Error).message
      const delay = delays[attempt]
      if (delay === undefined) return message
      env.log.warn({ container: name, attempt: attempt + 1 }, `could not start ${name} again (${message}); trying again in ${delay} ms`)
      // Not cut short by SIGINT/SIGTERM: a service left down is worse than a slower exit.
      await sleep(delay)
    }
  }
}

export interface SettleEnv extends StopEnv {
  notify(event: { level: 'warning' | 'critical'; title: string; body: string }): Promise<void>
}

/**
 * After taking over the lock of a run that was killed: ends the processes it left running
 * in containers, starts the containers it had stopped, and says so. What is left over is
 * carried into this run's own lock record first, so a second kill loses nothing either.
 */
export async function settleKilledRun(lock: HostLock, env: SettleEnv): Promise<void> {
  const dead = lock.inherited
  const pending = dead === undefined ? undefined : leftBehind(dead)
  if (dead === undefined || pending === undefined) return
  const stopped = pending.stopped ?? []
  const execs = pending.execs ?? []
  await lock.update((p) => {
    for (const name of stopped) if (!p.stopped.includes(name)) p.stopped.push(name)
    for (const ref of execs) if (!p.execs.some((e) => e.id === ref.id)) p.execs.push(ref)
  })
  const who = `ownops ${dead.command} (pid ${dead.pid}, started ${dead.startedAt})`
  env.log.warn({ stopped, execs: execs.length, stalePid: dead.pid }, `${who} was killed before it put things back: doing it now`)
  const lines: string[] = []
  for (const ref of execs) {
    const gone = await endExec(await env.docker(), ref.id).catch(() => false)
    lines.push(
      gone
        ? `ended a process it had left running in ${ref.container}`
        : `could not end a process it left in ${ref.container} (exec ${ref.id.slice(0, 12)}); see docker top ${ref.container}`,
    )
    await lock.update((p) => void (p.execs = p.execs.filter((e) => e.id !== ref.id)))
  }
  // A killed run may have died in the middle of a stop: each is settled (stopped) first.
  const failures = await startAgain([...stopped].reverse(), env, new Set(stopped))
  const started = stopped.filter((name) => !failures.some((f) => f.startsWith(`${name}: `)))
  if (started.length > 0) lines.unshift(`started ${started.join(', ')} again`)
  for (const failure of failures)
    lines.push(`could not start ${failure}; the next ownops run tries again (or: docker start ${failure.split(':')[0] ?? ''})`)
  await env.notify({
    level: failures.length > 0 ? 'critical' : 'warning',
    title:
      failures.length > 0
        ? `${failures.length} container(s) left stopped by a killed ownops ${dead.command}`
        : `started ${started.join(', ') || 'nothing'} again after a killed ownops ${dead.command}`,
    body: `${who} was killed while it had containers stopped or processes running in them.\n${lines.map((l) => `- ${l}`).join('\n')}`,
  })
}
