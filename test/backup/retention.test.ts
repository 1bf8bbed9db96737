import { afterEach, describe, expect, it } from 'vitest'
import {
  RETENTION_DURATION_PATTERN,
  addCalendarDate,
  formatRetentionDuration,
  isEmptyRetentionPolicy,
  isoWeek,
  parseRetentionDuration,
  planRetention,
  type RetentionPolicy,
} from '../../src/backup/retention.js'
import { planRetention as exportedPlanRetention } from '../../src/index.js'
import { configSchema, type KeepPolicy } from '../../src/config/schema.js'
import { isOwnopsError } from '../../src/errors.js'
import { resticCases, resticSnapshots, resticWithinCase } from '../fixtures/restic-policy.js'

interface Backup {
  id: number
  time: Date
  tags?: string[]
}

/** "2026-03-31 12:00" (UTC unless an offset or Z is given) → Date. */
function at(text: string): Date {
  const iso = text.replace(' ', 'T')
  return new Date(/(Z|[+-]\d\d:\d\d)$/.test(iso) ? iso : `${iso}Z`)
}

/** Date → "2026-03-31 12:00:00" (UTC), with milliseconds only when there are any. */
function fmt(date: Date): string {
  return date
    .toISOString()
    .replace('T', ' ')
    .replace(/\.000Z$/, '')
    .replace(/Z$/, '')
}

function backups(times: ReadonlyArray<string | readonly [string, string[]?]>): Backup[] {
  return times.map((entry, id) => {
    const [time, tags] = typeof entry === 'string' ? [entry, undefined] : entry
    return { id, time: at(time), ...(tags === undefined ? {} : { tags }) }
  })
}

/** Runs the plan in UTC (unless told otherwise) and returns kept "time: reasons" lines and removed times. */
function run(times: ReadonlyArray<string | readonly [string, string[]?]>, policy: RetentionPolicy | undefined, timeZone = 'UTC') {
  const plan = planRetention(backups(times), policy, { timeZone })
  return {
    keep: plan.keep.map(({ item, reasons }) => `${fmt(item.time)}: ${reasons.join(', ')}`),
    remove: plan.remove.map((item) => fmt(item.time)),
  }
}

/** Every hour (or day…) from a start, n items, newest last. */
function series(start: string, count: number, stepMs: number): string[] {
  const base = at(start).getTime()
  return Array.from({ length: count }, (_, i) => fmt(new Date(base + i * stepMs)))
}
const HOUR = 3_600_000
const DAY = 24 * HOUR

describe('planRetention: restic golden cases', () => {
  const items = resticSnapshots.map(([time, tags], id) => ({ id, time: at(time), ...(tags === undefined ? {} : { tags }) }))

  for (const c of [...resticCases, resticWithinCase]) {
    it(`matches restic's policy_keep_snapshots_${c.golden}: ${JSON.stringify(c.policy)}`, () => {
      const plan = planRetention(items, c.policy as RetentionPolicy, { timeZone: 'UTC' })
      // ownops never removes the newest backup; restic's tags-only case does.
      const expected = c.keep[0]?.[0] === '2016-01-18 12:02:03' ? c.keep : [['2016-01-18 12:02:03', 'newest backup'], ...c.keep]
      expect(plan.keep.map(({ item, reasons }) => [fmt(item.time), ...reasons])).toEqual(expected.map((row) => [...row]))
      expect(plan.keep.length + plan.remove.length).toBe(items.length)
    })
  }

  it('keeps the three 2015-10-22 snapshots tagged foo,bar in list order (a stable sort)', () => {
    const plan = planRetention(items, { tags: ['foo,bar'] }, { timeZone: 'UTC' })
    expect(plan.keep.map(({ item }) => item.id)).toEqual([102, 71, 72, 73, 35])
    expect(plan.keep.map(({ reasons }) => reasons.join(', '))).toEqual(['newest backup', ...Array<string>(4).fill('has tags [foo, bar]')])
  })
})

describe('planRetention: last', () => {
  const hours = series('2026-01-01 00:00', 6, HOUR)

  it.each([
    [1, ['2026-01-01 05:00:00']],
    [3, ['2026-01-01 05:00:00', '2026-01-01 04:00:00', '2026-01-01 03:00:00']],
    [6, hours.slice().reverse()],
    [10, hours.slice().reverse()],
    [-1, hours.slice().reverse()],
  ])('last: %i keeps %j', (count, kept) => {
    const result = run(hours, { last: count })
    expect(result.keep).toEqual(kept.map((time) => `${time}: last snapshot`))
    expect(result.remove).toEqual(hours.filter((time) => !kept.includes(time)).reverse())
  })

  it('counts two backups at the same instant as two', () => {
    expect(run(['2026-01-01 00:00', '2026-01-01 00:00', '2026-01-01 00:00'], { last: 2 }).keep).toHaveLength(2)
  })
})

