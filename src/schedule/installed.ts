/**
 * What is installed of the schedule, read back from the files `schedule install` wrote: the
 * OnCalendar= lines of the generated timers, the entries of /etc/cron.d/ownops and of the
 * crontab block, and the next run of each — computed with ownops' own cron code, for a
 * machine where systemd is not running (a container, a chroot, cron instead). Pure: file
 * texts in, schedules and times out.
 */
import { CRON_JOB_PREFIX } from './crond.js'
import { nextRuns, parseCron } from './cron.js'
import { isGenerated } from './units.js'

/** A generated timer's trigger: its OnCalendar= lines, OnBootSec= for @reboot, and RandomizedDelaySec=. */
export interface TimerTrigger {
  onCalendar: string[]
  onBootSec?: string
  randomDelaySec?: number
}

/** The trigger of a timer unit's text; undefined for a timer ownops did not generate. */
export function readTimer(text: string): TimerTrigger | undefined {
  if (!isGenerated(text)) return undefined
  const trigger: TimerTrigger = { onCalendar: [] }
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    const eq = line.indexOf('=')
    if (eq < 0) continue
    const key = line.slice(0, eq).trim()
    const value = line.slice(eq + 1).trim()
    if (key === 'OnCalendar' && value !== '') trigger.onCalendar.push(value)
    else if (key === 'OnBootSec') trigger.onBootSec = value
    else if (key === 'RandomizedDelaySec') {
      const seconds = spanSeconds(value)
      if (seconds !== undefined) trigger.randomDelaySec = seconds
    }
  }
  return trigger
}

/** A systemd time span as ownops writes them (15min, 1h, 90s, 1h 30min) in seconds. */
function spanSeconds(text: string): number | undefined {
  const units: Record<string, number> = { s: 1, sec: 1, m: 60, min: 60, h: 3600, d: 86400, w: 604800 }
  let total = 0
  const parts = text.trim().split(/\s+/)
  for (const part of parts) {
    const match = /^(\d+)([a-z]*)$/.exec(part)
    const factor = match ? units[match[2] === '' ? 's' : (match[2] as string)] : undefined
    if (match === null || factor === undefined) return undefined
    total += Number(match[1]) * factor
  }
  return total
}

/** The cron expressions of the jobs in a cron.d file or a crontab block ownops wrote, by job name. */
export function readCronJobs(text: string, options: { userField: boolean }): Map<string, string> {
  const jobs = new Map<string, string>()
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string
    if (!line.startsWith(CRON_JOB_PREFIX)) continue
    const name = line.slice(CRON_JOB_PREFIX.length).split(':')[0] as string
    const entry = (lines[i + 1] ?? '').trim()
    if (entry === '' || entry.startsWith('#')) continue
    const words = entry.split(/\s+/)
    const fields = words[0]?.startsWith('@') ? 1 : 5
    if (words.length < fields + (options.userField ? 1 : 0)) continue
    jobs.set(name, words.slice(0, fields).join(' '))
  }
  return jobs
}

/** The next run of a cron entry (cron runs at the host's time), or undefined for @reboot or an entry not read. */
export function nextCronRun(expr: string, from: Date, timeZone: string): Date | undefined {
  try {
    return nextRuns(expr, 1, { from, timeZone })[0]
  } catch {
    return undefined
  }
}

const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat']

interface CalendarSets {
  minutes: number[]
  hours: number[]
  days: number[] | '*'
  months: number[] | '*'
  weekdays: number[] | '*'
  timeZone: string | undefined
}

/**
 * The next elapse of OnCalendar= lines (the earliest of them) after `from`, for the forms
 * ownops writes (`[Mon..Fri ]*-MM-DD HH:MM:SS[ ZONE]`: values, lists, a..b ranges, /steps);
 * undefined for any other form. `hostZone` is the zone of a line without one.
 */
export function nextCalendarRun(lines: readonly string[], from: Date, hostZone: string): Date | undefined {
  let best: Date | undefined
  for (const line of lines) {
    const sets = parseCalendar(line)
    if (sets === undefined) return undefined
    const next = nextOf(sets, from, sets.timeZone ?? hostZone)
    if (next === undefined) return undefined
    if (best === undefined || next < best) best = next
  }
  return best
}

