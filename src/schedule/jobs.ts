/**
 * The scheduled jobs a config asks for: the built-in ones (backup, monitor, cleanup, and
 * backup-<target> for targets with a schedule of their own) merged with `schedule.jobs`,
 * and the boot units of `schedule.boot`. Pure: config in, plan out.
 */
import { dirname, isAbsolute, posix, resolve } from 'node:path'
import type { ConfigProblem } from '../config/problems.js'
import type { Config, ScheduleJobConfig } from '../config/schema.js'
import { formatDurationSetting } from '../duration.js'
import { OwnopsError } from '../errors.js'
import { compareNames, didYouMean } from '../text.js'
import { DEFAULT_BIN, DEFAULT_CONFIG_FILE, DEFAULT_ENV_FILE, ROOT_LOCK_DIR, ROOT_STATE_DIR } from '../sys/paths.js'
import { isValidTimeZone } from '../time-zone.js'
import { CronError, isDailyOrRarer, checkTimeZone, parseCron, type ParsedCron } from './cron.js'
import { isTmpPath, jobNeeds, jobReads, type PathNeed } from './needs.js'
import { copyJobs } from '../copies/units.js'

/** Timeout of jobs of your own that set none. */
export const DEFAULT_JOB_TIMEOUT_MS = 3_600_000

/** ownops subcommands a job may run. */
export const OWNOPS_COMMANDS = [
  'backup',
  'backups',
  'copy',
  'restore',
  'verify',
  'monitor',
  'restart',
  'notify',
  'cleanup',
  'doctor',
  'config',
  'lock',
  'schedule',
] as const

/** Commands whose jobs run at low CPU and I/O priority. */
const LOW_PRIORITY = new Set(['backup', 'copy', 'verify', 'cleanup'])

interface JobDefaults {
  command: string[]
  schedule: string
  /** Milliseconds, as the config's durations are once loaded. */
  timeout: number
  randomDelay?: number
  description: string
}

/** The built-in jobs; `schedule.jobs.<name>` overrides their keys, `<name>: false` turns one off. */
export const BUILT_IN_JOBS: Readonly<Record<'backup' | 'monitor' | 'cleanup', JobDefaults>> = {
  backup: {
    command: ['backup'],
    schedule: '0 3 * * *',
    randomDelay: 15 * 60_000,
    timeout: 6 * 3_600_000,
    description: 'back up every backup target',
  },
  monitor: { command: ['monitor'], schedule: '*/5 * * * *', timeout: 4 * 60_000, description: 'one monitoring cycle' },
  cleanup: { command: ['cleanup'], schedule: '0 4 * * *', timeout: 3_600_000, description: 'retention and clean-up' },
}

export interface ScheduledJob {
  /** Job name: units ownops-<name>.service and .timer. */
  name: string
  /** ownops-<name> */
  unit: string
  /** The ownops arguments, e.g. ['backup', 'db']. */
  args: string[]
  /** The cron expression, normalised. */
  schedule: string
  parsed: ParsedCron
  /** IANA zone; undefined: the host's local time. */
  timeZone: string | undefined
  randomDelaySec: number | undefined
  timeoutSec: number
  user: string
  persistent: boolean
  /** Extra writable paths of this job (absolute): the configured readWritePaths. */
  readWritePaths: string[]
  /** What the job writes, derived from the config and its command (needs.ts). */
  needs: PathNeed[]
  /** A private /tmp (PrivateTmp=), unless the job works under /tmp. */
  privateTmp: boolean
  description: string
  /** Nice=10 and best-effort I/O priority 7 (backups, verify, cleanup). */
  lowPriority: boolean
  /** Config key of the schedule and of the time zone, for messages. */
  scheduleKey: Array<string | number>
  timeZoneKey: Array<string | number> | undefined
}

export interface BootUnit {
  name: string
  /** ownops-boot-<name> */
  unit: string
  composeFiles: string[]
  project: string | undefined
  envFile: string | undefined
  onStop: 'stop' | 'down' | 'none'
  timeoutSec: number
  description: string
}

export interface ScheduleSettings {
  /**
   * What runs ownops: [node, bin/ownops.js] by absolute paths (so that nvm, fnm or volta
   * installs work under systemd and cron, whose PATH knows no such node), or [executable].
   */
  exec: string[]
  /** The config key exec came from, for messages (undefined: the running ownops). */
  execKey: Array<string | number> | undefined
  /** The docker executable (boot units). */
  docker: string
  /** The config file the units pass with --config; undefined or the default: no flag. */
  configFile: string | undefined
  envFile: string
  stateDir: string
  lockDir: string
  /** Whether stateDir / lock.dir were set in the config (otherwise a job's user gets its own). */
  stateDirSet: boolean
  lockDirSet: boolean
  backupDir: string
  /** Default user of the jobs. */
  user: string
}

