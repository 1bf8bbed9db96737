/**
 * `ownops monitor`: one check cycle. Runs the checks, turns what they saw into alert
 * transitions with the state of earlier runs, acts on opt-in recovery, sends one digest,
 * pings the heartbeat, writes the state and the Prometheus textfile, and prints the table.
 * `--pause 30m` / `--resume` only change the state.
 */
import { randomUUID } from 'node:crypto'
import type { CommandResult } from '../command.js'
import type { Ctx } from '../context.js'
import { formatDuration, parseDuration } from '../duration.js'
import { errnoKind, ExitCode, isOwnopsError, OwnopsError } from '../errors.js'
import { runCycle } from './cycle.js'
import { buildDigest, rollUps } from './digest.js'
import { judge } from './judge.js'
import { quietPeriods } from './maintenance.js'
import { ENGINE_CHECK, planChecks, policyOf, type PlannedCheck } from './plan.js'
import { runRecoveries } from './recover.js'
import { explainStops } from './stopped.js'
import { metricRows, renderPrometheus, renderReport, summarize, type MonitorReport } from './report.js'
import type { MetricRow } from './types.js'
import { emptyState, escalate, MONITOR_STATE, validateState, type MonitorState, type Transition } from './state.js'
import type { Config } from '../config/schema.js'
import type { Notifier } from '../notify/send.js'
import { makeEvent } from '../notify/send.js'
import { writeFileAtomic } from '../sys/atomic.js'
import { watchedDestinations } from '../copies/units.js'
import { createDocker, pingDocker } from '../sys/docker.js'
import { abandonedLock, currentLockHolder, HostLock } from '../sys/lock.js'
import { flagLeftStopped } from './left-stopped.js'
import type { StateStore } from '../sys/state.js'
import type { Logger } from '../log.js'
import { didYouMean } from '../text.js'

export interface MonitorOptions {
  /** Run (or pause) only these checks. */
  checks: string[]
  pause?: string | undefined
  resume: boolean
  dryRun: boolean
}

export { MONITOR_STATE }

