/**
 * The restart of one service, shared by `ownops restart` and the monitor's recovery: who
 * the service is (its container, announcer, save, health check), telling the players,
 * saving, and the sequence itself — the `before` hook, "restarting now", the save, a
 * graceful stop, the start, the wait until healthy (one more start when it does not come
 * up), the `after` hook. What went wrong on the way (players not warned, the save failed,
 * a second start, a hook failed) is collected in `problems`, for the notice.
 */
import type { Logger } from 'pino'
import { OwnopsError } from '../errors.js'
import { pingServer } from '../sys/minecraft-ping.js'
import { dropPrevious, imageId, pullImage, recreateContainer, rollBack, type Docker, type Recreated } from '../sys/docker.js'
import { execCapture, stopContainer } from '../sys/docker-exec.js'
import { runCapture } from '../sys/exec.js'
import { waitHealthy, type HealthCheck } from '../sys/health.js'
import { RconClient } from '../sys/rcon.js'
import { chatCommand, parsePlayerList, renderMessage, type Tone } from './plan.js'
import { restartServiceSchema, type RestartService } from './schema.js'

/** What a restart needs from its caller (the command's Ctx has all of it). */
export interface RestartDeps {
  log: Logger
  env: NodeJS.ProcessEnv
  signal: AbortSignal
  docker(): Promise<Docker>
}

export interface ResolvedService {
  name: string
  /** Found through the compose labels at run time when the service names a compose service. */
  container: string
  svc: RestartService
  health: HealthCheck
  announce: 'tellraw' | 'say' | 'none' | { exec: string[] }
  save: 'rcon' | 'none' | { exec: string[] }
}

/** A service from restart.services, or any container with the defaults. */
export function resolveService(services: Readonly<Record<string, RestartService>>, name: string): ResolvedService {
  const svc = services[name] ?? restartServiceSchema.parse({})
  const h = svc.health
  const health: HealthCheck =
    h === 'docker'
      ? { kind: 'docker' }
      : 'http' in h
        ? { kind: 'http', url: h.http, status: h.status, match: h.match }
        : 'tcp' in h
          ? { kind: 'tcp', host: h.tcp.host, port: h.tcp.port }
          : { kind: 'minecraft', host: h.minecraft.host, port: h.minecraft.port }
  return {
    name,
    container: svc.container ?? name,
    svc,
    health,
    announce: svc.announce ?? (svc.rcon ? 'tellraw' : 'none'),
    save: svc.save ?? (svc.rcon ? 'rcon' : 'none'),
  }
}

/** The restart service whose container is `container` (by `container:`, or by name), if any. */
export function serviceOfContainer(services: Readonly<Record<string, RestartService>>, container: string): string | undefined {
  for (const [name, svc] of Object.entries(services)) if ((svc.container ?? name) === container) return name
  return undefined
}

export async function withRcon<T>(r: ResolvedService, run: (client: RconClient) => Promise<T>, timeoutMs?: number): Promise<T> {
  const rcon = r.svc.rcon
  if (rcon === undefined) throw new OwnopsError(`restart.services.${r.name} has no rcon`, { kind: 'config' })
  const client = await RconClient.connect({
    host: rcon.host,
    port: rcon.port,
    password: rcon.password,
    timeoutMs: timeoutMs ?? rcon.timeout,
  })
  try {
    return await run(client)
  } finally {
    client.close()
  }
}

/** Tells the players; returns why it could not (undefined when it did, or there is no announcer). */
export async function announce(deps: RestartDeps, r: ResolvedService, text: string, tone: Tone): Promise<string | undefined> {
  const log = deps.log.child({ service: r.name })
  try {
    if (r.announce === 'none') return undefined
    if (r.announce === 'tellraw' || r.announce === 'say') {
      const style = r.announce
      await withRcon(r, (c) => c.command(chatCommand(style, text, tone)))
    } else {
      const argv = r.announce.exec.map((a) => a.replaceAll('{message}', text))
      const result = await execCapture(await deps.docker(), r.container, argv)
      if (result.exitCode !== 0) throw new Error(`${argv[0] ?? ''} exited ${result.exitCode}: ${result.stderr.trim().slice(0, 200)}`)
    }
    log.info({ message: text }, 'announced')
    return undefined
  } catch (error) {
    // Announcing is best effort: a server whose RCON hangs is often why it is restarted.
    log.warn({ err: error }, `could not announce "${text}"`)
    return (error as Error).message
  }
}

