/**
 * The one error type ownops throws for expected failures, and the exit-code table.
 * `cli.ts` is the only place that turns these into a process exit.
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

export interface OwnopsErrorOptions {
  exitCode?: number
  hint?: string
  cause?: unknown
  /** Extra lines printed under the message (e.g. every config problem). */
  details?: string[]
}

export class OwnopsError extends Error {
  readonly exitCode: number
  readonly hint: string | undefined
  readonly details: string[]

  constructor(message: string, options: OwnopsErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'OwnopsError'
    this.exitCode = options.exitCode ?? ExitCode.failed
    this.hint = options.hint
    this.details = options.details ?? []
  }
}

export function isOwnopsError(error: unknown): error is OwnopsError {
  return error instanceof OwnopsError
}

/** A short description of any thrown value, for log lines and messages. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message
  return String(error)
}
