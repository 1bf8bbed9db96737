/**
 * The context every command receives: logger, output, environment, clock, abort signal,
 * and lazily created access to the config, Docker, the state directory and the host lock.
 * Commands never touch process.stdout, process.exit or the environment directly.
 */
import { writeSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from 'pino'
import type { Notifier } from './notify/send.js'
import type { NotifyEvent } from './notify/types.js'
import { loadConfig, type LoadedConfig } from './config/load.js'
import { useColour } from './colour.js'
import { MAX_TIMER_MS, parseDuration } from './duration.js'
import { OwnopsError } from './errors.js'
import { createLogger, detectLogFormat, type LogFormat, type LogLevel } from './log.js'
import { Redactor } from './redact.js'
import { closeDockerConnections, createDocker, dockerEndpoint, pingDocker, type Docker, type DockerEndpoint } from './sys/docker.js'
import { HostLock } from './sys/lock.js'
import { defaultLockDir, defaultStateDir } from './sys/paths.js'
import { StateStore } from './sys/state.js'
import { systemdRunning } from './sys/systemd.js'
import { progressLine, type ProgressLine } from './ui/progress.js'

export interface GlobalOptions {
  config?: string | undefined
  json: boolean
  quiet: boolean
  color: boolean
  logLevel?: LogLevel | undefined
  /** --wait for the host lock, overriding lock.wait. */
  wait?: string | undefined
}

export interface Output {
  /** Data for stdout (tables, reports, generated text). */
  write(text: string): void
}

export interface CtxOptions {
  options: GlobalOptions
  /** The command this run serves ("backup", "schedule install"): every log line carries it as `cmd`. */
  command?: string
  env?: NodeJS.ProcessEnv
  cwd?: string
  out?: Output
  /** Where log lines go (tests capture them); stderr by default. */
  logWrite?: (line: string) => void
  /** Whether stderr is this process's own terminal: then long byte work shows a progress line there (not with --json or -q). */
  progress?: boolean
  /** The terminal's width, for the progress line. */
  columns?: () => number | undefined
  logFormat?: LogFormat
  clock?: () => Date
  /**
   * Waits `ms` on the clock above, ended early by the signal (rejecting with its reason).
   * Tests pass one that moves a virtual clock, so a 30-minute countdown takes no time.
   */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>
  signal?: AbortSignal
  stdinIsTTY?: boolean
  /** Whether stdout and stderr are terminals (colours; info lines kept off the screen). */
  stdoutIsTTY?: boolean
  stderrIsTTY?: boolean
  /** Whether systemd runs this machine (tests say so instead of asking the host). */
  systemd?: boolean
  /** Reads standard input (tests pass their own). */
  readStdin?: (maxBytes: number) => Promise<string>
}

type Cleanup = () => void | Promise<void>

/**
 * A run of a job — what a timer or cron runs: backup, monitor, cleanup, verify --drill,
 * restart, lock run. It pings its own heartbeat (start, then success or its exit status)
 * and retries the notification outbox when it ends. `ownops notify` retries the outbox too,
 * without a heartbeat. Read-only and interactive commands do neither.
 */
export interface JobRun {
  /** The heartbeat's name: backup, backup-world, monitor, cleanup, verify-drill, restart-mc, lock-run… */
  name: string
  command: string
  target?: string
  runId: string
  heartbeat: boolean
}

/**
 * Commands whose info lines are their output on a terminal too: a restart's countdown
 * ("restart of mc in 5m") is what the person who started it waits for.
 */
const INFO_ON_TERMINAL = new Set(['restart'])

/** What a job's last run left in the state directory (`job-<args>.json`), read by `ownops status`. */
export interface JobRecord {
  /** The heartbeat's name: backup, monitor, verify-drill… */
  name: string
  command: string
  /** The arguments it ran with, global options left out: ["backup", "--unscheduled"]. */
  args: string[]
  target?: string
  runId: string
  started: string
  finished: string
  exitStatus: number
  ok: boolean
  /** Why it failed (redacted): the error it ended with. */
  summary?: string
}

/** The state file of a job's record: `job-` and its arguments, e.g. job-backup-unscheduled. */
export function jobRecordName(args: readonly string[]): string {
  const slug = args
    .join('-')
    .replace(/[^A-Za-z0-9_.]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 120)
  return `job-${slug === '' ? 'ownops' : slug}`
}

/** The state of broken notification channels and when the other channels were told. */
function writeStderr(text: string): void {
  try {
    writeSync(2, text)
  } catch {
    // stderr closed: nothing sensible left to do with it
  }
}

const BROKEN_CHANNELS_STATE = 'broken-channels'

/** How long a job's end may spend on retrying the outbox. */
export const OUTBOX_RETRY_BUDGET_MS = 15_000
/** Bytes of this run's log kept for the heartbeat's end ping. */
const LOG_TAIL_BYTES = 64 * 1024

export class Ctx {
  readonly options: GlobalOptions
  readonly env: NodeJS.ProcessEnv
  readonly cwd: string
  readonly out: Output
  readonly redactor = new Redactor()
  readonly clock: () => Date
  private readonly sleeper: (ms: number, signal: AbortSignal) => Promise<void>
  readonly signal: AbortSignal
  readonly stdinIsTTY: boolean
  readonly stderrIsTTY: boolean
  /** Whether tables on stdout get colours (a terminal, --color, NO_COLOR unset or empty). */
  readonly colour: boolean
  private readonly systemd: boolean | undefined
  readonly readStdin: (maxBytes: number) => Promise<string>
  log: Logger
  /** The progress line on the terminal; undefined off a terminal, with --json and with -q. */
  readonly progress: ProgressLine | undefined
  private readonly logOptions: { write?: (line: string) => void; format?: LogFormat }
  private readonly command: string | undefined
  private loaded: LoadedConfig | undefined
  private dockerClient: Promise<Docker> | undefined
  private readonly cleanups: Cleanup[] = []
  private notifierInstance: Promise<Notifier> | undefined
  /** The notifier for what an interrupted run says after the signal (see notifier). */
  private lastWords: Promise<Notifier> | undefined
  private shieldDepth = 0
  private jobRun: JobRun | undefined
  private jobStarted: Date | undefined
  private readonly tailLines: string[] = []
  private tailSize = 0
  /** The last error this run logged (its message and fields, redacted): a failed job's summary. */
  private lastError: string | undefined

  constructor(init: CtxOptions) {
    this.options = init.options
    this.env = init.env ?? process.env
    this.cwd = init.cwd ?? process.cwd()
    this.out = init.out ?? { write: (text) => void process.stdout.write(text) }
    this.clock = init.clock ?? (() => new Date())
    this.sleeper = init.sleep ?? ((ms, signal) => sleep(ms, undefined, { signal }))
    this.signal = init.signal ?? new AbortController().signal
    this.stdinIsTTY = init.stdinIsTTY ?? Boolean(process.stdin.isTTY)
    this.stderrIsTTY = init.stderrIsTTY ?? Boolean(process.stderr.isTTY)
    this.colour = useColour({ flag: this.options.color, env: this.env, isTTY: init.stdoutIsTTY ?? Boolean(process.stdout.isTTY) })
    this.systemd = init.systemd
    this.readStdin = init.readStdin ?? readProcessStdin
    const logWrite = init.logWrite ?? ((line: string) => writeStderr(line))
    this.progress = progressLine({
      isTTY: init.progress ?? false,
      json: this.options.json,
      quiet: this.options.quiet,
      write: logWrite,
      ...(init.columns ? { columns: init.columns } : {}),
    })
    // A log line (a warning meanwhile) first erases the progress line; the next redraw brings it back.
    const progress = this.progress
    this.logOptions = {
      ...(progress !== undefined || init.logWrite !== undefined
        ? {
            write: (line: string) => {
              progress?.clear()
              logWrite(line)
            },
          }
        : {}),
      ...(init.logFormat ? { format: init.logFormat } : {}),
    }
    this.command = init.command
    this.log = this.makeLogger(this.options.logLevel)
  }

  private makeLogger(level: LogLevel | undefined): Logger {
    const effective: LogLevel = this.options.logLevel ?? level ?? (this.options.quiet ? 'warn' : 'info')
    const logger = createLogger({
      level: (this.options.quiet && this.options.logLevel === undefined) || (effective === 'info' && this.quietInfo()) ? 'warn' : effective,
      redactor: this.redactor,
      color: useColour({ flag: this.options.color, env: this.env, isTTY: this.stderrIsTTY }),
      env: this.env,
      tail: (line) => this.keepTail(line),
      ...this.logOptions,
    })
    return this.command === undefined ? logger : logger.child({ cmd: this.command })
  }

  /**
   * On a terminal, info lines stay off the screen: the result comes first, warnings and
   * errors still show (-v or --log-level info bring them back). Off a terminal (cron,
   * systemd, a pipe) and with OWNOPS_LOG_FORMAT set, logging is as configured.
   */
  private quietInfo(): boolean {
    if (this.options.logLevel !== undefined || !this.stderrIsTTY || this.env.OWNOPS_LOG_FORMAT !== undefined) return false
    if (this.command !== undefined && INFO_ON_TERMINAL.has(this.command.split(' ')[0] ?? '')) return false
    return detectLogFormat(this.env, true) === 'text'
  }

  private keepTail(line: string): void {
    const error = /^\S* (?:ERROR|FATAL) (.*)/.exec(line)
    if (error !== null) this.lastError = (error[1] as string).trim()
    this.tailLines.push(line)
    this.tailSize += line.length
    while (this.tailSize > LOG_TAIL_BYTES && this.tailLines.length > 1) this.tailSize -= (this.tailLines.shift() as string).length
  }

  /** The last lines this run logged, redacted, as plain text. */
  logTail(): string {
    return this.tailLines.join('')
  }

  /** The validated config (built-in defaults when there is no file). Registers its secrets. */
  config(): LoadedConfig {
    if (this.loaded === undefined) {
      const loaded = loadConfig({ path: this.options.config, env: this.env, cwd: this.cwd, skipBrokenChannels: true })
      this.addSecrets(loaded)
      for (const value of loaded.secretValues) this.redactor.add(value)
      if (this.options.logLevel === undefined && loaded.config.log.level !== 'info') this.log = this.makeLogger(loaded.config.log.level)
      for (const warning of loaded.warnings) this.log.warn({ key: warning.path.join('.'), line: warning.line }, warning.message)
      for (const [name, problem] of Object.entries(loaded.brokenChannels ?? {})) {
        this.log.error({ channel: name }, `notification channel ${name} is broken and is skipped in this run: ${problem}`)
      }
      this.loaded = loaded
    }
    return this.loaded
  }

  /**
   * Reads the config from this file from now on (`ownops init` wrote it during this run);
   * before any config was loaded only.
   */
  useConfig(path: string): void {
    if (this.loaded !== undefined) throw new Error('useConfig after the config was loaded')
    this.options.config = path
  }

  stateStore(): StateStore {
    return new StateStore(defaultStateDir(this.env, this.config().config.stateDir), this.log)
  }

  lockDir(): string {
    return defaultLockDir(this.env, this.config().config.lock.dir)
  }

  dockerEndpoint(): DockerEndpoint {
    return dockerEndpoint(this.env, this.config().config.docker.host)
  }

  /** A Docker client whose engine has answered a ping; exit 69 when unreachable. */
  docker(): Promise<Docker> {
    if (this.dockerClient === undefined) {
      const endpoint = this.dockerEndpoint()
      this.dockerClient = createDocker(endpoint).then(async (docker) => {
        await pingDocker(docker, endpoint)
        return docker
      })
      this.dockerClient.catch(() => (this.dockerClient = undefined))
    }
    return this.dockerClient
  }

  /** Takes the host lock for this run; released by the CLI when the command ends, however it ends. */
  async lock(command: string, stops: string[] = []): Promise<HostLock> {
    const waitMs = this.options.wait === undefined ? this.config().config.lock.wait : parseDuration(this.options.wait)
    if (waitMs === undefined)
      throw new OwnopsError(`--wait: not a duration: ${String(this.options.wait)}`, { kind: 'usage', hint: 'e.g. --wait 10m' })
    // The lock file names the holder's command line (a script's argv may carry a password).
    const lock = await HostLock.acquire({
      dir: this.lockDir(),
      command: this.redactor.redact(command),
      waitMs,
      stops,
      log: this.log,
      signal: this.signal,
      now: this.clock,
    })
    this.defer(() => lock.release())
    if (lock.inherited !== undefined) {
      // The previous holder was killed with containers stopped or a dump running: put them back first.
      const { settleKilledRun } = await import('./sys/stopped-containers.js')
      await settleKilledRun(lock, {
        docker: () => this.docker(),
        log: this.log,
        notify: (event) => this.notifySafely({ ...event, source: { command } }),
      })
    }
    return lock
  }

  /**
   * The notifier for this run (channels loaded on first use). An interrupted run still
   * gets to say so ("restart cancelled", "restore rolled back", "backup interrupted"): what
   * is being sent when the signal comes gets 5 seconds; what the run says after it, once it
   * has put things back, gets 5 seconds from the moment it first speaks. Then deliveries stop.
   */
  notifier(): Promise<Notifier> {
    if (this.signal.aborted && this.notifierInstance !== undefined) {
      this.lastWords ??= this.makeNotifier((grace) => setTimeout(() => grace.abort(this.signal.reason), 5000).unref())
      return this.lastWords
    }
    this.notifierInstance ??= this.makeNotifier((grace) => {
      const later = () => setTimeout(() => grace.abort(this.signal.reason), 5000).unref()
      if (this.signal.aborted) later()
      else this.signal.addEventListener('abort', later, { once: true })
    })
    return this.notifierInstance
  }

  private makeNotifier(arm: (grace: AbortController) => void): Promise<Notifier> {
    const config = this.config().config
    const grace = new AbortController()
    arm(grace)
    return import('./notify/send.js').then(
      ({ Notifier }) =>
        new Notifier({
          config,
          log: this.log.child({ component: 'notify' }),
          store: this.stateStore(),
          now: this.clock,
          signal: grace.signal,
          redactor: this.redactor,
          broken: this.config().brokenChannels ?? {},
        }),
    )
  }

  /**
   * Sends an event on behalf of a job: a failed notification is a warning in the log,
   * never a failure of the job that produced it.
   */
  async notifySafely(event: Omit<NotifyEvent, 'host' | 'time'>): Promise<void> {
    try {
      const notifier = await this.notifier()
      const { makeEvent } = await import('./notify/send.js')
      await notifier.send(makeEvent(this.config().config, this.clock(), event))
    } catch (error) {
      this.log.warn({ err: error }, 'could not send a notification')
    }
  }

  /** Whether systemd runs this machine (PID 1): timers, transient units and systemctl work. */
  systemdRunning(): boolean {
    return this.systemd ?? systemdRunning()
  }

  /** Whether a config has been loaded in this run. */
  get configLoaded(): boolean {
    return this.loaded !== undefined
  }

  /**
   * Runs `step` — a swap, a rollback — to its end whatever signals arrive meanwhile: a
   * second SIGINT/SIGTERM does not end the process while a shielded step runs.
   */
  async shield<T>(step: () => Promise<T>): Promise<T> {
    this.shieldDepth++
    try {
      return await step()
    } finally {
      this.shieldDepth--
    }
  }

  /** Whether a shielded step is running (see shield). */
  get shielded(): boolean {
    return this.shieldDepth > 0
  }

  /** The job this run is, once `beginJob` was called. */
  get job(): JobRun | undefined {
    return this.jobRun
  }

  /**
   * Marks this run as a job: its heartbeat gets a start ping now, and the CLI ends the job
   * (the end ping with the exit status, then the outbox) when the command is over.
   */
  async beginJob(job: { name: string; command: string; target?: string; heartbeat?: boolean }): Promise<JobRun> {
    if (this.jobRun !== undefined) return this.jobRun
    const { randomUUID } = await import('node:crypto')
    const run: JobRun = {
      name: job.name,
      command: job.command,
      ...(job.target === undefined ? {} : { target: job.target }),
      runId: randomUUID(),
      heartbeat: job.heartbeat ?? true,
    }
    this.jobRun = run
    this.jobStarted = this.clock()
    if (run.heartbeat) await this.ping(run, 'start')
    return run
  }

  /** The end of a job: its heartbeat's end ping (success, or the exit status), then the outbox retry (skipped after a signal). */
  async endJob(exitCode: number, options: { retryOutbox: boolean; args?: readonly string[]; summary?: string }): Promise<void> {
    const run = this.jobRun
    if (run === undefined) return
    if (options.args !== undefined) await this.recordJob(run, exitCode, options.args, options.summary)
    await this.noticeBrokenChannels(run)
    if (run.heartbeat) await this.ping(run, exitCode === 0 ? 'success' : 'exit', exitCode)
    if (!options.retryOutbox) return
    try {
      const flushed = await (await this.notifier()).flushOutbox(OUTBOX_RETRY_BUDGET_MS)
      if (flushed.delivered + flushed.dropped > 0)
        this.log.info(
          { delivered: flushed.delivered, dropped: flushed.dropped, remaining: flushed.remaining },
          'notification outbox retried',
        )
    } catch (error) {
      this.log.warn({ err: error }, 'could not retry the notification outbox')
    }
  }

  /**
   * The secrets of the config for the redactor. A broken channel's URL still holds its
   * \${VAR} placeholders: what is around them is masked, the placeholders are not (the
   * error names the variable to set).
   */
  private addSecrets(loaded: LoadedConfig): void {
    const broken = Object.keys(loaded.brokenChannels ?? {})
    if (broken.length === 0) return this.redactor.addFromTree(loaded.config)
    const tree = structuredClone(loaded.config) as { notify: { channels: Record<string, { url?: string }> } }
    for (const name of broken) {
      const channel = tree.notify.channels[name]
      // A NUL never appears in a text to mask: the URL's other parts are still found as secrets.
      if (channel?.url !== undefined) channel.url = channel.url.replace(/\$\{[^}]*\}/g, '\u0000')
    }
    this.redactor.addFromTree(tree)
  }

  /** Names of the notification channels this run skips because the config could not make them usable. */
  brokenChannels(): string[] {
    return Object.keys(this.loaded?.brokenChannels ?? {})
  }

  /**
   * Tells the other channels that a channel is broken: when it breaks (or its problem
   * changes), then once a day while it stays broken — not on every run of a 5-minute job.
   */
  private async noticeBrokenChannels(run: JobRun): Promise<void> {
    const broken = this.loaded?.brokenChannels ?? {}
    type Known = Record<string, { problem: string; notifiedAt: string }>
    try {
      const store = this.stateStore()
      if (Object.keys(broken).length === 0) {
        if (store.exists(BROKEN_CHANNELS_STATE)) await store.remove(BROKEN_CHANNELS_STATE)
        return
      }
      const known = await store.read<Known>(BROKEN_CHANNELS_STATE, {}, (v) =>
        v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Known) : undefined,
      )
      const now = this.clock()
      const due = Object.entries(broken).filter(([name, problem]) => {
        const k = known[name]
        return (
          k === undefined ||
          k.problem !== problem ||
          now.getTime() - Date.parse(k.notifiedAt) >= 86_400_000 ||
          Number.isNaN(Date.parse(k.notifiedAt))
        )
      })
      const next: Known = {}
      for (const [name, problem] of Object.entries(broken))
        next[name] = due.some(([n]) => n === name) ? { problem, notifiedAt: now.toISOString() } : (known[name] as Known[string])
      if (due.length > 0) {
        const names = due.map(([n]) => n)
        await this.notifySafely({
          level: 'error',
          title: `notification channel${names.length === 1 ? '' : 's'} ${names.join(', ')} cannot be used: skipped`,
          body: `${due.map(([, problem]) => problem).join('\n')}\nWhat ${names.length === 1 ? 'it' : 'they'} would have received went only to the other channels. \`ownops config validate\` shows the problem.`,
          source: { command: run.command },
        })
      }
      await store.write(BROKEN_CHANNELS_STATE, next)
    } catch (error) {
      this.log.warn({ err: error }, 'could not tell the other channels about the broken ones')
    }
  }

  /**
   * Leaves the job's outcome in the state directory for `ownops status`: when it started and
   * ended, its exit status, and the error it ended with (redacted). Best effort: a state
   * directory that cannot be written costs the record, never the job.
   */
  private async recordJob(run: JobRun, exitCode: number, args: readonly string[], summary: string | undefined): Promise<void> {
    // A secret on the command line (lock run -- mysql -pSECRET) reaches neither the record nor its file name.
    const shown = args.map((a) => this.redactor.redact(a))
    const record: JobRecord = {
      name: run.name,
      command: run.command,
      args: shown,
      ...(run.target === undefined ? {} : { target: run.target }),
      runId: run.runId,
      started: (this.jobStarted ?? this.clock()).toISOString(),
      finished: this.clock().toISOString(),
      exitStatus: exitCode,
      ok: exitCode === 0,
      ...(exitCode === 0 ? {} : { summary: this.redactor.redact(summary ?? this.lastError ?? `exit ${exitCode}`).slice(0, 500) }),
    }
    try {
      await this.stateStore().write(jobRecordName(shown), record)
    } catch (error) {
      this.log.debug({ err: error }, 'could not record the outcome of this job')
    }
  }

  private async ping(run: JobRun, phase: 'start' | 'success' | 'exit', exitStatus?: number): Promise<void> {
    let channels: object
    try {
      channels = this.config().config.notify.channels
    } catch (error) {
      // A config that cannot be loaded has ended the job already (exit 78): no channel to ping.
      if (phase === 'start') throw error
      return
    }
    if (Object.keys(channels).length === 0) return
    const failed = phase === 'exit'
    await this.notifySafely({
      level: failed ? 'error' : 'info',
      title:
        phase === 'start' ? `${run.name} started` : failed ? `${run.name} failed (exit ${exitStatus ?? '?'})` : `${run.name} succeeded`,
      body: '',
      source: { command: run.command, ...(run.target === undefined ? {} : { target: run.target }) },
      heartbeat: {
        phase,
        runId: run.runId,
        job: run.name,
        ...(exitStatus === undefined ? {} : { exitStatus }),
        ...(phase === 'start' ? {} : { logTail: this.logTail() }),
      },
    })
  }

  /**
   * Waits on the run's clock; SIGINT/SIGTERM end the wait (it rejects with the interruption).
   * A wait longer than a timer can hold (24.8 days: a longer timer fires at once) goes in steps.
   */
  async sleep(ms: number): Promise<void> {
    for (let left = Math.max(0, ms); ; left -= MAX_TIMER_MS) {
      await this.sleeper(Math.min(left, MAX_TIMER_MS), this.signal)
      if (left <= MAX_TIMER_MS) return
    }
  }

  /** Registers clean-up that runs when the command ends, also on SIGINT/SIGTERM (last in, first out). */
  defer(cleanup: Cleanup): void {
    this.cleanups.push(cleanup)
  }

  async runCleanups(): Promise<void> {
    while (this.cleanups.length > 0) {
      const cleanup = this.cleanups.pop() as Cleanup
      try {
        await cleanup()
      } catch (error) {
        this.log.warn({ err: error }, 'clean-up step failed')
      }
    }
    // Connections to a remote engine (ssh processes) end with the run.
    closeDockerConnections()
  }
}

async function readProcessStdin(maxBytes: number): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of process.stdin) {
    const buffer = chunk as Buffer
    size += buffer.length
    if (size > maxBytes)
      throw new OwnopsError(`standard input is larger than ${maxBytes} bytes`, {
        kind: 'usage',
        hint: 'send a tail of it: tail -c 100k file | ownops notify -',
      })
    chunks.push(buffer)
  }
  return Buffer.concat(chunks).toString('utf8')
}
