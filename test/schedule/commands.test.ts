/** The schedule config (validation with file, line and key) and the commands' output. */
import { writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { checkConfig, loadConfig } from '../../src/config/load.js'
import { formatProblem } from '../../src/config/problems.js'
import { renderCronD } from '../../src/schedule/crond.js'
import { nextRuns } from '../../src/schedule/cron.js'
import { planSchedule } from '../../src/schedule/jobs.js'
import { renderSystemdUnits } from '../../src/schedule/units.js'
import { BIN, runBin, runCli, tempDir, testEnv } from '../helpers/cli.js'

const ROOT = resolve(import.meta.dirname, '../..')
let dir: string
let cleanup: () => void
beforeEach(() => {
  ;({ dir, cleanup } = tempDir('ownops-test-schedule-'))
})
afterEach(() => cleanup())

function write(text: string): string {
  const file = join(dir, 'ownops.yml')
  writeFileSync(file, text)
  return file
}

const problems = (text: string) =>
  checkConfig({ path: write(text), env: {}, cwd: dir, defaultEnvFile: join(dir, 'none.env') }).problems.map(formatProblem)
const plan = (text: string) =>
  planSchedule(loadConfig({ path: write(text), env: {}, cwd: dir, defaultEnvFile: join(dir, 'none.env') }).config, {
    configFile: '/etc/ownops/ownops.yml',
  })

describe('config validate: schedule problems with file, line, key and a hint', () => {
  it('reports every problem at once', () => {
    const lines = problems(
      [
        'backup:', //                                                          1
        '  targets:', //                                                       2
        '    db: { type: sqlite, path: /srv/db.sqlite, schedule: "0 0 31 4 *" }', // 3
        'schedule:', //                                                        4
        '  bin: ownops', //                                                    5
        '  timezone: Europe/Berln', //                                         6
        '  jobs:', //                                                          7
        '    nightly:', //                                                     8
        '      command: [backpu]', //                                          9
        '      schedule: "0 0 30 2 *"', //                                    10
        '    report:', //                                                     11
        '      schedule: "0 9 * * mon"', //                                   12
        '    self:', //                                                       13
        '      command: ownops monitor', //                                   14
        '      schedule: "*/5 * * * * *"', //                                 15
        '    quoted:', //                                                     16
        '      command: notify "two words"', //                               17
        '      schedule: "@dialy"', //                                        18
        '      timezone: Mars/Base', //                                       19
        '  boot:', //                                                         20
        '    app: { compose: compose.yml }', //                               21
      ].join('\n'),
    )
    expect(lines).toEqual([
      'ownops.yml:3 backup.targets.db.schedule: day-of-month "31" never occurs in month "4" (check the day and the month: April, June, September and November have 30 days, February 29)',
      'ownops.yml:5 schedule.bin: "ownops" is not an absolute path (units and cron run without your PATH and working directory, e.g. /usr/local/bin/ownops)',
      'ownops.yml:6 schedule.timezone: unknown time zone "Europe/Berln" (did you mean "Europe/Berlin"?) (use an IANA name such as UTC, Europe/Berlin or America/New_York (timedatectl list-timezones))',
      'ownops.yml:9 schedule.jobs.nightly.command: "backpu" is not an ownops command (did you mean "backup"?) (one of backup, backups, copy, restore, verify, monitor, restart, notify, cleanup, doctor, config, lock, schedule)',
      'ownops.yml:10 schedule.jobs.nightly.schedule: day-of-month "30" never occurs in month "2" (check the day and the month: April, June, September and November have 30 days, February 29)',
      'ownops.yml:11 schedule.jobs.report.command: job "report" needs a command (the ownops arguments, e.g. command: [restart, app, --safe])',
      'ownops.yml:14 schedule.jobs.self.command: "ownops" is not an ownops command (leave out "ownops": write the arguments only, e.g. [backup, db])',
      'ownops.yml:15 schedule.jobs.self.schedule: expected 5 fields (minute hour day-of-month month day-of-week), got 6: "*/5 * * * * *" (cron has no seconds or year field: drop them)',
      'ownops.yml:17 schedule.jobs.quoted.command: a command string is split on spaces; quotes and backslashes are not understood (write it as a list: command: [notify, --title, "two words"])',
      'ownops.yml:18 schedule.jobs.quoted.schedule: unknown shortcut "@dialy" (did you mean "@daily"?) (cron knows @reboot @yearly @annually @monthly @weekly @daily @midnight @hourly; for other intervals write 5 fields, e.g. "*/5 * * * *")',
      'ownops.yml:19 schedule.jobs.quoted.timezone: unknown time zone "Mars/Base" (use an IANA name such as UTC, Europe/Berlin or America/New_York (timedatectl list-timezones))',
      'ownops.yml:21 schedule.boot.app.compose: "compose.yml" is not an absolute path (the unit runs from /, e.g. /srv/app/compose.yml)',
    ])
  })

  it('exits 78 from the command line, for generate too', async () => {
    write('schedule:\n  jobs:\n    x: { command: [monitor], schedule: "61 * * * *" }\n')
    const result = await runBin(['schedule', 'generate'], { env: testEnv(dir, { OWNOPS_LOG_FORMAT: 'text' }), cwd: dir })
    expect(result.code).toBe(78)
    expect(result.stderr).toContain('ownops.yml:3 schedule.jobs.x.schedule: minute "61" is out of range: 61 is not in 0-59')
    expect(result.stdout).toBe('')
  })

  it('refuses a boot unit whose name a job already has', () => {
    expect(
      problems(
        'schedule:\n  jobs:\n    boot-app: { command: [monitor], schedule: "@hourly" }\n  boot:\n    app: { compose: /srv/app/compose.yml }\n',
      ),
    ).toEqual(['ownops.yml:5 schedule.boot.app: boot unit ownops-boot-app.service has the name of the job "boot-app" (rename one of them)'])
  })
})

describe('jobs from the config', () => {
  it('built in: monitor and cleanup always, backup only with targets', () => {
    expect(plan('{}').jobs.map((j) => j.name)).toEqual(['cleanup', 'monitor'])
    const withTargets = plan('backup:\n  targets:\n    db: { type: sqlite, path: /srv/db.sqlite }\n')
    expect(withTargets.jobs.map((j) => `${j.name}: ${j.args.join(' ')} @ ${j.schedule}`)).toEqual([
      'backup: backup @ 0 3 * * *',
      'cleanup: cleanup @ 0 4 * * *',
      'monitor: monitor @ */5 * * * *',
    ])
    const backup = withTargets.jobs[0]
    expect(backup).toMatchObject({
      randomDelaySec: 900,
      timeoutSec: 21600,
      persistent: true,
      lowPriority: true,
      user: 'root',
      timeZone: undefined,
    })
    expect(withTargets.jobs[2]).toMatchObject({ timeoutSec: 240, persistent: false, lowPriority: false })
  })

  it('a target with its own schedule gets backup-<target>; the backup job then runs backup --unscheduled', () => {
    const p = plan(
      'backup:\n  targets:\n    db: { type: sqlite, path: /srv/db.sqlite }\n    world: { type: directory, volume: mc, schedule: "0 */6 * * *", timeout: 2h }\n',
    )
    expect(p.jobs.map((j) => `${j.name}: ${j.args.join(' ')} @ ${j.schedule}`)).toEqual([
      'backup: backup --unscheduled @ 0 3 * * *',
      'backup-world: backup world @ 0 */6 * * *',
      'cleanup: cleanup @ 0 4 * * *',
      'monitor: monitor @ */5 * * * *',
    ])
    expect(p.jobs[1]).toMatchObject({ timeoutSec: 7200, persistent: false, scheduleKey: ['backup', 'targets', 'world', 'schedule'] })
  })

  it('when every target has its own schedule there is no plain backup job, and `backup --unscheduled` does nothing and tells nobody', async () => {
    const text = 'backup:\n  targets:\n    world: { type: directory, volume: mc, schedule: "0 */6 * * *" }\n'
    expect(plan(text).jobs.map((j) => j.name)).toEqual(['backup-world', 'cleanup', 'monitor'])
    expect(plan(`${text}schedule:\n  jobs:\n    backup: { schedule: "0 2 * * *" }\n`).jobs.map((j) => j.name)).toContain('backup') // asked for: kept

    // A unit installed before: the plain job runs `backup --unscheduled` with nothing to do.
    const { startHttpPeer } = await import('../helpers/http-peer.js')
    const peer = await startHttpPeer()
    try {
      write(
        `${text}notify:\n  channels:\n    ops: { url: "json://127.0.0.1:${peer.port}/hook", levels: [info, warning, error, critical] }\n`,
      )
      const r = await runCli(['--json', 'backup', '--unscheduled'], { env: testEnv(dir), cwd: dir })
      expect(r.code, r.stderr).toBe(0)
      expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, targets: [] })
      expect(peer.requests.map((q) => (q.json as { title: string }).title)).toEqual([]) // no "backup done (0 targets)"
    } finally {
      await peer.close()
    }
  })

  it('overrides keys of built-in jobs, turns them off with false, and splits a command string on spaces', () => {
    const p = plan(
      'backup:\n  targets:\n    db: { type: sqlite, path: /srv/db.sqlite }\nschedule:\n  user: ops\n  jobs:\n    backup: { schedule: "0 2 * * *", user: root }\n    cleanup: false\n    prune: { command: "cleanup  rows --only sql", schedule: "0 4 1 * *" }\ncleanup:\n  rules:\n    rows: { type: sql, target: db, table: events, where: \'at < 1\' }\n',
    )
    expect(p.jobs.map((j) => j.name)).toEqual(['backup', 'monitor', 'prune'])
    expect(p.jobs[0]).toMatchObject({ schedule: '0 2 * * *', randomDelaySec: 900, timeoutSec: 21600, user: 'root' })
    expect(p.jobs[1]).toMatchObject({ user: 'ops' })
    expect(p.jobs[2]).toMatchObject({ args: ['cleanup', 'rows', '--only', 'sql'], timeoutSec: 3600, persistent: true, lowPriority: true })
  })

  it('a backup job configured without targets still runs', () => {
    expect(plan('schedule:\n  jobs:\n    backup: { schedule: "@daily" }\n').jobs.map((j) => j.name)).toEqual([
      'backup',
      'cleanup',
      'monitor',
    ])
  })
})