describe('planRetention: hourly, daily, weekly, monthly, yearly', () => {
  it.each([
    [
      'hourly',
      series('2026-01-01 00:00', 12, 20 * 60_000),
      2,
      ['2026-01-01 03:40:00: hourly snapshot', '2026-01-01 02:40:00: hourly snapshot'],
    ],
    ['daily', series('2026-01-01 00:00', 12, 8 * HOUR), 2, ['2026-01-04 16:00:00: daily snapshot', '2026-01-03 16:00:00: daily snapshot']],
    // 2026-01-05 and 2026-01-12 are Mondays.
    ['weekly', series('2026-01-05 00:00', 14, DAY), 1, ['2026-01-18 00:00:00: weekly snapshot']],
    ['weekly', series('2026-01-05 00:00', 14, DAY), 2, ['2026-01-18 00:00:00: weekly snapshot', '2026-01-11 00:00:00: weekly snapshot']],
    // 15 Jan, 30 Jan, 14 Feb, 1 Mar, 16 Mar, 31 Mar
    [
      'monthly',
      series('2026-01-15 00:00', 6, 15 * DAY),
      2,
      ['2026-03-31 00:00:00: monthly snapshot', '2026-02-14 00:00:00: monthly snapshot'],
    ],
    // 2024-06-01, 2024-12-18, 2025-07-06, 2026-01-22, 2026-08-10
    [
      'yearly',
      series('2024-06-01 00:00', 5, 200 * DAY),
      2,
      ['2026-08-10 00:00:00: yearly snapshot', '2025-07-06 00:00:00: yearly snapshot'],
    ],
  ] as const)('%s: %#: keeps the newest backup of each of the newest periods', (rule, times, count, kept) => {
    expect(run(times, { [rule]: count }).keep).toEqual(kept)
  })

  it('keeps the newest backup of a period, not the first', () => {
    const result = run(['2026-01-01 01:00', '2026-01-01 09:00', '2026-01-01 17:00', '2026-01-02 03:00'], { daily: 2 })
    expect(result.keep).toEqual(['2026-01-02 03:00:00: daily snapshot', '2026-01-01 17:00:00: daily snapshot'])
    expect(result.remove).toEqual(['2026-01-01 09:00:00', '2026-01-01 01:00:00'])
  })

  it('does not count empty periods: daily 7 over a 3-day gap reaches 7 distinct days back', () => {
    // Two backups a day on 1–10 January and 14–16 January; nothing on 11–13 January.
    const days = [...Array.from({ length: 10 }, (_, i) => i + 1), 14, 15, 16]
    const times = days.flatMap((d) => [`2026-01-${String(d).padStart(2, '0')} 02:00`, `2026-01-${String(d).padStart(2, '0')} 14:00`])
    const result = run(times, { daily: 7 })
    expect(result.keep).toEqual(['16', '15', '14', '10', '09', '08', '07'].map((d) => `2026-01-${d} 14:00:00: daily snapshot`))
    expect(result.remove).toHaveLength(times.length - 7)
  })

  it('-1 keeps the newest backup of every period, however many', () => {
    const times = series('2026-01-01 00:00', 30, 12 * HOUR)
    const result = run(times, { daily: -1 })
    expect(result.keep).toHaveLength(16) // 15 days of newest backups, plus the oldest (see the oldest rule)
    expect(result.keep.at(-1)).toBe('2026-01-01 00:00:00: oldest daily snapshot')
    expect(result.remove).toHaveLength(14)
  })

  it('several rules: a backup kept by more than one rule lists every reason', () => {
    const times = series('2026-01-01 00:00', 40, DAY)
    const result = run(times, { last: 2, daily: 3, weekly: 2, monthly: 2 })
    expect(result.keep.slice(0, 4)).toEqual([
      '2026-02-09 00:00:00: last snapshot, daily snapshot, weekly snapshot, monthly snapshot',
      '2026-02-08 00:00:00: last snapshot, daily snapshot, weekly snapshot',
      '2026-02-07 00:00:00: daily snapshot',
      '2026-01-31 00:00:00: monthly snapshot',
    ])
    expect(result.keep).toHaveLength(4)
  })

  it('keeps 7 daily, 4 weekly, 12 monthly, 5 yearly over three years of nightly backups (the card-game service)', () => {
    const times = series('2023-06-01 02:00', 3 * 365, DAY) // the newest is Saturday 2026-05-30
    const plan = planRetention(backups(times), { daily: 7, weekly: 4, monthly: 12, yearly: 5 }, { timeZone: 'UTC' })
    expect(plan.keep.map(({ item, reasons }) => `${fmt(item.time).slice(0, 10)}: ${reasons.join(', ')}`)).toEqual([
      '2026-05-30: daily snapshot, weekly snapshot, monthly snapshot, yearly snapshot',
      '2026-05-29: daily snapshot',
      '2026-05-28: daily snapshot',
      '2026-05-27: daily snapshot',
      '2026-05-26: daily snapshot',
      '2026-05-25: daily snapshot',
      '2026-05-24: daily snapshot, weekly snapshot', // Sunday: the newest of ISO week 21
      '2026-05-17: weekly snapshot',
      '2026-05-10: weekly snapshot',
      '2026-04-30: monthly snapshot',
      '2026-03-31: monthly snapshot',
      '2026-02-28: monthly snapshot',
      '2026-01-31: monthly snapshot',
      '2025-12-31: monthly snapshot, yearly snapshot',
      '2025-11-30: monthly snapshot',
      '2025-10-31: monthly snapshot',
      '2025-09-30: monthly snapshot',
      '2025-08-31: monthly snapshot',
      '2025-07-31: monthly snapshot',
      '2025-06-30: monthly snapshot',
      '2024-12-31: yearly snapshot',
      '2023-12-31: yearly snapshot',
      '2023-06-01: oldest yearly snapshot', // a yearly count was left when the walk reached the first backup
    ])
    expect(plan.remove).toHaveLength(times.length - 23)
  })
})

