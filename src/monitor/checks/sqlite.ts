/**
 * `kind: sqlite` — a SQLite database file opens, is not locked longer than the busy
 * timeout, and passes `PRAGMA quick_check` (or the slower `integrity_check`). Runs the
 * sqlite3 command-line tool read-only.
 */
import { z } from 'zod'
import { timerDuration } from '../../config/fields.js'
import { formatDurationSetting } from '../../duration.js'
import { runCapture } from '../../sys/exec.js'
import { pathExists } from '../../sys/host.js'
import { which } from '../../sys/which.js'
import { passFailFields } from '../spec.js'
import type { CheckKind } from '../types.js'

export const schema = z.strictObject({
  kind: z.literal('sqlite'),
  ...passFailFields,
  path: z.string().meta({ description: 'The database file on the host.' }),
  check: z
    .enum(['quick', 'integrity'])
    .default('quick')
    .meta({ description: 'quick: PRAGMA quick_check (fast); integrity: PRAGMA integrity_check (reads everything).' }),
  busyTimeout: timerDuration
    .prefault('2s')
    .meta({ description: 'How long to wait for a lock held by a writer before "database is locked".' }),
})
export type SqliteSpec = z.output<typeof schema>

export const sqlite: CheckKind<SqliteSpec> = {
  usesDocker: false,
  recoverable: true,
  async run(spec, ctx) {
    const severity = spec.severity ?? 'critical'
    const fail = (value: string, message: string) => [{ status: severity, value, message: `${spec.path}: ${message}` }]
    const binary = which('sqlite3', ctx.env)
    if (binary === undefined) return fail('sqlite3 not installed', 'the sqlite3 command is not installed (Debian: apt-get install sqlite3)')
    if (!(await pathExists(spec.path))) return fail('no such file', 'no such file')
    const busyMs = spec.busyTimeout
    const pragma = spec.check === 'integrity' ? 'PRAGMA integrity_check;' : 'PRAGMA quick_check;'
    const started = performance.now()
    const result = await runCapture([binary, '-readonly', '-bail', '-batch', '-cmd', `.timeout ${busyMs}`, spec.path, pragma], {
      log: ctx.log,
      timeoutMs: ctx.timeoutMs,
      signal: ctx.signal,
      env: ctx.env,
    })
    const ms = Math.round(performance.now() - started)
    const output = `${result.stdout}\n${result.stderr}`.trim()
    if (result.exitCode === 0 && result.stdout.trim() === 'ok') {
      return [
        {
          status: 'ok',
          value: `${spec.check}_check ok in ${ms} ms`,
          message: `${spec.path} passes ${spec.check}_check`,
          metrics: { check_seconds: ms / 1000 },
        },
      ]
    }
    if (/database is locked|database table is locked/i.test(output))
      return fail(
        `locked for more than ${formatDurationSetting(spec.busyTimeout)}`,
        `the database is locked (a writer held the lock for more than ${formatDurationSetting(spec.busyTimeout)})`,
      )
    if (result.failed && result.exitCode === undefined)
      return fail(result.reason ?? 'failed', `sqlite3 did not finish: ${result.reason ?? 'unknown reason'}`)
    const first = output.split('\n').slice(0, 3).join('; ')
    return fail(`${spec.check}_check failed`, `${spec.check}_check failed: ${first.length > 200 ? `${first.slice(0, 199)}…` : first}`)
  },
}
