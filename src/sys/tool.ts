/**
 * External storage tools (rclone, restic, age) as child processes whose standard input and
 * output are streams: a file piped through `age` into `rclone rcat`, `restic dump` into a
 * hashing file sink. Each run has a deadline and follows the abort signal (SIGTERM, then
 * SIGKILL after a grace period); stderr is kept as a bounded tail for error messages; the
 * command line is logged at debug level through the redacting logger. A missing program is
 * an OwnopsError with exit 69 and the Debian package to install.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import type { Readable, Writable } from 'node:stream'
import type { Logger } from 'pino'
import { ExitCode, OwnopsError } from '../errors.js'

export interface ToolOptions {
  log: Logger
  /** The complete environment of the child (nothing else is inherited). */
  env: NodeJS.ProcessEnv
  signal?: AbortSignal | undefined
  /** Killed after this long (the result says timedOut). */
  timeoutMs?: number | undefined
  /** What the child reads: a stream, a string, or nothing. */
  stdin?: Readable | string | undefined
  /** Where the child's stdout goes; captured (up to 64 MiB) when not given. */
  stdout?: Writable | undefined
  cwd?: string | undefined
  /**
   * The child's umask: what it creates on this machine (rclone writing to a local path) gets
   * no more than these bits allow, whatever the umask of the shell that started ownops.
   */
  umask?: number | undefined
}

export interface ToolResult {
  exitCode: number | null
  /** Captured stdout (empty when streamed). */
  stdout: string
  /** The last 64 KiB of stderr. */
  stderr: string
  timedOut: boolean
  aborted: boolean
  ok: boolean
}

const STDERR_TAIL = 64 * 1024
const STDOUT_MAX = 64 * 1024 * 1024
const KILL_GRACE_MS = 5000

/** Debian packages of the tools, for the hint when one is missing. */
const PACKAGES: Record<string, string> = { rclone: 'rclone', restic: 'restic', age: 'age' }

export function missingTool(program: string): OwnopsError {
  const pkg = PACKAGES[program] ?? program
  return new OwnopsError(`${program} is not installed (or not on PATH)`, { exitCode: ExitCode.unavailable, hint: `install it: apt-get install ${pkg}` })
}

/** A running tool: its process and the promise of its result. */
export interface RunningTool {
  child: ChildProcess
  /** The child's stdout when `stdout` was not given and the caller wants to pipe it: see startTool(…, { pipeStdout: true }). */
  result: Promise<ToolResult>
  kill(): void
}

/** Starts a tool; `pipeStdout` leaves child.stdout for the caller to consume. */
export function startTool(argv: readonly string[], options: ToolOptions & { pipeStdout?: boolean; pipeStdin?: boolean }): RunningTool {
  const [file, ...args] = argv
  if (file === undefined) throw new OwnopsError('no command given', { exitCode: ExitCode.internal })
  options.log.debug({ argv }, 'running command')
  // A child inherits the umask when it is forked, which spawn() does before it returns: the
  // process's own umask is changed only for that moment (never more permissive than it was).
  const previous = options.umask !== undefined ? process.umask(options.umask) : undefined
  let child: ChildProcess
  try {
    child = spawn(file, args, {
      env: options.env,
      cwd: options.cwd,
      stdio: [options.stdin === undefined && options.pipeStdin !== true ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    })
  } finally {
    if (previous !== undefined) process.umask(previous)
  }
  let stderr = ''
  let stdout = ''
  let timedOut = false
  let aborted = false
  let killTimer: NodeJS.Timeout | undefined
  const kill = () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    child.kill('SIGTERM')
    killTimer ??= setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS)
    killTimer.unref()
  }
  const timer = options.timeoutMs !== undefined ? setTimeout(() => ((timedOut = true), kill()), options.timeoutMs) : undefined
  timer?.unref()
  const onAbort = () => ((aborted = true), kill())
  if (options.signal?.aborted) onAbort()
  else options.signal?.addEventListener('abort', onAbort, { once: true })

  child.stderr?.setEncoding('utf8')
  child.stderr?.on('data', (chunk: string) => {
    stderr += chunk
    if (stderr.length > STDERR_TAIL * 2) stderr = stderr.slice(-STDERR_TAIL)
  })
  if (options.stdout !== undefined) {
    child.stdout?.pipe(options.stdout)
  } else if (options.pipeStdout !== true) {
    child.stdout?.setEncoding('utf8')
    child.stdout?.on('data', (chunk: string) => {
      if (stdout.length < STDOUT_MAX) stdout += chunk
    })
  }
  if (child.stdin !== null) {
    // A child that exits before reading all its input (it failed) must not crash us with EPIPE.
    child.stdin.on('error', () => undefined)
    if (typeof options.stdin === 'string') child.stdin.end(options.stdin)
    else if (options.stdin !== undefined) {
      options.stdin.on('error', () => kill())
      options.stdin.pipe(child.stdin)
    }
  }

  const result = new Promise<ToolResult>((resolve, reject) => {
    child.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      options.signal?.removeEventListener('abort', onAbort)
      if (error.code === 'ENOENT') reject(missingTool(file))
      else reject(new OwnopsError(`could not run ${file}: ${error.message}`, { exitCode: ExitCode.unavailable }))
    })
    child.once('close', (code) => {
      clearTimeout(timer)
      clearTimeout(killTimer)
      options.signal?.removeEventListener('abort', onAbort)
      const tail = stderr.length > STDERR_TAIL ? stderr.slice(-STDERR_TAIL) : stderr
      resolve({ exitCode: code, stdout, stderr: tail, timedOut, aborted, ok: code === 0 && !timedOut && !aborted })
    })
  })
  return { child, result, kill }
}

/** Runs a tool to the end. */
export async function runTool(argv: readonly string[], options: ToolOptions): Promise<ToolResult> {
  return startTool(argv, options).result
}

/** The last few meaningful lines of a tool's stderr, for an error message. */
export function stderrTail(stderr: string, lines = 3): string {
  return stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .slice(-lines)
    .join(' / ')
}