describe("the users' schedules work as generated", () => {
  const example = (name: string) =>
    planSchedule(loadConfig({ path: join(ROOT, 'examples', `${name}.yml`), env: {}, defaultEnvFile: join(dir, 'none.env') }).config, {
      configFile: '/etc/ownops/ownops.yml',
    })
  const unit = (files: Array<{ name: string; content: string }>, name: string) => files.find((f) => f.name === name)?.content ?? ''

  it('PostgreSQL backend: pg_dump daily at 03:00 keeping 7, a monthly restore drill, monitor hourly, the stack up after docker at boot', () => {
    const p = example('postgres-backend')
    const config = loadConfig({ path: join(ROOT, 'examples/postgres-backend.yml'), env: {}, defaultEnvFile: join(dir, 'none.env') }).config
    expect(config.backup.targets.db).toMatchObject({ type: 'postgres', container: 'workspace-prod-db', keep: { daily: 7 } })
    const files = renderSystemdUnits(p)
    expect(unit(files, 'ownops-backup.timer')).toContain('OnCalendar=*-*-* 03:00:00\nAccuracySec=1min\nPersistent=true\n')
    expect(unit(files, 'ownops-backup.timer')).not.toContain('RandomizedDelaySec')
    expect(unit(files, 'ownops-backup.service')).toContain('ExecStart=/usr/local/bin/ownops backup\n')
    expect(unit(files, 'ownops-monitor.timer')).toContain('OnCalendar=*-*-* *:00:00\n')
    expect(files.map((f) => f.name)).not.toContain('ownops-cleanup.timer')
    expect(unit(files, 'ownops-drill.timer')).toContain('OnCalendar=*-*-01 05:00:00\nAccuracySec=1min\nPersistent=true\n')
    expect(unit(files, 'ownops-drill.service')).toContain('ExecStart=/usr/local/bin/ownops verify --drill\n')
    const boot = unit(files, 'ownops-boot-workspace.service')
    expect(boot).toContain('Requires=docker.service\nAfter=docker.service network-online.target\n')
    expect(boot).toContain('Type=oneshot\nRemainAfterExit=yes\n')
    expect(boot).toContain(
      'ExecStart=/usr/bin/docker compose -f /srv/workspace-backend/infrastructure/compose.prod.yml --env-file /srv/workspace-backend/.env.prod up -d\n',
    )
    expect(boot).toContain('WantedBy=multi-user.target\n')
    const runs = nextRuns('0 3 * * *', 3, { from: new Date('2026-01-10T12:00:00Z'), timeZone: 'Asia/Tokyo' })
    expect(runs.map((d) => d.toISOString())).toEqual(['2026-01-10T18:00:00.000Z', '2026-01-11T18:00:00.000Z', '2026-01-12T18:00:00.000Z'])
  })

  it('camera server: a daily 03:00 refresh restart with Persistent=true, and a cron.d entry at 04:00 for the database clean-up', () => {
    const p = example('camera-server')
    const files = renderSystemdUnits(p)
    expect(unit(files, 'ownops-refresh.timer')).toContain('OnCalendar=*-*-* 03:00:00\nAccuracySec=1min\nPersistent=true\n')
    expect(unit(files, 'ownops-refresh.service')).toContain('ExecStart=/usr/local/bin/ownops restart camserver --safe\n')
    expect(unit(files, 'ownops-refresh.service')).toContain('TimeoutStartSec=15min\n')
    const cron = renderCronD(p).content
    // camserver's flock file in its own lock directory: only it (and root) can write there.
    expect(cron).toContain(
      '\n0 4 * * * camserver mkdir -p -m 700 "$HOME"/.local/state/ownops/lock && flock -n "$HOME"/.local/state/ownops/lock/db-prune.cron.lock timeout 1800 /usr/local/bin/ownops cleanup --only sql 2>&1 | logger -t ownops-db-prune\n',
    )
    expect(cron).toContain(
      '\n0 3 * * * root mkdir -p -m 700 /run/ownops && flock -n /run/ownops/refresh.cron.lock timeout 900 /usr/local/bin/ownops restart camserver --safe 2>&1 | logger -t ownops-refresh\n',
    )
    expect(cron).not.toContain('/run/lock')
  })

  it('Minecraft: restarts at 04:00 Monday to Saturday and 12:00 on Sunday, in Tokyo time (the 5-minute countdown starts at :55)', () => {
    const files = renderSystemdUnits(example('minecraft'))
    expect(unit(files, 'ownops-restart-daily.timer')).toContain('OnCalendar=Mon..Sat *-*-* 03:55:00 Asia/Tokyo\n')
    expect(unit(files, 'ownops-restart-weekly.timer')).toContain('OnCalendar=Sun *-*-* 11:55:00 Asia/Tokyo\n')
    expect(unit(files, 'ownops-backup-world.timer')).toContain('OnCalendar=*-*-* 00/6:30:00 Asia/Tokyo\n')
  })
})

