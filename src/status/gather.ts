/**
 * Collects what `ownops status` shows, read-only: the backup catalogs, the state files
 * (peeked at: no lock taken, nothing moved aside or removed), the host lock, and the
 * schedule — next runs from `systemctl list-timers` where systemd runs, otherwise from the
 * installed timer units, /etc/cron.d/ownops and the crontab block, computed by ownops.
 */
import { futureDated, readCatalog } from '../backup/catalog.js'
import { jobRecordName, type Ctx, type JobRecord } from '../context.js'
import { emptyCopiesState, COPIES_STATE, type CopiesState } from '../copies/state.js'
import { watchedDestinations } from '../copies/units.js'
import { describeError } from '../errors.js'
import { MONITOR_STATE, validateState, type MonitorState } from '../monitor/state.js'
import type { DrillRecord, VerifiedState } from '../restore/verify.js'
import { nextRuns } from '../schedule/cron.js'
import { CROND_FILE, splitCrontab } from '../schedule/crond.js'
import { CROND_DIR, isCronFile, isSystemdFile, planFor, rootDir, SYSTEMD_DIR, under } from '../schedule/host.js'
import { nextCalendarRun, nextCronRun, readCronJobs, readTimer } from '../schedule/installed.js'
import { hostZone } from '../schedule/warnings.js'
import { crontab } from '../sys/crontab.js'
import { processAlive } from '../sys/host.js'
import { abandonedLock, currentLockHolder } from '../sys/lock.js'
import type { Peeked, StateStore } from '../sys/state.js'
import { listTimers, type ListedTimer } from '../sys/systemd.js'
import { readFiles } from '../sys/unit-files.js'
import { which } from '../sys/which.js'
import type { JobFacts, PendingRestart, StatusFacts, TargetFacts } from './facts.js'

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)

export async function gatherStatus(ctx: Ctx, opts: { root?: string | undefined }): Promise<StatusFacts> {
  const loaded = ctx.config()
  const config = loaded.config
  const now = ctx.clock()
  const zone = hostZone(ctx.env)
  const store = ctx.stateStore()
  const problems: string[] = []
  const peek = async <T>(name: string, fallback: T, validate?: (v: unknown) => T | undefined): Promise<T> => {
    const found: Peeked<T> = await store.peek(name, fallback, validate)
    if (found.problem !== undefined) problems.push(found.problem)
    return found.value
  }

  const targets: TargetFacts[] = []
  for (const [name, target] of Object.entries(config.backup.targets)) {
    try {
      const catalog = await readCatalog(config.backup.dir, name)
      const ahead = futureDated(catalog.backups, now)
      const real = catalog.backups.filter((b) => !b.tags.includes('pre-restore') && !ahead.includes(b))
      const newest = real[0]?.manifest
      targets.push({
        name,
        type: target.type,
        ...(newest ? { newest: { id: newest.id, time: newest.time, size: newest.size, warnings: newest.warnings } } : {}),
        count: catalog.backups.length,
        leftovers: catalog.oddities.filter((o) => o.kind === 'partial' && o.stale === true).length,
        ahead: ahead.length,
      })
    } catch (error) {
      targets.push({ name, type: target.type, count: 0, leftovers: 0, ahead: 0, problem: describeError(error) })
    }
  }

  const copies = await peek<CopiesState>(COPIES_STATE, emptyCopiesState(), (v) =>
    isObject(v) && v.version === 1 && isObject(v.destinations) ? (v as unknown as CopiesState) : undefined,
  )
  const verified = await peek<VerifiedState>('verified', {}, (v) => (isObject(v) ? (v as VerifiedState) : undefined))
  const drills = await peek<Record<string, DrillRecord>>('drills', {}, (v) =>
    isObject(v) ? (v as Record<string, DrillRecord>) : undefined,
  )
  const monitor = await peek<MonitorState | undefined>(MONITOR_STATE, undefined, validateState)
  const drillChecks = Object.values(config.monitor.checks)
    .filter((c): c is Extract<typeof c, { kind: 'drill' }> => c.kind === 'drill')
    .map((c) => ({ targets: c.targets, maxAgeMs: c.maxAge }))

  const restarts: PendingRestart[] = []
  for (const name of await store.list('restart-')) {
    const record = await peek<PendingRestart | undefined>(name, undefined, (v) =>
      isObject(v) && typeof v.service === 'string' && typeof v.when === 'string' ? (v as unknown as PendingRestart) : undefined,
    )
    // A countdown whose process is gone is no longer pending (restart --list tidies its file away).
    if (record !== undefined && (record.detached !== undefined || processAlive(record.pid))) restarts.push(record)
  }

  const root = rootDir(ctx, opts.root)
  const live = root === undefined && ctx.systemdRunning() && which('systemctl', ctx.env) !== undefined
  const { jobs, systemd } = await gatherJobs(ctx, store, { root, live, now, zone })

  const lock: StatusFacts['lock'] = {}
  try {
    const holder = await currentLockHolder(ctx.lockDir())
    if (holder !== undefined) lock.holder = { ...holder, command: ctx.redactor.redact(holder.command) }
    else {
      const abandoned = await abandonedLock(ctx.lockDir()).catch(() => undefined)
      if (abandoned !== undefined) lock.abandoned = { ...abandoned, command: ctx.redactor.redact(abandoned.command) }
    }
  } catch (error) {
    lock.problem = describeError(error)
  }

  return {
    now,
    configFile: loaded.file,
    hostZone: zone,
    backupDir: config.backup.dir,
    stateDir: store.dir,
    lockDir: ctx.lockDir(),
    targets,
    destinations: watchedDestinations(config, now),
    copies,
    verified,
    drills,
    drillChecks,
    monitor,
    restarts,
    jobs,
    systemd,
    root,
    lock,
    problems,
  }
}

