/**
 * Running one command: the context it gets, its result on stdout, its error on stderr
 * (and as data with --json), the clean-up when it ends, and what SIGINT and SIGTERM do
 * meanwhile. This and src/cli.ts are the only places that catch errors or pick an exit code.
 */
import type { CommandUnknownOpts } from '@commander-js/extra-typings'
import type { GlobalFlags, Handler, Invoke, Quick } from './command.js'
import type { Ctx, GlobalOptions } from './context.js'
import { errorExitCode, ExitCode, isOwnopsError, OwnopsError, type OwnopsErrorOptions } from './errors.js'
import type { LogLevel } from './log-levels.js'

export interface CliIo {
  env?: NodeJS.ProcessEnv
  cwd?: string
  stdout?: (text: string) => void
  stderr?: (text: string) => void
  stderrIsTTY?: boolean
  /**
   * Whether long byte work draws a progress line on stderr: by default only when stderr is
   * the process' own and a terminal (captured output, as in tests, never gets one).
   */
  progress?: boolean
  /** Whether standard input is a terminal: a person at it, not a timer (tests). */
  stdinIsTTY?: boolean
  /** Whether standard output is a terminal: tables get colours (tests). */
  stdoutIsTTY?: boolean
  /** Whether systemd runs this machine (tests: the same answer on every host). */
  systemd?: boolean
  /** Standard input for commands that read it (tests). */
  stdin?: string
  /** The time commands see (tests). */
  clock?: () => Date
  /** How commands wait on that clock (tests: a virtual clock that jumps ahead). */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>
}

/** One run of the CLI: the command being run, its exit code, and the signal that ended it. */
export class Session {
  exitCode: number = ExitCode.ok
  private readonly controller = new AbortController()
  private active: Ctx | undefined
  private signalCode: number | undefined

  constructor(
    private readonly io: CliIo,
    readonly stdout: (text: string) => void,
    readonly stderr: (text: string) => void,
    private readonly stderrIsTTY: boolean,
    /** The command line after the program's name: a job's record names its arguments. */
    private readonly argv: readonly string[] = [],
  ) {}

  private get progress(): boolean {
    return this.io.progress ?? (this.io.stderr === undefined && this.stderrIsTTY)
  }

  /** SIGINT/SIGTERM: the first aborts the command (its clean-up runs), a second exits at once. */
  readonly onSignal = (signal: NodeJS.Signals): void => {
    const code = signal === 'SIGINT' ? ExitCode.sigint : ExitCode.sigterm
    if (this.signalCode !== undefined) {
      // A second signal: stop waiting for clean-up — unless a step that must not be cut
      // (a restore's swap or rollback) is running; it ends within seconds on its own.
      if (this.active?.shielded) {
        this.active.log.warn({ signal }, 'still putting the data back as it was; this is not interrupted')
        return
      }
      process.exit(code)
    }
    this.signalCode = code
    this.active?.log.warn({ signal }, 'interrupted: cleaning up before exit')
    this.controller.abort(
      new OwnopsError(`interrupted by ${signal}`, { kind: signal === 'SIGINT' ? 'sigint' : 'sigterm' } satisfies OwnopsErrorOptions),
    )
  }

  readonly invoke: Invoke = async (command: CommandUnknownOpts, handler: Handler, flags = {}) => {
    const raw = command.optsWithGlobals() as GlobalFlags
    const options: GlobalOptions = {
      config: raw.config,
      json: raw.json === true,
      quiet: raw.quiet === true,
      color: raw.color !== false,
      logLevel: raw.logLevel as LogLevel | undefined,
      wait: flags.wait,
    }
    // Loaded only when a command runs: --help and usage errors stay cheap.
    const { Ctx } = await import('./context.js')
    const io = this.io
    const ctx: Ctx = new Ctx({
      options,
      command: commandPath(command),
      signal: this.controller.signal,
      ...(io.env ? { env: io.env } : {}),
      ...(io.cwd ? { cwd: io.cwd } : {}),
      // Data on stdout is written as the command made it: never rewritten by the log
      // masker (a time zone, a path or a type name is not a secret). Commands keep secrets
      // out of their reports in the first place (config show masks secret keys).
      out: { write: (text) => this.stdout(text) },
      logWrite: this.stderr,
      progress: this.progress,
      ...(this.progress ? { columns: () => process.stderr.columns } : {}),
      ...(io.stdin !== undefined ? { readStdin: async () => io.stdin as string } : {}),
      ...(io.clock ? { clock: io.clock } : {}),
      ...(io.sleep ? { sleep: io.sleep } : {}),
      ...(io.stdinIsTTY !== undefined ? { stdinIsTTY: io.stdinIsTTY } : {}),
      ...(io.stdoutIsTTY !== undefined ? { stdoutIsTTY: io.stdoutIsTTY } : {}),
      stderrIsTTY: this.stderrIsTTY,
      ...(io.systemd !== undefined ? { systemd: io.systemd } : {}),
    })
    this.active = ctx
    let failure: string | undefined
    try {
      const result = await handler(ctx)
      ctx.progress?.end()
      ctx.out.write(options.json ? `${JSON.stringify(result.report, null, 2)}\n` : result.text)
      this.exitCode = result.exitCode
    } catch (error) {
      this.exitCode = this.reportError(ctx, error)
      failure = describe(error)
    } finally {
      await ctx.runCleanups()
    }
    if (this.signalCode !== undefined) this.exitCode = this.signalCode
    // A job that ran while one of its notification channels was broken did not report as configured.
    if (this.exitCode === ExitCode.ok && ctx.job !== undefined && ctx.brokenChannels().length > 0) {
      ctx.log.error(
        { channels: ctx.brokenChannels() },
        `exit 1: notification channel ${ctx.brokenChannels().join(', ')} is broken (ownops config validate)`,
      )
      this.exitCode = ExitCode.failed
    }
    // A job pings the end of its heartbeat; run by a timer or cron (not on a terminal), or as
    // `notify`, it then retries what earlier runs could not deliver, within a bounded time.
    // Read-only and interactive commands never wait for either.
    await ctx.endJob(this.exitCode, {
      retryOutbox: this.signalCode === undefined && (ctx.job?.command === 'notify' || !ctx.stdinIsTTY),
      args: withoutGlobalOptions(this.argv),
      ...(failure === undefined ? {} : { summary: failure }),
    })
  }