describe('ownops schedule (CLI)', () => {
  it('--help of every subcommand has examples and exit statuses', async () => {
    for (const sub of ['generate', 'install', 'remove', 'list']) {
      const { code, stdout } = await runBin(['schedule', sub, '--help'], { env: testEnv(dir), cwd: dir })
      expect(code).toBe(0)
      expect(stdout, sub).toContain('Examples:')
      expect(stdout, sub).toContain('Exit status:')
      if (sub !== 'remove') expect(stdout, sub).toContain('78  configuration invalid')
    }
    const top = await runBin(['--help'], { env: testEnv(dir), cwd: dir })
    expect(top.stdout).toMatch(/^ {2}schedule +generate and install systemd timers or$/m)
    expect(top.stdout).not.toMatch(/schedule.*not built yet/)
  })

  it('--systemd and --cron exclude each other; --boot has no cron form', async () => {
    write('{}\n')
    const both = await runCli(['schedule', 'generate', '--systemd', '--cron'], { env: testEnv(dir), cwd: dir })
    expect(both.code).toBe(2)
    expect(both.stderr).toContain("option '--systemd' cannot be used with option '--cron'")
    expect((await runBin(['schedule', 'install', '--bogus'], { env: testEnv(dir), cwd: dir })).code).toBe(2)
    const boot = await runCli(['schedule', 'generate', '--cron', '--boot'], { env: testEnv(dir), cwd: dir })
    expect(boot.code).toBe(2)
  })

  it('generate prints each file after a "# ==> NAME <==" line; --boot only the boot units', async () => {
    write('schedule:\n  boot:\n    app: { compose: /srv/app/compose.yml }\n')
    const all = await runCli(['schedule', 'generate'], { env: testEnv(dir), cwd: dir })
    expect(all.code).toBe(0)
    expect([...all.stdout.matchAll(/^# ==> (\S+) <==$/gm)].map((m) => m[1])).toEqual([
      'ownops-cleanup.service',
      'ownops-cleanup.timer',
      'ownops-monitor.service',
      'ownops-monitor.timer',
      'ownops-notify@.service',
      'ownops-boot-app.service',
    ])
    // No schedule.bin: the Node running ownops and its bin/ownops.js, by absolute paths (not #!/usr/bin/env node).
    expect(all.stdout).toContain(`ExecStart=${process.execPath} ${BIN} --config ${join(dir, 'ownops.yml')} monitor\n`)
    const boot = await runCli(['schedule', 'generate', '--boot'], { env: testEnv(dir), cwd: dir })
    expect([...boot.stdout.matchAll(/^# ==> (\S+) <==$/gm)].map((m) => m[1])).toEqual(['ownops-boot-app.service'])
    const json = JSON.parse(
      (await runCli(['--json', 'schedule', 'generate', '--config-path', '/etc/ownops/ownops.yml'], { env: testEnv(dir), cwd: dir })).stdout,
    )
    expect(json.files.find((f: { name: string }) => f.name === 'ownops-monitor.service').content).toContain(
      `ExecStart=${process.execPath} ${BIN} monitor\n`,
    )
    // --bin, then schedule.bin, say otherwise.
    const bin = JSON.parse(
      (await runCli(['--json', 'schedule', 'generate', '--bin', '/opt/ownops/ownops'], { env: testEnv(dir), cwd: dir })).stdout,
    )
    expect(bin.files.find((f: { name: string }) => f.name === 'ownops-monitor.service').content).toContain(
      `ExecStart=/opt/ownops/ownops --config ${join(dir, 'ownops.yml')} monitor\n`,
    )
  })

  it('generate warns about a time in the DST change of the zone', async () => {
    write('schedule:\n  timezone: Europe/Berlin\n  jobs:\n    late: { command: [monitor], schedule: "30 2 * * *" }\n')
    const result = await runCli(['--json', 'schedule', 'generate'], { env: testEnv(dir), cwd: dir })
    expect(result.code).toBe(0)
    const warnings: string[] = JSON.parse(result.stdout).warnings
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toMatch(/^job late: schedule "30 2 \* \* \*": 02:30 does not exist on \d{4}-03-\d\d in Europe\/Berlin/)
    expect(result.stderr).toContain('02:30 does not exist')
  })

  it('list: jobs, schedules, zones, the next three runs, and where they are installed', async () => {
    write('schedule:\n  jobs:\n    refresh: { command: [restart, app], schedule: "0 3 * * *", timezone: Asia/Tokyo }\n')
    const env = testEnv(dir, { TZ: 'UTC' })
    const before = await runCli(['--json', 'schedule', 'list', '--root', join(dir, 'root')], { env, cwd: dir })
    expect(before.code).toBe(0)
    const report = JSON.parse(before.stdout)
    expect(report.jobs.map((j: { name: string }) => j.name)).toEqual(['cleanup', 'monitor', 'refresh'])
    const refresh = report.jobs[2]
    expect(refresh).toMatchObject({ command: 'restart app', schedule: '0 3 * * *', timezone: 'Asia/Tokyo', installed: [], systemd: null })
    expect(refresh.nextRuns).toHaveLength(3)
    for (const run of refresh.nextRuns) expect(run).toMatch(/T18:00:00\.000Z$/)
    expect(Date.parse(refresh.nextRuns[0])).toBeGreaterThan(Date.now())
    expect(report.jobs[1].timezone).toBeNull()

    expect((await runCli(['schedule', 'install', '--root', join(dir, 'root')], { env, cwd: dir })).code).toBe(0)
    const text = await runCli(['schedule', 'list', '--root', join(dir, 'root')], { env, cwd: dir })
    expect(text.stdout).toMatch(/^JOB +COMMAND +SCHEDULE +ZONE +NEXT RUNS +STATE$/m)
    expect(text.stdout).toMatch(
      /^refresh +restart app +0 3 \* \* \* +Asia\/Tokyo +\d{4}-\d\d-\d\d 03:00, \d{4}-\d\d-\d\d 03:00, \d{4}-\d\d-\d\d 03:00 +systemd$/m,
    )
    expect(text.stdout).toMatch(/^monitor +monitor +\*\/5 \* \* \* \* +local /m)

    write('{}\n')
    const stale = await runCli(['schedule', 'list', '--root', join(dir, 'root')], { env, cwd: dir })
    expect(stale.stdout).toContain('stale: ownops-refresh.timer is installed but not configured')
  })
})