describe('planRetention: ISO weeks', () => {
  /** ISO week by counting from the Monday of week 1 (the Monday on or before 4 January). */
  function referenceIsoWeek(date: Date): [number, number] {
    const mondayOfWeek1 = (year: number) => {
      const jan4 = Date.UTC(year, 0, 4)
      const weekday = (new Date(jan4).getUTCDay() + 6) % 7 // Monday 0
      return jan4 - weekday * DAY
    }
    const t = date.getTime()
    let year = date.getUTCFullYear()
    if (t >= mondayOfWeek1(year + 1)) year += 1
    else if (t < mondayOfWeek1(year)) year -= 1
    return [year, Math.floor((t - mondayOfWeek1(year)) / (7 * DAY)) + 1]
  }

  it.each([
    ['2020-12-28', 2020, 53],
    ['2020-12-31', 2020, 53],
    ['2021-01-01', 2020, 53],
    ['2021-01-03', 2020, 53],
    ['2021-01-04', 2021, 1],
    ['2026-12-28', 2026, 53],
    ['2026-12-31', 2026, 53],
    ['2027-01-01', 2026, 53],
    ['2027-01-03', 2026, 53],
    ['2027-01-04', 2027, 1],
    ['2024-12-30', 2025, 1],
    ['2019-12-30', 2020, 1],
    ['2016-01-03', 2015, 53],
    ['2026-06-15', 2026, 25],
  ])('%s is ISO %i-W%i', (day, year, week) => {
    const [y, m, d] = day.split('-').map(Number) as [number, number, number]
    expect(isoWeek(y, m, d)).toEqual({ year, week })
  })

  it('agrees with a second algorithm on every day from 1999 to 2041', () => {
    const mismatches: string[] = []
    for (let t = Date.UTC(1999, 0, 1); t < Date.UTC(2041, 0, 1); t += DAY) {
      const date = new Date(t)
      const ours = isoWeek(date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate())
      const [year, week] = referenceIsoWeek(date)
      if (ours.year !== year || ours.week !== week) mismatches.push(`${fmt(date)}: ${ours.year}-W${ours.week}, expected ${year}-W${week}`)
    }
    expect(mismatches).toEqual([])
  })

  it('weekly buckets span the year boundary: 2026-12-28 … 2027-01-03 is one week (2026-W53)', () => {
    const times = ['2026-12-27 12:00', '2026-12-28 12:00', '2026-12-31 12:00', '2027-01-01 12:00', '2027-01-03 12:00', '2027-01-04 12:00']
    expect(run(times, { weekly: 2 })).toEqual({
      keep: ['2027-01-04 12:00:00: weekly snapshot', '2027-01-03 12:00:00: weekly snapshot'],
      remove: ['2027-01-01 12:00:00', '2026-12-31 12:00:00', '2026-12-28 12:00:00', '2026-12-27 12:00:00'],
    })
    expect(run(times, { weekly: 3 }).keep).toEqual([
      '2027-01-04 12:00:00: weekly snapshot',
      '2027-01-03 12:00:00: weekly snapshot',
      '2026-12-27 12:00:00: weekly snapshot', // 2026-W52
    ])
  })

  it('2020-W53 holds 28 December 2020 to 3 January 2021', () => {
    const times = series('2020-12-27 06:00', 9, DAY) // Sunday 27 Dec … Monday 4 Jan
    expect(run(times, { weekly: 3 }).keep).toEqual([
      '2021-01-04 06:00:00: weekly snapshot',
      '2021-01-03 06:00:00: weekly snapshot',
      '2020-12-27 06:00:00: weekly snapshot',
    ])
  })
})

describe('planRetention: the oldest rule', () => {
  it('keeps the oldest backup when a rule has counts left (restic issue 4806: 3 backups, 2 in one hour, hourly 24)', () => {
    expect(run(['2024-05-17 09:36:51', '2024-05-17 09:41:06', '2024-05-17 10:05:00'], { hourly: 24 }).keep).toEqual([
      '2024-05-17 10:05:00: hourly snapshot',
      '2024-05-17 09:41:06: hourly snapshot',
      '2024-05-17 09:36:51: oldest hourly snapshot',
    ])
  })

  it('says plain "daily snapshot" when the oldest backup is alone in its day', () => {
    expect(run(['2026-01-01 12:00', '2026-01-02 12:00'], { daily: 7 }).keep).toEqual([
      '2026-01-02 12:00:00: daily snapshot',
      '2026-01-01 12:00:00: daily snapshot',
    ])
  })

  it('does not apply once the count is used up', () => {
    const times = ['2026-01-01 02:00', '2026-01-01 14:00', '2026-01-02 02:00', '2026-01-02 14:00', '2026-01-03 02:00', '2026-01-03 14:00']
    expect(run(times, { daily: 3 }).remove).toEqual(['2026-01-03 02:00:00', '2026-01-02 02:00:00', '2026-01-01 02:00:00'])
    expect(run(times, { daily: 4 }).keep.at(-1)).toBe('2026-01-01 02:00:00: oldest daily snapshot')
  })

  it('applies to each rule separately, with -1 counting as counts left', () => {
    const times = ['2025-03-01 00:00', '2025-03-02 00:00', '2026-01-01 00:00']
    expect(run(times, { monthly: -1, yearly: 5, daily: 1 }).keep).toEqual([
      '2026-01-01 00:00:00: daily snapshot, monthly snapshot, yearly snapshot',
      '2025-03-02 00:00:00: monthly snapshot, yearly snapshot',
      '2025-03-01 00:00:00: oldest monthly snapshot, oldest yearly snapshot',
    ])
  })

  it('applies to within* rules when the oldest backup is within the span', () => {
    const times = ['2026-01-01 01:00', '2026-01-01 05:00', '2026-01-02 05:00']
    expect(run(times, { withinDaily: '7d' }).keep).toEqual([
      '2026-01-02 05:00:00: daily within 7d',
      '2026-01-01 05:00:00: daily within 7d',
      '2026-01-01 01:00:00: oldest daily within 7d',
    ])
    expect(run(times, { withinDaily: '1d' }).keep).toEqual(['2026-01-02 05:00:00: daily within 1d'])
  })

  it('never gives "last" an oldest reason: every backup is its own period', () => {
    expect(run(['2026-01-01 00:00', '2026-01-01 00:00'], { last: 5 }).keep).toEqual([
      '2026-01-01 00:00:00: last snapshot',
      '2026-01-01 00:00:00: last snapshot',
    ])
  })
})