export async function runMonitor(ctx: Ctx, opts: MonitorOptions): Promise<CommandResult> {
  const loaded = ctx.config()
  const config = loaded.config
  const monitor = config.monitor
  const log = ctx.log
  if (loaded.file === undefined) log.info('no config file: running the built-in checks (filesystems, memory, load, swap, containers)')

  await takeMonitorLock(ctx)
  const store = ctx.stateStore()
  const state = await readState(store, log)
  const all = planChecks(monitor)
  const selected = selectChecks(all, opts.checks)

  if (opts.pause !== undefined || opts.resume) return pauseOrResume(ctx, state, opts)

  const now = ctx.clock()
  const runId = opts.dryRun
    ? randomUUID()
    : (
        await ctx.beginJob({
          name: opts.checks.length > 0 ? `monitor-${opts.checks.join('-')}` : 'monitor',
          command: 'monitor',
          heartbeat: monitor.heartbeat,
        })
      ).runId
  const lockHolder = await currentLockHolder(ctx.lockDir()).catch(() => undefined)
  let periods
  try {
    periods = quietPeriods({ now, windows: monitor.maintenance, pause: state.pause, lockHolder })
  } catch (error) {
    throw new OwnopsError(`monitor.maintenance: ${(error as Error).message}`, {
      kind: 'config',
      hint: 'fix the cron expression; `ownops config validate` checks it',
    })
  }

  const cycle = await runCycle({
    checks: selected,
    concurrency: monitor.concurrency,
    deadlineMs: monitor.deadline,
    now,
    log,
    env: ctx.env,
    signal: ctx.signal,
    engineTimeoutMs: monitor.timeout,
    paths: {
      backupDir: config.backup.dir,
      backupTargets: Object.keys(config.backup.targets),
      stateDir: ctx.stateStore().dir,
      destinations: watchedDestinations(config, now),
    },
    connectDocker: async () => {
      // An unusable DOCKER_HOST is the engine row's failure, not the whole run's.
      const endpoint = ctx.dockerEndpoint()
      const docker = await createDocker(endpoint)
      const info = await pingDocker(docker, endpoint)
      return { docker, description: `engine ${info.version} at ${endpoint.display}` }
    },
    memo: (id) => state.checks[id]?.memo,
  })
  if (ctx.signal.aborted) throw ctx.signal.reason
  // What checks saw (a command's output, a URL with ?token=, an error quoting a password)
  // is masked before it reaches the table, the state file, the metrics or an alert.
  const clean = (text: string) => ctx.redactor.redact(text)
  cycle.observations = cycle.observations.map((o) => ({
    ...o,
    value: clean(o.value),
    message: clean(o.message),
    ...(o.threshold === undefined ? {} : { threshold: clean(o.threshold) }),
  }))

  // Containers a killed backup or restore left stopped are down because of ownops: say so.
  cycle.observations = flagLeftStopped(cycle.observations, await abandonedLock(ctx.lockDir()).catch(() => undefined))
  const byName = new Map(all.map((c) => [c.name, c]))
  // A service check failing because a person stopped its container is not a crash.
  await explainStops(cycle.observations, byName, config.restart.services, {
    docker: async () => createDocker(ctx.dockerEndpoint()),
    now,
    log,
    signal: ctx.signal,
  })
  const { states, rows, transitions, recoveries, quietIds } = judge({
    observations: cycle.observations,
    completed: cycle.completed,
    previous: state.checks,
    checks: byName,
    enginePolicy: policyOf({}, monitor),
    quiet: periods,
    now,
  })
  transitions.push(
    ...(await runRecoveries(
      { recoveries, states, rows, now },
      {
        log,
        env: ctx.env,
        signal: ctx.signal,
        docker: async () => createDocker(ctx.dockerEndpoint()),
        dryRun: opts.dryRun,
        services: config.restart.services,
        lock: async (container) => void (await ctx.lock('monitor recovery', [container])),
      },
    )),
  )

  const host = config.hostname ?? (await import('node:os')).hostname()
  const parents = rollUps(
    cycle.observations,
    (name) => byName.get(name)?.spec.dependsOn,
    (id) => quietIds.has(id),
  )
  const notifier = Object.keys(config.notify.channels).length > 0 ? await ctx.notifier() : undefined
  if (notifier !== undefined) {
    // Escalation over time: an alert still open after a rule's `after` goes further.
    for (const row of rows) {
      const st = states[row.id]
      if (st?.alert === undefined || quietIds.has(row.id) || (row.status !== 'warning' && row.status !== 'critical')) continue
      const t = escalate(row.id, st, notifier.escalation({ source: { command: 'monitor', target: row.id }, level: st.alert.level }), now)
      const what = byName.get(row.check)?.spec.description
      if (t !== undefined) transitions.push(what ? { ...t, what } : t)
    }
  }
  const digest = buildDigest(transitions, parents, host)
  const report: MonitorReport = {
    ok: true,
    runId,
    time: now.toISOString(),
    durationMs: Math.round(cycle.durationMs),
    dryRun: opts.dryRun,
    summary: summarize(rows),
    checks: rows,
    transitions,
    quiet: periods.map((p) => `${p.reason}${p.names ? ` (${p.names.join(', ')})` : ''}`),
    exitCode: ExitCode.ok,
  }

  if (digest !== undefined && notifier !== undefined) {
    try {
      const routed = routeTransitions(transitions, notifier, config, now)
      if (!opts.dryRun) {
        const deliveries = []
        for (const { channels, items } of routed.groups) {
          const part = buildDigest(items, parents, host) as NonNullable<typeof digest>
          const event = makeEvent(config, now, {
            level: part.level,
            title: part.title,
            body: part.body,
            alerts: part.alerts,
            source: { command: 'monitor', ...(part.target ? { target: part.target } : {}) },
          })
          deliveries.push(...(await notifier.send(event, channels)).deliveries)
        }
        report.notification = {
          level: digest.level,
          title: digest.title,
          channels: deliveries.map((d) => ({ channel: d.channel, status: d.status, ...(d.error ? { error: d.error } : {}) })),
        }
      }
      // Where each alert went: its recovery goes there too.
      for (const [id, channels] of routed.alerted) {
        const alert = states[id]?.alert
        if (alert !== undefined) alert.notified = [...new Set([...(alert.notified ?? []), ...channels])]
      }
    } catch (error) {
      log.warn({ err: error }, 'could not send the monitor digest')
    }
  }

  const failOn = monitor.failOn
  const active = rows.filter((r) => r.status !== 'maintenance')
  const failing =
    failOn === 'never' ? false : active.some((r) => r.status === 'critical' || (failOn === 'warning' && r.status === 'warning'))
  report.exitCode = failing ? ExitCode.failed : ExitCode.ok
  report.ok = !active.some((r) => r.status === 'critical' || r.status === 'warning')

  if (!opts.dryRun) {
    // The last result of every row: this run's, and those of checks this run did not run to
    // the end (a partial `monitor api`, a check cut off by the deadline) that still exist.
    const results: Record<string, MetricRow> = {}
    for (const [id, row] of Object.entries(state.results ?? {})) {
      const owner = id.split(':')[0] as string
      if ((byName.has(owner) || owner === ENGINE_CHECK) && !cycle.completed.has(owner) && states[id] !== undefined) results[id] = row
    }
    for (const row of metricRows(report)) results[row.id] = row
    const next: MonitorState = {
      version: state.version,
      checks: states,
      lastRun: { at: now.toISOString(), runId, durationMs: report.durationMs },
      results,
    }
    if (state.pause !== undefined && now.getTime() < Date.parse(state.pause.until)) next.pause = state.pause
    try {
      await store.write(MONITOR_STATE, next)
    } catch (error) {
      // A full disk is exactly when the table and the alerts matter: they still go out.
      const code = (error as NodeJS.ErrnoException).code
      log.error(
        { err: error, file: store.path(MONITOR_STATE) },
        'could not write the monitor state: the next run will not know what this one saw',
      )
      if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') report.exitCode = ExitCode.noperm
    }
    if (monitor.prometheus !== undefined) {
      try {
        await writeFileAtomic(
          monitor.prometheus.textfile,
          renderPrometheus(report, Object.values(results), (t) => ctx.redactor.redact(t)),
          { mode: 0o644, dirMode: 0o755 },
        )
      } catch (error) {
        log.warn({ err: error, file: monitor.prometheus.textfile }, 'could not write the Prometheus textfile')
      }
    }
  }

  const s = report.summary
  log.info(
    {
      runId,
      ok: s.ok,
      warning: s.warning,
      critical: s.critical,
      unknown: s.unknown,
      maintenance: s.maintenance,
      transitions: transitions.length,
      ms: report.durationMs,
    },
    'monitor run done',
  )
  return { exitCode: report.exitCode, report, text: renderReport(report, now, ctx.colour) }
}

