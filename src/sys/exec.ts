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

/** Bytes of each output stream a capture keeps by default: its head and its tail. */
export const OUTPUT_LIMIT = 1024 * 1024

/**
 * The head and the tail of a stream of bytes, within a limit: the first eighth and the
 * last seven eighths of `limit`, with a line saying how much was left out between them.
 * A command that prints 300 MB costs a megabyte, not 300.
 */
export class BoundedOutput {
  private head: Buffer[] = []
  private headBytes = 0
  private tail: Buffer[] = []
  private tailBytes = 0
  private dropped = 0
  private readonly headLimit: number
  private readonly tailLimit: number

  constructor(limit = OUTPUT_LIMIT) {
    this.headLimit = Number.isFinite(limit) ? Math.floor(limit / 8) : Number.POSITIVE_INFINITY
    this.tailLimit = Number.isFinite(limit) ? limit - this.headLimit : Number.POSITIVE_INFINITY
  }

  add(chunk: Buffer): void {
    if (this.headBytes < this.headLimit) {
      const take = chunk.subarray(0, this.headLimit - this.headBytes)
      this.head.push(take)
      this.headBytes += take.length
      chunk = chunk.subarray(take.length)
      if (chunk.length === 0) return
    }
    this.tail.push(chunk)
    this.tailBytes += chunk.length
    while (this.tailBytes > this.tailLimit) {
      const first = this.tail[0] as Buffer
      const excess = this.tailBytes - this.tailLimit
      if (first.length <= excess) {
        this.tail.shift()
        this.tailBytes -= first.length
        this.dropped += first.length
      } else {
        this.tail[0] = first.subarray(excess)
        this.tailBytes -= excess
        this.dropped += excess
      }
    }
  }

  /** Bytes seen but not kept. */
  get leftOut(): number {
    return this.dropped
  }

  text(): string {
    const head = Buffer.concat(this.head).toString('utf8')
    const tail = Buffer.concat(this.tail).toString('utf8')
    return this.dropped === 0 ? head + tail : `${head}\n… (${this.dropped} bytes of output left out) …\n${tail}`
  }
}

export interface CaptureOptions extends RunInheritOptions {
  timeoutMs?: number
  input?: string
  /** Bytes kept of stdout and of stderr each (head and tail, see BoundedOutput); default OUTPUT_LIMIT, Infinity keeps all. */
  outputLimit?: number
}

/** Runs a command and captures (the head and tail of) its output; never throws (the result says what went wrong). */
export async function runCapture(argv: readonly string[], options: CaptureOptions): Promise<CaptureResult> {
  const { execa } = await import('execa')
  const [file, ...args] = argv
  if (file === undefined) return { exitCode: undefined, stdout: '', stderr: '', failed: true, reason: 'no command' }
  options.log.debug({ argv }, 'running command')
  const child = execa(file, args, {
    reject: false,
    buffer: false,
    stdout: 'pipe',
    stderr: 'pipe',
    ...(options.input !== undefined ? { input: options.input } : { stdin: 'ignore' as const }),
    ...(options.timeoutMs ? { timeout: options.timeoutMs } : {}),
    ...(options.signal ? { cancelSignal: options.signal } : {}),
    ...(options.env ? { env: options.env, extendEnv: false } : {}),
    ...(options.cwd ? { cwd: options.cwd } : {}),
  })
  const out = new BoundedOutput(options.outputLimit)
  const err = new BoundedOutput(options.outputLimit)
  child.stdout?.on('data', (chunk: Buffer) => out.add(chunk))
  child.stderr?.on('data', (chunk: Buffer) => err.add(chunk))
  const result = await child
  // As execa does when it buffers: one final newline is not part of the output.
  const stdout = out.text().replace(/\r?\n$/, '')
  const stderr = err.text().replace(/\r?\n$/, '')
  return { exitCode: result.exitCode, stdout, stderr, failed: result.failed, ...(result.failed ? { reason: result.shortMessage } : {}) }
}
