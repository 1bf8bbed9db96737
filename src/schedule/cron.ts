/**
 * Cron expressions with Vixie cron's semantics, turned into systemd OnCalendar= lines
 * that elapse at exactly the same times. Pure: no I/O, no clock unless one is passed.
 *
 * Semantics (those of Vixie cron, which Debian's and most Linux crons are):
 * - five fields: minute (0-59), hour (0-23), day-of-month (1-31), month (1-12 or jan-dec),
 *   day-of-week (0-7 or sun-sat; 0 and 7 are Sunday); names are case-insensitive;
 * - `*`, `a`, `a-b`, `*\/n`, `a-b/n` and comma lists of these; a step needs `*` or a range;
 * - when day-of-month and day-of-week are both restricted (neither starts with `*`), a day
 *   matches when EITHER matches; otherwise both must match (`*\/2` counts as starting with `*`);
 * - @yearly @annually @monthly @weekly (Sunday 00:00) @daily @midnight @hourly @reboot.
 * Refused, with an error naming the field: a wrong field count, values out of range, backwards
 * ranges, day-of-month/month pairs that never occur (`0 0 30 2 *`), and the W L H ? # extensions
 * that Vixie cron does not have.
 *
 * Time: a systemd timer skips a local time that does not exist (spring forward) and runs a
 * repeated local time once, at its first occurrence (fall back); nextRuns() models exactly that.
 */
import { createRequire } from 'node:module'
import type * as CronParser from 'cron-parser'
import { OwnopsError } from '../errors.js'
import { didYouMean } from '../text.js'
import { instantsOf, isValidTimeZone, localTimeZone, wallClock, wallMs, zoneOffset, type Wall } from '../time-zone.js'

export type CronFieldName = 'minute' | 'hour' | 'day-of-month' | 'month' | 'day-of-week'

/** A cron expression that cron itself would refuse, or that never runs. */
export class CronError extends OwnopsError {
  /** The field at fault, when there is one. */
  readonly field: CronFieldName | undefined
  constructor(message: string, options: { field?: CronFieldName; hint?: string } = {}) {
    super(message, { kind: 'config', ...(options.hint === undefined ? {} : { hint: options.hint }) })
    this.name = 'CronError'
    this.field = options.field
  }
}

export interface ParsedCron {
  /** The expression as given, whitespace normalised (one space between fields). */
  expression: string
  /** `@reboot`: runs once at boot, no calendar. */
  reboot: boolean
  /** Allowed values, sorted ascending. Day-of-week uses 0-6 (0 = Sunday). */
  minutes: number[]
  hours: number[]
  daysOfMonth: number[]
  months: number[]
  daysOfWeek: number[]
  /**
   * How the two day fields combine: 'or' when both are restricted (neither starts with `*`),
   * otherwise 'and'.
   */
  dayRule: 'and' | 'or'
}

interface FieldSpec {
  name: CronFieldName
  min: number
  max: number
  names?: readonly string[]
}

const MONTH_NAMES = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'] as const
const DAY_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const
const SYSTEMD_DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const

const FIELDS: readonly FieldSpec[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day-of-month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTH_NAMES },
  // Vixie cron's day-of-week runs 0-7; 7 is folded onto 0 (Sunday) after parsing.
  { name: 'day-of-week', min: 0, max: 7, names: DAY_NAMES },
]

const SHORTCUTS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
}

/** Days in each month in a leap year: a day-of-month is possible when it occurs in some year. */
const MAX_DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

const FIELD_LIST = 'minute hour day-of-month month day-of-week'