describe('planRetention: within', () => {
  it.each([
    // newest, span, first kept, first removed
    ['2026-03-31 12:00', '1m', '2026-03-03 12:00:00.001', '2026-03-03 12:00'], // "31 February" is 3 March
    ['2024-03-31 12:00', '1m', '2024-03-02 12:00:00.001', '2024-03-02 12:00'], // leap year: "31 February" is 2 March
    ['2026-05-31 12:00', '1m', '2026-05-01 12:00:00.001', '2026-05-01 12:00'], // "31 April" is 1 May
    ['2026-03-31 12:00', '1m1d', '2026-03-02 12:00:00.001', '2026-03-02 12:00'], // "30 February" is 2 March
    ['2024-02-29 12:00', '1y', '2023-03-01 12:00:00.001', '2023-03-01 12:00'], // "29 February 2023" is 1 March
    ['2026-03-01 00:30', '1d2h', '2026-02-27 22:30:00.001', '2026-02-27 22:30'], // days first, then hours as elapsed time
    ['2026-01-10 00:00', '36h', '2026-01-08 12:00:00.001', '2026-01-08 12:00'],
    ['2026-01-10 00:00', '1y2m3d4h', '2024-11-06 20:00:00.001', '2024-11-06 20:00'],
  ])('newest %s, within %s: keeps %s, removes %s', (newest, span, kept, removed) => {
    const times = [removed, kept, newest]
    const result = run(times, { within: span })
    expect(result.keep).toEqual([`${fmt(at(newest))}: within ${span}`, `${kept}: within ${span}`])
    expect(result.remove).toEqual([fmt(at(removed))])
  })

  it('replicates Go time.AddDate normalisation', () => {
    const cases: Array<[string, number, number, number, string]> = [
      ['2026-03-31 12:00', 0, -1, 0, '2026-03-03 12:00:00'],
      ['2026-01-31 12:00', 0, 1, 0, '2026-03-03 12:00:00'],
      ['2026-03-31 12:00', 0, -1, -1, '2026-03-02 12:00:00'],
      ['2026-12-31 23:00', 0, 2, 0, '2027-03-03 23:00:00'],
      ['2026-01-15 00:00', 0, -13, 0, '2024-12-15 00:00:00'],
      ['2026-01-15 00:00', 0, 0, -400, '2024-12-11 00:00:00'],
      ['2024-02-29 06:00', -4, 0, 0, '2020-02-29 06:00:00'],
      ['2024-02-29 06:00', -1, 0, 0, '2023-03-01 06:00:00'],
      ['2026-01-15 00:00', -2000, 0, 0, '0026-01-15 00:00:00'],
    ]
    for (const [from, years, months, days, expected] of cases) {
      expect(`${from} ${years}y${months}m${days}d → ${fmt(addCalendarDate(at(from), years, months, days, 'UTC'))}`).toBe(
        `${from} ${years}y${months}m${days}d → ${expected}`,
      )
    }
  })

  it('subtracts calendar days across a DST change, and hours as elapsed time', () => {
    // Europe/Berlin moves from +01:00 to +02:00 at 2026-03-29 01:00 UTC: that day has 23 hours.
    const newest = '2026-03-29 10:00' // 12:00 CEST
    const times = ['2026-03-28 10:30', newest] // 11:30 CET the day before: 23.5 hours earlier
    expect(run(times, { within: '1d' }, 'Europe/Berlin').remove).toEqual(['2026-03-28 10:30:00'])
    expect(run(times, { within: '24h' }, 'Europe/Berlin').remove).toEqual([])
    expect(run(times, { within: '1d' }, 'UTC').remove).toEqual([])
  })

  it('resolves a wall-clock time that DST skips or repeats as Go does', () => {
    // 02:30 on 2026-03-29 does not exist in Berlin: Go lands on 03:30 CEST (01:30 UTC).
    expect(fmt(addCalendarDate(at('2026-03-30T02:30+02:00'), 0, 0, -1, 'Europe/Berlin'))).toBe('2026-03-29 01:30:00')
    // 02:30 on 2026-10-25 happens twice in Berlin: Go takes the second one, 02:30 CET (01:30 UTC).
    expect(fmt(addCalendarDate(at('2026-10-26T02:30+01:00'), 0, 0, -1, 'Europe/Berlin'))).toBe('2026-10-25 01:30:00')
    // London: the repeated 01:30 on 2026-10-25 reads as GMT (offset 0 at that instant, so no adjustment).
    expect(fmt(addCalendarDate(at('2026-10-26T01:30+00:00'), 0, 0, -1, 'Europe/London'))).toBe('2026-10-25 01:30:00')
    // New York, 2026-03-08: 02:30 is skipped; west of Greenwich the same rule lands before
    // the gap: 01:30 EST (06:30 UTC).
    expect(fmt(addCalendarDate(at('2026-03-09T02:30-04:00'), 0, 0, -1, 'America/New_York'))).toBe('2026-03-08 06:30:00')
  })

  it('counts from the newest backup, or from the newest one before `now` when given', () => {
    const times = ['2026-01-01 00:00', '2026-01-05 00:00', '2026-01-08 00:00', '2027-06-01 00:00']
    expect(run(times, { within: '7d' }).keep).toEqual(['2027-06-01 00:00:00: within 7d'])
    const plan = planRetention(backups(times), { within: '7d' }, { timeZone: 'UTC', now: at('2026-01-09 00:00') })
    expect(plan.keep.map(({ item, reasons }) => `${fmt(item.time)}: ${reasons.join(', ')}`)).toEqual([
      '2027-06-01 00:00:00: within 7d',
      '2026-01-08 00:00:00: within 7d',
      '2026-01-05 00:00:00: within 7d',
    ])
  })

  it.each([
    [
      'withinHourly',
      '1d',
      'hourly within 1d',
      ['2026-01-10 12:50:00', '2026-01-10 11:50:00', '2026-01-10 10:50:00', '2026-01-09 23:50:00'],
    ],
    ['withinDaily', '2d', 'daily within 2d', ['2026-01-10 12:50:00', '2026-01-09 23:50:00', '2026-01-08 23:50:00']],
    [
      'withinWeekly',
      '1m',
      'weekly within 1m',
      ['2026-01-10 12:50:00', '2026-01-04 23:50:00', '2025-12-28 23:50:00', '2025-12-21 23:50:00', '2025-12-14 23:50:00'],
    ],
    ['withinMonthly', '2m', 'monthly within 2m', ['2026-01-10 12:50:00', '2025-12-31 23:50:00', '2025-11-30 23:50:00']],
    // The whole history is within 1y, so the oldest-backup rule applies too.
    ['withinYearly', '1y', 'yearly within 1y', ['2026-01-10 12:50:00', '2025-12-31 23:50:00', 'oldest 2025-11-01 23:50:00']],
  ])('%s: %s keeps the newest backup of each period in the span', (rule, span, reason, kept) => {
    // Nightly at 23:50 from 2025-11-01 to 2026-01-09, then hourly on 2026-01-10.
    const times = series('2025-11-01 23:50', 70, DAY).concat(['2026-01-10 10:50', '2026-01-10 11:50', '2026-01-10 12:50'])
    const result = run(times, { [rule]: span })
    expect(result.keep).toEqual(
      kept.map((time) => (time.startsWith('oldest ') ? `${time.slice(7)}: oldest ${reason}` : `${time}: ${reason}`)),
    )
  })

  it('does not count a backup exactly at the span boundary (restic: strictly after)', () => {
    expect(run(['2026-01-03 00:00', '2026-01-10 00:00'], { within: '7d' }).remove).toEqual(['2026-01-03 00:00:00'])
  })
})

