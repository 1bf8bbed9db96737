/**
 * Judges what `ownops status` gathered: is every target backed up on time, verified, copied
 * off the box and drilled; are alerts open, jobs failing, restarts pending; is the schedule
 * installed. Pure: the facts (with their clock) in, the report and its exit code out.
 */
import { formatDuration } from '../duration.js'
import { ExitCode } from '../errors.js'
import { previousRun } from '../schedule/cron.js'
import type { Backend } from '../schedule/warnings.js'
import type { LockInfo } from '../sys/lock.js'
import type { JobFacts, PendingRestart, StatusFacts, TargetFacts } from './facts.js'

/** How long after a scheduled time a backup may still be running before it counts as missed (plus the random delay). */
export const BACKUP_GRACE_MS = 3_600_000
/** The freshness of a target no job backs up: a daily backup and slack, as monitor's backup check. */
export const UNSCHEDULED_MAX_AGE_MS = 26 * 3_600_000
/** A backup's time may be this much before the scheduled time it answers (timers fire on the minute). */
const EARLY_SLACK_MS = 60_000

export type TargetStatus = 'ok' | 'stale' | 'missing' | 'error'

export interface CopyStatus {
  destination: string
  /** ok: a copy there is recent enough; stale: too old; none: no copy yet; failed: the last copy run failed. */
  status: 'ok' | 'stale' | 'none' | 'failed'
  /** Whether the destination holds the newest backup. */
  holdsNewest: boolean
  newestCopy: string | null
  error?: string
}

export interface TargetStatusReport {
  target: string
  type: string
  status: TargetStatus
  newest: {
    id: string
    time: string
    ageSeconds: number
    size: number
    verified: { how: string; time: string } | null
  } | null
  backups: number
  /** The scheduled run the newest backup must be from (or later), and the job. */
  due: { job: string; time: string } | null
  copies: CopyStatus[]
  drill: { status: 'ok' | 'failed' | 'stale' | 'never'; lastRun: string | null; lastSuccess: string | null; problem?: string }
  notes: string[]
  problem?: string
}

export interface JobStatusReport {
  job: string
  command: string
  schedule: string
  timezone: string | null
  installed: Backend[]
  next: string | null
  nextFrom: string | null
  randomDelaySeconds: number | null
  status: 'ok' | 'failed' | 'never run'
  last: { started: string; finished: string; exitStatus: number; summary?: string } | null
}

export interface AlertReport {
  check: string
  level: string
  since: string
  message: string
}

export interface StatusReport {
  ok: boolean
  time: string
  config: string | null
  attention: string[]
  notSetUp: string[]
  targets: TargetStatusReport[]
  monitor: { lastRun: string | null; pausedUntil: string | null; alerts: AlertReport[] }
  restarts: PendingRestart[]
  jobs: JobStatusReport[]
  /** Where the next runs came from: systemd (systemctl list-timers) or the installed files. */
  schedule: { systemd: boolean; root: string | null }
  lock: { held: boolean; holder: LockInfo | null; abandoned: LockInfo | null; problem?: string }
  problems: string[]
  exitCode: number
}

