/**
 * Each unit's sandbox comes from what its job touches, and what a job needs that its unit or
 * its user would not let it write is named by `config validate` and `schedule install` before
 * the job runs. Also: a schedule restricting both day fields keeps cron's meaning, with a
 * warning that shows the next runs.
 */
import { execFile } from 'node:child_process'
import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config/load.js'
import { planSchedule } from '../../src/schedule/jobs.js'
import { renderSystemdUnits } from '../../src/schedule/units.js'
import { BIN, runCli, tempDir, testEnv } from '../helpers/cli.js'
import { createUser, isRoot, type TestUser } from '../helpers/users.js'

let dir: string
let cleanup: () => void
let user: TestUser | undefined
beforeAll(() => {
  ;({ dir, cleanup } = tempDir('ownops-test-sandbox-'))
  chmodSync(dir, 0o755)
})
afterAll(() => {
  user?.remove()
  cleanup()
})

const CONFIG = `
stateDir: /var/lib/ownops
backup:
  dir: /var/backups/ownops
  targets:
    app: { type: sqlite, path: /srv/app/data/app.db, after: [sh, -c, 'cp "$0" "$1"', /srv/app/data/app.db, /srv/exports/app-copy.db] }
    files: { type: directory, path: /srv/files }
cleanup:
  backups: false
  rules:
    results: { type: files, root: /srv/jobs/results, match: "**", olderThan: 90d }
    scratch: { type: files, root: /tmp, match: "abaqus_*", olderThan: 1d }
    logs: { type: logs, path: /srv/jobs/logs/*.log, compressAfter: 7d }
    rows: { type: sql, target: app, table: t, where: "1 = 0", enabled: false }
monitor:
  checks:
    jobs-db: { kind: sqlite, path: /srv/jobs/data/jobs.db }
schedule:
  bin: /usr/local/bin/ownops
  jobs:
    backup: { schedule: "0 3 * * *" }
    rows: { command: [cleanup, rows], schedule: "0 5 * * *" }
    check-restore: { command: [restore, files, --to, /srv/restore-check, --yes], schedule: "0 6 1 * *" }
`

function units(yaml: string): Map<string, string> {
  const file = join(dir, 'units.yml')
  writeFileSync(file, yaml)
  const plan = planSchedule(loadConfig({ path: file, env: {}, defaultEnvFile: join(dir, 'none.env') }).config, {
    configFile: '/etc/ownops/ownops.yml',
  })
  return new Map(renderSystemdUnits(plan).map((f) => [f.name, f.content]))
}

const writable = (unit: string) =>
  unit
    .split('\n')
    .filter((l) => l.startsWith('ReadWritePaths='))
    .map((l) => l.slice('ReadWritePaths=-'.length))

describe("each unit's sandbox comes from what its job touches", () => {
  const all = () => units(CONFIG)

  it('cleanup: the roots of its files rules and its log directories; no private /tmp for a rule under /tmp', () => {
    const cleanupUnit = all().get('ownops-cleanup.service') as string
    expect(writable(cleanupUnit)).toEqual(['/var/backups/ownops', '/var/lib/ownops', '/srv/jobs/results', '/tmp', '/srv/jobs/logs'])
    expect(cleanupUnit).not.toContain('PrivateTmp=yes')
    expect(cleanupUnit).toContain('# No PrivateTmp=: this job works under /tmp.\nProtectProc=invisible\n')
    expect(cleanupUnit).toContain('RuntimeDirectory=ownops\n')
  })

  it('one rule by name: only what that rule touches (a sql rule on a SQLite file: its directory)', () => {
    const rows = all().get('ownops-rows.service') as string
    expect(writable(rows)).toEqual(['/var/backups/ownops', '/var/lib/ownops', '/srv/app/data'])
    expect(rows).toContain('PrivateTmp=yes\n')
  })

  it('backup: SQLite directories and the paths its hooks are given; monitor: the SQLite files it checks', () => {
    expect(writable(all().get('ownops-backup.service') as string)).toEqual([
      '/var/backups/ownops',
      '/var/lib/ownops',
      '/srv/app/data',
      '/srv/exports',
    ])
    const monitor = all().get('ownops-monitor.service') as string
    expect(writable(monitor)).toEqual(['/var/backups/ownops', '/var/lib/ownops', '/srv/jobs/data'])
    expect(monitor).toContain('PrivateTmp=yes\n')
    expect(monitor).not.toContain('ProtectProc')
  })

  it('restore --to: the place and its parent; nothing of /tmp', () => {
    const restore = all().get('ownops-check-restore.service') as string
    expect(writable(restore)).toEqual(['/var/backups/ownops', '/var/lib/ownops', '/srv/restore-check', '/srv'])
  })

  it('systemd-analyze verify accepts every unit', async () => {
    const out = join(dir, 'verify')
    mkdirSync(out, { recursive: true })
    for (const [name, content] of units(CONFIG.replace('  bin: /usr/local/bin/ownops\n', `  bin: ${BIN}\n`)))
      writeFileSync(join(out, name), content)
    const result = await new Promise<{ code: number; stderr: string }>((done) =>
      execFile(
        'systemd-analyze',
        ['verify', '--man=no', ...readdirSync(out).map((f) => join(out, f))],
        { env: { PATH: process.env.PATH, SYSTEMD_COLORS: '0' } },
        (error, _o, stderr) => done({ code: error === null ? 0 : Number(error.code), stderr }),
      ),
    )
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
  })
})

