/**
 * Wall clocks in IANA time zones, over Intl: the one engine behind cron schedules and their
 * next runs (src/schedule/cron.ts) and retention's calendar arithmetic
 * (src/backup/retention.ts). An instant's offset comes from Intl's `longOffset` name; the
 * wall clock is the instant shifted by it.
 */
import { OwnopsError } from './errors.js'

/** Whether `timeZone` is an IANA time zone name this runtime knows. */
export function isValidTimeZone(timeZone: string): boolean {
  if (timeZone === '' || /\s/.test(timeZone)) return false
  try {
    new Intl.DateTimeFormat('en-US', { timeZone })
    return true
  } catch {
    return false
  }
}

/** The zone the host's local time uses (TZ, or /etc/localtime), as an IANA name. */
export function localTimeZone(): string {
  return new Intl.DateTimeFormat().resolvedOptions().timeZone
}

const offsetFormatters = new Map<string, Intl.DateTimeFormat>()

function offsetFormatter(timeZone: string): Intl.DateTimeFormat {
  let formatter = offsetFormatters.get(timeZone)
  if (formatter === undefined) {
    try {
      formatter = new Intl.DateTimeFormat('en-US', { timeZone, timeZoneName: 'longOffset' })
    } catch {
      throw new OwnopsError(`unknown time zone "${timeZone}"`, {
        kind: 'config',
        hint: 'use an IANA name such as Europe/Berlin, America/New_York or UTC',
      })
    }
    offsetFormatters.set(timeZone, formatter)
  }
  return formatter
}

/** The UTC offset (ms) of a zone at an instant. */
export function zoneOffset(ms: number, timeZone: string): number {
  const name =
    offsetFormatter(timeZone)
      .formatToParts(ms)
      .find((part) => part.type === 'timeZoneName')?.value ?? 'GMT'
  const match = /^GMT(?:([+-])(\d{2}):(\d{2})(?::(\d{2}))?)?$/.exec(name)
  if (match === null) throw new Error(`unexpected time zone offset "${name}" for ${timeZone}`)
  if (match[1] === undefined) return 0
  const seconds = Number(match[2]) * 3600 + Number(match[3]) * 60 + Number(match[4] ?? 0)
  return (match[1] === '-' ? -seconds : seconds) * 1000
}

export interface Wall {
  year: number
  /** 1–12 */
  month: number
  day: number
  hour: number
  minute: number
  second: number
  millisecond: number
  /** 0 (Sunday) – 6 (Saturday) */
  weekday: number
}

/** The wall clock a zone shows at an instant. */
export function wallClock(ms: number, timeZone: string): Wall {
  const d = new Date(ms + zoneOffset(ms, timeZone))
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    second: d.getUTCSeconds(),
    millisecond: d.getUTCMilliseconds(),
    weekday: d.getUTCDay(),
  }
}

/** A wall time as milliseconds of the same fields read as UTC (for arithmetic on wall times). */
export function wallMs(
  w: Pick<Wall, 'year' | 'month' | 'day' | 'hour' | 'minute'> & Partial<Pick<Wall, 'second' | 'millisecond'>>,
): number {
  const d = new Date(0)
  // setUTCFullYear takes years 0-99 literally (Date.UTC would map them to 1900-1999).
  d.setUTCFullYear(w.year, w.month - 1, w.day)
  d.setUTCHours(w.hour, w.minute, w.second ?? 0, w.millisecond ?? 0)
  return d.getTime()
}

/** The instants at which a zone's clocks show this wall time: none (skipped), one, or two (repeated). */
export function instantsOf(wall: number, timeZone: string): number[] {
  const found = new Set<number>()
  for (const probe of [wall - 86_400_000, wall + 86_400_000]) {
    const t = wall - zoneOffset(probe, timeZone)
    if (t + zoneOffset(t, timeZone) === wall) found.add(t)
  }
  return [...found].sort((a, b) => a - b)
}

/**
 * The one instant of a wall time, resolving gaps and overlaps at DST changes the way Go's
 * `time.Date` does: take the offset in force at the wall time read as UTC; if the result
 * lies outside the period of that offset, take the offset in force at the result instead.
 */
export function instantOf(wall: number, timeZone: string): number {
  let offset = zoneOffset(wall, timeZone)
  if (offset !== 0) {
    const actual = zoneOffset(wall - offset, timeZone)
    if (actual !== offset) offset = actual
  }
  return wall - offset
}
