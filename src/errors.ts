/**
 * The one error type ownops throws for expected failures, its kinds, and the exit-code
 * table. src/invoke.ts and src/cli.ts are the only places that turn these into a process exit.
 */
export const ExitCode = {
  ok: 0,
  /** The command ran and found problems: a target failed, a check is critical. */
  failed: 1,
  /** Wrong flags or arguments. */
  usage: 2,
  /** A dependency is unavailable: Docker engine down, database unreachable, no systemd for --detach. */
  unavailable: 69,
  /** A bug in ownops: the message says so and asks for a report. */
  internal: 70,
  /** Temporary failure: the host lock is held; try again later. */
  tempfail: 75,
  /** Permission denied (docker.sock, state directory). */
  noperm: 77,
  /** The configuration is invalid. */
  config: 78,
  sigint: 130,
  sigterm: 143,
} as const

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode]

/** Rows for `--help` texts and the README, in one place. */
export const exitCodeTable: ReadonlyArray<readonly [number, string]> = [
  [ExitCode.ok, 'success'],
  [ExitCode.failed, 'ran, but found problems (a target failed, a check is critical)'],
  [ExitCode.usage, 'usage error (unknown flag, missing argument)'],
  [ExitCode.unavailable, 'a dependency is unavailable (Docker engine, database, systemd)'],
  [ExitCode.internal, 'internal error in ownops (please report it)'],
  [ExitCode.tempfail, 'temporary failure: another ownops run holds the lock'],
  [ExitCode.noperm, 'permission denied (docker.sock, state or lock directory)'],
  [ExitCode.config, 'configuration invalid'],
  [ExitCode.sigint, 'interrupted by SIGINT, after clean-up ran'],
  [ExitCode.sigterm, 'terminated by SIGTERM, after clean-up ran'],
]

export function exitStatusHelp(codes: readonly number[]): string {
  const rows = exitCodeTable.filter(([code]) => codes.includes(code))
  return ['Exit status:', ...rows.map(([code, text]) => `  ${String(code).padEnd(4)}${text}`)].join('\n')
}

/**
 * What went wrong, as a throw site says it. EXIT_CODES is the one place that turns a kind
 * into the process' exit status.
 */
export type ErrorKind =
  /** The command ran and found problems: a target failed, a restore was refused. */
  | 'failed'
  /** Wrong flags or arguments. */
  | 'usage'
  /** A dependency is unavailable: the Docker engine, a database or its container, a tool, systemd. */
  | 'unavailable'
  /** A bug in ownops. */
  | 'internal'
  /** Busy: another run holds the lock; try again later. */
  | 'busy'
  /** Permission denied: docker.sock, the state or lock directory, a file. */
  | 'permission'
  /** The configuration is invalid. */
  | 'config'
  /** Interrupted by SIGINT or SIGTERM (after clean-up ran). */
  | 'sigint'
  | 'sigterm'
  /** `lock run -- CMD`: CMD does not exist, or cannot be executed (the shell's 127 and 126). */
  | 'command-not-found'
  | 'command-not-executable'

/** The exit status of each kind of error. */
export const EXIT_CODES: Readonly<Record<ErrorKind, number>> = {
  failed: ExitCode.failed,
  usage: ExitCode.usage,
  unavailable: ExitCode.unavailable,
  internal: ExitCode.internal,
  busy: ExitCode.tempfail,
  permission: ExitCode.noperm,
  config: ExitCode.config,
  sigint: ExitCode.sigint,
  sigterm: ExitCode.sigterm,
  'command-not-found': 127,
  'command-not-executable': 126,
}

/** The exit status for an error: its kind's, or 70 for anything that is not an OwnopsError (a bug). */
export function errorExitCode(error: unknown): number {
  return isOwnopsError(error) ? EXIT_CODES[error.kind] : ExitCode.internal
}

export interface OwnopsErrorOptions {
  /** What went wrong (default: failed). */
  kind?: ErrorKind
  hint?: string
  cause?: unknown
  /** Extra lines printed under the message (e.g. every config problem). */
  details?: string[]
}

export class OwnopsError extends Error {
  readonly kind: ErrorKind
  readonly hint: string | undefined
  readonly details: string[]

  constructor(message: string, options: OwnopsErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'OwnopsError'
    this.kind = options.kind ?? 'failed'
    this.hint = options.hint
    this.details = options.details ?? []
  }

  /** The exit status this error ends the process with (EXIT_CODES). */
  get exitCode(): number {
    return EXIT_CODES[this.kind]
  }
}

/** A file operation's errno as a kind: permission for EACCES and EPERM, `otherwise` else. */
export function errnoKind(error: unknown, otherwise: ErrorKind = 'failed'): ErrorKind {
  const code = (error as NodeJS.ErrnoException | undefined)?.code
  return code === 'EACCES' || code === 'EPERM' ? 'permission' : otherwise
}

/** A container a command needs running is not: a dependency that is unavailable. */
export function containerNotRunning(container: string, purpose: string): OwnopsError {
  return new OwnopsError(`container ${container} is not running; ${purpose}`, { kind: 'unavailable', hint: `docker start ${container}` })
}

export function isOwnopsError(error: unknown): error is OwnopsError {
  return error instanceof OwnopsError
}

/** A short description of any thrown value, for log lines and messages. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message
  return String(error)
}