/** Parses a cron expression; throws CronError naming the field for anything cron would not run. */
export function parseCron(input: string): ParsedCron {
  const expression = input.trim().replace(/\s+/g, ' ')
  if (expression === '') throw new CronError('empty schedule', { hint: `write 5 fields (${FIELD_LIST}), e.g. "0 3 * * *", or @daily` })
  if (expression.startsWith('@')) {
    const word = expression.toLowerCase()
    if (word === '@reboot')
      return { expression: word, reboot: true, minutes: [], hours: [], daysOfMonth: [], months: [], daysOfWeek: [], dayRule: 'and' }
    const fields = SHORTCUTS[word]
    if (fields === undefined) {
      const known = ['@reboot', ...Object.keys(SHORTCUTS)]
      const guess = didYouMean(expression.split(' ')[0] ?? expression, known)
      throw new CronError(`unknown shortcut "${expression}"${guess ? ` (did you mean "${guess}"?)` : ''}`, {
        hint: `cron knows ${known.join(' ')}; for other intervals write 5 fields, e.g. "*/5 * * * *"`,
      })
    }
    return { ...parseFields(fields), expression: word }
  }
  return parseFields(expression)
}

function parseFields(expression: string): ParsedCron {
  const parts = expression.split(' ')
  if (parts.length !== 5) {
    throw new CronError(`expected 5 fields (${FIELD_LIST}), got ${parts.length}: "${expression}"`, {
      hint:
        parts.length === 6 || parts.length === 7
          ? 'cron has no seconds or year field: drop them'
          : 'e.g. "0 3 * * *" is every day at 03:00',
    })
  }
  const sets = parts.map((raw, i) => parseField(raw, FIELDS[i] as FieldSpec))
  const [minutes, hours, daysOfMonth, months, rawDays] = sets as [number[], number[], number[], number[], number[]]
  const daysOfWeek = [...new Set(rawDays.map((d) => (d === 7 ? 0 : d)))].sort((a, b) => a - b)
  const [, , domRaw, monthRaw, dowRaw] = parts as [string, string, string, string, string]
  const possible = daysOfMonth.some((d) => months.some((m) => d <= (MAX_DAYS[m - 1] ?? 31)))
  if (!possible) {
    throw new CronError(`day-of-month "${domRaw}" never occurs in month "${monthRaw}"`, {
      field: 'day-of-month',
      hint: 'check the day and the month: April, June, September and November have 30 days, February 29',
    })
  }
  const dayRule = domRaw.startsWith('*') || dowRaw.startsWith('*') ? 'and' : 'or'
  return { expression, reboot: false, minutes, hours, daysOfMonth, months, daysOfWeek, dayRule }
}

const EXTENSIONS: ReadonlyArray<[string, string, string]> = [
  ['L', '"L" (last day), an extension of Quartz and cronie', 'list the days instead, e.g. 28-31, or run a job that checks the date'],
  ['W', '"W" (nearest weekday), an extension of Quartz', 'list the days instead'],
  [
    '#',
    '"#" (nth weekday of the month), an extension of Quartz and cronie',
    'cron cannot express the nth weekday: schedule the weekday and let the job check the date',
  ],
  ['?', '"?", an extension of Quartz', 'write * instead'],
  ['H', '"H" (hashed value), an extension of Jenkins', 'write a number; randomDelay: spreads runs out'],
]