/** Players online: RCON `list`, or a Server List Ping. */
export async function playerCount(deps: RestartDeps, r: ResolvedService): Promise<{ online: number; names: string[] }> {
  if (r.svc.rcon !== undefined) {
    const reply = await withRcon(r, (c) => c.command('list'))
    const parsed = parsePlayerList(reply)
    if (parsed === undefined) throw new Error(`unexpected answer to "list": ${reply.slice(0, 120)}`)
    return parsed
  }
  if (r.health.kind === 'minecraft') {
    const { host, port } = r.health
    return { online: (await pingServer(host, port, 10_000, deps.signal)).online, names: [] }
  }
  throw new OwnopsError(`--if-empty needs the player count: restart.services.${r.name} has neither rcon nor a minecraft health check`, {
    kind: 'config',
    hint: 'add rcon: { password: ${RCON_PASSWORD} }',
  })
}

/** Saves before the stop: the server's answer, or why the save failed. */
export async function save(deps: RestartDeps, r: ResolvedService): Promise<{ reply?: string; error?: string }> {
  const timeoutMs = r.svc.saveTimeout
  try {
    if (r.save === 'none') return {}
    if (r.save === 'rcon') return { reply: (await withRcon(r, (c) => c.command('save-all flush'), timeoutMs)).trim() || 'saved' }
    const result = await execCapture(await deps.docker(), r.container, r.save.exec)
    if (result.exitCode !== 0) throw new Error(`${r.save.exec[0] ?? ''} exited ${result.exitCode}: ${result.stderr.trim().slice(0, 200)}`)
    return { reply: result.stdout.trim().split('\n').pop() || 'saved' }
  } catch (error) {
    // The stop still lets the server save on its own (its stop signal); say so and go on.
    deps.log.warn({ service: r.name, err: error }, 'the save before the stop failed; the server saves itself on a graceful stop')
    return { error: (error as Error).message }
  }
}

export interface HookRun {
  ok: boolean
  /** "after hook ./dns-register.sh exited 3: no route to host" */
  detail: string
}

function commandLine(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w./:=@%+-]+$/.test(a) ? a : JSON.stringify(a))).join(' ')
}

/**
 * Runs a `before` or `after` hook on the host, with the service, its container, the
 * trigger, the reason and (after) the outcome in its environment.
 */
export async function runHook(
  deps: RestartDeps,
  r: ResolvedService,
  phase: 'before' | 'after',
  vars: Record<string, string>,
): Promise<HookRun | undefined> {
  const hooks = r.svc.hooks
  const argv = hooks?.[phase]
  if (hooks === undefined || argv === undefined) return undefined
  const timeoutMs = hooks.timeout
  const env: NodeJS.ProcessEnv = { ...deps.env, OWNOPS_SERVICE: r.name, OWNOPS_CONTAINER: r.container, OWNOPS_HOOK: phase, ...vars }
  const result = await runCapture(argv, { log: deps.log, timeoutMs, signal: deps.signal, env })
  const line = commandLine(argv)
  if (result.exitCode === 0) {
    deps.log.info({ service: r.name, hook: phase }, `${phase} hook ran: ${line}`)
    return { ok: true, detail: `${phase} hook ran: ${line}` }
  }
  const output = `${result.stderr}\n${result.stdout}`.trim().split('\n').pop() ?? ''
  const why =
    result.exitCode === undefined
      ? (result.reason ?? 'did not run')
      : `exited ${result.exitCode}${output ? `: ${output.slice(0, 200)}` : ''}`
  deps.log.error({ service: r.name, hook: phase }, `${phase} hook ${line} failed: ${why}`)
  return { ok: false, detail: `the ${phase} hook ${line} failed: ${why}` }
}

export interface SequenceOptions {
  /** Announce "restarting now" and save first. */
  safe: boolean
  reason?: string | undefined
  /** Who asked: `restart` (a person or a timer) or `monitor` (recovery); in the hooks' environment. */
  trigger: 'restart' | 'monitor'
  /** Starts tried before giving up (default 2: one more start when the first does not come up). */
  starts?: number
  /** Overrides the service's healthyTimeout (the monitor waits no longer than its recovery timeout). */
  healthyTimeoutMs?: number
  /** Pull the container's image first, and start the newer image when there is one. */
  pull?: boolean
}

