/**
 * Generated units and cron.d text: golden files, systemd's own checks (systemd-analyze verify
 * and security), and the rules cron.d files must follow.
 */
import { execFile } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config/load.js'
import { renderCronD } from '../../src/schedule/crond.js'
import { planSchedule, type SchedulePlan } from '../../src/schedule/jobs.js'
import { execWord, isGenerated, renderSystemdUnits, span, type GeneratedFile } from '../../src/schedule/units.js'
import { which } from '../../src/sys/which.js'
import { tempDir } from '../helpers/cli.js'

const ROOT = resolve(import.meta.dirname, '../..')
const BIN = join(ROOT, 'bin/ownops.js')

let dir: string
let cleanup: () => void
beforeAll(() => {
  ;({ dir, cleanup } = tempDir('ownops-test-units-'))
})
afterAll(() => cleanup())

/** Loads a config file the way ownops does (no env file, no environment). */
function planFrom(file: string, configFile = '/etc/ownops/ownops.yml'): SchedulePlan {
  const loaded = loadConfig({ path: file, env: {}, defaultEnvFile: join(dir, 'no-such.env') })
  return planSchedule(loaded.config, { configFile })
}

function planFromYaml(name: string, yaml: string, configFile?: string): SchedulePlan {
  const file = join(dir, `${name}.yml`)
  writeFileSync(file, yaml)
  return planFrom(file, configFile)
}

/** The text `ownops schedule generate` prints. */
const printed = (files: GeneratedFile[]) => files.map((f) => `# ==> ${f.name} <==\n${f.content}`).join('\n')

/** Covers what the examples do not: users, zones, @reboot, escaping, compose options. */
const FEATURES = `
stateDir: /srv/ownops/state
lock: { dir: /srv/ownops/lock }
backup:
  dir: /srv/backups
  targets:
    db: { type: sqlite, path: /srv/app/db.sqlite, schedule: "15 */4 * * *", timeout: 2h }
    files: { type: directory, path: /srv/app/files }
schedule:
  bin: /opt/ownops/bin/ownops
  docker: /usr/local/bin/docker
  timezone: Europe/Berlin
  jobs:
    monitor: { schedule: "* * * * *", timeout: 50s, user: backup }
    cleanup: false
    report:
      command: notify --level info weekly-report
      schedule: "0 9 * * mon"
      timezone: UTC
      description: "weekly report: 100% done, cost $5"
    quoted:
      command: [notify, --title, "disk at 95%", "costs $$HOME and \\"quotes\\""]
      schedule: "0 12 1,15 * fri"
      readWritePaths: [/srv/exports, "/srv/with space"]
      persistent: false
      randomDelay: 1h30m
    at-boot:
      command: [monitor]
      schedule: "@reboot"
  boot:
    app: { compose: /srv/app/compose.yml }
    stack:
      compose: [/srv/stack/base.yml, /srv/stack/prod.yml]
      project: stack
      envFile: /srv/stack/.env.prod
      onStop: down
      timeout: 30m
    keep: { compose: /srv/keep/compose.yml, onStop: none }
`

const EXAMPLES = ['postgres-backend', 'camera-server', 'minecraft']

describe('golden files', () => {
  it('units of the feature fixture', async () => {
    const plan = planFromYaml('features', FEATURES, '/srv/ownops/ownops.yml')
    await expect(printed(renderSystemdUnits(plan))).toMatchFileSnapshot('../golden/schedule/features.systemd.txt')
  })

  it.each(EXAMPLES)('examples/%s.yml: systemd units and cron.d file', async (name) => {
    const plan = planFrom(join(ROOT, 'examples', `${name}.yml`))
    await expect(printed(renderSystemdUnits(plan))).toMatchFileSnapshot(`../golden/schedule/${name}.systemd.txt`)
    if (plan.jobs.some((j) => j.timeZone !== undefined)) {
      expect(() => renderCronD(plan)).toThrow(/cron.d cannot run a job in a time zone of its own/)
    } else {
      await expect(renderCronD(plan).content).toMatchFileSnapshot(`../golden/schedule/${name}.cron.txt`)
    }
  })

  it('cron.d of the feature fixture without time zones', async () => {
    const yaml = FEATURES.replace('  timezone: Europe/Berlin\n', '').replace('      timezone: UTC\n', '')
    await expect(renderCronD(planFromYaml('features-cron', yaml, '/srv/ownops/ownops.yml')).content).toMatchFileSnapshot(
      '../golden/schedule/features.cron.txt',
    )
  })
})