function parseField(raw: string, spec: FieldSpec): number[] {
  const fail = (problem: string, hint?: string): never => {
    throw new CronError(`${spec.name} "${raw}" ${problem}`, { field: spec.name, ...(hint === undefined ? {} : { hint }) })
  }
  // Letters are names (checked later), or the single-letter extensions of other crons.
  for (const word of raw.match(/[a-z]+/gi) ?? []) {
    const letter = word.toUpperCase()
    const extension = EXTENSIONS.find(([pattern]) => pattern === letter || (letter === 'LW' && pattern === 'L'))
    if (extension !== undefined) fail(`uses ${extension[1]} that Vixie cron does not have`, extension[2])
  }
  for (const [pattern, what, hint] of EXTENSIONS)
    if (!/[A-Z]/.test(pattern) && raw.includes(pattern)) fail(`uses ${what} that Vixie cron does not have`, hint)
  const values = new Set<number>()
  for (const item of raw.split(',')) {
    if (item === '') fail('has an empty list element', 'remove the extra comma')
    const match = /^([^/]+)(?:\/(.*))?$/.exec(item)
    if (match === null) fail(`cannot be read ("${item}")`)
    const [, range = '', stepText] = match as RegExpExecArray
    let step = 1
    if (stepText !== undefined) {
      if (!/^\d+$/.test(stepText)) fail(`has a step "/${stepText}" that is not a number`)
      step = Number(stepText)
      if (step < 1) fail('has a step of 0', 'a step is at least 1')
    }
    let low: number
    let high: number
    if (range === '*') {
      low = spec.min
      high = spec.max
    } else {
      const ends = range.split('-')
      if (ends.length > 2 || ends.some((e) => e === '')) fail(`has "${range}", which is not a number, a name or a range`)
      low = parseValue(ends[0] as string, spec, raw)
      high = ends.length === 2 ? parseValue(ends[1] as string, spec, raw) : low
      if (ends.length === 1 && stepText !== undefined) {
        fail(
          `has a step after a single value ("${item}"); cron allows a step only after * or a range`,
          `write ${ends[0]}-${spec.max}/${stepText}`,
        )
      }
      if (high < low) {
        const hint =
          spec.name === 'day-of-week' && high === 0
            ? `Sunday at the end of a range is 7: write ${ends[0]}-7`
            : `a range runs from low to high; split a wrap-around range in two, e.g. ${spec.name === 'hour' ? '22-23,0-2' : spec.name === 'day-of-week' ? 'fri-sat,sun-mon' : `${low}-${spec.max},${spec.min}-${high}`}`
        fail(`has a backwards range "${range}"`, hint)
      }
    }
    for (let v = low; v <= high; v += step) values.add(v)
  }
  return [...values].sort((a, b) => a - b)
}

function parseValue(text: string, spec: FieldSpec, raw: string): number {
  if (/^\d+$/.test(text)) {
    const value = Number(text)
    if (value < spec.min || value > spec.max) {
      throw new CronError(`${spec.name} "${raw}" is out of range: ${value} is not in ${spec.min}-${spec.max}`, {
        field: spec.name,
        ...(spec.name === 'day-of-week' ? { hint: '0 and 7 are Sunday' } : spec.name === 'hour' ? { hint: 'midnight is 0' } : {}),
      })
    }
    return value
  }
  if (/^[a-z]+$/i.test(text)) {
    if (spec.names === undefined) {
      throw new CronError(`${spec.name} "${raw}": names are allowed only in the month and day-of-week fields`, { field: spec.name })
    }
    const index = spec.names.indexOf(text.toLowerCase())
    if (index < 0) {
      const guess = didYouMean(text, spec.names)
      throw new CronError(`${spec.name} "${raw}": unknown name "${text}"${guess ? ` (did you mean "${guess}"?)` : ''}`, {
        field: spec.name,
        hint: `use ${spec.names[0]}-${spec.names[spec.names.length - 1]} (three letters) or numbers`,
      })
    }
    return spec.name === 'month' ? index + 1 : index
  }
  throw new CronError(`${spec.name} "${raw}": "${text}" is not a number${spec.names ? ' or a name' : ''}`, { field: spec.name })
}

// ---------------------------------------------------------------------------------------------
// cron → OnCalendar

export interface CalendarOptions {
  /** IANA zone (e.g. Europe/Berlin) appended to every line; omitted: the host's local time. */
  timeZone?: string | undefined
}

/** What a systemd timer needs for a cron expression. */
export type TimerSchedule = { onCalendar: string[] } | { onBootSec: string }

/** How long after boot an @reboot job runs (cron runs it when the cron daemon starts). */
export const REBOOT_DELAY = '1min'

/**
 * The OnCalendar= lines whose elapses are exactly the runs of a cron expression: one line,
 * or two when day-of-month and day-of-week are both restricted (cron runs when either
 * matches; systemd ANDs the parts of one line, and ORs separate lines).
 *
 *   cronToOnCalendar('0 3 * * *')                              // ['*-*-* 03:00:00']
 *   cronToOnCalendar('*\/15 9-17 * * mon-fri')                  // ['Mon..Fri *-*-* 09..17:00/15:00']
 *   cronToOnCalendar('0 0 1,15 * 5', { timeZone: 'UTC' })     // ['Fri *-*-* 00:00:00 UTC', '*-*-01,15 00:00:00 UTC']
 *   cronToOnCalendar('@weekly')                                // ['Sun *-*-* 00:00:00']
 *
 * Throws CronError for an invalid expression or time zone, and for @reboot (use cronToTimer).
 */