describe('planRetention: tags', () => {
  const times: Array<readonly [string, string[]?]> = [
    ['2026-01-01 00:00', ['manual']],
    ['2026-01-02 00:00', ['pre-upgrade', 'manual']],
    ['2026-01-03 00:00', ['pre-upgrade']],
    ['2026-01-04 00:00'],
    ['2026-01-05 00:00', []],
  ]

  it.each([
    [['manual'], ['2026-01-02 00:00:00: has tags [manual]', '2026-01-01 00:00:00: has tags [manual]']],
    [['pre-upgrade,manual'], ['2026-01-02 00:00:00: has tags [pre-upgrade, manual]']],
    [
      ['pre-upgrade', 'manual'],
      [
        '2026-01-03 00:00:00: has tags [pre-upgrade]',
        '2026-01-02 00:00:00: has tags [pre-upgrade], has tags [manual]',
        '2026-01-01 00:00:00: has tags [manual]',
      ],
    ],
    [[' manual , pre-upgrade '], ['2026-01-02 00:00:00: has tags [manual, pre-upgrade]']],
    [['nightly'], []],
  ])('tags %j', (tags, kept) => {
    const result = run(times, { tags })
    // The newest backup is never removed, tags or not.
    expect(result.keep).toEqual(['2026-01-05 00:00:00: newest backup', ...kept])
  })

  it('an empty tag matches backups without tags, as in restic', () => {
    expect(run(times, { tags: [''] }).keep).toEqual(['2026-01-05 00:00:00: has tags []', '2026-01-04 00:00:00: has tags []'])
  })

  it('tags add to the counted rules without using up their counts', () => {
    expect(run(times, { tags: ['manual'], last: 1 }).keep).toEqual([
      '2026-01-05 00:00:00: last snapshot',
      '2026-01-02 00:00:00: has tags [manual]',
      '2026-01-01 00:00:00: has tags [manual]',
    ])
  })
})