async function gatherJobs(
  ctx: Ctx,
  store: StateStore,
  o: { root: string | undefined; live: boolean; now: Date; zone: string },
): Promise<{ jobs: JobFacts[]; systemd: boolean }> {
  const plan = planFor(ctx)
  const units = await readFiles(under(o.root, SYSTEMD_DIR), isSystemdFile).catch(() => new Map<string, string>())
  const cronText = (await readFiles(under(o.root, CROND_DIR), isCronFile).catch(() => new Map<string, string>())).get(CROND_FILE)
  const cronJobs = cronText === undefined ? new Map<string, string>() : readCronJobs(cronText, { userField: true })
  let crontabJobs = new Map<string, string>()
  if (o.root === undefined && which('crontab', ctx.env) !== undefined) {
    const text = await crontab({ log: ctx.log, env: ctx.env, signal: ctx.signal })
      .read()
      .catch(() => '')
    crontabJobs = readCronJobs(splitCrontab(text).block ?? '', { userField: false })
  }
  let timers: ListedTimer[] | undefined
  // An older systemd (no JSON from list-timers), or one that does not answer: the files are read instead.
  if (o.live) timers = await listTimers('ownops-*.timer', { log: ctx.log, env: ctx.env })

  const jobs: JobFacts[] = []
  for (const job of plan.jobs) {
    const timerText = units.get(`${job.unit}.timer`)
    const trigger = timerText === undefined ? undefined : readTimer(timerText)
    const cronExpr = cronJobs.get(job.name)
    const crontabExpr = crontabJobs.get(job.name)
    const installed: JobFacts['installed'] = [
      ...(trigger !== undefined ? (['systemd'] as const) : []),
      ...(cronExpr !== undefined ? (['cron'] as const) : []),
      ...(crontabExpr !== undefined ? (['crontab'] as const) : []),
    ]
    let next: Date | undefined
    let nextFrom: JobFacts['nextFrom']
    const listed = timers?.find((t) => t.unit === `${job.unit}.timer`)
    if (listed?.next !== undefined) {
      next = listed.next
      nextFrom = 'systemctl'
    } else if (trigger !== undefined && trigger.onCalendar.length > 0) {
      next = nextCalendarRun(trigger.onCalendar, o.now, o.zone)
      nextFrom = next === undefined ? undefined : 'timer unit'
    } else if (cronExpr !== undefined) {
      next = nextCronRun(cronExpr, o.now, o.zone)
      nextFrom = next === undefined ? undefined : 'cron.d'
    } else if (crontabExpr !== undefined) {
      next = nextCronRun(crontabExpr, o.now, o.zone)
      nextFrom = next === undefined ? undefined : 'crontab'
    } else if (!job.parsed.reboot) {
      // Not installed: when it would run, by the config.
      next = nextRuns(job.schedule, 1, { from: o.now, timeZone: job.timeZone ?? o.zone })[0]
      nextFrom = next === undefined ? undefined : 'config'
    }
    const last = await store.peek<JobRecord | undefined>(jobRecordName(job.args), undefined, (v) =>
      isObject(v) && typeof v.exitStatus === 'number' && typeof v.finished === 'string' ? (v as unknown as JobRecord) : undefined,
    )
    jobs.push({
      name: job.name,
      args: job.args,
      schedule: job.schedule,
      timeZone: job.timeZone,
      randomDelaySec: trigger?.randomDelaySec ?? job.randomDelaySec,
      installed,
      ...(next !== undefined ? { next } : {}),
      ...(nextFrom !== undefined ? { nextFrom } : {}),
      atBoot: job.parsed.reboot,
      ...(last.value !== undefined ? { last: last.value } : {}),
    })
  }
  return { jobs, systemd: timers !== undefined }
}
