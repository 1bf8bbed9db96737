/**
 * The generated OnCalendar= lines elapse exactly when the cron expression runs: for each
 * expression, the next 40 elapses printed by systemd-analyze (the real calendar code of
 * systemd) equal nextRuns(), and equal cron-parser's except where cron-parser departs from
 * what a systemd timer (and Vixie cron) do.
 */
import { execFile } from 'node:child_process'
import { CronExpressionParser } from 'cron-parser'
import { beforeAll, describe, expect, it } from 'vitest'
import { cronToOnCalendar, nextRuns, parseCron } from '../../src/schedule/cron.js'

const ITERATIONS = 40

interface Case {
  expr: string
  /** Zone appended to the OnCalendar lines. */
  suffix?: string
  /** Host time zone (TZ of systemd-analyze) when there is no suffix; default UTC. */
  local?: string
  /** Base time (ISO, UTC). */
  base?: string
  /** Where raw cron-parser differs from a systemd timer, and why. */
  cronParser?: 'skipped-local-time' | 'repeated-local-time' | 'day-fields' | 'rejects'
}

const JAN = '2025-01-01T00:00:00Z'
const CASES: Case[] = [
  { expr: '* * * * *' },
  { expr: '*/5 * * * *' },
  { expr: '*/7 * * * *' },
  { expr: '5-55/10 * * * *' },
  { expr: '0,15,30,45 * * * *' },
  { expr: '0 * * * *' },
  { expr: '@hourly' },
  { expr: '@daily' },
  { expr: '@midnight' },
  { expr: '@weekly' },
  { expr: '@monthly' },
  { expr: '@yearly' },
  { expr: '@annually' },
  { expr: '0 3 * * *' },
  { expr: '0 */6 * * *' },
  { expr: '0 0-23/2 * * *' },
  { expr: '0 10-20/5 * * *' },
  { expr: '0 22-23,0-2 * * *' },
  { expr: '0 9-17 * * mon-fri' },
  { expr: '*/15 9-17 * * MON-FRI' },
  { expr: '0 0 * * 7' },
  { expr: '0 0 * * 0,7', cronParser: 'rejects' },
  { expr: '0 0 * * 5-7' },
  { expr: '0 12 * * sun-tue' },
  { expr: '0 0 * * 6,0' },
  { expr: '0 5 * * 1,3,5', suffix: 'UTC' },
  { expr: '0 0 * * */2' },
  { expr: '0 0 1 jan,apr,jul,oct *' },
  { expr: '0 6 * JAN-MAR sat,sun' },
  { expr: '0 0 1-31/2 * *' },
  { expr: '0 0 2-30/3 * *' },
  { expr: '0 0 */10 * *' },
  { expr: '0 0 1 */3 *' },
  { expr: '0 0 31 * *' },
  { expr: '0 0 30 * *' },
  { expr: '0 0 28-31 * *' },
  { expr: '0 0 29 2 *' },
  { expr: '0 0 * 2 *' },
  { expr: '1 2 3 4 *' },
  { expr: '59 23 31 12 *' },
  // Both day fields restricted: cron runs when either matches.
  { expr: '0 0 1,15 * 5' },
  { expr: '0 12 13 * fri' },
  { expr: '15 10 1-7 * mon' },
  { expr: '0 0 1 1 1' },
  { expr: '0 0 1,15 */2 mon' },
  { expr: '0 0 13 * 5', suffix: 'Europe/Berlin' },
  // A day field starting with * makes cron AND them; cron-parser ORs.
  { expr: '0 0 */2 * 1', cronParser: 'day-fields' },
  { expr: '0 0 1 * */2', cronParser: 'day-fields' },
  { expr: '0 0 * */2 1' },
  // Time zones, and DST changes in both directions.
  { expr: '0 4 * * *', local: 'Europe/Berlin' },
  { expr: '0 3 * * *', suffix: 'Europe/Berlin', base: '2025-03-20T00:00:00Z' },
  { expr: '30 2 * * *', suffix: 'Europe/Berlin', base: '2025-03-25T00:00:00Z', cronParser: 'skipped-local-time' },
  { expr: '30 2 * * *', suffix: 'Europe/Berlin', base: '2025-10-20T00:00:00Z' },
  { expr: '30 2 * * *', local: 'America/New_York', base: '2025-03-05T00:00:00Z', cronParser: 'skipped-local-time' },
  { expr: '30 1 * * *', local: 'America/New_York', base: '2025-10-30T00:00:00Z' },
  { expr: '0 2 * * 0', local: 'America/New_York', base: '2025-03-01T00:00:00Z', cronParser: 'skipped-local-time' },
  { expr: '0 1 * * 0', local: 'America/New_York', base: '2025-10-25T00:00:00Z' },
  { expr: '*/15 * * * *', suffix: 'Europe/Berlin', base: '2025-03-30T00:30:00Z' },
  { expr: '*/15 * * * *', local: 'America/New_York', base: '2025-11-02T05:00:00Z', cronParser: 'repeated-local-time' },
  { expr: '30 * * * *', suffix: 'Europe/Berlin', base: '2025-03-30T00:00:00Z' },
  { expr: '30 * * * *', local: 'America/New_York', base: '2025-11-02T04:00:00Z', cronParser: 'repeated-local-time' },
  { expr: '*/20 1-3 * * *', suffix: 'Europe/Berlin', base: '2025-10-24T00:00:00Z' },
  { expr: '*/30 0-3 * * *', local: 'America/New_York', base: '2025-10-31T00:00:00Z' },
  // Starting inside the repeated hour: 01:45 already happened (at its first occurrence).
  { expr: '45 1 * * *', local: 'America/New_York', base: '2025-11-02T06:10:00Z' },
  { expr: '*/10 * * * *', local: 'America/New_York', base: '2025-11-02T06:10:00Z' },
  { expr: '0 0 * * 1-5', suffix: 'Asia/Tokyo' },
  { expr: '0 3 * * *', local: 'Asia/Kolkata' },
  { expr: '15 2 * * *', suffix: 'Australia/Lord_Howe', base: '2025-09-25T00:00:00Z' },
  { expr: '45 1 * * *', suffix: 'Australia/Lord_Howe', base: '2025-04-01T00:00:00Z' },
  { expr: '0 12 * * mon', suffix: 'America/New_York', base: '2025-10-20T00:00:00Z' },
]