export interface SchedulePlan {
  jobs: ScheduledJob[]
  boot: BootUnit[]
  settings: ScheduleSettings
}

type Problem = Omit<ConfigProblem, 'file' | 'line'>

export interface PlanOptions {
  /** Absolute path of the config file in use; undefined when running on built-in defaults. */
  configFile?: string | undefined
  /** The running ownops (src/sys/runtime.ts): units run it when schedule.bin is not set. */
  runtime?: string[] | undefined
  /** Overrides schedule.bin and the runtime (`schedule generate --bin`). */
  bin?: string | undefined
}

/** The jobs and boot units of a validated config; throws OwnopsError (78) listing every problem. */
export function planSchedule(config: Config, options: PlanOptions = {}): SchedulePlan {
  const { plan, problems } = collect(config, options)
  const errors = problems.filter((p) => p.severity === 'error')
  if (errors.length > 0) {
    throw new OwnopsError(`schedule: ${errors.length} problem${errors.length === 1 ? '' : 's'} in the config`, {
      kind: 'config',
      details: errors.map((p) => `${p.path.join('.')}: ${p.message}${p.hint ? ` (${p.hint})` : ''}`),
      hint: 'fix the keys above; `ownops config validate` checks again',
    })
  }
  return plan
}

/** Every problem of the schedule part of a config (used by the config rules). */
export function scheduleProblems(config: Config): Problem[] {
  return collect(config, {}).problems
}

function collect(config: Config, options: PlanOptions): { plan: SchedulePlan; problems: Problem[] } {
  const problems: Problem[] = []
  const s = config.schedule
  const configDir = options.configFile === undefined ? '/' : dirname(options.configFile)
  const absolute = (path: string) => (isAbsolute(path) ? posix.normalize(path) : resolve('/', path))
  for (const [key, value] of [
    ['bin', options.bin ?? s.bin],
    ['docker', s.docker],
  ] as const) {
    if (value !== undefined && !isAbsolute(value))
      problems.push({
        severity: 'error',
        path: ['schedule', key],
        message: `"${value}" is not an absolute path`,
        hint: 'units and cron run without your PATH and working directory, e.g. /usr/local/bin/ownops',
      })
  }
  // Relative host paths (backup.dir, stateDir, lock.dir …) are config errors: config/host-paths.ts.
  if (s.timezone !== undefined && !isValidTimeZone(s.timezone))
    problems.push(cronProblem(['schedule', 'timezone'], () => checkTimeZone(s.timezone as string)))

  const bin = options.bin ?? s.bin
  const settings: ScheduleSettings = {
    exec: bin !== undefined ? [bin] : (options.runtime ?? [DEFAULT_BIN]),
    execKey: options.bin === undefined && s.bin !== undefined ? ['schedule', 'bin'] : undefined,
    docker: s.docker,
    configFile: options.configFile,
    envFile: config.envFile === undefined ? DEFAULT_ENV_FILE : resolve(configDir, config.envFile),
    stateDir: absolute(config.stateDir ?? ROOT_STATE_DIR),
    lockDir: absolute(config.lock.dir ?? ROOT_LOCK_DIR),
    stateDirSet: config.stateDir !== undefined,
    lockDirSet: config.lock.dir !== undefined,
    backupDir: absolute(config.backup.dir),
    user: s.user,
  }

  // Candidates: built-in jobs, per-target backup jobs, then the configured ones.
  // The backup job runs by default only when there is something to back up: a target
  // without a schedule of its own (when every target has one, their jobs do it all).
  const defaults = new Map<string, { defaults: JobDefaults; scheduleKey: Array<string | number>; enabled: boolean }>()
  const targets = Object.entries(config.backup.targets)
  const ownSchedule = targets.filter(([, t]) => t.schedule !== undefined)
  const backup = BUILT_IN_JOBS.backup
  defaults.set('backup', {
    defaults:
      ownSchedule.length > 0
        ? { ...backup, command: ['backup', '--unscheduled'], description: 'back up the targets without a schedule of their own' }
        : backup,
    scheduleKey: ['schedule', 'jobs', 'backup', 'schedule'],
    enabled: targets.length > ownSchedule.length,
  })
  defaults.set('monitor', { defaults: BUILT_IN_JOBS.monitor, scheduleKey: ['schedule', 'jobs', 'monitor', 'schedule'], enabled: true })
  defaults.set('cleanup', { defaults: BUILT_IN_JOBS.cleanup, scheduleKey: ['schedule', 'jobs', 'cleanup', 'schedule'], enabled: true })
  for (const [target, t] of ownSchedule) {
    defaults.set(`backup-${target}`, {
      defaults: {
        command: ['backup', target],
        schedule: t.schedule as string,
        timeout: t.timeout ?? BUILT_IN_JOBS.backup.timeout,
        description: `back up ${target}`,
      },
      scheduleKey: ['backup', 'targets', target, 'schedule'],
      enabled: true,
    })
  }
  for (const job of copyJobs(config)) {
    defaults.set(job.name, { defaults: job, scheduleKey: job.scheduleKey, enabled: true })
  }

  const jobs: ScheduledJob[] = []
  const names = new Set([...defaults.keys(), ...Object.keys(s.jobs)])
  for (const name of names) {
    const configured = s.jobs[name]
    if (configured === false) continue
    const base = defaults.get(name)
    if (configured === undefined && base?.enabled !== true) continue
    const at = ['schedule', 'jobs', name]
    const job = resolveJob(name, base, configured, at, settings, s.timezone, problems, config)
    if (job !== undefined) jobs.push(job)
  }

  const boot: BootUnit[] = []
  for (const [name, entry] of Object.entries(s.boot)) {
    const at = ['schedule', 'boot', name]
    const files = typeof entry.compose === 'string' ? [entry.compose] : entry.compose
    files.forEach((file, i) => {
      if (!isAbsolute(file))
        problems.push({
          severity: 'error',
          path: typeof entry.compose === 'string' ? [...at, 'compose'] : [...at, 'compose', i],
          message: `"${file}" is not an absolute path`,
          hint: 'the unit runs from /, e.g. /srv/app/compose.yml',
        })
    })
    if (entry.envFile !== undefined && !isAbsolute(entry.envFile))
      problems.push({
        severity: 'error',
        path: [...at, 'envFile'],
        message: `"${entry.envFile}" is not an absolute path`,
        hint: 'e.g. /srv/app/.env.prod',
      })
    const unit = `ownops-boot-${name}`
    if (jobs.some((j) => j.unit === unit))
      problems.push({
        severity: 'error',
        path: at,
        message: `boot unit ${unit}.service has the name of the job "boot-${name}"`,
        hint: 'rename one of them',
      })
    boot.push({
      name,
      unit,
      composeFiles: files,
      project: entry.project,
      envFile: entry.envFile,
      onStop: entry.onStop,
      timeoutSec: Math.round(entry.timeout / 1000),
      description: entry.description ?? `docker compose up -d for ${name} (${files.join(', ')})`,
    })
  }
  return { plan: { jobs: jobs.sort((a, b) => compareNames(a.name, b.name)), boot, settings }, problems }
}