export function assessStatus(f: StatusFacts): StatusReport {
  const attention: string[] = []
  const notSetUp: string[] = []
  const now = f.now.getTime()
  const ago = (iso: string) => {
    const ms = Math.max(0, now - Date.parse(iso))
    return ms < 60_000 ? '<1m' : formatDuration(Math.floor(ms / 60_000) * 60_000)
  }

  if (f.configFile === undefined) notSetUp.push('no config file: running on the built-in defaults (ownops.yml; see ownops.example.yml)')
  if (f.targets.length === 0) {
    notSetUp.push('no backup targets (backup.targets)')
    attention.push('nothing is backed up: no backup targets are configured (backup.targets)')
  }

  const targets = f.targets.map((t) => assessTarget(t, f, attention))

  const alerts: AlertReport[] = Object.entries(f.monitor?.checks ?? {})
    .filter(([, c]) => c.alert !== undefined)
    .map(([check, c]) => ({ check, level: c.alert?.level ?? c.status, since: c.alert?.since ?? c.since, message: c.message }))
  for (const a of alerts) attention.push(`alert ${a.check} (${a.level} for ${ago(a.since)}): ${a.message}`)
  const pause = f.monitor?.pause
  const pausedUntil = pause !== undefined && Date.parse(pause.until) > now ? pause.until : null

  const jobs = f.jobs.map((j) => assessJob(j))
  for (const j of jobs)
    if (j.status === 'failed' && j.last !== null)
      attention.push(
        `job ${j.job}: the last run failed (exit ${j.last.exitStatus}, ${ago(j.last.finished)} ago)${j.last.summary ? `: ${j.last.summary}` : ''}`,
      )
  const uninstalled = jobs.filter((j) => j.installed.length === 0)
  if (uninstalled.length > 0) {
    const names = uninstalled.map((j) => j.job).join(', ')
    notSetUp.push(`schedule not installed: ${names}`)
    attention.push(
      `not scheduled: ${names} ${uninstalled.length === 1 ? 'is' : 'are'} installed neither as a systemd timer nor in cron (sudo ownops schedule install)`,
    )
  }
  if (f.monitor === undefined) notSetUp.push('monitor has not run yet (ownops monitor)')

  if (f.lock.abandoned?.stopped?.length)
    attention.push(
      `ownops ${f.lock.abandoned.command} (pid ${f.lock.abandoned.pid}) was killed with ${f.lock.abandoned.stopped.join(', ')} stopped: the next run that takes the lock starts them again`,
    )
  if (f.lock.problem !== undefined) attention.push(`host lock: ${f.lock.problem}`)
  for (const p of f.problems) attention.push(p)

  return {
    ok: attention.length === 0,
    time: f.now.toISOString(),
    config: f.configFile ?? null,
    attention,
    notSetUp,
    targets,
    monitor: { lastRun: f.monitor?.lastRun?.at ?? null, pausedUntil, alerts },
    restarts: f.restarts,
    jobs,
    schedule: { systemd: f.systemd, root: f.root ?? null },
    lock: {
      held: f.lock.holder !== undefined,
      holder: f.lock.holder ?? null,
      abandoned: f.lock.abandoned ?? null,
      ...(f.lock.problem !== undefined ? { problem: f.lock.problem } : {}),
    },
    problems: f.problems,
    exitCode: attention.length === 0 ? ExitCode.ok : ExitCode.failed,
  }
}

/** The backup jobs that back up a target: those naming it, else those for all (`--unscheduled` only when no job names it). */
export function jobsOf(target: string, jobs: readonly JobFacts[]): JobFacts[] {
  const backups = jobs.filter((j) => j.args[0] === 'backup')
  const named = (j: JobFacts) => j.args.slice(1).filter((a) => !a.startsWith('-'))
  const naming = backups.filter((j) => named(j).includes(target))
  if (naming.length > 0) return naming
  return backups.filter((j) => named(j).length === 0)
}

/**
 * The scheduled time the newest backup must date from: the last scheduled run once its
 * grace (random delay + an hour to run) is over, else the run before it. Undefined when no
 * job with a calendar backs the target up.
 */
export function backupDue(jobs: readonly JobFacts[], now: Date, hostZone: string): { job: string; time: Date } | undefined {
  let due: { job: string; time: Date } | undefined
  for (const job of jobs) {
    if (job.atBoot) continue
    const zone = job.timeZone ?? hostZone
    const last = previousRun(job.schedule, { at: now, timeZone: zone })
    if (last === undefined) continue
    const grace = (job.randomDelaySec ?? 0) * 1000 + BACKUP_GRACE_MS
    const time =
      now.getTime() >= last.getTime() + grace ? last : previousRun(job.schedule, { at: new Date(last.getTime() - 1000), timeZone: zone })
    if (time !== undefined && (due === undefined || time > due.time)) due = { job: job.name, time }
  }
  return due
}