export function cronToOnCalendar(expr: string, options: CalendarOptions = {}): string[] {
  const timer = cronToTimer(expr, options)
  if ('onBootSec' in timer) {
    throw new CronError('@reboot has no calendar time', { hint: `use cronToTimer(): a timer with OnBootSec=${REBOOT_DELAY}` })
  }
  return timer.onCalendar
}

/** The timer trigger for a cron expression: OnCalendar= lines, or OnBootSec= for @reboot. */
export function cronToTimer(expr: string, options: CalendarOptions = {}): TimerSchedule {
  const parsed = parseCron(expr)
  if (options.timeZone !== undefined) checkTimeZone(options.timeZone)
  if (parsed.reboot) return { onBootSec: REBOOT_DELAY }
  return { onCalendar: calendarLines(parsed, options.timeZone) }
}

function calendarLines(p: ParsedCron, timeZone: string | undefined): string[] {
  const time = `${renderSet(p.hours, 0, 23)}:${renderSet(p.minutes, 0, 59)}:00`
  const month = renderSet(p.months, 1, 12)
  const suffix = timeZone === undefined ? '' : ` ${timeZone}`
  const allDom = p.daysOfMonth.length === 31
  const allDow = p.daysOfWeek.length === 7
  const line = (dow: string | undefined, dom: string) => `${dow === undefined ? '' : `${dow} `}*-${month}-${dom} ${time}${suffix}`
  if (p.dayRule === 'or') {
    // Either day field matches; one that allows every day makes every day match.
    if (allDom || allDow) return [line(undefined, '*')]
    return [line(renderWeekdays(p.daysOfWeek), '*'), line(undefined, renderSet(p.daysOfMonth, 1, 31))]
  }
  return [line(allDow ? undefined : renderWeekdays(p.daysOfWeek), allDom ? '*' : renderSet(p.daysOfMonth, 1, 31))]
}

const pad = (n: number) => String(n).padStart(2, '0')

/** A value set in systemd's calendar syntax: `*`, `start/step`, `a..b/step`, or a list with ranges. */
function renderSet(values: readonly number[], min: number, max: number): string {
  if (values.length === max - min + 1) return '*'
  const first = values[0] as number
  const last = values[values.length - 1] as number
  if (values.length >= 3) {
    const step = (values[1] as number) - first
    const arithmetic = step >= 2 && values.every((v, i) => v === first + i * step)
    if (arithmetic) return last + step > max ? `${pad(first)}/${step}` : `${pad(first)}..${pad(last)}/${step}`
  }
  return runs(values)
    .map(([a, b]) => (b - a >= 2 ? `${pad(a)}..${pad(b)}` : b === a ? pad(a) : `${pad(a)},${pad(b)}`))
    .join(',')
}

function runs(values: readonly number[]): Array<[number, number]> {
  const out: Array<[number, number]> = []
  for (const v of values) {
    const current = out[out.length - 1]
    if (current !== undefined && v === current[1] + 1) current[1] = v
    else out.push([v, v])
  }
  return out
}

/** Weekdays in systemd's Monday-first order: Mon..Fri, Sat,Sun. */
function renderWeekdays(days: readonly number[]): string {
  const mondayFirst = days.map((d) => (d + 6) % 7).sort((a, b) => a - b)
  const name = (i: number) => SYSTEMD_DAYS[(i + 1) % 7] as string
  return runs(mondayFirst)
    .map(([a, b]) => (b - a >= 2 ? `${name(a)}..${name(b)}` : b === a ? name(a) : `${name(a)},${name(b)}`))
    .join(',')
}

// ---------------------------------------------------------------------------------------------
// Time zones and wall clocks

/** Throws CronError unless the zone is a valid IANA time zone name. */
export function checkTimeZone(timeZone: string): void {
  if (!isValidTimeZone(timeZone)) {
    const zones = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : []
    const guess = didYouMean(timeZone, zones)
    throw new CronError(`unknown time zone "${timeZone}"${guess ? ` (did you mean "${guess}"?)` : ''}`, {
      hint: 'use an IANA name such as UTC, Europe/Berlin or America/New_York (timedatectl list-timezones)',
    })
  }
}