describe('planRetention: time zones', () => {
  const times = ['2026-01-10 08:00', '2026-01-10 12:00', '2026-01-10 23:30']

  it('a backup at 23:30 UTC belongs to the next day in Asia/Tokyo', () => {
    expect(run(times, { daily: 2 }, 'UTC').keep).toEqual([
      '2026-01-10 23:30:00: daily snapshot',
      '2026-01-10 08:00:00: oldest daily snapshot',
    ])
    expect(run(times, { daily: 2 }, 'Asia/Tokyo')).toEqual({
      keep: ['2026-01-10 23:30:00: daily snapshot', '2026-01-10 12:00:00: daily snapshot'],
      remove: ['2026-01-10 08:00:00'],
    })
  })

  it('computes hours in zones with half-hour offsets', () => {
    // Asia/Kolkata is +05:30: 10:20 and 10:40 UTC are 15:50 and 16:10 there.
    expect(run(['2026-01-10 10:20', '2026-01-10 10:40'], { hourly: 1 }, 'UTC').keep).toHaveLength(1)
    expect(run(['2026-01-10 10:20', '2026-01-10 10:40'], { hourly: 5 }, 'Asia/Kolkata').keep).toEqual([
      '2026-01-10 10:40:00: hourly snapshot',
      '2026-01-10 10:20:00: hourly snapshot',
    ])
  })

  it('puts a Sunday-evening backup in America/New_York into the week the UTC Monday starts', () => {
    // 2026-01-12 03:00 UTC is Sunday 2026-01-11 22:00 in New York: ISO week 2, not 3.
    const sunday = ['2026-01-05 15:00', '2026-01-12 03:00', '2026-01-12 15:00']
    expect(run(sunday, { weekly: 2 }, 'UTC').keep).toEqual(['2026-01-12 15:00:00: weekly snapshot', '2026-01-05 15:00:00: weekly snapshot'])
    expect(run(sunday, { weekly: 2 }, 'America/New_York').keep).toEqual([
      '2026-01-12 15:00:00: weekly snapshot',
      '2026-01-12 03:00:00: weekly snapshot',
    ])
  })

  describe('default zone', () => {
    const saved = process.env.TZ
    afterEach(() => {
      if (saved === undefined) delete process.env.TZ
      else process.env.TZ = saved
    })

    it("uses the host's zone ($TZ) when none is given", () => {
      process.env.TZ = 'Asia/Tokyo'
      const plan = planRetention(backups(times), { daily: 2 })
      expect(plan.remove.map((item) => fmt(item.time))).toEqual(['2026-01-10 08:00:00'])
      process.env.TZ = 'UTC'
      expect(planRetention(backups(times), { daily: 2 }).remove.map((item) => fmt(item.time))).toEqual(['2026-01-10 12:00:00'])
    })
  })

  it('refuses an unknown zone with a hint', () => {
    expect(() => planRetention([], { daily: 1 }, { timeZone: 'Mars/Olympus_Mons' })).toThrow(/unknown time zone "Mars\/Olympus_Mons"/)
  })
})

describe('planRetention: safety and shape', () => {
  it.each([[undefined], [{}], [{ daily: 0, within: '0d' }], [{ tags: [] }]])('an empty policy (%j) keeps everything', (policy) => {
    const times = series('2026-01-01 00:00', 5, DAY)
    const result = run(times, policy)
    expect(result.remove).toEqual([])
    expect(result.keep).toEqual(times.reverse().map((time) => `${time}: policy is empty`))
  })

  it('never removes the newest backup: "newest backup" when no rule keeps it', () => {
    const result = run([['2026-01-01 00:00', ['keep']], '2026-01-02 00:00'], { tags: ['keep'] })
    expect(result.keep).toEqual(['2026-01-02 00:00:00: newest backup', '2026-01-01 00:00:00: has tags [keep]'])
  })

  it("returns the caller's own objects, newest first, and leaves the input alone", () => {
    const items = backups(['2026-01-02 00:00', '2026-01-03 00:00', '2026-01-01 00:00'])
    const before = [...items]
    const plan = planRetention(items, { last: 2 }, { timeZone: 'UTC' })
    expect(plan.keep.map(({ item }) => item)).toEqual([items[1], items[0]])
    expect(plan.keep[0]?.item).toBe(items[1])
    expect(plan.remove[0]).toBe(items[2])
    expect(items).toEqual(before)
  })

  it('handles no items, and one item', () => {
    expect(planRetention([], { daily: 7 })).toEqual({ keep: [], remove: [] })
    expect(run(['2026-01-01 00:00'], { daily: 7 }).keep).toEqual(['2026-01-01 00:00:00: daily snapshot'])
  })

  it('rejects an invalid policy with the key and the fix', () => {
    const errorOf = (policy: unknown) => {
      try {
        planRetention(backups(['2026-01-01 00:00']), policy as RetentionPolicy, { timeZone: 'UTC' })
      } catch (error) {
        return error
      }
      throw new Error('no error')
    }
    for (const [policy, message] of [
      [{ daily: -2 }, 'keep.daily: expected a whole number, or -1 for no limit, got -2'],
      [{ weekly: 1.5 }, 'keep.weekly: expected a whole number, or -1 for no limit, got 1.5'],
      [{ within: '7x' }, 'keep.within: "7x": unknown unit "x" after 7'],
      [{ withinDaily: 7 }, 'keep.withinDaily: expected a span such as 7d, got 7'],
    ] as const) {
      const error = errorOf(policy)
      expect(isOwnopsError(error) && error.exitCode).toBe(78)
      expect((error as Error).message).toContain(message)
    }
    expect(() => planRetention([{ time: new Date('nonsense') }], { daily: 1 })).toThrow(TypeError)
  })

  it('is exported from the package entry', () => {
    expect(exportedPlanRetention).toBe(planRetention)
  })

  it('takes the config type as it is', () => {
    const config = configSchema.parse({ backup: { keep: { daily: 7, weekly: 4, monthly: 12, yearly: 5, within: '2d', tags: ['manual'] } } })
    const keep: KeepPolicy | undefined = config.backup.keep
    const policy: RetentionPolicy | undefined = keep
    expect(run(['2026-01-01 00:00'], policy).keep).toEqual([
      '2026-01-01 00:00:00: within 2d, daily snapshot, weekly snapshot, monthly snapshot, yearly snapshot',
    ])
  })
})

