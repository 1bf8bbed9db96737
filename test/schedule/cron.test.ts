import { describe, expect, it } from 'vitest'
import {
  CronError,
  cronToOnCalendar,
  cronToTimer,
  dstTransitions,
  dstWarning,
  isDailyOrRarer,
  nextRuns,
  parseCron,
  type CronFieldName,
} from '../../src/schedule/cron.js'

describe('cronToOnCalendar', () => {
  it.each([
    ['0 3 * * *', ['*-*-* 03:00:00']],
    ['*/5 * * * *', ['*-*-* *:00/5:00']],
    ['5-55/10 * * * *', ['*-*-* *:05/10:00']],
    ['0-30/10 * * * *', ['*-*-* *:00..30/10:00']],
    ['0 9-17 * * mon-fri', ['Mon..Fri *-*-* 09..17:00:00']],
    ['*/15 9-17 * * MON-FRI', ['Mon..Fri *-*-* 09..17:00/15:00']],
    ['0 22-23,0-2 * * *', ['*-*-* 00..02,22,23:00:00']],
    ['0 0 1 jan,Jul *', ['*-01,07-01 00:00:00']],
    ['0 0 * * 7', ['Sun *-*-* 00:00:00']],
    ['0 0 * * 0,7', ['Sun *-*-* 00:00:00']],
    ['0 0 * * 5-7', ['Fri..Sun *-*-* 00:00:00']],
    ['0 0 * * 6,0', ['Sat,Sun *-*-* 00:00:00']],
    ['0 0 * * */2', ['Tue,Thu,Sat,Sun *-*-* 00:00:00']],
    ['0 0 1-31/2 * *', ['*-*-01/2 00:00:00']],
    // Both day fields restricted: either matches → two lines.
    ['0 0 1,15 * 5', ['Fri *-*-* 00:00:00', '*-*-01,15 00:00:00']],
    ['0 12 13 * fri', ['Fri *-*-* 12:00:00', '*-*-13 12:00:00']],
    // One of them restricted through *: both must match → one line.
    ['0 0 */2 * 1', ['Mon *-*-01/2 00:00:00']],
    ['0 0 1 * */2', ['Tue,Thu,Sat,Sun *-*-01 00:00:00']],
    // Either field allowing every day makes every day match.
    ['0 0 1-31 * 1', ['*-*-* 00:00:00']],
    ['@hourly', ['*-*-* *:00:00']],
    ['@daily', ['*-*-* 00:00:00']],
    ['@midnight', ['*-*-* 00:00:00']],
    ['@weekly', ['Sun *-*-* 00:00:00']],
    ['@monthly', ['*-*-01 00:00:00']],
    ['@yearly', ['*-01-01 00:00:00']],
    ['@annually', ['*-01-01 00:00:00']],
    ['  0   3  *  *  *  ', ['*-*-* 03:00:00']],
  ])('%s → %o', (expr, lines) => {
    expect(cronToOnCalendar(expr)).toEqual(lines)
  })

  it('appends the time zone to every line', () => {
    expect(cronToOnCalendar('0 0 1,15 * 5', { timeZone: 'Europe/Berlin' })).toEqual([
      'Fri *-*-* 00:00:00 Europe/Berlin',
      '*-*-01,15 00:00:00 Europe/Berlin',
    ])
    expect(cronToOnCalendar('0 3 * * *', { timeZone: 'UTC' })).toEqual(['*-*-* 03:00:00 UTC'])
  })

  it('@reboot is OnBootSec=, not a calendar', () => {
    expect(cronToTimer('@reboot')).toEqual({ onBootSec: '1min' })
    expect(cronToTimer('0 3 * * *')).toEqual({ onCalendar: ['*-*-* 03:00:00'] })
    expect(() => cronToOnCalendar('@reboot')).toThrow(/@reboot has no calendar time/)
    expect(nextRuns('@reboot', 3)).toEqual([])
  })

  it('refuses an unknown time zone, with a suggestion', () => {
    expect(() => cronToOnCalendar('0 3 * * *', { timeZone: 'Europe/Berln' })).toThrow(
      'unknown time zone "Europe/Berln" (did you mean "Europe/Berlin"?)',
    )
    expect(() => nextRuns('0 3 * * *', 1, { timeZone: 'Mars/Olympus' })).toThrow(CronError)
  })
})