// ---------------------------------------------------------------------------------------------
// Next runs

export interface NextRunsOptions {
  /** Runs strictly after this instant (default: now). */
  from?: Date
  /** IANA zone the schedule is in; omitted: the host's local time. */
  timeZone?: string | undefined
}

/** Whether a local wall time is one the expression runs at (Vixie's day-field rule included). */
function matchesWall(p: ParsedCron, w: Wall): boolean {
  if (!p.minutes.includes(w.minute) || !p.hours.includes(w.hour) || !p.months.includes(w.month)) return false
  const dom = p.daysOfMonth.includes(w.day)
  const dow = p.daysOfWeek.includes(w.weekday)
  return p.dayRule === 'or' ? dom || dow : dom && dow
}

const LOOP_LIMIT = 200_000

let cronParser: typeof CronParser | undefined
/** cron-parser (and luxon) load on first use: config validation, run by every command, needs neither. */
function loadCronParser(): typeof CronParser {
  cronParser ??= createRequire(import.meta.url)('cron-parser') as typeof CronParser
  return cronParser
}

/**
 * The next `count` run times of a cron expression, as the generated systemd timer runs it:
 * local times that do not exist (spring forward) are skipped, and a repeated local time
 * (fall back) runs once, at its first occurrence (when `from` lies inside the repeated hour,
 * the wall clock goes on from there, as systemd's does). Empty for @reboot.
 *
 * cron-parser enumerates candidates; each is checked against Vixie's rules (cron-parser ORs
 * the day fields also for `*\/n` forms, and moves skipped local times to the next hour).
 */
export function nextRuns(expr: string, count: number, options: NextRunsOptions = {}): Date[] {
  const parsed = parseCron(expr)
  if (options.timeZone !== undefined) checkTimeZone(options.timeZone)
  if (parsed.reboot || count <= 0) return []
  const timeZone = options.timeZone ?? localTimeZone()
  const from = (options.from ?? new Date()).getTime()
  const minute = parsed.minutes.join(',')
  const hour = parsed.hours.join(',')
  const month = parsed.months.join(',')
  // Candidate sources whose union covers every run: cron-parser ANDs a restricted field with
  // a `*`, so each source restricts one day field and the matcher below applies the rule.
  const sources = [`${minute} ${hour} ${parsed.daysOfMonth.join(',')} ${month} *`]
  if (parsed.dayRule === 'or') sources.push(`${minute} ${hour} * ${month} ${parsed.daysOfWeek.join(',')}`)
  const fromWall = wallMs(wallClock(from, timeZone))
  const { CronExpressionParser } = loadCronParser()
  const iterators = sources.map((source) => CronExpressionParser.parse(source, { currentDate: new Date(from), tz: timeZone }))
  const heads = iterators.map((it) => it.next().getTime())
  const runs: Date[] = []
  let last = from
  for (let loops = 0; runs.length < count; loops++) {
    if (loops > LOOP_LIMIT) throw new CronError(`"${expr}" found no run within ${LOOP_LIMIT} candidates`)
    let index = 0
    for (let i = 1; i < heads.length; i++) if ((heads[i] as number) < (heads[index] as number)) index = i
    const t = heads[index] as number
    heads[index] = (iterators[index] as (typeof iterators)[number]).next().getTime()
    if (t <= last) continue
    const wall = wallClock(t, timeZone)
    if (!matchesWall(parsed, wall)) continue
    // A repeated wall time runs at its first occurrence, unless that was before `from` and
    // the wall clock at `from` was still before it (systemd follows the wall clock from there).
    const first = instantsOf(wallMs(wall), timeZone)[0] ?? t
    if (first !== t && (first > from || wallMs(wall) <= fromWall)) continue
    runs.push(new Date(t))
    last = t
  }
  return runs
}