describe('retention spans', () => {
  it.each([
    ['1y2m3d4h', { years: 1, months: 2, days: 3, hours: 4 }, '1y2m3d4h'],
    ['7d', { years: 0, months: 0, days: 7, hours: 0 }, '7d'],
    ['36h', { years: 0, months: 0, days: 0, hours: 36 }, '36h'],
    ['6m', { years: 0, months: 6, days: 0, hours: 0 }, '6m'],
    ['1y1d1m', { years: 1, months: 1, days: 1, hours: 0 }, '1y1m1d'],
    [' 2d ', { years: 0, months: 0, days: 2, hours: 0 }, '2d'],
    ['0d', { years: 0, months: 0, days: 0, hours: 0 }, ''],
  ])('%j parses and prints as restic does', (text, duration, printed) => {
    expect(parseRetentionDuration(text)).toEqual(duration)
    expect(formatRetentionDuration(parseRetentionDuration(text))).toBe(printed)
  })

  it.each([
    ['7x', 'unknown unit "x" after 7'],
    ['7', 'no unit after 7'],
    ['d', 'expected a number at "d"'],
    ['-1d', 'expected a number at "-1d"'],
    ['1d2d', 'the unit "d" appears twice'],
    ['1.5d', 'unknown unit "." after 1'],
    ['7 d', 'unknown unit " " after 7'],
    ['', 'empty span'],
    ['1w', 'unknown unit "w" after 1'],
  ])('%j is refused: %s', (text, message) => {
    expect(() => parseRetentionDuration(text)).toThrow(message)
  })

  it('the config pattern accepts exactly what the parser accepts', () => {
    for (const text of [
      '1y2m3d4h',
      '7d',
      '36h',
      '1y1d1m',
      '0d',
      '12m',
      '7x',
      '7',
      'd',
      '-1d',
      '1d2d',
      '1.5d',
      '7 d',
      '',
      '1w',
      '1h1y',
      '1y1y',
      '10000y',
    ]) {
      let parses = true
      try {
        parseRetentionDuration(text)
      } catch {
        parses = false
      }
      expect(`${text}: ${RETENTION_DURATION_PATTERN.test(text)}`).toBe(`${text}: ${parses}`)
    }
  })

  it('knows an empty policy', () => {
    expect(isEmptyRetentionPolicy(undefined)).toBe(true)
    expect(isEmptyRetentionPolicy({ last: 0, withinDaily: '0h' })).toBe(true)
    expect(isEmptyRetentionPolicy({ tags: [''] })).toBe(false)
    expect(isEmptyRetentionPolicy({ yearly: -1 })).toBe(false)
  })
})

// ---------------------------------------------------------------------------------------
// Random lists against a declarative restatement of restic's rules

/** Calendar fields read straight from Intl (a different path from the module's offset arithmetic). */
function fieldsIn(timeZone: string) {
  const format = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
  })
  return (date: Date) => {
    const parts = Object.fromEntries(format.formatToParts(date).map((p) => [p.type, p.value]))
    const [year, month, day, hour] = [Number(parts.year), Number(parts.month), Number(parts.day), Number(parts.hour)]
    const weekdayMonday0 = (new Date(Date.UTC(year, month - 1, day)).getUTCDay() + 6) % 7
    const thursday = new Date(Date.UTC(year, month - 1, day + 3 - weekdayMonday0))
    const weekYear = thursday.getUTCFullYear()
    const week = Math.floor((thursday.getTime() - Date.UTC(weekYear, 0, 1)) / (7 * DAY)) + 1
    return {
      hourly: `${year}-${month}-${day} ${hour}`,
      daily: `${year}-${month}-${day}`,
      weekly: `${weekYear}-W${week}`,
      monthly: `${year}-${month}`,
      yearly: `${year}`,
    }
  }
}

/**
 * restic's rules, stated per rule rather than as one walk: a count rule keeps the newest item
 * of each of its N newest periods, and the oldest item when there are fewer than N periods;
 * a within* rule does the same without a limit among the items in its span.
 */