function resolveJob(
  name: string,
  base: { defaults: JobDefaults; scheduleKey: Array<string | number>; enabled: boolean } | undefined,
  configured: ScheduleJobConfig | undefined,
  at: Array<string | number>,
  settings: ScheduleSettings,
  defaultZone: string | undefined,
  problems: Problem[],
  config: Config,
): ScheduledJob | undefined {
  const before = problems.length
  const d = base?.defaults
  const rawCommand = configured?.command ?? d?.command
  const schedule = configured?.schedule ?? d?.schedule
  if (rawCommand === undefined)
    problems.push({
      severity: 'error',
      path: [...at, 'command'],
      message: `job "${name}" needs a command`,
      hint: 'the ownops arguments, e.g. command: [restart, app, --safe]',
    })
  if (schedule === undefined)
    problems.push({
      severity: 'error',
      path: [...at, 'schedule'],
      message: `job "${name}" needs a schedule`,
      hint: 'cron syntax, e.g. schedule: "0 3 * * *"',
    })
  const args = rawCommand === undefined ? [] : typeof rawCommand === 'string' ? rawCommand.trim().split(/\s+/) : [...rawCommand]
  if (typeof rawCommand === 'string' && /["'\\]/.test(rawCommand)) {
    problems.push({
      severity: 'error',
      path: [...at, 'command'],
      message: 'a command string is split on spaces; quotes and backslashes are not understood',
      hint: 'write it as a list: command: [notify, --title, "two words"]',
    })
  }
  const first = args[0]
  if (first !== undefined && !(OWNOPS_COMMANDS as readonly string[]).includes(first)) {
    const guess = didYouMean(first, OWNOPS_COMMANDS)
    problems.push({
      severity: 'error',
      path: [...at, 'command'],
      message: `"${first}" is not an ownops command${guess ? ` (did you mean "${guess}"?)` : ''}`,
      hint: first === 'ownops' ? 'leave out "ownops": write the arguments only, e.g. [backup, db]' : `one of ${OWNOPS_COMMANDS.join(', ')}`,
    })
  }
  const scheduleKey = configured?.schedule !== undefined ? [...at, 'schedule'] : (base?.scheduleKey ?? [...at, 'schedule'])
  let parsed: ParsedCron | undefined
  if (schedule !== undefined) {
    try {
      parsed = parseCron(schedule)
    } catch (error) {
      problems.push(
        cronProblem(scheduleKey, () => {
          throw error
        }),
      )
    }
  }
  const timeZone = configured?.timezone ?? defaultZone
  const timeZoneKey =
    configured?.timezone !== undefined ? [...at, 'timezone'] : defaultZone !== undefined ? ['schedule', 'timezone'] : undefined
  if (configured?.timezone !== undefined && !isValidTimeZone(configured.timezone))
    problems.push(cronProblem([...at, 'timezone'], () => checkTimeZone(configured.timezone as string)))
  for (const [i, path] of (configured?.readWritePaths ?? []).entries()) {
    if (!isAbsolute(path))
      problems.push({ severity: 'error', path: [...at, 'readWritePaths', i], message: `"${path}" is not an absolute path` })
  }
  const timeoutMs = configured?.timeout ?? d?.timeout ?? DEFAULT_JOB_TIMEOUT_MS
  const randomDelayMs = configured?.randomDelay ?? d?.randomDelay
  if (timeoutMs < 1000)
    problems.push({
      severity: 'error',
      path: [...at, 'timeout'],
      message: `timeout must be at least 1s, got ${formatDurationSetting(timeoutMs)}`,
    })
  if (parsed?.reboot && configured?.persistent === true)
    problems.push({ severity: 'warning', path: [...at, 'persistent'], message: 'persistent has no effect on an @reboot job' })
  if (problems.length > before || parsed === undefined) return undefined
  const readWritePaths = (configured?.readWritePaths ?? []).map((p) => posix.normalize(p))
  const needs = jobNeeds(config, args)
  return {
    name,
    unit: `ownops-${name}`,
    args,
    schedule: parsed.expression,
    parsed,
    timeZone,
    timeZoneKey,
    randomDelaySec: randomDelayMs === undefined ? undefined : Math.round(randomDelayMs / 1000),
    timeoutSec: Math.round(timeoutMs / 1000),
    user: configured?.user ?? settings.user,
    persistent: parsed.reboot ? false : (configured?.persistent ?? isDailyOrRarer(parsed)),
    readWritePaths,
    needs,
    privateTmp: ![...baseTouches(settings), ...needs.map((n) => n.path), ...readWritePaths, ...jobReads(config, args)].some(isTmpPath),
    description: configured?.description ?? d?.description ?? args.join(' '),
    lowPriority: LOW_PRIORITY.has(args[0] ?? ''),
    scheduleKey,
  }
}

/**
 * What every unit touches whatever its job: the config file it is given, the env file systemd
 * loads, the state, lock and backup directories. One of them under /tmp means no PrivateTmp=
 * (a private /tmp would hide it: a state written there would be gone after the run).
 */
export function baseTouches(settings: ScheduleSettings): string[] {
  return [settings.configFile, settings.envFile, settings.stateDir, settings.lockDir, settings.backupDir].filter(
    (p): p is string => p !== undefined,
  )
}

/** Whether the OnFailure= template (`ownops notify --failed-unit`) may have a private /tmp. */
export function notifyPrivateTmp(settings: ScheduleSettings): boolean {
  return ![settings.configFile, settings.envFile, settings.stateDir].filter((p): p is string => p !== undefined).some(isTmpPath)
}

function cronProblem(path: Array<string | number>, check: () => void): Problem {
  try {
    check()
  } catch (error) {
    if (error instanceof CronError) return { severity: 'error', path, message: error.message, ...(error.hint ? { hint: error.hint } : {}) }
    throw error
  }
  return { severity: 'error', path, message: 'invalid' }
}

/** The ExecStart/cron arguments after the executable: --config when not the default, then the job's. */
export function ownopsArgs(settings: ScheduleSettings, args: readonly string[]): string[] {
  const config = settings.configFile !== undefined && settings.configFile !== DEFAULT_CONFIG_FILE ? ['--config', settings.configFile] : []
  return [...config, ...args]
}

/**
 * Paths every job may write: the backup and state directories, what the job touches (needs.ts)
 * and its configured readWritePaths. The lock directory is the units' to add (units.ts): a
 * RuntimeDirectory= by default.
 */
export function writablePaths(settings: ScheduleSettings, job?: ScheduledJob): string[] {
  return [...new Set([settings.backupDir, settings.stateDir, ...(job?.needs.map((n) => n.path) ?? []), ...(job?.readWritePaths ?? [])])]
}

/** A directory directly in /run, as systemd's RuntimeDirectory= names it (ownops for /run/ownops). */
export function runtimeDirectory(dir: string): string | undefined {
  const m = /^\/run\/([^/]+(?:\/[^/]+)*)$/.exec(dir)
  return m === null || m[1] === 'user' || m[1]?.startsWith('user/') ? undefined : m[1]
}
