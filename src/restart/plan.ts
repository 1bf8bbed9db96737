/** The pure part of a restart: when, the countdown, the messages, the player count. */
import { parseDuration } from '../duration.js'
import { OwnopsError } from '../errors.js'

/** `--in 30m` or `--at "2026-06-15 04:00"` / `--at 04:00` / ISO 8601 with a zone → the instant. */
export function restartTime(opts: { in?: string | undefined; at?: string | undefined }, now: Date): Date {
  if (opts.in !== undefined && opts.at !== undefined) throw new OwnopsError('--in and --at exclude each other', { kind: 'usage' })
  if (opts.in !== undefined) {
    const ms = parseDuration(opts.in)
    if (ms === undefined)
      throw new OwnopsError(`--in: not a duration (of at most 100 years): ${opts.in}`, {
        kind: 'usage',
        hint: 'e.g. --in 30m, --in 1h30m, --in 90s',
      })
    return new Date(now.getTime() + ms)
  }
  if (opts.at === undefined) return now
  const text = opts.at.trim()
  let at: Date
  const clock = /^(\d{1,2}):(\d{2})(?::(\d{2}))?$/.exec(text)
  if (clock) {
    // A bare time of day: its next occurrence (today, or tomorrow when it has passed).
    at = new Date(now)
    at.setHours(Number(clock[1]), Number(clock[2]), Number(clock[3] ?? 0), 0)
    if (at.getTime() <= now.getTime()) at.setDate(at.getDate() + 1)
  } else {
    at = new Date(/^\d{4}-\d\d-\d\d[ T]\d\d:\d\d(:\d\d)?$/.test(text) ? text.replace(' ', 'T') : text)
  }
  if (Number.isNaN(at.getTime()) || !/\d\d:\d\d/.test(text)) {
    throw new OwnopsError(`--at: not a time: ${opts.at}`, {
      kind: 'usage',
      hint: 'e.g. --at "2026-06-15 04:00" (local time), --at 04:00, or --at 2026-06-15T04:00:00+09:00',
    })
  }
  if (at.getTime() < now.getTime()) {
    throw new OwnopsError(`--at ${opts.at} is in the past (now: ${formatClock(now, true)})`, {
      kind: 'usage',
      hint: 'give a future time, or restart now without --at',
    })
  }
  return at
}

/** The warning offsets that fit in the delay, longest first. */
export function countdownOffsets(delayMs: number, warnAt: readonly number[]): number[] {
  const offsets = warnAt.filter((ms) => ms > 0 && ms <= delayMs + 500)
  return [...new Set(offsets)].sort((a, b) => b - a)
}

/** 5 minutes, 1 minute, 30 seconds, 1 hour 30 minutes. */
export function formatLeft(ms: number): string {
  let seconds = Math.round(ms / 1000)
  const parts: string[] = []
  for (const [unit, size] of [
    ['hour', 3600],
    ['minute', 60],
    ['second', 1],
  ] as const) {
    const n = Math.floor(seconds / size)
    if (n > 0) parts.push(`${n} ${unit}${n === 1 ? '' : 's'}`)
    seconds -= n * size
  }
  return parts.length > 0 ? parts.join(' ') : '0 seconds'
}

export function formatClock(date: Date, withDate = false): string {
  const pad = (n: number) => String(n).padStart(2, '0')
  const time = `${pad(date.getHours())}:${pad(date.getMinutes())}${date.getSeconds() !== 0 ? `:${pad(date.getSeconds())}` : ''}`
  return withDate ? `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${time}` : time
}

export function renderMessage(template: string, values: { left?: number; reason?: string | undefined; time?: Date }): string {
  return template
    .replaceAll('{left}', values.left !== undefined ? formatLeft(values.left) : '')
    .replaceAll('{reason}', values.reason ? `: ${values.reason}` : '')
    .replaceAll('{time}', values.time ? formatClock(values.time) : '')
}

export type Tone = 'warn' | 'now' | 'pending' | 'cancelled'

const COLOURS: Record<Tone, string> = { warn: 'gold', now: 'red', pending: 'yellow', cancelled: 'green' }

/** The RCON command that shows `text` to every player. */
export function chatCommand(style: 'tellraw' | 'say', text: string, tone: Tone): string {
  const clean = text.replace(/[\r\n]+/g, ' ')
  if (style === 'say') return `say ${clean}`
  return `tellraw @a ${JSON.stringify([
    { text: '[Server] ', color: 'gray' },
    { text: clean, color: COLOURS[tone], bold: tone === 'now' },
  ])}`
}

/** Minecraft's `list` reply: "There are 2 of a max of 20 players online: a, b" (and the older "There are 2/20 players online:"). */
export function parsePlayerList(reply: string): { online: number; max: number; names: string[] } | undefined {
  const text = reply.replace(/§./g, '')
  const m = /There are (\d+)(?: of a max of |\/)(\d+) players online:?\s*(.*)$/s.exec(text)
  if (!m) return undefined
  const names = (m[3] ?? '')
    .split(',')
    .map((n) => n.trim())
    .filter(Boolean)
  return { online: Number(m[1]), max: Number(m[2]), names }
}

/** systemd-run's argv for a detached restart: a transient timer whose service runs the countdown. */
export function detachArgv(opts: { unit: string; fireAt: Date; now: Date; command: string[]; description: string }): string[] {
  const seconds = Math.max(1, Math.round((opts.fireAt.getTime() - opts.now.getTime()) / 1000))
  return [
    'systemd-run',
    `--unit=${opts.unit}`,
    `--description=${opts.description}`,
    `--on-active=${seconds}s`,
    '--timer-property=AccuracySec=1s',
    '--property=Type=exec',
    '--property=KillSignal=SIGINT',
    '--property=TimeoutStopSec=2min',
    '--collect',
    '--',
    ...opts.command,
  ]
}
