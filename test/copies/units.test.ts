/**
 * The units of scheduled copies: ownops-copy-<dest>.service/.timer, what their sandbox lets
 * them write (their own destination's local path, rclone's config directory) and reach (the
 * network), checked by systemd itself (systemd-analyze verify and security --offline).
 */
import { execFile } from 'node:child_process'
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config/load.js'
import { renderCronD } from '../../src/schedule/crond.js'
import { planSchedule } from '../../src/schedule/jobs.js'
import { renderSystemdUnits } from '../../src/schedule/units.js'
import { tempDir } from '../helpers/cli.js'

const BIN = resolve(import.meta.dirname, '../../bin/ownops.js')

function run(command: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(command, args, { env: { PATH: process.env.PATH, SYSTEMD_COLORS: '0' } }, (error, stdout, stderr) =>
      done({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stdout, stderr }),
    )
  })
}

describe('units of scheduled copies', () => {
  let work: { dir: string; cleanup: () => void }
  beforeAll(() => {
    work = tempDir()
  })
  afterAll(() => work?.cleanup())

  const yaml = () => `backup:
  dir: /srv/backups
  targets:
    db: { type: postgres, container: db }
  destinations:
    usb: { type: path, path: /mnt/usb/ownops, requireMount: /mnt/usb, schedule: "0 5 1 * *", timeout: 2h }
    gdrive: { type: rclone, remote: "gdrive:box1", config: /etc/ownops/rclone/rclone.conf, schedule: "30 4 * * 0" }
    offsite: { type: restic, repository: /srv/restic, password: x }
schedule:
  bin: ${BIN}
`

  it('a destination with a schedule gets a timer and a sandboxed service that writes only its own destination', async () => {
    const file = join(work.dir, 'ownops.yml')
    writeFileSync(file, yaml())
    const plan = planSchedule(loadConfig({ path: file, env: {}, defaultEnvFile: join(work.dir, 'none.env') }).config, {
      configFile: '/etc/ownops/ownops.yml',
    })
    const files = new Map(renderSystemdUnits(plan).map((f) => [f.name, f.content]))
    const usb = files.get('ownops-copy-usb.service') ?? ''
    const gdrive = files.get('ownops-copy-gdrive.service') ?? ''
    const backup = files.get('ownops-backup.service') ?? ''
    expect(usb).toContain(`ExecStart=${BIN} copy --to usb`)
    expect(usb).toContain('TimeoutStartSec=2h 10min')
    expect(usb).toContain('ReadWritePaths=-/mnt/usb/ownops')
    expect(usb).not.toContain('/etc/ownops/rclone')
    expect(usb).toContain('RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK')
    expect(usb).toContain('ProtectHome=read-only')
    expect(gdrive).toContain('ReadWritePaths=-/etc/ownops/rclone')
    expect(gdrive).not.toContain('/mnt/usb')
    // offsite has no schedule: the backup job copies to it, and may write its repository.
    expect(backup).toContain('ReadWritePaths=-/srv/restic')
    expect(backup).not.toContain('/mnt/usb')
    expect(files.get('ownops-copy-usb.timer')).toContain('OnCalendar=*-*-01 05:00:00')
    expect(files.has('ownops-copy-offsite.timer')).toBe(false)
    expect(renderCronD(plan).content).toMatch(/^0 5 1 \* \* root .*flock -n \S+copy-usb\.cron\.lock timeout 7800 \S+ copy --to usb/m)

    const dir = join(work.dir, 'units')
    mkdirSync(dir)
    for (const [name, content] of files) writeFileSync(join(dir, name), content)
    const verify = await run('systemd-analyze', [
      'verify',
      '--man=no',
      join(dir, 'ownops-copy-usb.service'),
      join(dir, 'ownops-copy-usb.timer'),
      join(dir, 'ownops-copy-gdrive.service'),
    ])
    expect(verify.stderr).toBe('')
    expect(verify.code).toBe(0)
    const security = await run('systemd-analyze', ['security', '--offline=yes', '--no-pager', join(dir, 'ownops-copy-gdrive.service')])
    const score = Number(/Overall exposure level for \S+: (\d+\.\d+)/.exec(security.stdout)?.[1])
    expect(score, security.stdout).toBeLessThanOrEqual(3.5)
  })
})

describe('doctor and destinations', () => {
  it('names a tool a destination needs and that is missing as a failure (69), and the others as optional', async () => {
    const { runCli, testEnv } = await import('../helpers/cli.js')
    const work = tempDir()
    try {
      writeFileSync(
        join(work.dir, 'ownops.yml'),
        'backup:\n  targets:\n    db: { type: postgres, container: db }\n  destinations:\n    offsite: { type: restic, repository: /srv/restic, password: x }\n',
      )
      // A PATH with node only: no restic, rclone or age.
      mkdirSync(join(work.dir, 'bin'))
      symlinkSync(process.execPath, join(work.dir, 'bin', 'node'))
      const r = await runCli(['--json', '-c', join(work.dir, 'ownops.yml'), 'doctor'], {
        env: testEnv(work.dir, { PATH: join(work.dir, 'bin'), DOCKER_HOST: 'unix:///nonexistent.sock' }),
        cwd: work.dir,
      })
      const checks = (JSON.parse(r.stdout) as { checks: Array<{ name: string; status: string; detail: string; exitCode?: number }> }).checks
      expect(checks.find((c) => c.name === 'tool restic')).toMatchObject({
        status: 'fail',
        detail: 'not found, and destination offsite needs it',
        exitCode: 69,
      })
      expect(checks.find((c) => c.name === 'tool rclone')).toMatchObject({ status: 'info' })
    } finally {
      work.cleanup()
    }
  })
})
