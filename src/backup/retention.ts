/**
 * Retention: which backups to keep and which to remove, with the semantics of
 * `restic forget` (restic's ApplyPolicy), computed in a time zone of your choice.
 *
 * Pure: no file system, no clock. The caller passes its own records (anything with a
 * `time: Date` and optional `tags`) and gets the same objects back, sorted newest first.
 *
 * The rules, as restic applies them:
 * - Items are sorted newest first (a stable sort: items with equal times keep their input
 *   order) and walked once.
 * - `last: n` keeps the n newest items. `hourly`/`daily`/`weekly`/`monthly`/`yearly: n`
 *   keep the newest item of each of the n newest hours / days / ISO weeks / months / years
 *   that hold an item: periods without backups do not count. `-1` means no limit.
 * - The oldest-item rule (current restic): a count rule that still has counts left when the
 *   walk reaches the oldest item keeps that item too, even when its period already has a kept
 *   item (reason "oldest daily snapshot"), so a young backup history is not cut short. Put
 *   another way: a rule with count n keeps the newest item of each of the n newest periods,
 *   and the oldest item as well when there are fewer than n periods.
 * - `within: 1y2m3d4h` keeps every item newer than the newest item minus that span (strictly
 *   newer). The span is calendar arithmetic, as Go's `time.AddDate` does it: years, months
 *   and days are subtracted from the wall-clock date in the time zone, an overflowing date
 *   is normalised (31 March minus 1 month is "31 February", which is 3 March), and the hours
 *   are then subtracted as elapsed time.
 * - `withinHourly` … `withinYearly: span` keep the newest item of every period, but only
 *   among the items within that span; the oldest-item rule applies to them as well.
 * - `tags: ["a", "b,c"]` keeps every item tagged `a`, and every item tagged both `b` and `c`
 *   (each entry is one `--keep-tag` value: comma-separated tags that must all be present).
 * - An item is kept when any rule keeps it; its reasons list every rule that did.
 *
 * Where ownops differs from restic, on purpose:
 * - An empty policy (no key set, or only zero counts and spans) keeps everything, with the
 *   reason "policy is empty". restic's `forget` refuses to run without a policy.
 * - The newest item is never removed: when no rule keeps it (a tags-only policy), it is kept
 *   with the reason "newest backup".
 * - Periods are computed in `timeZone` (default: the host's zone), not in the zone each
 *   snapshot was recorded in.
 * - The newest item is the reference for `within*`; restic ignores snapshots dated in the
 *   future when it picks it. Pass `now` to do the same.
 */
import { OwnopsError } from '../errors.js'
import { instantOf, localTimeZone, zoneOffset } from '../time-zone.js'

/** A retention policy: the `keep:` mapping of the config. */
export interface RetentionPolicy {
  /** Keep the n newest items (-1: all). */
  last?: number
  /** Keep the newest item of each of the n newest hours that have one (-1: no limit). */
  hourly?: number
  /** … of each of the n newest days that have one. */
  daily?: number
  /** … of each of the n newest ISO 8601 weeks (Monday to Sunday) that have one. */
  weekly?: number
  /** … of each of the n newest months that have one. */
  monthly?: number
  /** … of each of the n newest years that have one. */
  yearly?: number
  /** Keep every item newer than the newest item minus this span, e.g. `7d`, `1y2m3d4h`. */
  within?: string
  /** Keep the newest item of every hour within this span of the newest item. */
  withinHourly?: string
  withinDaily?: string
  withinWeekly?: string
  withinMonthly?: string
  withinYearly?: string
  /** Keep items that carry these tags; `"a,b"` needs both a and b. */
  tags?: readonly string[]
}

export interface RetentionItem {
  time: Date
  tags?: readonly string[]
}

export interface RetentionOptions {
  /** IANA time zone the hours, days, weeks, months and years are computed in. Default: the host's zone. */
  timeZone?: string
  /**
   * The current time. When given, items dated after it are ignored when picking the newest
   * item that `within*` counts from (as restic does); they are still kept or removed by the rules.
   */
  now?: Date
}

export interface RetentionPlan<T> {
  /** Items to keep, newest first, each with the reasons it is kept. */
  keep: Array<{ item: T; reasons: string[] }>
  /** Items to remove, newest first. */
  remove: T[]
}

/** A span as restic writes it: years, months, days, hours. */
export interface RetentionDuration {
  years: number
  months: number
  days: number
  hours: number
}