function referencePlan(items: Backup[], policy: RetentionPolicy, timeZone: string): Array<[Backup, string[]]> {
  const sorted = items
    .map((item, index) => ({ item, index }))
    .sort((a, b) => b.item.time.getTime() - a.item.time.getTime() || a.index - b.index)
    .map(({ item }) => item)
  const reasons = new Map<Backup, string[]>(sorted.map((item) => [item, []]))
  if (isEmptyRetentionPolicy(policy)) return sorted.map((item) => [item, ['policy is empty']])
  const fields = fieldsIn(timeZone)
  const oldest = sorted.at(-1)
  const newest = sorted[0]
  const perRule: Array<Map<Backup, string>> = []

  const periodRule = (candidates: Backup[], keyOf: (item: Backup) => string, limit: number, reason: string) => {
    const kept = new Map<Backup, string>()
    const seen = new Set<string>()
    for (const item of candidates) {
      const key = keyOf(item)
      if (seen.has(key)) continue
      seen.add(key)
      if (seen.size <= limit) kept.set(item, reason)
    }
    if (oldest !== undefined && candidates.includes(oldest) && seen.size < limit && !kept.has(oldest)) kept.set(oldest, `oldest ${reason}`)
    return kept
  }

  const tagsKept = new Map<Backup, string[]>()
  for (const entry of policy.tags ?? []) {
    const required = entry.split(',').map((t) => t.trim())
    for (const item of sorted) {
      const tags = item.tags ?? []
      // restic's HasTags: the first tag that decides; an empty tag matches an item without tags.
      const decisive = required.find((t) => (t === '' && tags.length === 0) || !tags.includes(t))
      const matches = decisive === undefined || (decisive === '' && tags.length === 0)
      if (matches) tagsKept.set(item, [...(tagsKept.get(item) ?? []), `has tags [${required.join(', ')}]`])
    }
  }
  const spanStart = (span: string) => {
    const d = parseRetentionDuration(span)
    return newest === undefined ? 0 : addCalendarDate(newest.time, -d.years, -d.months, -d.days, timeZone).getTime() - d.hours * HOUR
  }
  if (policy.within !== undefined && formatRetentionDuration(parseRetentionDuration(policy.within)) !== '') {
    const start = spanStart(policy.within)
    perRule.push(
      new Map(
        sorted
          .filter((item) => item.time.getTime() > start)
          .map((item) => [item, `within ${formatRetentionDuration(parseRetentionDuration(policy.within!))}`]),
      ),
    )
  }
  for (const rule of ['last', 'hourly', 'daily', 'weekly', 'monthly', 'yearly'] as const) {
    const count = policy[rule]
    if (count === undefined || count === 0) continue
    const keyOf = rule === 'last' ? (item: Backup) => String(sorted.indexOf(item)) : (item: Backup) => fields(item.time)[rule]
    perRule.push(periodRule(sorted, keyOf, count === -1 ? Infinity : count, `${rule === 'last' ? 'last' : rule} snapshot`))
  }
  for (const rule of ['Hourly', 'Daily', 'Weekly', 'Monthly', 'Yearly'] as const) {
    const span = policy[`within${rule}`]
    if (span === undefined || formatRetentionDuration(parseRetentionDuration(span)) === '') continue
    const start = spanStart(span)
    const key = rule.toLowerCase() as 'hourly' | 'daily' | 'weekly' | 'monthly' | 'yearly'
    perRule.push(
      periodRule(
        sorted.filter((item) => item.time.getTime() > start),
        (item) => fields(item.time)[key],
        Infinity,
        `${key} within ${formatRetentionDuration(parseRetentionDuration(span))}`,
      ),
    )
  }
  for (const item of sorted) {
    const list = reasons.get(item)!
    list.push(...(tagsKept.get(item) ?? []))
    for (const rule of perRule) {
      const reason = rule.get(item)
      if (reason !== undefined) list.push(reason)
    }
  }
  if (newest !== undefined && reasons.get(newest)!.length === 0) reasons.get(newest)!.push('newest backup')
  return sorted.map((item) => [item, reasons.get(item)!])
}

function random(seed: number) {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

describe('planRetention: random histories against a restatement of the rules', () => {
  const zones = ['UTC', 'Asia/Tokyo', 'America/New_York', 'Europe/Berlin', 'Asia/Kolkata', 'Australia/Lord_Howe', 'Pacific/Chatham']
  const spans = ['1d', '36h', '7d', '1m', '2m3d', '1y', '7d12h', '0d']

  it('agrees on 400 random histories and policies', () => {
    const rand = random(20260431)
    const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)]!
    const failures: string[] = []
    for (let round = 0; round < 400; round++) {
      const timeZone = pick(zones)
      const start = Date.UTC(2025, 0, 1) + Math.floor(rand() * 400) * DAY
      const spread = pick([6 * HOUR, 3 * DAY, 40 * DAY, 500 * DAY, 1200 * DAY])
      const count = Math.floor(rand() * 40)
      const items: Backup[] = Array.from({ length: count }, (_, id) => {
        const time = new Date(start + Math.floor((rand() * spread) / 60_000) * 60_000)
        const tags = rand() < 0.2 ? [pick(['a', 'b'])] : rand() < 0.1 ? ['a', 'b'] : undefined
        return { id, time, ...(tags === undefined ? {} : { tags }) }
      })
      // A few exact duplicates and same-hour neighbours.
      if (items.length > 2 && rand() < 0.5) items.push({ id: items.length, time: new Date(items[0]!.time) })
      const policy: RetentionPolicy = {}
      for (const rule of ['last', 'hourly', 'daily', 'weekly', 'monthly', 'yearly'] as const)
        if (rand() < 0.3) policy[rule] = pick([-1, 1, 2, 3, 5, 8])
      for (const rule of ['within', 'withinHourly', 'withinDaily', 'withinWeekly', 'withinMonthly', 'withinYearly'] as const)
        if (rand() < 0.12) policy[rule] = pick(spans)
      if (rand() < 0.15) policy.tags = pick([['a'], ['a,b'], ['b', 'a']])

      const plan = planRetention(items, policy, { timeZone })
      const got = [...plan.keep.map(({ item, reasons }) => [item.id, reasons]), ...plan.remove.map((item) => [item.id, []])]
      const expected = referencePlan(items, policy, timeZone).map(([item, reasons]) => [item.id, reasons])
      const sortById = (rows: unknown[][]) => [...rows].sort((a, b) => (a[0] as number) - (b[0] as number))
      if (JSON.stringify(sortById(got)) !== JSON.stringify(sortById(expected))) {
        failures.push(`round ${round} ${timeZone} ${JSON.stringify(policy)}`)
        continue
      }
      // Shape: every item exactly once; keep and remove each newest first; the newest kept.
      const keptTimes = plan.keep.map(({ item }) => item.time.getTime())
      const removedTimes = plan.remove.map((item) => item.time.getTime())
      const descending = (list: number[]) => list.every((t, i) => i === 0 || list[i - 1]! >= t)
      if (plan.keep.length + plan.remove.length !== items.length || !descending(keptTimes) || !descending(removedTimes))
        failures.push(`round ${round}: shape`)
      if (items.length > 0 && Math.max(...items.map((i) => i.time.getTime())) !== keptTimes[0])
        failures.push(`round ${round}: newest removed`)
    }
    expect(failures).toEqual([])
  })
})