const SHORTCUT_FIELDS: Record<string, string> = { '@midnight': '0 0 * * *', '@annually': '0 0 1 1 *' }

function systemdAnalyze(lines: string[], base: Date, tz: string): Promise<number[]> {
  const args = ['calendar', `--iterations=${ITERATIONS}`, `--base-time=@${Math.floor(base.getTime() / 1000)}`, ...lines]
  return new Promise((resolve, reject) => {
    execFile('systemd-analyze', args, { env: { PATH: process.env.PATH, TZ: tz, SYSTEMD_COLORS: '0' } }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`systemd-analyze ${args.join(' ')}: ${stderr || error.message}`))
      const times: number[] = []
      const rows = stdout.split('\n')
      rows.forEach((row, i) => {
        const m = /^\s*(?:Next elapse|Iter\. #\d+): (.*)$/.exec(row)
        if (m === null) return
        if (m[1] === 'never') return
        const utc = /^\s*\(in UTC\): (.*)$/.exec(rows[i + 1] ?? '')
        const text = (utc?.[1] ?? m[1]) as string
        const parts = /^\w{3} (\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d) UTC$/.exec(text)
        if (parts === null) throw new Error(`cannot read systemd-analyze time "${text}"`)
        times.push(Date.parse(`${parts[1]}T${parts[2]}Z`))
      })
      resolve(times)
    })
  })
}

/** Runs tasks with at most `limit` at a time. */
async function pool<T, R>(items: T[], limit: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length)
  let next = 0
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        const i = next++
        results[i] = await task(items[i] as T)
      }
    }),
  )
  return results
}

const iso = (times: number[]) => times.map((t) => new Date(t).toISOString())

let systemd: number[][]
beforeAll(async () => {
  systemd = await pool(CASES, 2, async (c) => {
    const lines = cronToOnCalendar(c.expr, { timeZone: c.suffix })
    const merged = new Set(
      (
        await Promise.all(lines.map((line) => systemdAnalyze([line], new Date(c.base ?? JAN), c.suffix ? 'UTC' : (c.local ?? 'UTC'))))
      ).flat(),
    )
    return [...merged].sort((a, b) => a - b).slice(0, ITERATIONS)
  })
})

describe('cron → OnCalendar, compared with systemd-analyze calendar', () => {
  it(`covers at least 50 expressions, with both day fields, steps, names and every calendar shortcut`, () => {
    expect(CASES.length).toBeGreaterThanOrEqual(50)
    for (const shortcut of ['@hourly', '@daily', '@midnight', '@weekly', '@monthly', '@yearly', '@annually'])
      expect(CASES.map((c) => c.expr)).toContain(shortcut)
    expect(CASES.filter((c) => parseCron(c.expr).dayRule === 'or' && cronToOnCalendar(c.expr).length === 2).length).toBeGreaterThanOrEqual(
      5,
    )
  })

  it.each(CASES.map((c, i) => [i, c] as const))('#%i %o: the timer elapses exactly at the cron runs', (i, c) => {
    const expected = systemd[i] as number[]
    expect(expected).toHaveLength(ITERATIONS)
    const ours = nextRuns(c.expr, ITERATIONS, { from: new Date(c.base ?? JAN), timeZone: c.suffix ?? c.local ?? 'UTC' })
    expect(iso(ours.map((d) => d.getTime()))).toEqual(iso(expected))

    const fields = SHORTCUT_FIELDS[c.expr] ?? c.expr
    if (c.cronParser === 'rejects') {
      expect(() => CronExpressionParser.parse(fields), 'cron-parser is expected to refuse this valid cron expression').toThrow()
      return
    }
    const it = CronExpressionParser.parse(fields, { currentDate: new Date(c.base ?? JAN), tz: c.suffix ?? c.local ?? 'UTC' })
    const theirs = Array.from({ length: ITERATIONS }, () => it.next().getTime())
    if (c.cronParser === undefined) expect(iso(theirs)).toEqual(iso(expected))
    else expect(iso(theirs), `cron-parser is expected to differ here (${c.cronParser})`).not.toEqual(iso(expected))
  })
})