export interface SequenceResult {
  ok: boolean
  /** Starts made. */
  attempts: number
  /** The last health look: "healthy", "0/20 players, 1.21.1". */
  detail: string
  downtimeMs: number
  saved?: string
  /** What went wrong on the way, for people: players not warned, the save failed, a second start, a hook failed. */
  problems: string[]
  /** The before hook failed: nothing was stopped. */
  refused?: string
  /** With pull: the image it runs now, and whether it changed. */
  image?: { ref: string; updated: boolean; rolledBack?: boolean }
  /** SIGINT/SIGTERM came: `detail` says what was left running; the after hook did not run. */
  interrupted?: boolean
}

/**
 * The restart proper, after any countdown: before hook, "restarting now", save, graceful
 * stop, start, wait until healthy (again), after hook. The caller holds the host lock.
 */
export async function restartSequence(deps: RestartDeps, r: ResolvedService, opts: SequenceOptions): Promise<SequenceResult> {
  const problems: string[] = []
  const vars = { OWNOPS_TRIGGER: opts.trigger, OWNOPS_REASON: opts.reason ?? '' }
  const before = await runHook(deps, r, 'before', vars)
  if (before !== undefined && !before.ok) {
    return { ok: false, attempts: 0, detail: before.detail, downtimeMs: 0, problems: [before.detail], refused: before.detail }
  }
  let update: { ref: string; id: string } | undefined
  let image: SequenceResult['image']
  if (opts.pull) {
    const docker = await deps.docker()
    const info = await docker.getContainer(r.container).inspect()
    const ref = info.Config.Image
    try {
      deps.log.info({ service: r.name, image: ref }, `pulling ${ref}`)
      await pullImage(docker, ref)
      const id = await imageId(docker, ref)
      if (id !== undefined && id !== info.Image) update = { ref, id }
      else deps.log.info({ service: r.name, image: ref }, `${ref} is up to date`)
    } catch (error) {
      problems.push(`the pull of ${ref} failed (${(error as Error).message}); it was restarted on the image it had`)
    }
    image = { ref, updated: update !== undefined }
  }
  let saved: string | undefined
  if (opts.safe) {
    const told = await announce(deps, r, renderMessage(r.svc.messages.now, { reason: opts.reason }), 'now')
    if (told !== undefined) problems.push(`players were not warned: ${told}`)
    const result = await save(deps, r)
    if (result.error !== undefined)
      problems.push(`the save before the stop failed (${result.error}); the server saved only on its own stop`)
    saved = result.reply
    if (saved !== undefined) deps.log.info({ service: r.name, reply: saved }, 'saved')
  }
  let recreated: Recreated | undefined
  const recreate =
    update === undefined
      ? undefined
      : async (docker: Docker) => {
          recreated = await recreateContainer(docker, r.container, (update as { ref: string }).ref)
          deps.log.info({ service: r.name, image: update?.ref }, `recreated ${r.container} from the new image`)
        }
  let started = await stopAndStart(deps, r, opts.starts ?? 2, opts.healthyTimeoutMs, recreate)
  if (started.interrupted) {
    // The container runs (or was never stopped); nothing more is waited for, nothing rolled back.
    if (recreated !== undefined)
      problems.push(
        `interrupted before the new image of ${image?.ref ?? ''} was seen healthy: the previous container is kept as ${r.container}-ownops-previous (docker rm it once the new one works; to go back: docker rm -f ${r.container} && docker rename ${r.container}-ownops-previous ${r.container} && docker start ${r.container})`,
      )
    if (r.svc.hooks?.after !== undefined) problems.push('the after hook did not run')
    return {
      ok: false,
      interrupted: true,
      attempts: started.attempts,
      detail: started.detail,
      downtimeMs: started.downtimeMs,
      ...(saved !== undefined ? { saved } : {}),
      problems,
      ...(image ? { image } : {}),
    }
  }
  if (recreated !== undefined) {
    const docker = await deps.docker()
    if (started.ok) {
      await dropPrevious(docker, recreated).catch((error: unknown) =>
        problems.push(
          `the previous container ${recreated?.previous.name}-ownops-previous could not be removed: ${(error as Error).message}`,
        ),
      )
    } else {
      // The new image does not come up: back to the container as it was.
      const failed = started.detail
      await rollBack(docker, recreated)
      started = await stopAndStart(deps, r, 1, opts.healthyTimeoutMs)
      problems.push(
        `the new image of ${image?.ref ?? ''} did not come up healthy (${failed}): rolled back to the previous container and image${started.ok ? '' : ', which is not healthy either'}`,
      )
      image = { ...(image as { ref: string; updated: boolean }), updated: false, rolledBack: true }
    }
  }
  if (started.ok && started.attempts > 1)
    problems.push(`it did not come up healthy on the first start (${started.firstDetail}): a second start was needed`)
  const after = await runHook(deps, r, 'after', {
    ...vars,
    OWNOPS_OUTCOME: started.ok ? 'healthy' : 'unhealthy',
    OWNOPS_DOWNTIME_SECONDS: String(Math.round(started.downtimeMs / 1000)),
  })
  if (after !== undefined && !after.ok) problems.push(after.detail)
  return {
    ok: started.ok,
    attempts: started.attempts,
    detail: started.detail,
    downtimeMs: started.downtimeMs,
    ...(saved !== undefined ? { saved } : {}),
    problems,
    ...(image ? { image } : {}),
  }
}