describe('what cron would not run is refused, naming the field', () => {
  const cases: Array<[string, CronFieldName | undefined, string | RegExp]> = [
    ['0 3 * *', undefined, 'expected 5 fields (minute hour day-of-month month day-of-week), got 4: "0 3 * *"'],
    ['0 0 3 * * *', undefined, /got 6.*/],
    ['0 0 0 3 * * 2025', undefined, /got 7/],
    ['', undefined, 'empty schedule'],
    ['60 * * * *', 'minute', 'minute "60" is out of range: 60 is not in 0-59'],
    ['0 24 * * *', 'hour', 'hour "24" is out of range: 24 is not in 0-23'],
    ['0 0 0 * *', 'day-of-month', 'day-of-month "0" is out of range: 0 is not in 1-31'],
    ['0 0 32 * *', 'day-of-month', /day-of-month "32" is out of range/],
    ['0 0 * 13 *', 'month', 'month "13" is out of range: 13 is not in 1-12'],
    ['0 0 * * 8', 'day-of-week', 'day-of-week "8" is out of range: 8 is not in 0-7'],
    ['0 0 30 2 *', 'day-of-month', 'day-of-month "30" never occurs in month "2"'],
    ['0 0 31 4,6 *', 'day-of-month', 'day-of-month "31" never occurs in month "4,6"'],
    ['0 0 31 apr,jun,sep,nov *', 'day-of-month', 'day-of-month "31" never occurs in month "apr,jun,sep,nov"'],
    ['0 0 30,31 feb *', 'day-of-month', /never occurs in month "feb"/],
    ['0 0 15W * *', 'day-of-month', /day-of-month "15W" uses "W" \(nearest weekday\)/],
    ['0 0 LW * *', 'day-of-month', /uses "L"/],
    ['0 0 L * *', 'day-of-month', /day-of-month "L" uses "L" \(last day\)/],
    ['0 0 * * 5L', 'day-of-week', /day-of-week "5L" uses "L"/],
    ['0 0 * * 1#2', 'day-of-week', /day-of-week "1#2" uses "#"/],
    ['0 0 ? * *', 'day-of-month', /day-of-month "\?" uses "\?"/],
    ['H * * * *', 'minute', /minute "H" uses "H" \(hashed value\)/],
    ['H(0-29) * * * *', 'minute', /uses "H"/],
    ['*/0 * * * *', 'minute', 'minute "*/0" has a step of 0'],
    ['*/x * * * *', 'minute', /has a step "\/x" that is not a number/],
    ['5/10 * * * *', 'minute', /minute "5\/10" has a step after a single value/],
    ['0 5-1 * * *', 'hour', 'hour "5-1" has a backwards range "5-1"'],
    ['0 0 * * mon-sun', 'day-of-week', /backwards range "mon-sun"/],
    ['1,,2 * * * *', 'minute', 'minute "1,,2" has an empty list element'],
    ['0 mon * * *', 'hour', 'hour "mon": names are allowed only in the month and day-of-week fields'],
    ['0 0 * janu *', 'month', 'month "janu": unknown name "janu" (did you mean "jan"?)'],
    ['0 0 * * monday', 'day-of-week', /unknown name "monday"/],
    ['0 0 1-2-3 * *', 'day-of-month', /is not a number, a name or a range/],
    ['0 0 * * -1', 'day-of-week', /is not a number, a name or a range/],
    ['@every 5m', undefined, /unknown shortcut "@every 5m"/],
    ['@minutely', undefined, /unknown shortcut "@minutely"/],
    ['@dialy', undefined, 'unknown shortcut "@dialy" (did you mean "@daily"?)'],
  ]
  it.each(cases)('%j', (expr, field, message) => {
    let error: unknown
    try {
      parseCron(expr)
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(CronError)
    const cronError = error as CronError
    if (typeof message === 'string') expect(cronError.message).toBe(message)
    else expect(cronError.message).toMatch(message)
    expect(cronError.field).toBe(field)
    expect(cronError.exitCode).toBe(78)
    if (field !== undefined) expect(cronError.message.startsWith(field)).toBe(true)
  })

  it('gives hints that say how to fix it', () => {
    const hint = (expr: string) => {
      try {
        parseCron(expr)
      } catch (e) {
        return (e as CronError).hint
      }
      return undefined
    }
    expect(hint('5/10 * * * *')).toBe('write 5-59/10')
    expect(hint('0 0 * * mon-sun')).toBe('Sunday at the end of a range is 7: write mon-7')
    expect(hint('0 22-2 * * *')).toMatch(/22-23,0-2/)
    expect(hint('0 0 0 3 * *')).toMatch(/no seconds or year field/)
  })

  it('accepts what Vixie cron accepts', () => {
    for (const expr of [
      '0 0 29 2 *',
      '0 0 31 * *',
      '0 0 30,31 2,4 *',
      '0 0 * * mon-7',
      '59 23 31 12 7',
      '0 0 */31 2 *',
      '@reboot',
      '@Daily',
      '0 0 1 1 *',
    ]) {
      expect(() => parseCron(expr), expr).not.toThrow()
    }
    expect(parseCron('0 0 * * mon-7').daysOfWeek).toEqual([0, 1, 2, 3, 4, 5, 6])
    expect(parseCron('0 0 * * */3').daysOfWeek).toEqual([0, 3, 6])
    expect(parseCron('@Daily').expression).toBe('@daily')
  })

  it('knows which day rule applies (Vixie: OR only when neither field starts with *)', () => {
    expect(parseCron('0 0 1 * 1').dayRule).toBe('or')
    expect(parseCron('0 0 */2 * 1').dayRule).toBe('and')
    expect(parseCron('0 0 1 * *').dayRule).toBe('and')
    expect(parseCron('0 0 1,*/5 * 1').dayRule).toBe('or')
  })
})

describe('nextRuns', () => {
  it('runs strictly after `from`, in the given zone', () => {
    const runs = nextRuns('0 3 * * *', 3, { from: new Date('2025-06-01T01:00:00Z'), timeZone: 'Europe/Berlin' })
    expect(runs.map((d) => d.toISOString())).toEqual(['2025-06-02T01:00:00.000Z', '2025-06-03T01:00:00.000Z', '2025-06-04T01:00:00.000Z'])
  })

  it('skips a local time that does not exist, and runs a repeated one once', () => {
    const spring = nextRuns('30 2 * * *', 3, { from: new Date('2025-03-29T00:00:00Z'), timeZone: 'Europe/Berlin' })
    expect(spring.map((d) => d.toISOString())).toEqual(['2025-03-29T01:30:00.000Z', '2025-03-31T00:30:00.000Z', '2025-04-01T00:30:00.000Z'])
    const fall = nextRuns('30 2 * * *', 3, { from: new Date('2025-10-25T00:00:00Z'), timeZone: 'Europe/Berlin' })
    expect(fall.map((d) => d.toISOString())).toEqual(['2025-10-25T00:30:00.000Z', '2025-10-26T00:30:00.000Z', '2025-10-27T01:30:00.000Z'])
  })

  it('ANDs the day fields when one starts with *, ORs them otherwise', () => {
    const and = nextRuns('0 0 */2 * 1', 3, { from: new Date('2025-01-01T00:00:00Z'), timeZone: 'UTC' })
    expect(and.map((d) => d.toISOString().slice(0, 10))).toEqual(['2025-01-13', '2025-01-27', '2025-02-03'])
    const or = nextRuns('0 0 1,15 * 5', 4, { from: new Date('2025-01-01T00:00:00Z'), timeZone: 'UTC' })
    expect(or.map((d) => d.toISOString().slice(0, 10))).toEqual(['2025-01-03', '2025-01-10', '2025-01-15', '2025-01-17'])
  })
})

describe('isDailyOrRarer (Persistent=true by default)', () => {
  it.each([
    ['0 3 * * *', true],
    ['0 3 * * 1', true],
    ['@monthly', true],
    ['@weekly', true],
    ['*/5 * * * *', false],
    ['0 */6 * * *', false],
    ['0 3,15 * * *', false],
    ['@hourly', false],
    ['@reboot', false],
  ])('%s → %s', (expr, expected) => expect(isDailyOrRarer(parseCron(expr))).toBe(expected))
})

describe('dstWarning', () => {
  const from = new Date('2025-01-01T00:00:00Z')

  it('warns about a run in the skipped hour of spring and the doubled hour of autumn', () => {
    expect(dstWarning('30 2 * * *', 'Europe/Berlin', { from })).toBe(
      'schedule "30 2 * * *": 02:30 does not exist on 2025-03-30 in Europe/Berlin (clocks go forward): that run is skipped; 02:30 happens twice on 2025-10-26 in Europe/Berlin (clocks go back): the timer runs once, at the first. Pick a time outside the change window or use timezone: UTC',
    )
    expect(dstWarning('30 1 * * *', 'America/New_York', { from })).toMatch(
      /^schedule "30 1 \* \* \*": 01:30 happens twice on 2025-11-02 in America\/New_York/,
    )
    expect(dstWarning('30 2 * * *', 'America/New_York', { from })).toMatch(/02:30 does not exist on 2025-03-09 in America\/New_York/)
    expect(dstWarning('*/10 2 * * *', 'Europe/Berlin', { from })).toMatch(
      /02:00, 02:10, 02:20 … do not exist on 2025-03-30.*those runs are skipped/,
    )
  })

  it("knows each zone's own window (30-minute DST on Lord Howe Island)", () => {
    expect(dstWarning('15 2 * * *', 'Australia/Lord_Howe', { from })).toMatch(/02:15 does not exist on 2025-10-05/)
    expect(dstWarning('45 2 * * *', 'Australia/Lord_Howe', { from })).toBeUndefined()
    expect(dstTransitions('Australia/Lord_Howe', from).map((t) => t.shiftMinutes)).toEqual([-30, 30])
  })

  it('is quiet outside the window, for zones without DST, and for hourly schedules', () => {
    expect(dstWarning('0 3 * * *', 'Europe/Berlin', { from })).toBeUndefined()
    expect(dstWarning('0 3 * * *', 'America/New_York', { from })).toBeUndefined()
    for (const zone of ['UTC', 'Asia/Tokyo', 'Asia/Kolkata']) {
      expect(dstTransitions(zone, from)).toEqual([])
      for (const expr of ['30 2 * * *', '0 1 * * *', '59 3 * * 0']) expect(dstWarning(expr, zone, { from })).toBeUndefined()
    }
    expect(dstWarning('30 * * * *', 'Europe/Berlin', { from })).toBeUndefined()
    expect(dstWarning('@reboot', 'Europe/Berlin', { from })).toBeUndefined()
  })
})
