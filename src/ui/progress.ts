/**
 * One progress line on a terminal, redrawn in place on stderr: what is being read or
 * written, bytes so far, the total (`~` when estimated), percent, rate and time left —
 *
 *   backup app  120 MiB / ~220 MiB  54%  45.2 MiB/s  ETA 2s
 *
 * Only on a terminal and never with --json or -q (cron, systemd and pipes see nothing of
 * it). The bytes are polled from the byte path's own counter (`read()`), at most
 * `intervalMs` apart (10 redraws a second), so the byte path does no more than count.
 * The clock and the timer are injected: `renderProgress` is pure, `tick()` draws once.
 */
import { formatDuration } from '../duration.js'
import { formatBytes } from '../text.js'

export interface ProgressState {
  label: string
  /** Bytes so far; undefined while the byte path has not said how to count them. */
  bytes?: number
  /** The expected total, when known or estimated. */
  total?: number
  /** The total is an estimate (the previous backup's size): shown with `~`. */
  estimated?: boolean
  /** Since the task began. */
  elapsedMs: number
}

/** The line for one state (no control characters), cut to `columns` when given. */
export function renderProgress(state: ProgressState, columns?: number): string {
  const { bytes, total, elapsedMs } = state
  const totalText = total !== undefined ? `${state.estimated === true ? '~' : ''}${formatBytes(total)}` : undefined
  if (bytes === undefined) {
    const line = [state.label, ...(totalText !== undefined ? [totalText] : []), formatDuration(elapsedMs)].join('  ')
    return cut(line, columns)
  }
  const parts = [state.label, `${formatBytes(bytes)}${totalText !== undefined ? ` / ${totalText}` : ''}`]
  // An estimate that the bytes have passed says nothing any more: no percent, no time left.
  const fraction = total !== undefined && total > 0 && bytes <= total ? bytes / total : undefined
  if (fraction !== undefined) parts.push(`${Math.floor(fraction * 100)}%`)
  const rate = elapsedMs >= 250 ? (bytes * 1000) / elapsedMs : undefined
  if (rate !== undefined) parts.push(`${formatBytes(Math.round(rate))}/s`)
  if (fraction !== undefined && rate !== undefined && rate > 0 && total !== undefined)
    parts.push(`ETA ${formatDuration(Math.ceil((total - bytes) / rate) * 1000)}`)
  else parts.push(formatDuration(elapsedMs))
  return cut(parts.join('  '), columns)
}

/** One column short of the width: a full line would wrap on some terminals. */
function cut(line: string, columns: number | undefined): string {
  return columns !== undefined && columns > 1 && line.length > columns - 1 ? line.slice(0, columns - 1) : line
}

export interface ProgressIo {
  /** Writes to the terminal (stderr). */
  write(text: string): void
  /** Milliseconds, monotonic enough for rates. */
  now(): number
  /** Calls `fn` every `ms` until the returned function is called. */
  every(ms: number, fn: () => void): () => void
  /** The terminal's width, when known. */
  columns?(): number | undefined
}

/** What a byte path is given to report how far it has got. */
export type ReadMeter = (read: () => number) => void

/** A file's read stream, its bytes read told to `meter`; the stream itself is untouched. */
export function metered<T extends { bytesRead: number }>(stream: T, meter: ReadMeter | undefined): T {
  meter?.(() => stream.bytesRead)
  return stream
}

interface Task {
  label: string
  total?: number
  estimated: boolean
  started: number
  read?: () => number
}

const CLEAR = '\r\x1b[K'

export class ProgressLine {
  private task: Task | undefined
  private shown = false
  private stopTimer: (() => void) | undefined

  constructor(
    private readonly io: ProgressIo,
    private readonly intervalMs = 100,
  ) {}

  /**
   * Shows `label` until the returned function is called; `read()` gives the bytes so far,
   * or is attached later through the returned meter (a byte path that starts further down).
   */
  track(label: string, total?: { bytes: number; estimated?: boolean }, read?: () => number): { meter: ReadMeter; end: () => void } {
    this.end()
    const task: Task = {
      label,
      ...(total !== undefined ? { total: total.bytes } : {}),
      estimated: total?.estimated === true,
      started: this.io.now(),
      ...(read !== undefined ? { read } : {}),
    }
    this.task = task
    this.stopTimer = this.io.every(this.intervalMs, () => this.tick())
    // Drawn at once: on a terminal even a short task says what it does.
    this.tick()
    return {
      meter: (r) => {
        task.read = r
      },
      end: () => {
        if (this.task === task) this.end()
      },
    }
  }

  /** Where the current task reads its bytes from, from now on (a byte path further down attaches its counter). */
  readonly attach: ReadMeter = (read) => {
    if (this.task !== undefined) this.task.read = read
  }

  /** Draws the current task once. */
  tick(): void {
    const task = this.task
    if (task === undefined) return
    let bytes: number | undefined
    try {
      bytes = task.read?.()
    } catch {
      return
    }
    const line = renderProgress(
      {
        label: task.label,
        ...(bytes !== undefined ? { bytes } : {}),
        ...(task.total !== undefined ? { total: task.total } : {}),
        estimated: task.estimated,
        elapsedMs: this.io.now() - task.started,
      },
      this.io.columns?.(),
    )
    this.io.write(`${CLEAR}${line}`)
    this.shown = true
  }

  /** Erases the line (before a log line or the result); the next tick draws it again. */
  clear(): void {
    if (!this.shown) return
    this.io.write(CLEAR)
    this.shown = false
  }

  /** Ends the task and erases its line. */
  end(): void {
    this.stopTimer?.()
    this.stopTimer = undefined
    this.task = undefined
    this.clear()
  }
}

/** The terminal's progress line, or undefined off a terminal and with --json or -q. */
export function progressLine(options: {
  isTTY: boolean
  json: boolean
  quiet: boolean
  write: (text: string) => void
  columns?: () => number | undefined
}): ProgressLine | undefined {
  if (!options.isTTY || options.json || options.quiet) return undefined
  return new ProgressLine({
    write: options.write,
    now: () => performance.now(),
    every: (ms, fn) => {
      const timer = setInterval(fn, ms)
      timer.unref()
      return () => clearInterval(timer)
    },
    ...(options.columns ? { columns: options.columns } : {}),
  })
}