describe('unit text', () => {
  const plan = () => planFromYaml('features', FEATURES, '/srv/ownops/ownops.yml')
  const file = (name: string) => renderSystemdUnits(plan()).find((f) => f.name === name)?.content ?? ''

  it('every file starts with the generated-file mark', () => {
    const files = renderSystemdUnits(plan())
    expect(files.map((f) => f.name)).toEqual(
      expect.arrayContaining([
        'ownops-backup.service',
        'ownops-backup.timer',
        'ownops-backup-db.timer',
        'ownops-monitor.timer',
        'ownops-notify@.service',
        'ownops-boot-app.service',
        'ownops-boot-stack.service',
      ]),
    )
    expect(files.map((f) => f.name)).not.toContain('ownops-cleanup.timer')
    for (const f of files) expect(isGenerated(f.content), f.name).toBe(true)
    expect(renderCronD(planFromYaml('plain', 'backup: { targets: {} }\n')).content.startsWith('# Generated by ownops')).toBe(true)
  })

  it('services: oneshot, timeout, OnFailure, env file, identifier, --config, writable paths', () => {
    const backup = file('ownops-backup.service')
    for (const line of [
      'Type=oneshot',
      'ExecStart=/opt/ownops/bin/ownops --config /srv/ownops/ownops.yml backup --unscheduled',
      'TimeoutStartSec=6h',
      'OnFailure=ownops-notify@%n.service',
      'EnvironmentFile=-/etc/ownops/ownops.env',
      'SyslogIdentifier=ownops-backup',
      'Nice=10',
      'IOSchedulingClass=best-effort',
      'IOSchedulingPriority=7',
      'ProtectSystem=strict',
      'ReadWritePaths=-/srv/backups',
      'ReadWritePaths=-/srv/ownops/state',
      'ReadWritePaths=-/srv/ownops/lock',
    ]) {
      expect(backup.split('\n')).toContain(line)
    }
    expect(backup).not.toContain('MemoryDenyWriteExecute')
    expect(backup).not.toContain('User=')
    expect(file('ownops-backup-db.service')).toContain('ExecStart=/opt/ownops/bin/ownops --config /srv/ownops/ownops.yml backup db\n')
    expect(file('ownops-backup-db.service')).toContain('TimeoutStartSec=2h\n')
    const monitor = file('ownops-monitor.service')
    expect(monitor).toContain('User=backup\nEnvironment=OWNOPS_STATE_DIR=/srv/ownops/state OWNOPS_LOCK_DIR=/srv/ownops/lock\n')
    expect(monitor).toContain('TimeoutStartSec=50s\n')
    expect(monitor).not.toContain('Nice=')
  })

  it('escapes specifiers, variables and quotes in ExecStart and free text', () => {
    const quoted = file('ownops-quoted.service')
    expect(quoted).toContain(
      'ExecStart=/opt/ownops/bin/ownops --config /srv/ownops/ownops.yml notify --title "disk at 95%%" "costs $$HOME and \\"quotes\\""\n',
    )
    expect(quoted).toContain('ReadWritePaths=-/srv/exports\n')
    expect(quoted).toContain('ReadWritePaths=-"/srv/with space"\n')
    expect(file('ownops-report.service')).toContain('Description=ownops report: weekly report: 100%% done, cost $5\n')
    expect(file('ownops-report.service')).toContain(
      'ExecStart=/opt/ownops/bin/ownops --config /srv/ownops/ownops.yml notify --level info weekly-report\n',
    )
    expect(execWord('a b')).toBe('"a b"')
    expect(execWord(';')).toBe('";"')
    expect(execWord('')).toBe('""')
    expect(execWord('50%')).toBe('50%%')
  })

  it("timers: OnCalendar in the job's zone, accuracy, random delay, Persistent", () => {
    const monitor = file('ownops-monitor.timer')
    expect(monitor).toContain('OnCalendar=*-*-* *:*:00 Europe/Berlin\nAccuracySec=1s\n')
    expect(monitor).not.toContain('Persistent')
    const backup = file('ownops-backup.timer')
    expect(backup).toContain('OnCalendar=*-*-* 03:00:00 Europe/Berlin\nAccuracySec=1min\nRandomizedDelaySec=15min\nPersistent=true\n')
    expect(file('ownops-backup-db.timer')).toContain('OnCalendar=*-*-* 00/4:15:00 Europe/Berlin\n')
    expect(file('ownops-report.timer')).toContain('OnCalendar=Mon *-*-* 09:00:00 UTC\nAccuracySec=1min\nPersistent=true\n')
    const quoted = file('ownops-quoted.timer')
    expect(quoted).toContain('OnCalendar=Fri *-*-* 12:00:00 Europe/Berlin\nOnCalendar=*-*-01,15 12:00:00 Europe/Berlin\n')
    expect(quoted).toContain('RandomizedDelaySec=1h 30min\n')
    expect(quoted).not.toContain('Persistent')
    const boot = file('ownops-at-boot.timer')
    expect(boot).toContain('OnBootSec=1min\nAccuracySec=1s\n')
    expect(boot).not.toContain('OnCalendar')
    for (const f of renderSystemdUnits(plan()).filter((x) => x.name.endsWith('.timer')))
      expect(f.content, f.name).toContain('[Install]\nWantedBy=timers.target\n')
  })

  it('boot units: after docker.service, oneshot, up -d, stop or down or nothing', () => {
    const app = file('ownops-boot-app.service')
    for (const line of [
      'Requires=docker.service',
      'After=docker.service network-online.target',
      'Type=oneshot',
      'RemainAfterExit=yes',
      'WorkingDirectory=/srv/app',
      'ExecStart=/usr/local/bin/docker compose -f /srv/app/compose.yml up -d',
      'ExecStop=/usr/local/bin/docker compose -f /srv/app/compose.yml stop',
      'WantedBy=multi-user.target',
    ]) {
      expect(app.split('\n')).toContain(line)
    }
    expect(file('ownops-boot-stack.service')).toContain(
      'ExecStart=/usr/local/bin/docker compose -f /srv/stack/base.yml -f /srv/stack/prod.yml -p stack --env-file /srv/stack/.env.prod up -d\nExecStop=/usr/local/bin/docker compose -f /srv/stack/base.yml -f /srv/stack/prod.yml -p stack --env-file /srv/stack/.env.prod down\n',
    )
    expect(file('ownops-boot-stack.service')).toContain('TimeoutStartSec=30min\n')
    expect(file('ownops-boot-keep.service')).not.toContain('ExecStop')
  })

  it('time spans in systemd syntax', () => {
    expect([span(45), span(60), span(900), span(5400), span(21600), span(90061), span(0)]).toEqual([
      '45s',
      '1min',
      '15min',
      '1h 30min',
      '6h',
      '1d 1h 1min 1s',
      '0s',
    ])
  })
})