/**
 * Stop (the service's stopTimeout), start, wait until healthy; again up to `starts` times.
 * SIGINT/SIGTERM: before the stop, nothing is stopped; during it, the rest of the grace is
 * cut to a few seconds and the container started again; during the health wait, the wait
 * ends. Either way the result is `interrupted` with the container running.
 */
async function stopAndStart(
  deps: RestartDeps,
  r: ResolvedService,
  starts: number,
  healthyTimeoutMs?: number,
  recreate?: (docker: Docker) => Promise<void>,
): Promise<{ ok: boolean; attempts: number; detail: string; firstDetail: string; downtimeMs: number; interrupted?: boolean }> {
  const docker = await deps.docker()
  const log = deps.log.child({ service: r.name })
  const stopSec = Math.round(r.svc.stopTimeout / 1000)
  const healthyMs = healthyTimeoutMs ?? r.svc.healthyTimeout
  const down = performance.now()
  let detail = ''
  let firstDetail = ''
  const start = () =>
    docker
      .getContainer(r.container)
      .start()
      .catch((error: { statusCode?: number }) => {
        if (error.statusCode !== 304) throw error // 304: already started
      })
  const interrupted = (attempt: number, what: string) => {
    log.warn(what)
    return {
      ok: false,
      interrupted: true,
      attempts: attempt,
      detail: what,
      firstDetail: firstDetail || what,
      downtimeMs: Math.round(performance.now() - down),
    }
  }
  for (let attempt = 1; attempt <= starts; attempt++) {
    if (deps.signal.aborted)
      return interrupted(
        attempt - 1,
        attempt === 1
          ? `interrupted before the stop: ${r.container} was not stopped`
          : `interrupted: ${r.container} runs, not healthy (${detail})`,
      )
    log.info({ attempt }, attempt === 1 ? `stopping ${r.container} (grace ${stopSec}s)` : `not healthy (${detail}); one more start`)
    await stopContainer(docker, r.container, stopSec, { signal: deps.signal, log })
    if (deps.signal.aborted) {
      await start()
      return interrupted(
        attempt,
        `interrupted while ${r.container} was stopping: its stop was cut short and it was started again, not waited for until healthy`,
      )
    }
    if (attempt === 1 && recreate !== undefined) await recreate(docker)
    await start()
    let health
    try {
      health = await waitHealthy(docker, r.container, r.health, healthyMs, { signal: deps.signal })
    } catch (error) {
      if (!deps.signal.aborted) throw error
      return interrupted(attempt, `interrupted while waiting for ${r.container} to become healthy: it was started, not seen healthy`)
    }
    detail = health.detail
    if (attempt === 1) firstDetail = detail
    if (health.ok) return { ok: true, attempts: attempt, detail, firstDetail, downtimeMs: Math.round(performance.now() - down) }
  }
  return { ok: false, attempts: starts, detail, firstDetail, downtimeMs: Math.round(performance.now() - down) }
}
