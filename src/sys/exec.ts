/**
 * The one place ownops starts processes (a layering rule checks it: .dependency-cruiser.cjs).
 * Every command line is logged with its secrets masked (URL credentials, `--password=…`,
 * `NAME=value` where the name says secret, the value after `--password`); the abort signal
 * ends the process; a program that is not installed is a typed error (unavailable, with the
 * caller's hint), and output is kept as a bounded head and tail.
 *
 *   runCapture   run to the end, capture stdout and stderr (never throws for a failed command)
 *   runInherit   run on the terminal's stdio; resolves with the exit status
 *   spawnProcess a process whose streams the caller wires (dumps, compressors, tar)
 *   runSync      a short synchronous lookup (getent, id)
 */
import { spawn, spawnSync, type ChildProcess, type StdioOptions } from 'node:child_process'
import type { Logger } from 'pino'
import { ExitCode, OwnopsError } from '../errors.js'
import { isSecretName, MASK, maskUrlCredentials } from '../redact.js'

/** A flag whose next argument is a secret: --password x, --token x. */
const SECRET_FLAG = /^--?(?!-|no-)[a-z-]*(pass(word)?|token|secret|api-?key)$/i

/** A command line as it may be logged: URL credentials, secret flag values and secret NAME=value pairs masked. */
export function maskArgv(argv: readonly string[]): string[] {
  return argv.map((arg, i) => {
    const previous = argv[i - 1]
    if (previous !== undefined && SECRET_FLAG.test(previous)) return MASK
    const pair = /^(--?[A-Za-z][\w-]*|[A-Za-z_][A-Za-z0-9_]*)=([\s\S]*)$/.exec(arg)
    if (
      pair !== null &&
      pair[2] !== '' &&
      (isSecretName((pair[1] as string).replace(/^-+/, '').replace(/-/g, '_')) || SECRET_FLAG.test(pair[1] as string))
    )
      return `${pair[1] as string}=${MASK}`
    return maskUrlCredentials(arg)
  })
}

function notInstalled(file: string, hint: string | undefined): OwnopsError {
  return new OwnopsError(`${file} is not installed`, { kind: 'unavailable', ...(hint === undefined ? {} : { hint }) })
}

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
  if (file === undefined) throw new OwnopsError('no command given', { kind: 'usage' })
  options.log.debug({ argv: maskArgv(argv) }, 'running command')
  const result = await execa(file, args, {
    stdio: 'inherit',
    reject: false,
    ...(options.signal ? { cancelSignal: options.signal } : {}),
    ...(options.env ? { env: options.env, extendEnv: false } : {}),
    ...(options.cwd ? { cwd: options.cwd } : {}),
  })
  if (result.failed && result.exitCode === undefined && result.signal === undefined) {
    const code = (result.cause as NodeJS.ErrnoException | undefined)?.code
    if (code === 'ENOENT')
      throw new OwnopsError(`command not found: ${file}`, { kind: 'command-not-found', hint: 'check the name and $PATH' })
    if (code === 'EACCES') throw new OwnopsError(`permission denied running ${file}`, { kind: 'command-not-executable' })
    if (result.isCanceled) throw options.signal?.reason ?? new OwnopsError('interrupted', { kind: 'sigterm' })
    throw new OwnopsError(`could not run ${file}: ${result.shortMessage}`, { kind: 'failed' })
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
  /** When set, a program that is not installed throws (kind unavailable) with this hint instead of returning. */
  notInstalled?: string
}

/**
 * Runs a command and captures (the head and tail of) its output; never throws for a command
 * that ran and failed (the result says what went wrong), nor for one that could not start
 * unless `notInstalled` is given.
 */