/** `within*` spans: one or more `<number><unit>` with units y (years), m (months), d (days), h (hours), each unit at most once. */
export const RETENTION_DURATION_PATTERN = /^(?!.*([ymdh]).*\1)(\d+[ymdh])+$/

export const RETENTION_DURATION_HINT = 'a span such as 7d, 36h, 6m or 1y2m3d4h: y years, m months, d days, h hours, each unit once'

const UNIT_NAMES = { y: 'years', m: 'months', d: 'days', h: 'hours' } as const

/**
 * Parses a `within*` span (`1y2m3d4h`, `7d`, `36h`; `m` is months, as in restic).
 * Throws an Error naming what is wrong.
 */
export function parseRetentionDuration(text: string): RetentionDuration {
  const input = text.trim()
  if (input === '') throw new Error(`empty span; expected ${RETENTION_DURATION_HINT}`)
  const duration: RetentionDuration = { years: 0, months: 0, days: 0, hours: 0 }
  const seen = new Set<string>()
  let rest = input
  while (rest !== '') {
    const match = /^(\d+)(.?)/.exec(rest)
    if (match === null) throw new Error(`"${input}": expected a number at "${rest}"; ${RETENTION_DURATION_HINT}`)
    const [whole, digits = '', unit = ''] = match
    if (unit === '') throw new Error(`"${input}": no unit after ${digits}; ${RETENTION_DURATION_HINT}`)
    if (!(unit in UNIT_NAMES)) throw new Error(`"${input}": unknown unit "${unit}" after ${digits}; ${RETENTION_DURATION_HINT}`)
    if (seen.has(unit)) throw new Error(`"${input}": the unit "${unit}" appears twice; write each unit once, e.g. 1y2m3d4h`)
    seen.add(unit)
    const value = Number(digits)
    if (!Number.isSafeInteger(value)) throw new Error(`"${input}": ${digits} is too large`)
    duration[UNIT_NAMES[unit as keyof typeof UNIT_NAMES]] = value
    rest = rest.slice(whole.length)
  }
  return duration
}

/** Formats a span the way restic prints it in reasons: `1y2m3d4h`, zero parts left out. */
export function formatRetentionDuration(duration: RetentionDuration): string {
  return (
    (duration.years !== 0 ? `${duration.years}y` : '') +
    (duration.months !== 0 ? `${duration.months}m` : '') +
    (duration.days !== 0 ? `${duration.days}d` : '') +
    (duration.hours !== 0 ? `${duration.hours}h` : '')
  )
}

function isZero(duration: RetentionDuration): boolean {
  return duration.years === 0 && duration.months === 0 && duration.days === 0 && duration.hours === 0
}

// ---------------------------------------------------------------------------------------
// Calendar fields in a time zone

/** The wall clock at an instant, as a Date whose UTC fields are the local fields. */
function wallDate(timeZone: string, ms: number): Date {
  return new Date(ms + zoneOffset(ms, timeZone))
}

/** Go's `t.AddDate(years, months, days)` in a zone: wall-clock date arithmetic with overflow normalised. */
export function addCalendarDate(instant: Date, years: number, months: number, days: number, timeZone: string = localTimeZone()): Date {
  return new Date(addDate(timeZone, instant.getTime(), years, months, days))
}

function addDate(zone: string, ms: number, years: number, months: number, days: number): number {
  const wall = wallDate(zone, ms)
  const shifted = new Date(0)
  // setUTCFullYear takes years 0-99 literally (Date.UTC would map them to 1900-1999) and
  // normalises an overflowing month and day exactly as Go's time.Date does.
  shifted.setUTCFullYear(wall.getUTCFullYear() + years, wall.getUTCMonth() + months, wall.getUTCDate() + days)
  shifted.setUTCHours(wall.getUTCHours(), wall.getUTCMinutes(), wall.getUTCSeconds(), wall.getUTCMilliseconds())
  return instantOf(shifted.getTime(), zone)
}

/** The instant after which an item is "within" `duration` of `latest` (restic: AddDate, then hours as elapsed time). */
function withinThreshold(zone: string, latest: number, duration: RetentionDuration): number {
  return addDate(zone, latest, -duration.years, -duration.months, -duration.days) - duration.hours * 3_600_000
}