  /** A command that needs no context (shell completion): the exit code its function returns. */
  readonly quick: Quick = async (run) => {
    this.exitCode = await run({ env: this.io.env ?? process.env, cwd: this.io.cwd ?? process.cwd(), write: this.stdout })
  }

  private reportError(ctx: Ctx, error: unknown): number {
    ctx.progress?.end()
    const cause = (error as { cause?: unknown } | undefined)?.cause
    const known = isOwnopsError(error) ? error : isOwnopsError(cause) ? cause : undefined
    const exitCode = errorExitCode(known)
    const message = ctx.redactor.redact(known?.message ?? `internal error: ${(error as Error | undefined)?.message ?? String(error)}`)
    const details = (known?.details ?? []).map((d) => ctx.redactor.redact(d))
    const hint =
      known?.hint ??
      (known === undefined
        ? 'this is a bug in ownops: please report it with the command you ran (add --log-level debug for the stack)'
        : undefined)
    if (ctx.options.json)
      ctx.out.write(`${JSON.stringify({ ok: false, error: { message, exitCode, details, ...(hint ? { hint } : {}) } }, null, 2)}\n`)
    const debug = ctx.options.logLevel === 'debug' || ctx.options.logLevel === 'trace'
    const stack = debug || known === undefined ? (error as Error | undefined)?.stack : undefined
    if (this.stderrIsTTY || ctx.env.OWNOPS_LOG_FORMAT === 'text') {
      // A person is reading: plain lines, the details and the hint each on their own.
      const lines = [
        `error: ${message}`,
        ...details.map((d) => `  ${d}`),
        ...(hint ? [`hint: ${hint}`] : []),
        ...(debug && stack ? [ctx.redactor.redact(stack)] : []),
      ]
      this.stderr(`${lines.join('\n')}\n`)
    } else {
      ctx.log.error(
        { exitCode, ...(details.length > 0 ? { details } : {}), ...(hint ? { hint } : {}), ...(debug && stack ? { stack } : {}) },
        message,
      )
    }
    return exitCode
  }
}

/** The message of a failure (an OwnopsError, or one it wraps). */
function describe(error: unknown): string {
  const cause = (error as { cause?: unknown } | undefined)?.cause
  return isOwnopsError(error)
    ? error.message
    : isOwnopsError(cause)
      ? cause.message
      : `internal error: ${String((error as Error | undefined)?.message ?? error)}`
}

/** The program's own options, and whether each takes a value. */
const GLOBAL_OPTIONS: ReadonlyMap<string, boolean> = new Map([
  ['-c', true],
  ['--config', true],
  ['--log-level', true],
  ['--json', false],
  ['-v', false],
  ['--verbose', false],
  ['-q', false],
  ['--quiet', false],
  ['--no-color', false],
])

/** A command line without the program's own options: ["--config", "x.yml", "backup", "db"] → ["backup", "db"]. */
export function withoutGlobalOptions(argv: readonly string[]): string[] {
  const out: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string
    if (arg === '--') {
      out.push(...argv.slice(i))
      break
    }
    const eq = arg.indexOf('=')
    const name = eq > 0 ? arg.slice(0, eq) : arg
    if (GLOBAL_OPTIONS.has(name)) {
      if (GLOBAL_OPTIONS.get(name) === true && eq < 0) i++
      continue
    }
    if (/^-c./.test(arg)) continue // -cFILE
    out.push(arg)
  }
  return out
}

/** "backup", "schedule install": the command's name under the program. */
function commandPath(command: CommandUnknownOpts): string {
  const names: string[] = []
  for (let c: CommandUnknownOpts | null = command; c?.parent != null; c = c.parent) names.unshift(c.name())
  return names.join(' ')
}