export async function runCapture(argv: readonly string[], options: CaptureOptions): Promise<CaptureResult> {
  const { execa } = await import('execa')
  const [file, ...args] = argv
  if (file === undefined) return { exitCode: undefined, stdout: '', stderr: '', failed: true, reason: 'no command' }
  options.log.debug({ argv: maskArgv(argv) }, 'running command')
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
  if (
    options.notInstalled !== undefined &&
    result.failed &&
    result.exitCode === undefined &&
    (result.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT'
  ) {
    throw notInstalled(file, options.notInstalled)
  }
  // As execa does when it buffers: one final newline is not part of the output.
  const stdout = out.text().replace(/\r?\n$/, '')
  const stderr = err.text().replace(/\r?\n$/, '')
  return { exitCode: result.exitCode, stdout, stderr, failed: result.failed, ...(result.failed ? { reason: result.shortMessage } : {}) }
}

export interface SpawnOptions {
  /** Where the (masked) command line is logged at debug level. */
  log?: Logger
  signal?: AbortSignal | undefined
  /** The whole environment of the process (default: this process' own). */
  env?: NodeJS.ProcessEnv | undefined
  cwd?: string
  /** stdin and stdout: 'pipe' (the caller reads or writes `child`'s stream), 'ignore', a stream with a file descriptor (another process' pipe), or a file descriptor (a file the program reads or writes itself). */
  stdin?: 'pipe' | 'ignore' | number | NodeJS.ReadableStream | NodeJS.WritableStream
  stdout?: 'pipe' | 'ignore' | number | NodeJS.WritableStream
  /** Hint for the error when the program is not installed. */
  notInstalled?: string
  /** Bytes of stderr kept (its head and tail). */
  stderrLimit?: number
  /**
   * The child's umask: what it creates on this machine (rclone writing to a local path) gets
   * no more than these bits allow, whatever the umask of the shell that started ownops.
   */
  umask?: number | undefined
}

export interface Exited {
  /** The exit status, or undefined when a signal ended the process. */
  exitCode: number | undefined
  signal: NodeJS.Signals | undefined
  stderr: string
}

export interface Spawned {
  child: ChildProcess
  /**
   * Resolves when the process has exited and its output is closed; rejects when it could not
   * start (not installed: kind unavailable). The abort signal ends it with SIGTERM.
   */
  exited: Promise<Exited>
}

/** Starts a process whose streams the caller wires: a dump into an artifact, tar into zstd. */
export function spawnProcess(argv: readonly string[], options: SpawnOptions): Spawned {
  const [file, ...args] = argv
  if (file === undefined) throw new OwnopsError('no command given', { kind: 'internal' })
  options.log?.debug({ argv: maskArgv(argv) }, 'running command')
  const stdio: StdioOptions = [options.stdin ?? 'ignore', options.stdout ?? 'pipe', 'pipe'] as StdioOptions
  // A child inherits the umask when it is forked, which spawn() does before it returns: the
  // process's own umask is changed only for that moment.
  const previous = options.umask !== undefined ? process.umask(options.umask) : undefined
  let child: ChildProcess
  try {
    child = spawn(file, args, { stdio, ...(options.env ? { env: options.env } : {}), ...(options.cwd ? { cwd: options.cwd } : {}) })
  } finally {
    if (previous !== undefined) process.umask(previous)
  }
  const stderr = new BoundedOutput(options.stderrLimit ?? 64 * 1024)
  child.stderr?.on('data', (chunk: Buffer) => stderr.add(chunk))
  const onAbort = () => child.kill('SIGTERM')
  if (options.signal?.aborted) onAbort()
  else options.signal?.addEventListener('abort', onAbort, { once: true })
  const exited = new Promise<Exited>((resolve, reject) => {
    child.once('error', (error: NodeJS.ErrnoException) => {
      options.signal?.removeEventListener('abort', onAbort)
      reject(
        error.code === 'ENOENT'
          ? notInstalled(file, options.notInstalled)
          : new OwnopsError(`could not run ${file}: ${error.message}`, {
              kind: error.code === 'EACCES' ? 'permission' : 'failed',
              cause: error,
            }),
      )
    })
    child.once('close', (code, signal) => {
      options.signal?.removeEventListener('abort', onAbort)
      resolve({ exitCode: code ?? undefined, signal: signal ?? undefined, stderr: stderr.text() })
    })
  })
  // Settled by whoever awaits it; an early failure is never an unhandled rejection.
  exited.catch(() => undefined)
  return { child, exited }
}

/** A short synchronous lookup (getent, id): its status and output; undefined status when it could not run. */
export function runSync(argv: readonly string[], options: { timeoutMs: number }): { status: number | undefined; stdout: string } {
  const [file, ...args] = argv
  if (file === undefined) return { status: undefined, stdout: '' }
  const result = spawnSync(file, args, { encoding: 'utf8', timeout: options.timeoutMs })
  return { status: result.status ?? undefined, stdout: result.stdout ?? '' }
}