/**
 * The last run of a cron expression at or before `at`, by the same rules as `nextRuns`
 * (Vixie's day fields, a repeated wall time counted once, a skipped one not at all);
 * undefined for @reboot, or when none is found within the search limit. Maintenance
 * windows start at these times.
 */
export function previousRun(expr: string, options: { at: Date; timeZone?: string | undefined }): Date | undefined {
  const parsed = parseCron(expr)
  if (options.timeZone !== undefined) checkTimeZone(options.timeZone)
  if (parsed.reboot) return undefined
  const timeZone = options.timeZone ?? localTimeZone()
  const minute = parsed.minutes.join(',')
  const hour = parsed.hours.join(',')
  const month = parsed.months.join(',')
  const sources = [`${minute} ${hour} ${parsed.daysOfMonth.join(',')} ${month} *`]
  if (parsed.dayRule === 'or') sources.push(`${minute} ${hour} * ${month} ${parsed.daysOfWeek.join(',')}`)
  const { CronExpressionParser } = loadCronParser()
  // prev() is strictly before currentDate: a run exactly at `at` counts.
  const iterators = sources.map((source) =>
    CronExpressionParser.parse(source, { currentDate: new Date(options.at.getTime() + 1), tz: timeZone }),
  )
  const heads = iterators.map((it) => it.prev().getTime())
  let last = Number.POSITIVE_INFINITY
  for (let loops = 0; loops <= LOOP_LIMIT; loops++) {
    let index = 0
    for (let i = 1; i < heads.length; i++) if ((heads[i] as number) > (heads[index] as number)) index = i
    const t = heads[index] as number
    heads[index] = (iterators[index] as (typeof iterators)[number]).prev().getTime()
    if (t >= last) continue
    last = t
    const wall = wallClock(t, timeZone)
    if (!matchesWall(parsed, wall)) continue
    // A repeated wall time runs at its first occurrence only.
    if ((instantsOf(wallMs(wall), timeZone)[0] ?? t) !== t) continue
    return new Date(t)
  }
  return undefined
}

// ---------------------------------------------------------------------------------------------
// Daylight saving time

export interface DstTransition {
  /** The instant the clocks change. */
  at: Date
  /** Local wall time just before the change, "HH:MM". */
  localBefore: string
  /** Minutes the clocks move: positive forward (times skipped), negative back (times repeated). */
  shiftMinutes: number
}

/** The DST transitions of a zone in the year after `from` (none for UTC, Asia/Tokyo …). */
export function dstTransitions(timeZone: string, from: Date = new Date()): DstTransition[] {
  const out: DstTransition[] = []
  const start = Math.floor(from.getTime() / 3_600_000) * 3_600_000
  const day = 86_400_000
  let previous = zoneOffset(start, timeZone)
  for (let t = start + day; t <= start + 366 * day; t += day) {
    const offset = zoneOffset(t, timeZone)
    if (offset === previous) continue
    // Binary search the minute of the change.
    let lo = t - day
    let hi = t
    while (hi - lo > 60_000) {
      const mid = Math.floor((lo + hi) / 120_000) * 60_000
      if (zoneOffset(mid, timeZone) === previous) lo = mid
      else hi = mid
    }
    const before = wallClock(lo, timeZone)
    const beforeMinute = (before.hour * 60 + before.minute + 1) % 1440
    out.push({
      at: new Date(hi),
      localBefore: `${pad(Math.floor(beforeMinute / 60))}:${pad(beforeMinute % 60)}`,
      shiftMinutes: (offset - previous) / 60_000,
    })
    previous = offset
  }
  return out
}

/**
 * A warning when a fixed run time of the expression falls into a local time that a DST change
 * of the zone skips (the run is missed that day) or repeats (it runs once, 25 or 23 hours from
 * its neighbours); undefined when it does not, or the zone has no DST (UTC, Asia/Tokyo).
 * Schedules that run every hour are not "fixed" and are not warned about.
 */