function run(command: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(command, args, { env: { PATH: process.env.PATH, SYSTEMD_COLORS: '0', ...env } }, (error, stdout, stderr) => {
      done({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stdout, stderr })
    })
  })
}

/** Writes a plan's units into a fresh directory, with executables that exist on this machine. */
function writeUnits(name: string, yaml: string): string {
  const docker = which('docker') ?? '/bin/true'
  const units = join(dir, name)
  mkdirSync(units)
  const withBins = yaml.replace(/^ {2}(bin|docker): .*\n/gm, '').replace(/^schedule:\n/m, `schedule:\n  bin: ${BIN}\n  docker: ${docker}\n`)
  for (const f of renderSystemdUnits(planFromYaml(name, withBins, '/srv/ownops/ownops.yml'))) writeFileSync(join(units, f.name), f.content)
  return units
}

describe('systemd checks its own units', () => {
  it('systemd-analyze verify: clean for every unit of the fixture and the examples', async () => {
    const sets = [writeUnits('verify-features', FEATURES)]
    for (const example of EXAMPLES)
      sets.push(writeUnits(`verify-${example}`, readFileSync(join(ROOT, 'examples', `${example}.yml`), 'utf8')))
    sets.push(writeUnits('verify-ownops.example', readFileSync(join(ROOT, 'ownops.example.yml'), 'utf8')))
    for (const units of sets) {
      const files = readdirSync(units).map((f) => join(units, f))
      expect(files.length).toBeGreaterThan(3)
      const result = await run('systemd-analyze', ['verify', '--man=no', ...files])
      expect(result.stderr, units).toBe('')
      expect(result.code, units).toBe(0)
    }
  })

  it('systemd-analyze verify notices a broken unit (the check can fail)', async () => {
    const units = writeUnits('verify-broken', 'schedule:\n  jobs: {}\n')
    const service = join(units, 'ownops-monitor.service')
    writeFileSync(service, readFileSync(service, 'utf8').replace(`ExecStart=${BIN}`, 'ExecStart=/nonexistent/ownops'))
    const result = await run('systemd-analyze', ['verify', '--man=no', service])
    expect(result.code).not.toBe(0)
    expect(result.stderr).toContain('/nonexistent/ownops')
  })

  it('systemd-analyze security --offline: job services and the notify template 2.6 or better, boot units 3.5 or better', async () => {
    // The example's cleanup job works under /tmp (no PrivateTmp=): it must not rate worse.
    const sets = [writeUnits('security', FEATURES), writeUnits('security-example', readFileSync(join(ROOT, 'ownops.example.yml'), 'utf8'))]
    const scores = new Map<string, number>()
    for (const units of sets) {
      for (const name of readdirSync(units).filter((f) => f.endsWith('.service'))) {
        const result = await run('systemd-analyze', ['security', '--offline=yes', '--no-pager', join(units, name)])
        const match = /Overall exposure level for \S+: (\d+\.\d+)/.exec(result.stdout)
        expect(match, `${name}: ${result.stdout}${result.stderr}`).not.toBeNull()
        scores.set(`${units.split('/').pop()}/${name}`, Number(match?.[1]))
      }
    }
    for (const [name, score] of scores) {
      if (name.includes('/ownops-boot-')) expect(score, name).toBeLessThanOrEqual(3.5)
      else expect(score, name).toBeLessThanOrEqual(2.6)
    }
    expect(readFileSync(join(sets[1] as string, 'ownops-cleanup.service'), 'utf8')).not.toContain('PrivateTmp=yes')
    expect([...scores.keys()].filter((n) => n.includes('/ownops-boot-')).length).toBeGreaterThanOrEqual(4)
    expect(scores.has('security/ownops-notify@.service')).toBe(true)
  })
})

