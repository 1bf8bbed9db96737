/**
 * External storage tools (rclone, restic, age) as child processes whose standard input and
 * output are streams: a file piped through `age` into `rclone rcat`, `restic dump` into a
 * hashing file sink. Each run has a deadline and follows the abort signal (SIGTERM, then
 * SIGKILL after a grace period); stderr is kept bounded for error messages. The process
 * starts through ./exec.ts (the command line logged with its secrets masked); a missing
 * program is an OwnopsError of kind unavailable with the Debian package to install.
 */
import type { ChildProcess } from 'node:child_process'
import type { Readable, Writable } from 'node:stream'
import type { Logger } from 'pino'
import { OwnopsError } from '../errors.js'
import { spawnProcess } from './exec.js'

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

function installHint(program: string): string {
  return `install it: apt-get install ${PACKAGES[program] ?? program}`
}

export function missingTool(program: string): OwnopsError {
  return new OwnopsError(`${program} is not installed (or not on PATH)`, { kind: 'unavailable', hint: installHint(program) })
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
  const [file] = argv
  if (file === undefined) throw new OwnopsError('no command given', { kind: 'internal' })
  const { child, exited } = spawnProcess(argv, {
    log: options.log,
    env: options.env,
    ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
    stdin: options.stdin === undefined && options.pipeStdin !== true ? 'ignore' : 'pipe',
    stdout: 'pipe',
    notInstalled: installHint(file),
    stderrLimit: STDERR_TAIL,
    ...(options.umask !== undefined ? { umask: options.umask } : {}),
  })
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

  const settle = () => {
    clearTimeout(timer)
    clearTimeout(killTimer)
    options.signal?.removeEventListener('abort', onAbort)
  }
  const result = exited.then(
    (done): ToolResult => {
      settle()
      const code = done.exitCode ?? null
      return { exitCode: code, stdout, stderr: done.stderr, timedOut, aborted, ok: code === 0 && !timedOut && !aborted }
    },
    (error: unknown) => {
      settle()
      // Not installed: the tool's own message names what to install.
      throw (error as OwnopsError).kind === 'unavailable' && /is not installed$/.test((error as Error).message) ? missingTool(file) : error
    },
  )
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