export function dstWarning(expr: string, timeZone?: string, options: { from?: Date } = {}): string | undefined {
  const parsed = parseCron(expr)
  if (parsed.reboot || parsed.hours.length === 24) return undefined
  const zone = timeZone ?? localTimeZone()
  checkTimeZone(zone)
  const problems: string[] = []
  for (const change of dstTransitions(zone, options.from)) {
    const [h, m] = change.localBefore.split(':').map(Number) as [number, number]
    const startMinute = h * 60 + m
    const span = Math.abs(change.shiftMinutes)
    // Forward: [before, before+shift) never happens. Back: [before-shift, before) happens twice.
    const windowStart = change.shiftMinutes > 0 ? startMinute : startMinute - span
    const hits: string[] = []
    for (const hour of parsed.hours) {
      for (const minute of parsed.minutes) {
        const at = hour * 60 + minute
        if ((((at - windowStart) % 1440) + 1440) % 1440 < span) hits.push(`${pad(hour)}:${pad(minute)}`)
      }
    }
    if (hits.length === 0) continue
    const date = wallClockDate(change.at.getTime() - 60_000, zone)
    const times = hits.length > 3 ? `${hits.slice(0, 3).join(', ')} …` : hits.join(', ')
    problems.push(
      change.shiftMinutes > 0
        ? `${times} ${hits.length === 1 ? 'does' : 'do'} not exist on ${date} in ${zone} (clocks go forward): ${hits.length === 1 ? 'that run is' : 'those runs are'} skipped`
        : `${times} ${hits.length === 1 ? 'happens' : 'happen'} twice on ${date} in ${zone} (clocks go back): the timer runs once, at the first`,
    )
  }
  if (problems.length === 0) return undefined
  return `schedule "${parsed.expression}": ${problems.join('; ')}. Pick a time outside the change window or use timezone: UTC`
}

function wallClockDate(t: number, timeZone: string): string {
  const w = wallClock(t, timeZone)
  return `${w.year}-${pad(w.month)}-${pad(w.day)}`
}

/** Whether a schedule runs at most once a day (one fixed time): such timers get Persistent=true. */
export function isDailyOrRarer(parsed: ParsedCron): boolean {
  return !parsed.reboot && parsed.minutes.length === 1 && parsed.hours.length === 1
}

/** Whether a schedule runs more than once an hour (AccuracySec=1s rather than 1min). */
export function isSubHourly(parsed: ParsedCron): boolean {
  return !parsed.reboot && parsed.minutes.length > 1
}

// ---------------------------------------------------------------------------------------------
// Both day fields restricted

const WEEKDAY_NAMES = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const

/**
 * The warning for a schedule that restricts both day-of-month and day-of-week (`0 2 1-7 * sun`):
 * cron, and so the timer, runs it on the days that match EITHER field — often meant as "the
 * first Sunday", it runs about eleven times a month. The text says what it means, how many runs
 * the next 30 days have and which the next ones are; undefined for other schedules.
 */
export function dayRuleWarning(
  expr: string,
  timeZone?: string,
  options: { from?: Date } = {},
): { message: string; hint: string } | undefined {
  const parsed = parseCron(expr)
  if (parsed.reboot || parsed.dayRule !== 'or') return undefined
  const zone = timeZone ?? localTimeZone()
  const from = options.from ?? new Date()
  const [minute, hour, dom, mon, dow] = parsed.expression.split(' ')
  const month = nextRuns(expr, 200, { from, timeZone: zone }).filter((d) => d.getTime() - from.getTime() <= 30 * 86_400_000)
  const shown = nextRuns(expr, 6, { from, timeZone: zone }).map((d) => {
    const w = wallClock(d.getTime(), zone)
    return `${WEEKDAY_NAMES[w.weekday]} ${w.year}-${pad(w.month)}-${pad(w.day)} ${pad(w.hour)}:${pad(w.minute)}`
  })
  return {
    message: `schedule "${parsed.expression}" runs on day-of-month ${dom} OR day-of-week ${dow} (cron's rule when both day fields are restricted; the timer keeps it): ${month.length} runs in the next 30 days; next: ${shown.join(', ')}`,
    hint: `if both are meant, keep it; for day-of-week ${dow} only write "${minute} ${hour} * ${mon} ${dow}", for days ${dom} only "${minute} ${hour} ${dom} ${mon} *" (cron cannot say "the first ${dow}")`,
  }
}