function selectChecks(all: PlannedCheck[], names: readonly string[]): PlannedCheck[] {
  if (names.length === 0) return all
  const known = all.map((c) => c.name)
  for (const name of names) {
    if (!known.includes(name)) {
      const suggestion = didYouMean(name, known)
      throw new OwnopsError(`no check named "${name}"`, {
        kind: 'usage',
        hint: suggestion ? `did you mean "${suggestion}"?` : `checks: ${known.join(', ') || 'none'}`,
      })
    }
  }
  return all.filter((c) => names.includes(c.name))
}

/** Two monitor runs never overlap; a backup's host lock is not taken (it is only read, for its stops). */
async function takeMonitorLock(ctx: Ctx): Promise<void> {
  try {
    const lock = await HostLock.acquire({
      dir: ctx.lockDir(),
      name: 'monitor.lock',
      label: 'the monitor lock',
      command: 'monitor',
      waitMs: 0,
      log: ctx.log,
      signal: ctx.signal,
      now: ctx.clock,
    })
    ctx.defer(() => lock.release())
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as { cause?: NodeJS.ErrnoException }).cause?.code
    if (code === 'ENOSPC') {
      // No room for a lock file: checking matters more than the rare overlap.
      ctx.log.warn({ dir: ctx.lockDir() }, 'no space left for the monitor lock; running without it')
      return
    }
    if (isOwnopsError(error) && error.kind === 'busy' && error.message.startsWith('another ownops run')) {
      throw new OwnopsError(error.message, {
        kind: 'busy',
        hint: 'the previous monitor run is still going; this one is skipped (a run longer than the timer interval: lower monitor.deadline)',
      })
    }
    throw error
  }
}

