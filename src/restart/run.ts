/**
 * `ownops restart SERVICE [--safe] [--in 30m | --at 04:00]`: warn the players on a
 * countdown, save, stop gracefully, start, wait until healthy; one more start when it does
 * not come up, then a critical alert with the log tail. Ctrl-C (or SIGTERM, or
 * `restart --cancel`) during the countdown announces the cancellation and leaves the
 * service running. `--detach` hands the countdown to a transient systemd timer.
 *
 * The host lock is taken when the countdown ends, not before: a 30-minute countdown does
 * not hold up a backup, and the stop never overlaps one.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { CommandResult } from '../command.js'
import type { Ctx } from '../context.js'
import { formatDuration, formatDurationSetting, parseDuration } from '../duration.js'
import { ExitCode, OwnopsError } from '../errors.js'
import { countdownOffsets, detachArgv, formatClock, formatLeft, renderMessage, restartTime } from './plan.js'
import { announce, playerCount, resolveService, restartSequence, type ResolvedService as Resolved } from './service.js'
import { containerLogTail } from '../sys/docker.js'
import { describeHealth } from '../sys/health.js'
import { runCapture } from '../sys/exec.js'
import { processAlive } from '../sys/host.js'
import { ownopsRuntime } from '../sys/runtime.js'
import { didYouMean, renderTable } from '../text.js'

export interface RestartOptions {
  /** Default: restart.default, or the only service in restart.services. */
  service?: string | undefined
  /** --safe / --no-safe; undefined: the service's `safe:` setting. */
  safe?: boolean | undefined
  in?: string | undefined
  at?: string | undefined
  ifEmpty: boolean
  maxWait?: string | undefined
  reason?: string | undefined
  /** --pull: pull the image first and start the newer one (default: the service's pull:). */
  pull?: boolean | undefined
  detach: boolean
  dryRun: boolean
  list: boolean
  cancel?: string | undefined
}

interface PendingRecord {
  service: string
  container: string
  pid: number
  when: string
  reason?: string
  safe: boolean
  phase: 'countdown' | 'waiting for players' | 'restarting' | 'scheduled'
  detached?: { unit: string }
}

const stateName = (service: string) => `restart-${service}`

/** The service to restart when none is named: restart.default, or the only one configured. */
function defaultService(ctx: Ctx): string {
  const { services, default: chosen } = ctx.config().config.restart
  if (chosen !== undefined) return chosen
  const names = Object.keys(services)
  if (names.length === 1) return names[0] as string
  if (names.length === 0) {
    throw new OwnopsError('which service? no restart.services configured', {
      kind: 'usage',
      hint: 'name a container: ownops restart CONTAINER, or configure one under restart.services',
    })
  }
  throw new OwnopsError(`which service? ${names.length} are configured: ${names.join(', ')}`, {
    kind: 'usage',
    hint: `name one (ownops restart ${names[0] ?? ''} --in 30m), or set restart.default to the one to restart without a name`,
  })
}