describe('what a job could not write is named before it runs', () => {
  it('config validate: a path no unit can open (under /dev), at its line, with the job', async () => {
    writeFileSync(
      join(dir, 'dev.yml'),
      'cleanup:\n  rules:\n    shm:\n      type: logs\n      path: /dev/shm/app/*.log\n      deleteAfter: 7d\n',
    )
    const result = await runCli(['-c', join(dir, 'dev.yml'), 'config', 'validate'], { env: testEnv(dir), cwd: dir })
    expect(result.code).toBe(0)
    expect(result.stdout).toContain(
      'dev.yml:5 warning: cleanup.rules.shm.path: job cleanup needs to write /dev/shm/app (cleanup rule shm (logs /dev/shm/app/*.log)), which its unit cannot let it: the unit has private devices (PrivateDevices=) (run this part outside the unit, or choose another path)',
    )
  })

  it.runIf(isRoot || process.env.CI === 'true')(
    'a job run as a user that cannot write its paths: config validate and schedule install --dry-run name them',
    async () => {
      user = createUser(dir)
      const results = join(dir, 'results')
      mkdirSync(results, { mode: 0o755 })
      const yaml = `cleanup:\n  backups: false\n  rules:\n    results: { type: files, root: ${results}, olderThan: 90d, enabled: false }\nschedule:\n  bin: /bin/true\n  jobs:\n    prune:\n      command: [cleanup, results]\n      schedule: "0 4 * * *"\n      user: ${user.name}\n`
      writeFileSync(join(dir, 'user.yml'), yaml)
      const expected = `job prune runs as ${user.name}, which cannot write ${results} (cleanup rule results (root ${results})): ${results} (owner root, group root, mode 755)`
      const validate = await runCli(['-c', join(dir, 'user.yml'), 'config', 'validate'], { env: testEnv(dir), cwd: dir })
      expect(validate.code).toBe(0)
      expect(validate.stdout).toContain(
        `user.yml:4 warning: cleanup.rules.results.root: ${expected} (let ${user.name} write it (chown ${user.name}, or group write for a group it is in), or run the job as root)`,
      )
      const install = await runCli(
        ['-c', join(dir, 'user.yml'), '--json', 'schedule', 'install', '--dry-run', '--root', join(dir, 'root')],
        { env: testEnv(dir), cwd: dir },
      )
      expect(install.code).toBe(0)
      expect(JSON.parse(install.stdout).warnings.join('\n')).toContain(expected)
      // Once the user may write it, nothing is said.
      chmodSync(results, 0o777)
      const fixed = await runCli(['-c', join(dir, 'user.yml'), 'config', 'validate'], { env: testEnv(dir), cwd: dir })
      expect(fixed.stdout).not.toContain('cannot write')
    },
  )
})

describe('a schedule that restricts both day fields', () => {
  // Friday 2026-02-27 12:00 UTC.
  const clock = () => new Date('2026-02-27T12:00:00Z')
  const yaml = 'schedule:\n  jobs:\n    first-sunday:\n      command: [monitor]\n      schedule: "0 2 1-7 * sun"\n'

  it("keeps cron's meaning (two OnCalendar= lines: either day matches)", () => {
    const timer = units(yaml).get('ownops-first-sunday.timer') as string
    expect(timer).toContain('OnCalendar=Sun *-*-* 02:00:00\nOnCalendar=*-*-01..07 02:00:00\n')
  })

  it('config validate and schedule generate warn, with the runs of the next 30 days and the next ones', async () => {
    writeFileSync(join(dir, 'days.yml'), yaml)
    const env = testEnv(dir, { TZ: 'UTC' })
    const validate = await runCli(['-c', join(dir, 'days.yml'), 'config', 'validate'], { env, cwd: dir, clock })
    expect(validate.code).toBe(0)
    expect(validate.stdout).toContain(
      'days.yml:5 warning: schedule.jobs.first-sunday.schedule: job first-sunday: schedule "0 2 1-7 * sun" runs on day-of-month 1-7 OR day-of-week sun (cron\'s rule when both day fields are restricted; the timer keeps it): 11 runs in the next 30 days; next: Sun 2026-03-01 02:00, Mon 2026-03-02 02:00, Tue 2026-03-03 02:00, Wed 2026-03-04 02:00, Thu 2026-03-05 02:00, Fri 2026-03-06 02:00 (if both are meant, keep it; for day-of-week sun only write "0 2 * * sun", for days 1-7 only "0 2 1-7 * *" (cron cannot say "the first sun"))',
    )
    const generate = await runCli(['-c', join(dir, 'days.yml'), '--json', 'schedule', 'generate'], { env, cwd: dir, clock })
    expect(JSON.parse(generate.stdout).warnings).toEqual([
      expect.stringMatching(
        /^job first-sunday: schedule "0 2 1-7 \* sun" runs on day-of-month 1-7 OR day-of-week sun .*: 11 runs in the next 30 days; next: Sun 2026-03-01 02:00/,
      ),
    ])
  })

  it('no warning when one day field is open', async () => {
    writeFileSync(join(dir, 'days2.yml'), yaml.replace('1-7 * sun', '* * sun'))
    const validate = await runCli(['-c', join(dir, 'days2.yml'), 'config', 'validate'], {
      env: testEnv(dir, { TZ: 'UTC' }),
      cwd: dir,
      clock,
    })
    expect(validate.stdout).not.toContain('warning')
  })
})

// Kept next to the unit tests of ownops.example.yml: its cleanup job works under /tmp.
it('the example config: the committed cleanup unit may write /tmp and its rule roots', () => {
  const unit = readFileSync(join(import.meta.dirname, '../../systemd/ownops-cleanup.service'), 'utf8')
  expect(unit).toContain('ReadWritePaths=-/srv/jobs/results\nReadWritePaths=-/tmp\nReadWritePaths=-/srv/jobs/logs\n')
  expect(unit).not.toContain('PrivateTmp=yes')
})