/** The state of earlier runs; corrupt or missing reads as fresh (with a warning), unreadable is exit 77. */
async function readState(store: StateStore, log: Logger): Promise<MonitorState> {
  try {
    if (!store.exists(MONITOR_STATE)) log.info({ file: store.path(MONITOR_STATE) }, 'no monitor state yet: this run starts fresh')
    return await store.read<MonitorState>(MONITOR_STATE, emptyState(), validateState)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    throw new OwnopsError(`cannot read the monitor state ${store.path(MONITOR_STATE)}: ${code ?? (error as Error).message}`, {
      kind: errnoKind(error),
      hint: 'run as the user that owns the state directory (root for /var/lib/ownops), or set stateDir / $OWNOPS_STATE_DIR',
      cause: error,
    })
  }
}

async function pauseOrResume(ctx: Ctx, state: MonitorState, opts: MonitorOptions): Promise<CommandResult> {
  const store = ctx.stateStore()
  const now = ctx.clock()
  if (opts.resume) {
    const had = state.pause
    delete state.pause
    await store.write(MONITOR_STATE, state)
    ctx.log.info('monitor resumed')
    return {
      exitCode: ExitCode.ok,
      report: { paused: false, wasPaused: had !== undefined },
      text: had ? 'monitor resumed: alerts and recovery are back on\n' : 'monitor was not paused\n',
    }
  }
  const ms = parseDuration(opts.pause as string)
  if (ms === undefined || ms <= 0)
    throw new OwnopsError(`--pause: not a duration (of at most 100 years): ${String(opts.pause)}`, {
      kind: 'usage',
      hint: 'e.g. --pause 30m or --pause 2h',
    })
  const until = new Date(now.getTime() + ms).toISOString()
  state.pause = { until, ...(opts.checks.length > 0 ? { checks: opts.checks } : {}) }
  await store.write(MONITOR_STATE, state)
  const which = opts.checks.length > 0 ? opts.checks.join(', ') : 'every check'
  ctx.log.info({ until, checks: opts.checks }, 'monitor paused')
  return {
    exitCode: ExitCode.ok,
    report: { paused: true, until, checks: opts.checks },
    text: `monitor paused for ${formatDuration(ms)} (until ${until}): ${which} runs, but nothing alerts and nothing is restarted. \`ownops monitor --resume\` ends it early.\n`,
  }
}

/**
 * Which channels each change goes to — by the rules over checks, else by level; a
 * recovery to where its alert went and to those that take info; an escalation to its
 * step's channels — grouped so that every channel gets one digest of its own changes.
 */
function routeTransitions(
  transitions: readonly Transition[],
  notifier: Notifier,
  config: Config,
  now: Date,
): { groups: Array<{ channels: string[]; items: Transition[] }>; alerted: Map<string, string[]> } {
  const names = (t: Transition, level: Transition['level']) =>
    notifier
      .route(makeEvent(config, now, { level, title: t.message, body: '', source: { command: 'monitor', target: t.id } }))
      .map(([name]) => name)
  const byChannel = new Map<string, Transition[]>()
  const alerted = new Map<string, string[]>()
  for (const t of transitions) {
    let channels: string[]
    if (t.type === 'escalation') channels = (t.escalation?.channels ?? []).filter((c) => config.notify.channels[c] !== undefined)
    else if (t.type === 'recover' || t.type === 'gone')
      channels = [...new Set([...(t.notified ?? names(t, t.resolves ?? 'warning')), ...names(t, 'info')])].filter(
        (c) => config.notify.channels[c] !== undefined,
      )
    else channels = names(t, t.level)
    if (t.type !== 'recover' && t.type !== 'gone') alerted.set(t.id, [...new Set([...(alerted.get(t.id) ?? []), ...channels])])
    for (const c of channels) byChannel.set(c, [...(byChannel.get(c) ?? []), t])
  }
  const groups = new Map<string, { channels: string[]; items: Transition[] }>()
  for (const [channel, items] of byChannel) {
    const key = items.map((t) => transitions.indexOf(t)).join(',')
    const group = groups.get(key) ?? { channels: [], items }
    group.channels.push(channel)
    groups.set(key, group)
  }
  return { groups: [...groups.values()], alerted }
}