function parseCalendar(line: string): CalendarSets | undefined {
  const words = line.trim().split(/\s+/)
  let weekdays: number[] | '*' = '*'
  if (words[0] !== undefined && /^[A-Za-z]/.test(words[0]) && !words[0].includes('-')) {
    const days = parseWeekdays(words.shift() as string)
    if (days === undefined) return undefined
    weekdays = days
  }
  const [date, time, zone, ...rest] = words
  if (date === undefined || time === undefined || rest.length > 0) return undefined
  const dateParts = date.split('-')
  const timeParts = time.split(':')
  if (dateParts.length !== 3 || dateParts[0] !== '*' || timeParts.length < 2 || timeParts.length > 3) return undefined
  if (timeParts.length === 3 && !/^0+$/.test(timeParts[2] as string)) return undefined
  const months = parseSet(dateParts[1] as string, 1, 12)
  const days = parseSet(dateParts[2] as string, 1, 31)
  const hours = parseSet(timeParts[0] as string, 0, 23)
  const minutes = parseSet(timeParts[1] as string, 0, 59)
  if (months === undefined || days === undefined || hours === undefined || minutes === undefined) return undefined
  if (hours === '*' && minutes === '*') return { minutes: range(0, 59), hours: range(0, 23), days, months, weekdays, timeZone: zone }
  return {
    minutes: minutes === '*' ? range(0, 59) : minutes,
    hours: hours === '*' ? range(0, 23) : hours,
    days,
    months,
    weekdays,
    timeZone: zone,
  }
}

const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i)

/** `*`, `05`, `01,15`, `09..17`, `00/15`, `09..17/2`, and lists of them. */
function parseSet(text: string, min: number, max: number): number[] | '*' | undefined {
  if (text === '*') return '*'
  const values = new Set<number>()
  for (const item of text.split(',')) {
    const match = /^(\d+)(?:\.\.(\d+))?(?:\/(\d+))?$/.exec(item)
    if (match === null) return undefined
    const low = Number(match[1])
    const high = match[2] !== undefined ? Number(match[2]) : match[3] !== undefined ? max : low
    const step = match[3] !== undefined ? Number(match[3]) : 1
    if (low < min || high > max || high < low || step < 1) return undefined
    for (let v = low; v <= high; v += step) values.add(v)
  }
  return [...values].sort((a, b) => a - b)
}

/** `Mon..Fri`, `Sat,Sun`, `Mon,Wed..Fri` → 0-6 (0 = Sunday). */
function parseWeekdays(text: string): number[] | undefined {
  const values = new Set<number>()
  for (const item of text.split(',')) {
    const [a, b] = item.split('..').map((d) => WEEKDAYS.indexOf(d.toLowerCase().slice(0, 3)))
    if (a === undefined || a < 0 || (b !== undefined && b < 0)) return undefined
    // Monday-first ranges: Mon..Sun runs through Sunday.
    const end = b === undefined ? a : b
    for (let d = a; ; d = (d + 1) % 7) {
      values.add(d)
      if (d === end) break
    }
  }
  return [...values].sort((x, y) => x - y)
}

/** The next run of one calendar line, through the cron code (both day fields restricted: filtered by hand, as systemd ANDs them). */
function nextOf(sets: CalendarSets, from: Date, timeZone: string): Date | undefined {
  const list = (v: number[] | '*') => (v === '*' ? '*' : v.join(','))
  const both = sets.days !== '*' && sets.weekdays !== '*'
  const expr = `${sets.minutes.join(',')} ${sets.hours.join(',')} ${both ? '*' : list(sets.days)} ${list(sets.months)} ${list(sets.weekdays)}`
  try {
    parseCron(expr)
    if (!both) return nextRuns(expr, 1, { from, timeZone })[0]
    const days = new Set(sets.days as number[])
    const dayOf = new Intl.DateTimeFormat('en-US', { timeZone, day: 'numeric' })
    let after = from
    for (let i = 0; i < 50; i++) {
      const batch = nextRuns(expr, 50, { from: after, timeZone })
      for (const run of batch) if (days.has(Number(dayOf.format(run)))) return run
      const last = batch[batch.length - 1]
      if (last === undefined) return undefined
      after = last
    }
    return undefined
  } catch {
    return undefined
  }
}