/** ISO 8601 week-numbering year and week of a calendar date (fields of a UTC Date). */
export function isoWeek(year: number, month: number, day: number): { year: number; week: number } {
  const date = new Date(0)
  date.setUTCFullYear(year, month - 1, day)
  const weekday = date.getUTCDay() === 0 ? 7 : date.getUTCDay() // Monday 1 … Sunday 7
  // The Thursday of the same week decides the year; its day of year decides the week.
  const thursday = new Date(date.getTime() + (4 - weekday) * 86_400_000)
  const weekYear = thursday.getUTCFullYear()
  const january1 = new Date(0)
  january1.setUTCFullYear(weekYear, 0, 1)
  const dayOfYear = Math.round((thursday.getTime() - january1.getTime()) / 86_400_000) + 1
  return { year: weekYear, week: Math.floor((dayOfYear - 1) / 7) + 1 }
}

interface Calendar {
  year: number
  month: number
  day: number
  hour: number
  weekYear: number
  week: number
}

function calendarOf(zone: string, ms: number): Calendar {
  const wall = wallDate(zone, ms)
  const year = wall.getUTCFullYear()
  const month = wall.getUTCMonth() + 1
  const day = wall.getUTCDate()
  const week = isoWeek(year, month, day)
  return { year, month, day, hour: wall.getUTCHours(), weekYear: week.year, week: week.week }
}

// Bucket keys, as restic numbers them (YYYYMMDDHH, YYYYMMDD, YYYYWW, YYYYMM, YYYY).
type Bucketer = (calendar: Calendar, nr: number) => number
const always: Bucketer = (_, nr) => nr
const ymdh: Bucketer = (c) => c.year * 1_000_000 + c.month * 10_000 + c.day * 100 + c.hour
const ymd: Bucketer = (c) => c.year * 10_000 + c.month * 100 + c.day
const yw: Bucketer = (c) => c.weekYear * 100 + c.week
const ym: Bucketer = (c) => c.year * 100 + c.month
const y: Bucketer = (c) => c.year

// ---------------------------------------------------------------------------------------
// The policy

const COUNT_RULES = [
  ['last', always, 'last snapshot'],
  ['hourly', ymdh, 'hourly snapshot'],
  ['daily', ymd, 'daily snapshot'],
  ['weekly', yw, 'weekly snapshot'],
  ['monthly', ym, 'monthly snapshot'],
  ['yearly', y, 'yearly snapshot'],
] as const

const WITHIN_RULES = [
  ['withinHourly', ymdh, 'hourly within'],
  ['withinDaily', ymd, 'daily within'],
  ['withinWeekly', yw, 'weekly within'],
  ['withinMonthly', ym, 'monthly within'],
  ['withinYearly', y, 'yearly within'],
] as const

interface CompiledPolicy {
  counts: Array<{ count: number; bucket: Bucketer; reason: string }>
  within: RetentionDuration | undefined
  withinBuckets: Array<{ duration: RetentionDuration; bucket: Bucketer; reason: string }>
  tags: string[][]
}

function policyError(key: string, message: string, hint?: string): OwnopsError {
  return new OwnopsError(`keep.${key}: ${message}`, { kind: 'config', ...(hint === undefined ? {} : { hint }) })
}

function compileDuration(key: string, value: unknown): RetentionDuration | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string') throw policyError(key, `expected a span such as 7d, got ${JSON.stringify(value)}`, RETENTION_DURATION_HINT)
  let duration: RetentionDuration
  try {
    duration = parseRetentionDuration(value)
  } catch (error) {
    throw policyError(key, (error as Error).message)
  }
  return isZero(duration) ? undefined : duration
}

function compilePolicy(policy: RetentionPolicy | undefined): CompiledPolicy {
  const p = policy ?? {}
  const counts: CompiledPolicy['counts'] = []
  for (const [key, bucket, reason] of COUNT_RULES) {
    const count = p[key]
    if (count === undefined || count === 0) continue
    if (!Number.isInteger(count) || count < -1)
      throw policyError(key, `expected a whole number, or -1 for no limit, got ${JSON.stringify(count)}`)
    counts.push({ count, bucket, reason })
  }
  const withinBuckets: CompiledPolicy['withinBuckets'] = []
  for (const [key, bucket, reason] of WITHIN_RULES) {
    const duration = compileDuration(key, p[key])
    if (duration !== undefined) withinBuckets.push({ duration, bucket, reason })
  }
  const tags = (p.tags ?? []).map((entry, i) => {
    if (typeof entry !== 'string') throw policyError(`tags[${i}]`, `expected a tag, got ${JSON.stringify(entry)}`)
    return entry.split(',').map((tag) => tag.trim())
  })
  return { counts, within: compileDuration('within', p.within), withinBuckets, tags }
}