function assessTarget(t: TargetFacts, f: StatusFacts, attention: string[]): TargetStatusReport {
  const now = f.now.getTime()
  const notes: string[] = []
  const covering = jobsOf(t.name, f.jobs)
  const due = backupDue(covering, f.now, f.hostZone)
  if (covering.length === 0) notes.push('no scheduled job backs it up')
  let status: TargetStatus = 'ok'
  if (t.problem !== undefined) {
    status = 'error'
    attention.push(`${t.name}: ${t.problem}`)
  } else if (t.newest === undefined) {
    status = 'missing'
    attention.push(`${t.name}: no backup yet (ownops backup ${t.name})`)
  } else {
    const time = Date.parse(t.newest.time)
    const age = formatDuration(Math.max(0, now - time))
    if (due !== undefined && time < due.time.getTime() - EARLY_SLACK_MS) {
      status = 'stale'
      attention.push(`${t.name}: the newest backup is ${age} old: none since the ${due.job} run due ${due.time.toISOString()}`)
    } else if (due === undefined && now - time > UNSCHEDULED_MAX_AGE_MS) {
      status = 'stale'
      attention.push(`${t.name}: the newest backup is ${age} old, and no scheduled job backs it up`)
    }
  }
  if (t.leftovers > 0) notes.push(`${t.leftovers} partial file(s) of an interrupted backup`)
  if (t.ahead > 0) notes.push(`${t.ahead} backup(s) dated in the future: retention is suspended`)
  if (t.newest !== undefined && t.newest.warnings.length > 0) notes.push(`the newest backup has ${t.newest.warnings.length} warning(s)`)

  const copies: CopyStatus[] = []
  for (const d of f.destinations.filter((d) => d.targets.includes(t.name))) {
    const state = f.copies.destinations[d.name]
    const mine = state?.targets[t.name]
    const newestCopy = mine?.newest?.time ?? null
    const holdsNewest = t.newest !== undefined && mine?.received.includes(t.newest.id) === true
    let copy: CopyStatus['status'] = 'ok'
    if (state?.lastOk === false) {
      copy = 'failed'
      attention.push(`${t.name}: the last copy to ${d.name} failed${state.error ? `: ${state.error}` : ''}`)
    } else if (newestCopy === null) {
      copy = 'none'
      if (t.newest !== undefined) attention.push(`${t.name}: no copy at ${d.name} yet (ownops copy --to ${d.name})`)
    } else if (now - Date.parse(newestCopy) > d.maxAgeMs) {
      copy = 'stale'
      attention.push(
        `${t.name}: the newest copy at ${d.name} is ${formatDuration(now - Date.parse(newestCopy))} old (more than ${formatDuration(d.maxAgeMs)})`,
      )
    }
    copies.push({
      destination: d.name,
      status: copy,
      holdsNewest,
      newestCopy,
      ...(state?.lastOk === false && state.error ? { error: state.error } : {}),
    })
  }

  const record = f.drills[t.name]
  const checks = f.drillChecks.filter((c) => c.targets === undefined || c.targets.includes(t.name))
  const lastSuccess = record?.lastSuccess ?? null
  let drill: TargetStatusReport['drill']['status'] = record === undefined ? 'never' : record.ok ? 'ok' : 'failed'
  if (record?.ok === false) attention.push(`${t.name}: the last restore drill failed: ${record.problem ?? 'see ownops verify --drill'}`)
  for (const check of checks) {
    const age = lastSuccess === null ? Infinity : now - Date.parse(lastSuccess)
    if (age > check.maxAgeMs && drill !== 'failed') {
      drill = lastSuccess === null ? 'never' : 'stale'
      attention.push(
        lastSuccess === null
          ? `${t.name}: no successful restore drill on record (ownops verify --drill ${t.name})`
          : `${t.name}: the last successful restore drill was ${formatDuration(age)} ago (more than ${formatDuration(check.maxAgeMs)})`,
      )
      break
    }
  }

  const verified = t.newest === undefined ? undefined : f.verified[`${t.name}/${t.newest.id}`]
  return {
    target: t.name,
    type: t.type,
    status,
    newest:
      t.newest === undefined
        ? null
        : {
            id: t.newest.id,
            time: t.newest.time,
            ageSeconds: Math.round(Math.max(0, now - Date.parse(t.newest.time)) / 1000),
            size: t.newest.size,
            verified: verified === undefined ? null : { how: verified.how, time: verified.time },
          },
    backups: t.count,
    due: due === undefined ? null : { job: due.job, time: due.time.toISOString() },
    copies,
    drill: {
      status: drill,
      lastRun: record?.lastRun ?? null,
      lastSuccess,
      ...(record?.problem !== undefined ? { problem: record.problem } : {}),
    },
    notes,
    ...(t.problem !== undefined ? { problem: t.problem } : {}),
  }
}

/** Exit statuses that are not a failed run: monitor's 1 (a check is failing: its alerts say so) and 75 (the previous run still going). */
function failedRun(job: JobFacts): boolean {
  const last = job.last
  if (last === undefined) return false
  if (job.args[0] === 'monitor') return last.exitStatus !== 0 && last.exitStatus !== 1 && last.exitStatus !== 75
  return last.exitStatus !== 0
}

function assessJob(j: JobFacts): JobStatusReport {
  return {
    job: j.name,
    command: j.args.join(' '),
    schedule: j.schedule,
    timezone: j.timeZone ?? null,
    installed: j.installed,
    next: j.next?.toISOString() ?? null,
    nextFrom: j.nextFrom ?? null,
    randomDelaySeconds: j.randomDelaySec ?? null,
    status: j.last === undefined ? 'never run' : failedRun(j) ? 'failed' : 'ok',
    last:
      j.last === undefined
        ? null
        : {
            started: j.last.started,
            finished: j.last.finished,
            exitStatus: j.last.exitStatus,
            ...(j.last.summary !== undefined ? { summary: j.last.summary } : {}),
          },
  }
}