describe('cron.d file', () => {
  const yaml = FEATURES.replace('  timezone: Europe/Berlin\n', '').replace('      timezone: UTC\n', '')
  const text = () => renderCronD(planFromYaml('cron', yaml, '/srv/ownops/ownops.yml')).content

  it('has a valid name, SHELL/PATH/MAILTO, a user field, and a trailing newline', () => {
    const file = renderCronD(planFromYaml('cron', yaml, '/srv/ownops/ownops.yml'))
    expect(file.name).toMatch(/^[A-Za-z0-9_-]+$/)
    expect(file.content.endsWith('\n')).toBe(true)
    expect(file.content).toMatch(/^SHELL=\/bin\/sh$/m)
    expect(file.content).toMatch(/^PATH=\/usr\/local\/sbin:\/usr\/local\/bin:\/usr\/sbin:\/usr\/bin:\/sbin:\/bin$/m)
    expect(file.content).toMatch(/^MAILTO=""$/m)
    const entries = file.content.split('\n').filter((l) => /^[0-9*@]/.test(l))
    expect(entries).toHaveLength(6)
    for (const entry of entries) {
      const fields = entry.startsWith('@') ? entry.split(' ').slice(1) : entry.split(' ').slice(5)
      expect(['root', 'backup']).toContain(fields[0])
      // The flock files in the lock directory (lock.dir here), which only root or the job's user may write.
      expect(entry).toMatch(
        /mkdir -p -m 700 \/srv\/ownops\/lock && flock -n \/srv\/ownops\/lock\/[\w-]+\.cron\.lock timeout \d+ \/opt\/ownops\/bin\/ownops --config \/srv\/ownops\/ownops\.yml /,
      )
      expect(entry).toMatch(/ 2>&1 \| logger -t ownops-[\w-]+$/)
      // Every % escaped: cron would turn it into a newline.
      expect(entry.replace(/\\%/g, '')).not.toContain('%')
    }
    expect(entries).toContain(
      '* * * * * backup mkdir -p -m 700 /srv/ownops/lock && flock -n /srv/ownops/lock/monitor.cron.lock timeout 50 /opt/ownops/bin/ownops --config /srv/ownops/ownops.yml monitor 2>&1 | logger -t ownops-monitor',
    )
    expect(entries).toContain(
      '@reboot root mkdir -p -m 700 /srv/ownops/lock && flock -n /srv/ownops/lock/at-boot.cron.lock timeout 3600 /opt/ownops/bin/ownops --config /srv/ownops/ownops.yml monitor 2>&1 | logger -t ownops-at-boot',
    )
    expect(entries.find((e) => e.includes('/backup.cron.lock'))).toMatch(
      /^0 3 \* \* \* root sleep \$\(shuf -i 0-899 -n 1\) && mkdir -p -m 700 \/srv\/ownops\/lock && flock -n /,
    )
    expect(file.content).not.toContain('/run/lock')
  })

  it('every entry is a valid sh command line, its words quoted as given', async () => {
    const entries = text()
      .split('\n')
      .filter((l) => /^[0-9*@]/.test(l))
    for (const entry of entries) {
      const command = (entry.startsWith('@') ? entry.split(' ').slice(2) : entry.split(' ').slice(6)).join(' ').replace(/\\%/g, '%')
      const syntax = await run('sh', ['-n', '-c', command])
      expect(syntax.stderr, command).toBe('')
      expect(syntax.code, command).toBe(0)
    }
    // What sh hands the program: print the words instead of running ownops.
    const quoted =
      entries
        .find((e) => e.includes('ownops-quoted'))
        ?.split(' ')
        .slice(6)
        .join(' ')
        .replace(/\\%/g, '%') ?? ''
    const words = quoted.replace(/^.*?\/opt\/ownops\/bin\/ownops /, '').replace(/ 2>&1 \| logger.*$/, '')
    const printedWords = await run('sh', ['-c', `printf '%s\\n' ${words}`])
    expect(printedWords.stdout.split('\n').slice(0, -1)).toEqual([
      '--config',
      '/srv/ownops/ownops.yml',
      'notify',
      '--title',
      'disk at 95%',
      'costs $HOME and "quotes"',
    ])
  })

  it('refuses jobs with a time zone, naming the keys', () => {
    let message = ''
    try {
      renderCronD(planFromYaml('zoned', FEATURES))
    } catch (error) {
      message = `${(error as Error).message}\n${(error as { details: string[] }).details.join('\n')}`
      expect((error as { exitCode: number }).exitCode).toBe(78)
    }
    expect(message).toContain('cron.d cannot run a job in a time zone of its own')
    expect(message).toContain('schedule.jobs.report.timezone: UTC (job report)')
    expect(message).toMatch(/schedule\.timezone: Europe\/Berlin \(jobs at-boot, backup, backup-db, monitor, quoted\)/)
  })
})