/**
 * True when the policy sets no rule: no key, or only zero counts and zero spans. Such a
 * policy keeps every item. Throws on an invalid policy.
 */
export function isEmptyRetentionPolicy(policy: RetentionPolicy | undefined): boolean {
  const compiled = compilePolicy(policy)
  return compiled.counts.length === 0 && compiled.within === undefined && compiled.withinBuckets.length === 0 && compiled.tags.length === 0
}

function hasTags(itemTags: readonly string[] | undefined, required: readonly string[]): boolean {
  const tags = itemTags ?? []
  for (const tag of required) {
    // restic: an empty tag in a --keep-tag list matches an item without any tag.
    if (tag === '' && tags.length === 0) return true
    if (!tags.includes(tag)) return false
  }
  return true
}

/**
 * Decides which items to keep under a retention policy, with restic's `forget` semantics
 * (see the top of this file). Returns every item exactly once, in `keep` (with reasons) or
 * in `remove`, both newest first. Never removes the newest item. An absent or empty policy
 * keeps everything.
 *
 *   planRetention(backups, { daily: 7, weekly: 4, monthly: 12, yearly: 5 }, { timeZone: 'Europe/Berlin' })
 */
export function planRetention<T extends RetentionItem>(
  items: readonly T[],
  policy: RetentionPolicy | undefined,
  options: RetentionOptions = {},
): RetentionPlan<T> {
  const compiled = compilePolicy(policy)
  const zone = options.timeZone ?? localTimeZone()
  zoneOffset(0, zone) // an unknown zone is an error before anything is planned
  const list = items.map((item, index) => {
    const time = item.time instanceof Date ? item.time.getTime() : Number.NaN
    if (Number.isNaN(time)) throw new TypeError(`planRetention: item ${index} has no valid time`)
    return { item, index, time }
  })
  list.sort((a, b) => b.time - a.time || a.index - b.index)

  const keep: RetentionPlan<T>['keep'] = []
  const remove: T[] = []
  if (list.length === 0) return { keep, remove }
  if (compiled.counts.length === 0 && compiled.within === undefined && compiled.withinBuckets.length === 0 && compiled.tags.length === 0) {
    return { keep: list.map(({ item }) => ({ item, reasons: ['policy is empty'] })), remove }
  }

  // The reference for within*: the newest item (not dated after `now`, when given).
  const now = options.now?.getTime()
  let latest = Number.NEGATIVE_INFINITY
  for (const { time } of list) if (time > latest && (now === undefined || time < now)) latest = time
  const threshold = (duration: RetentionDuration): number =>
    latest === Number.NEGATIVE_INFINITY ? latest : withinThreshold(zone, latest, duration)

  const counts = compiled.counts.map((rule) => ({ ...rule, last: undefined as number | undefined }))
  const withinAll =
    compiled.within === undefined ? undefined : { label: formatRetentionDuration(compiled.within), after: threshold(compiled.within) }
  const withinBuckets = compiled.withinBuckets.map((rule) => ({
    ...rule,
    label: `${rule.reason} ${formatRetentionDuration(rule.duration)}`,
    after: threshold(rule.duration),
    last: undefined as number | undefined,
  }))
  const oldest = list.length - 1

  list.forEach(({ item, time }, nr) => {
    const reasons: string[] = []
    let calendar: Calendar | undefined
    const calendarNow = (): Calendar => (calendar ??= calendarOf(zone, time))

    for (const required of compiled.tags) {
      if (hasTags(item.tags, required)) reasons.push(`has tags [${required.join(', ')}]`)
    }
    if (withinAll !== undefined && time > withinAll.after) reasons.push(`within ${withinAll.label}`)
    for (const rule of counts) {
      if (rule.count === 0) continue // exhausted
      const value = rule.bucket(calendarNow(), nr)
      if (value !== rule.last || nr === oldest) {
        reasons.push(value === rule.last ? `oldest ${rule.reason}` : rule.reason)
        rule.last = value
        if (rule.count > 0) rule.count--
      }
    }
    for (const rule of withinBuckets) {
      if (!(time > rule.after)) continue
      const value = rule.bucket(calendarNow(), nr)
      if (value !== rule.last || nr === oldest) {
        reasons.push(value === rule.last ? `oldest ${rule.label}` : rule.label)
        rule.last = value
      }
    }

    if (reasons.length === 0 && nr === 0) reasons.push('newest backup')
    if (reasons.length > 0) keep.push({ item, reasons })
    else remove.push(item)
  })
  return { keep, remove }
}
