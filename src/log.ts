/**
 * Logging: pino writing synchronously to stderr through one redacting destination.
 * JSON lines when stderr is not a terminal (cron, systemd, pipes); human lines on a
 * terminal; sd-daemon `<N>` priority prefixes when stderr is the journal, so that
 * `journalctl -p err` works.
 */
import { fstatSync, writeSync } from 'node:fs'
import { pino, type Logger } from 'pino'
import type { Redactor } from './redact.js'

export type { Logger }
import type { LogLevel } from './log-levels.js'
import { escapeControl } from './text.js'
export { logLevels, type LogLevel } from './log-levels.js'
export type LogFormat = 'json' | 'text' | 'journal'

export interface LoggerOptions {
  level: LogLevel
  redactor: Redactor
  format?: LogFormat
  color?: boolean
  /** Where formatted lines go; stderr by default. */
  write?: (line: string) => void
  /** Also receives every line, redacted, as plain text (a heartbeat's log tail). */
  tail?: (line: string) => void
  env?: NodeJS.ProcessEnv
}

const levelNames: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' }
/** sd-daemon(3) priorities. */
const journalPriority: Record<number, number> = { 10: 7, 20: 7, 30: 6, 40: 4, 50: 3, 60: 2 }
const colors: Record<number, string> = { 10: '90', 20: '36', 30: '32', 40: '33', 50: '31', 60: '35' }
const HIDDEN_KEYS = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'v'])

/** The format to use for stderr when none is forced: journal, terminal text, or JSON. */
export function detectLogFormat(env: NodeJS.ProcessEnv = process.env, stderrIsTTY = Boolean(process.stderr.isTTY)): LogFormat {
  const forced = env.OWNOPS_LOG_FORMAT
  if (forced === 'json' || forced === 'text' || forced === 'journal') return forced
  if (env.JOURNAL_STREAM !== undefined && stderrIsJournal(env.JOURNAL_STREAM)) return 'journal'
  return stderrIsTTY ? 'text' : 'json'
}

function stderrIsJournal(journalStream: string): boolean {
  const [dev, ino] = journalStream.split(':')
  try {
    const st = fstatSync(2)
    return String(st.dev) === dev && String(st.ino) === ino
  } catch {
    return false
  }
}

export function createLogger(options: LoggerOptions): Logger {
  const env = options.env ?? process.env
  const format = options.format ?? detectLogFormat(env)
  const color = options.color ?? (format === 'text' && env.NO_COLOR === undefined && Boolean(process.stderr.isTTY))
  const write = options.write ?? ((line: string) => writeStderr(line))
  const redactor = options.redactor
  const debug = options.level === 'debug' || options.level === 'trace'
  const tail = options.tail
  const destination = {
    write(json: string): void {
      const line = format === 'json' ? json : formatLine(json, format, color, debug)
      write(redactor.redact(line))
      if (tail !== undefined) tail(redactor.redact(format === 'text' && !color ? line : formatLine(json, 'text', false, false)))
    },
  }
  return pino(
    {
      level: options.level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (_label, number) => ({ level: number }) },
      // Stack traces only with --log-level debug (or trace): an expected failure (a refused
      // root, a full disk) is its message, in every format.
      serializers: { err: debug ? pino.stdSerializers.err : (error: Error) => withoutStacks(pino.stdSerializers.err(error)) },
    },
    destination,
  )
}

/** A serialized error without its stack, nor the stacks of its causes. */
function withoutStacks<T>(value: T): T {
  if (value === null || typeof value !== 'object') return value
  if (Array.isArray(value)) return value.map(withoutStacks) as T
  const out: Record<string, unknown> = {}
  for (const [key, inner] of Object.entries(value as Record<string, unknown>)) if (key !== 'stack') out[key] = withoutStacks(inner)
  return out as T
}

function writeStderr(line: string): void {
  try {
    writeSync(2, line)
  } catch {
    // stderr closed (EPIPE): nothing sensible left to do with a log line.
  }
}

function formatLine(json: string, format: LogFormat, color: boolean, debug: boolean): string {
  let record: Record<string, unknown>
  try {
    record = JSON.parse(json) as Record<string, unknown>
  } catch {
    return json
  }
  const level = typeof record.level === 'number' ? record.level : 30
  const name = levelNames[level] ?? 'info'
  // A message or field with a file name in it never drives the terminal (ESC [31m, a newline).
  const msg = typeof record.msg === 'string' ? escapeControl(record.msg) : ''
  const fields: string[] = []
  let stack: string | undefined
  for (const [key, value] of Object.entries(record)) {
    if (HIDDEN_KEYS.has(key)) continue
    if (key === 'err' && value !== null && typeof value === 'object') {
      const err = value as { message?: string; stack?: string }
      fields.push(`err=${quote(err.message ?? '')}`)
      if (debug && typeof err.stack === 'string') stack = err.stack
      continue
    }
    fields.push(`${key}=${quote(typeof value === 'string' ? value : JSON.stringify(value))}`)
  }
  const body = [msg, ...fields].filter((s) => s !== '').join(' ')
  const tail = stack === undefined ? '' : `\n${stack}`
  if (format === 'journal') return `<${journalPriority[level] ?? 6}>${body}${tail.replace(/\n/g, '\n<7>')}\n`
  const time = typeof record.time === 'string' ? record.time.slice(11, 19) : ''
  const label = name.toUpperCase().padEnd(5)
  const coloured = color ? `\u001b[${colors[level] ?? '0'}m${label}\u001b[0m` : label
  return `${time} ${coloured} ${body}${tail}\n`
}

function quote(value: string): string {
  // JSON.stringify escapes control characters; a bare value has none.
  return /^[^\s"=\u0000-\u001f\u007f-\u009f]*$/.test(value) && value !== '' ? value : JSON.stringify(value)
}