async function requireContainer(ctx: Ctx, r: Resolved): Promise<void> {
  const docker = await ctx.docker()
  if (r.svc.compose !== undefined) {
    const { project, service } = r.svc.compose
    const found = await docker.listContainers({
      all: true,
      filters: JSON.stringify({ label: [`com.docker.compose.project=${project}`, `com.docker.compose.service=${service}`] }),
    })
    const first = found.map((c) => (c.Names[0] ?? c.Id).replace(/^\//, '')).sort()[0]
    if (first === undefined) {
      throw new OwnopsError(`no container of compose service ${service} in project ${project}`, {
        kind: 'usage',
        hint: `docker compose -p ${project} ps shows its containers (restart.services.${r.name}.compose)`,
      })
    }
    r.container = first
  }
  const info = await docker
    .getContainer(r.container)
    .inspect()
    .catch(() => undefined)
  if (info === undefined) {
    const services = Object.keys(ctx.config().config.restart.services)
    const guess = didYouMean(r.name, services)
    throw new OwnopsError(
      `no container ${r.container}${services.includes(r.name) ? ` (restart.services.${r.name}.container)` : ` and no service "${r.name}" in restart.services`}${guess && guess !== r.name ? ` (did you mean "${guess}"?)` : ''}`,
      {
        kind: 'usage',
        hint:
          services.length > 0
            ? `configured services: ${services.join(', ')}`
            : 'docker ps shows the containers; restart.services configures announcements, saves and health checks',
      },
    )
  }
}

// ---------------------------------------------------------------------------------------
// the command
// ---------------------------------------------------------------------------------------

type Run = RestartOptions & { safe: boolean }

export async function runRestart(ctx: Ctx, options: RestartOptions): Promise<CommandResult> {
  if (options.list) return listPending(ctx)
  if (options.cancel !== undefined) return cancelPending(ctx, options.cancel)
  const r = resolveService(ctx.config().config.restart.services, options.service ?? defaultService(ctx))
  const run: Run = { ...options, safe: options.safe ?? r.svc.safe }
  return restartService(ctx, r, run)
}

async function restartService(ctx: Ctx, r: Resolved, opts: Run): Promise<CommandResult> {
  const now = ctx.clock()
  const when = restartTime({ in: opts.in, at: opts.at }, now)
  const delay = when.getTime() - now.getTime()
  const offsets = opts.safe ? countdownOffsets(delay, r.svc.warnAt) : []
  const maxWait = opts.maxWait !== undefined ? parseDuration(opts.maxWait) : r.svc.ifEmpty.maxWait
  if (maxWait === undefined) throw new OwnopsError(`--max-wait: not a duration: ${String(opts.maxWait)}`, { kind: 'usage' })
  const steps = [
    `restart ${r.name} (${r.svc.compose ? `compose service ${r.svc.compose.service} of project ${r.svc.compose.project}` : `container ${r.container}`}) ${delay > 1000 ? `at ${formatClock(when, true)}, in ${formatLeft(delay)}` : 'now'}${opts.reason ? `, reason: ${opts.reason}` : ''}`,
    ...(opts.safe
      ? [
          offsets.length > 0
            ? `warn players (${r.announce === 'none' ? 'no announcer configured' : typeof r.announce === 'string' ? `RCON ${r.announce}` : 'exec'}) ${offsets.map((o) => formatLeft(o)).join(', ')} before`
            : `no countdown warnings${r.announce === 'none' ? ' (no announcer configured)' : ''}`,
        ]
      : []),
    ...(opts.ifEmpty
      ? [
          `then wait until nobody is online, at most ${formatLeft(maxWait)}; then ${r.svc.ifEmpty.onTimeout === 'restart' ? 'restart anyway' : 'give up'}`,
        ]
      : []),
    ...(opts.safe
      ? [`save: ${r.save === 'none' ? 'none' : r.save === 'rcon' ? 'RCON save-all flush' : `exec ${r.save.exec.join(' ')}`}`]
      : []),
    `stop gracefully (${formatDurationSetting(r.svc.stopTimeout)}), start, wait until ${describeHealth(r.health)} (at most ${formatDurationSetting(r.svc.healthyTimeout)}; then one more start)`,
  ]
  if (opts.dryRun) {
    return {
      exitCode: ExitCode.ok,
      report: {
        dryRun: true,
        service: r.name,
        container: r.container,
        when: when.toISOString(),
        warnings: offsets.map((o) => new Date(when.getTime() - o).toISOString()),
        steps,
      },
      text: `${steps.map((s, i) => `${i === 0 ? '' : '  '}${s}`).join('\n')}\n`,
    }
  }
  if (opts.detach) return detach(ctx, r, opts, when, offsets)
  await ctx.beginJob({ name: `restart-${r.name}`, command: 'restart', target: r.name })
  await requireContainer(ctx, r)
  if ((opts.pull ?? r.svc.pull) && r.svc.compose !== undefined) {
    throw new OwnopsError(`--pull: ${r.name} is a compose service, whose image compose manages`, {
      kind: 'usage',
      hint: `docker compose -p ${r.svc.compose.project} pull ${r.svc.compose.service} && docker compose -p ${r.svc.compose.project} up -d ${r.svc.compose.service}`,
    })
  }
  return foreground(ctx, r, opts, when, offsets, maxWait)
}

async function foreground(ctx: Ctx, r: Resolved, opts: Run, when: Date, offsets: number[], maxWaitMs: number): Promise<CommandResult> {
  const log = ctx.log.child({ service: r.name })
  const store = ctx.stateStore()
  const record: PendingRecord = {
    service: r.name,
    container: r.container,
    pid: process.pid,
    when: when.toISOString(),
    safe: opts.safe,
    phase: 'countdown',
    ...(opts.reason ? { reason: opts.reason } : {}),
  }
  const source = { command: 'restart', target: r.name }
  const reasonText = opts.reason ? `, reason: ${opts.reason}` : ''
  const waitUntil = async (at: number) => {
    const ms = at - ctx.clock().getTime()
    if (ms > 0) await ctx.sleep(ms)
  }
  /** Warns at each offset before `at`, then waits for `at`. */
  const countdown = async (at: number, warnings: number[]) => {
    for (const offset of warnings) {
      await waitUntil(at - offset)
      log.info(`restart of ${r.name} in ${formatLeft(offset)}`)
      const failed = await announce(
        ctx,
        r,
        renderMessage(r.svc.messages.warn, { left: offset, reason: opts.reason, time: new Date(at) }),
        'warn',
      )
      if (failed !== undefined) missed.push(`${formatLeft(offset)} before: ${failed}`)
    }
    await waitUntil(at)
  }
  /** Countdown warnings the players did not get. */
  const missed: string[] = []
  await store.write(stateName(r.name), record)
  let restarting = false
  try {
    const delay = when.getTime() - ctx.clock().getTime()
    await ctx.notifySafely({
      level: 'info',
      title: `restart of ${r.name} ${delay > 1000 ? `at ${formatClock(when)}` : 'now'}`,
      body: `restart of ${r.name} ${delay > 1000 ? `at ${formatClock(when, true)} (in ${formatLeft(delay)})` : 'now'}${reasonText}`,
      source,
    })
    if (delay > 1000)
      log.info({ at: when.toISOString() }, `restart of ${r.name} in ${formatLeft(delay)} (${formatClock(when)}); Ctrl-C cancels`)
    await countdown(when.getTime(), offsets)

    if (opts.ifEmpty) {
      record.phase = 'waiting for players'
      await store.write(stateName(r.name), record)
      const interval = r.svc.ifEmpty.interval
      const deadline = ctx.clock().getTime() + maxWaitMs
      let announced = false
      for (;;) {
        let online: number
        try {
          online = (await playerCount(ctx, r)).online
        } catch (error) {
          if (error instanceof OwnopsError) throw error
          log.warn({ err: error }, 'could not ask the player count; asking again')
          online = -1
        }
        if (online === 0) break
        if (ctx.clock().getTime() >= deadline) {
          if (r.svc.ifEmpty.onTimeout === 'give-up') {
            const text = `restart of ${r.name} given up: players were still online after ${formatLeft(maxWaitMs)}`
            await ctx.notifySafely({ level: 'warning', title: `restart of ${r.name} given up`, body: text, source })
            return { exitCode: ExitCode.failed, report: { ok: false, service: r.name, gaveUp: true }, text: `${text}\n` }
          }
          log.info(`players still online after ${formatLeft(maxWaitMs)}; restarting anyway`)
          // A last minute of warnings (the warnAt offsets within it).
          if (opts.safe) await countdown(ctx.clock().getTime() + 60_000, countdownOffsets(60_000, r.svc.warnAt))
          break
        }
        if (!announced && opts.safe && online > 0) {
          await announce(ctx, r, renderMessage(r.svc.messages.pending, { reason: opts.reason }), 'pending')
          announced = true
        }
        log.info({ online }, `waiting for the server to empty (${online < 0 ? 'count unknown' : `${online} online`})`)
        await ctx.sleep(interval)
      }
    }

    // From here on an interruption does not stop halfway: the service is started again.
    restarting = true
    record.phase = 'restarting'
    await store.write(stateName(r.name), record)
    await ctx.lock('restart', [r.container])
    const result = await restartSequence(ctx, r, {
      safe: opts.safe,
      reason: opts.reason,
      trigger: 'restart',
      pull: opts.pull ?? r.svc.pull,
    })
    const problems = [
      ...(missed.length > 0
        ? [`players were not warned ${missed.length} of ${offsets.length} times during the countdown (${missed[0] ?? ''})`]
        : []),
      ...result.problems,
    ]
    const listed = problems.length > 0 ? `\n\nWhat went wrong:\n${problems.map((p) => `- ${p}`).join('\n')}` : ''
    if (result.interrupted) {
      const text = `restart of ${r.name} interrupted: ${result.detail}`
      await ctx.notifySafely({ level: 'error', title: `restart of ${r.name} interrupted`, body: `${text}${listed}`, source })
      const reason: unknown = ctx.signal.reason
      throw new OwnopsError(`${text}${problems.length > 0 ? `; ${problems.join('; ')}` : ''}`, {
        kind: reason instanceof OwnopsError ? reason.kind : 'sigterm',
        hint: `docker ps -a --filter name=${r.container}`,
      })
    }
    if (result.refused !== undefined) {
      const text = `restart of ${r.name} not done: ${result.refused}; ${r.container} was not stopped`
      await ctx.notifySafely({ level: 'error', title: `restart of ${r.name} not done`, body: text, source })
      throw new OwnopsError(text, {
        kind: 'failed',
        hint: `fix the hook (restart.services.${r.name}.hooks.before), or make it exit 0 when its failure should not stop the restart`,
      })
    }
    if (!result.ok) {
      const logTail = await containerLogTail(await ctx.docker(), r.container, 50).catch(
        (error: unknown) => `(could not read the log: ${(error as Error).message})`,
      )
      const text = `${r.name} did not come up healthy after ${result.attempts} starts: ${result.detail}`
      await ctx.notifySafely({
        level: 'critical',
        title: `restart of ${r.name} failed`,
        body: `${text}${listed}\n\nlast 50 lines of ${r.container}'s log:\n${logTail}`,
        source,
      })
      throw new OwnopsError(text, { kind: 'failed', hint: `docker logs --tail 100 ${r.container}` })
    }
    const text = `${r.name} restarted${result.image?.updated ? ` on the new image of ${result.image.ref}` : ''}: healthy after ${formatDuration(result.downtimeMs)} of downtime${result.attempts > 1 ? ` (${result.attempts} starts)` : ''}${reasonText}`
    await ctx.notifySafely({
      level: problems.length > 0 ? 'warning' : 'info',
      title: `${r.name} restarted${problems.length > 0 ? `, with ${problems.length} problem${problems.length === 1 ? '' : 's'}` : ''}`,
      body: `${text}${listed}`,
      source,
    })
    for (const p of problems) log.warn(p)
    // A failed after hook (the DNS not registered again) leaves the service unreachable: exit 1.
    const hookFailed = problems.some((p) => p.startsWith('the after hook'))
    return {
      exitCode: hookFailed ? ExitCode.failed : ExitCode.ok,
      report: {
        ok: !hookFailed,
        service: r.name,
        container: r.container,
        downtimeMs: result.downtimeMs,
        attempts: result.attempts,
        health: result.detail,
        saved: result.saved ?? null,
        problems,
        ...(result.image ? { image: result.image } : {}),
      },
      text: `${text}${problems.length > 0 ? `\n${problems.map((p) => `  problem: ${p}`).join('\n')}` : ''}\n`,
    }
  } catch (error) {
    if (ctx.signal.aborted && !restarting) {
      log.warn('restart cancelled')
      if (opts.safe) await announce(ctx, r, renderMessage(r.svc.messages.cancelled, { reason: opts.reason }), 'cancelled')
      await ctx.notifySafely({
        level: 'info',
        title: `restart of ${r.name} cancelled`,
        body: `the restart of ${r.name} planned for ${formatClock(when)} was cancelled; ${r.container} keeps running`,
        source,
      })
      const reason: unknown = ctx.signal.reason
      throw new OwnopsError(`restart of ${r.name} cancelled; ${r.container} keeps running (nothing was stopped)`, {
        kind: reason instanceof OwnopsError ? reason.kind : 'sigint',
      })
    }
    throw error
  } finally {
    await store.remove(stateName(r.name))
  }
}

// ---------------------------------------------------------------------------------------
// --detach, --list, --cancel
// ---------------------------------------------------------------------------------------

async function detach(ctx: Ctx, r: Resolved, opts: Run, when: Date, offsets: number[]): Promise<CommandResult> {
  const foregroundForm =
    `ownops restart ${r.name}${opts.safe ? ' --safe' : ''} ${opts.at ? `--at "${opts.at}"` : opts.in ? `--in ${opts.in}` : ''}`.trim()
  if (!ctx.systemdRunning()) {
    throw new OwnopsError('--detach needs systemd, which is not running here', {
      kind: 'unavailable',
      hint: `run it in the foreground (in tmux or screen): ${foregroundForm}`,
    })
  }
  const now = ctx.clock()
  const lead = offsets[0] ?? 0
  const fireAt = new Date(Math.max(now.getTime(), when.getTime() - lead - 5_000))
  const unit = `ownops-restart-${r.name}`
  const configFile = ctx.config().file
  const command = [
    ...ownopsRuntime(),
    ...(configFile ? ['-c', configFile] : []),
    'restart',
    r.name,
    '--at',
    when.toISOString(),
    ...(opts.safe ? ['--safe'] : r.svc.safe ? ['--no-safe'] : []),
    ...(opts.ifEmpty ? ['--if-empty'] : []),
    ...(opts.pull ? ['--pull'] : []),
    ...(opts.maxWait ? ['--max-wait', opts.maxWait] : []),
    ...(opts.reason ? ['--reason', opts.reason] : []),
  ]
  const argv = detachArgv({ unit, fireAt, now, command, description: `ownops restart ${r.name} at ${formatClock(when, true)}` })
  const result = await runCapture(argv, { log: ctx.log, signal: ctx.signal })
  if (result.exitCode !== 0)
    throw new OwnopsError(`systemd-run failed: ${(result.stderr || result.reason || '').trim()}`, { kind: 'failed', hint: foregroundForm })
  const record: PendingRecord = {
    service: r.name,
    container: r.container,
    pid: 0,
    when: when.toISOString(),
    safe: opts.safe,
    phase: 'scheduled',
    detached: { unit },
    ...(opts.reason ? { reason: opts.reason } : {}),
  }
  await ctx.stateStore().write(stateName(r.name), record)
  return {
    exitCode: ExitCode.ok,
    report: { detached: true, unit: `${unit}.timer`, when: when.toISOString() },
    text: `restart of ${r.name} at ${formatClock(when, true)} handed to systemd (${unit}.timer); ownops restart --list shows it, ownops restart --cancel ${r.name} cancels it\n`,
  }
}

async function pendingRecords(ctx: Ctx): Promise<PendingRecord[]> {
  const store = ctx.stateStore()
  const records: PendingRecord[] = []
  for (const name of await store.list('restart-')) {
    const record = await store.read<PendingRecord | undefined>(name, undefined)
    if (record === undefined || typeof record.service !== 'string') continue
    if (record.detached === undefined && !processAlive(record.pid)) {
      await store.remove(name) // its process is gone
      continue
    }
    records.push(record)
  }
  return records
}

async function listPending(ctx: Ctx): Promise<CommandResult> {
  const records = await pendingRecords(ctx)
  const rows = records.map((p) => [
    p.service,
    formatClock(new Date(p.when), true),
    p.phase,
    p.detached ? `systemd ${p.detached.unit}.timer` : `pid ${p.pid}`,
    p.reason ?? '',
  ])
  const text = records.length === 0 ? 'no restart pending\n' : `${renderTable(['SERVICE', 'AT', 'PHASE', 'BY', 'REASON'], rows)}`
  return { exitCode: ExitCode.ok, report: { pending: records }, text: text.endsWith('\n') ? text : `${text}\n` }
}

async function cancelPending(ctx: Ctx, service: string): Promise<CommandResult> {
  const records = await pendingRecords(ctx)
  const record = records.find((p) => p.service === service)
  if (record === undefined) {
    throw new OwnopsError(`no restart of ${service} is pending`, { kind: 'failed', hint: 'ownops restart --list shows the pending ones' })
  }
  if (record.phase === 'restarting') {
    throw new OwnopsError(`the restart of ${service} is already under way; it is not stopped halfway`, { kind: 'failed' })
  }
  if (record.detached !== undefined) {
    if (!ctx.systemdRunning()) throw new OwnopsError('systemd is not running; cannot stop the timer', { kind: 'unavailable' })
    // The service gets SIGINT (KillSignal): a countdown in progress announces the cancellation.
    await runCapture(['systemctl', 'stop', `${record.detached.unit}.timer`, `${record.detached.unit}.service`], {
      log: ctx.log,
      signal: ctx.signal,
    })
    await ctx.stateStore().remove(stateName(service))
  } else {
    process.kill(record.pid, 'SIGINT')
    // Wait for it to announce the cancellation and clean up.
    for (let i = 0; i < 100 && processAlive(record.pid); i++) await sleep(100)
  }
  return {
    exitCode: ExitCode.ok,
    report: { cancelled: service },
    text: `restart of ${service} cancelled; ${record.container} keeps running\n`,
  }
}
