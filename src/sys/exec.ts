/**
 * The one place ownops starts processes. Logs the command line through the redactor,
 * forwards the abort signal, and turns "not found" into a typed error.
 */
import type { Logger } from 'pino'
import { ExitCode, OwnopsError } from '../errors.js'

export interface RunInheritOptions {
  log: Logger
  signal?: AbortSignal
  env?: NodeJS.ProcessEnv
  cwd?: string
}

/** Runs a command with the terminal's stdio; resolves with its exit code (128+n for a signal). */
export async function runInherit(argv: readonly string[], options: RunInheritOptions): Promise<number> {
  const { execa } = await import('execa')
  const [file, ...args] = argv
  if (file === undefined) throw new OwnopsError('no command given', { exitCode: ExitCode.usage })
  options.log.debug({ argv }, 'running command')
  const result = await execa(file, args, {
    stdio: 'inherit',
    reject: false,
    ...(options.signal ? { cancelSignal: options.signal } : {}),
    ...(options.env ? { env: options.env, extendEnv: false } : {}),
    ...(options.cwd ? { cwd: options.cwd } : {}),
  })
  if (result.failed && result.exitCode === undefined && result.signal === undefined) {
    const code = (result.cause as NodeJS.ErrnoException | undefined)?.code
    if (code === 'ENOENT') throw new OwnopsError(`command not found: ${file}`, { exitCode: 127, hint: 'check the name and $PATH' })
    if (code === 'EACCES') throw new OwnopsError(`permission denied running ${file}`, { exitCode: 126 })
    if (result.isCanceled) throw options.signal?.reason ?? new OwnopsError('interrupted', { exitCode: ExitCode.sigterm })
    throw new OwnopsError(`could not run ${file}: ${result.shortMessage}`, { exitCode: ExitCode.failed })
  }
  if (result.signal !== undefined) return 128 + (signalNumber(result.signal) ?? 15)
  return result.exitCode ?? ExitCode.failed
}

function signalNumber(name: string): number | undefined {
  const numbers: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15 }
  return numbers[name]
}

export interface CaptureResult {
  exitCode: number | undefined
  stdout: string
  stderr: string
  failed: boolean
  reason?: string
}

/** Runs a command and captures its output; never throws (the result says what went wrong). */
export async function runCapture(argv: readonly string[], options: RunInheritOptions & { timeoutMs?: number; input?: string }): Promise<CaptureResult> {
  const { execa } = await import('execa')
  const [file, ...args] = argv
  if (file === undefined) return { exitCode: undefined, stdout: '', stderr: '', failed: true, reason: 'no command' }
  options.log.debug({ argv }, 'running command')
  const result = await execa(file, args, {
    reject: false,
    ...(options.input !== undefined ? { input: options.input } : { stdin: 'ignore' as const }),
    ...(options.timeoutMs ? { timeout: options.timeoutMs } : {}),
    ...(options.signal ? { cancelSignal: options.signal } : {}),
    ...(options.env ? { env: options.env, extendEnv: false } : {}),
    ...(options.cwd ? { cwd: options.cwd } : {}),
    maxBuffer: 512 * 1024 * 1024,
  })
  const stdout = typeof result.stdout === 'string' ? result.stdout : ''
  const stderr = typeof result.stderr === 'string' ? result.stderr : ''
  return { exitCode: result.exitCode, stdout, stderr, failed: result.failed, ...(result.failed ? { reason: result.shortMessage } : {}) }
}
