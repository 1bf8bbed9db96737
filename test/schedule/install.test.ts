/**
 * `schedule install` and `schedule remove` against a --root directory, with the real
 * systemctl enabling units offline there (`systemctl --root=DIR`).
 */
import { execFile } from 'node:child_process'
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { unifiedDiff } from '../../src/schedule/diff.js'
import { runCli, tempDir, testEnv } from '../helpers/cli.js'

let dir: string
let cleanup: () => void
let root: string
let units: string
beforeEach(() => {
  ;({ dir, cleanup } = tempDir('ownops-test-install-'))
  root = join(dir, 'root')
  units = join(root, 'etc/systemd/system')
})
afterEach(() => cleanup())

const CONFIG = (extra = '') => `
stateDir: /var/lib/ownops
backup:
  dir: /var/backups/ownops
  targets:
    db: { type: postgres, container: app-db }
schedule:
  bin: /usr/local/bin/ownops
  jobs:
    refresh: { command: [restart, app, --safe], schedule: "0 3 * * *", persistent: true }
    at-boot: { command: [monitor], schedule: "@reboot" }
${extra}`

function config(text: string): string {
  writeFileSync(join(dir, 'ownops.yml'), text)
  return join(dir, 'ownops.yml')
}

const cli = (args: string[]) => runCli(['-c', join(dir, 'ownops.yml'), ...args], { env: testEnv(dir), cwd: dir })

/** Everything under a directory: path → file text, or "-> target" for symlinks. */
function snapshot(base: string): Record<string, string> {
  const out: Record<string, string> = {}
  if (!existsSync(base)) return out
  const walk = (rel: string) => {
    for (const name of readdirSync(join(base, rel))) {
      const path = join(rel, name)
      const st = lstatSync(join(base, path))
      if (st.isSymbolicLink()) out[path] = `-> ${readlinkSync(join(base, path))}`
      else if (st.isDirectory()) walk(path)
      else out[path] = `${readFileSync(join(base, path), 'utf8')}@${st.mtimeMs}`
    }
  }
  walk('')
  return out
}

const HAND_WRITTEN = '[Unit]\nDescription=my own unit, not ownops\n\n[Service]\nExecStart=/bin/true\n'

describe('schedule install --systemd', () => {
  it('writes the units, creates the writable directories, enables the timers offline; a second run changes nothing', async () => {
    config(CONFIG())
    mkdirSync(units, { recursive: true })
    writeFileSync(join(units, 'ownops-custom.service'), HAND_WRITTEN)
    const first = await cli(['--json', 'schedule', 'install', '--root', root])
    expect(first.code, first.stderr).toBe(0)
    const report = JSON.parse(first.stdout)
    expect(report.changes.map((c: { action: string; name: string }) => `${c.action} ${c.name}`)).toEqual([
      'create ownops-at-boot.service',
      'create ownops-at-boot.timer',
      'create ownops-backup.service',
      'create ownops-backup.timer',
      'create ownops-cleanup.service',
      'create ownops-cleanup.timer',
      'create ownops-monitor.service',
      'create ownops-monitor.timer',
      'create ownops-refresh.service',
      'create ownops-refresh.timer',
      'create ownops-notify@.service',
    ])
    expect(report.commands).toEqual([
      expect.objectContaining({
        command: `systemctl --root=${root} enable ownops-backup.timer ownops-cleanup.timer ownops-monitor.timer ownops-refresh.timer ownops-at-boot.timer`,
        ok: true,
      }),
    ])
    expect(report.notes).toContain(`enabled offline under ${root}: nothing was started`)
    expect(report.createdDirs).toEqual([join(root, 'var/backups/ownops'), join(root, 'var/lib/ownops')])
    expect(statSync(join(root, 'var/backups/ownops')).mode & 0o777).toBe(0o700)
    // systemctl made the [Install] symlinks.
    expect(readlinkSync(join(units, 'timers.target.wants/ownops-backup.timer'))).toBe('/etc/systemd/system/ownops-backup.timer')
    expect(readdirSync(join(units, 'timers.target.wants')).sort()).toEqual([
      'ownops-at-boot.timer',
      'ownops-backup.timer',
      'ownops-cleanup.timer',
      'ownops-monitor.timer',
      'ownops-refresh.timer',
    ])
    expect(statSync(join(units, 'ownops-backup.service')).mode & 0o777).toBe(0o644)
    expect(readFileSync(join(units, 'ownops-refresh.timer'), 'utf8')).toContain(
      'OnCalendar=*-*-* 03:00:00\nAccuracySec=1min\nPersistent=true\n',
    )
    expect(readFileSync(join(units, 'ownops-custom.service'), 'utf8')).toBe(HAND_WRITTEN)
    // The bin does not exist under the root: a warning, not a failure.
    expect(first.stderr).toContain('schedule.bin')

    const before = snapshot(root)
    const second = await cli(['--json', 'schedule', 'install', '--root', root])
    expect(second.code).toBe(0)
    expect(JSON.parse(second.stdout).changes.every((c: { action: string }) => c.action === 'unchanged')).toBe(true)
    expect(snapshot(root)).toEqual(before)
  })

  it('removes the units of jobs no longer configured and updates changed ones, leaving other files alone', async () => {
    config(CONFIG())
    expect((await cli(['schedule', 'install', '--root', root])).code).toBe(0)
    writeFileSync(join(units, 'ownops-custom.service'), HAND_WRITTEN)
    const custom = statSync(join(units, 'ownops-custom.service')).mtimeMs

    // refresh is gone, monitor runs hourly.
    config(
      CONFIG().replace(
        '    refresh: { command: [restart, app, --safe], schedule: "0 3 * * *", persistent: true }\n',
        '    monitor: { schedule: "0 * * * *" }\n',
      ),
    )
    const result = await cli(['schedule', 'install', '--root', root])
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout).toMatch(/^update +\S+ownops-monitor\.timer$/m)
    expect(result.stdout).toMatch(/^delete +\S+ownops-refresh\.service$/m)
    expect(result.stdout).toMatch(/^delete +\S+ownops-refresh\.timer$/m)
    expect(result.stdout).toMatch(/^unchanged +\S+ownops-backup\.service$/m)
    expect(result.stdout).toContain(`ran: systemctl --root=${root} disable ownops-refresh.timer`)
    expect(existsSync(join(units, 'ownops-refresh.timer'))).toBe(false)
    expect(existsSync(join(units, 'timers.target.wants/ownops-refresh.timer'))).toBe(false)
    expect(readFileSync(join(units, 'ownops-monitor.timer'), 'utf8')).toContain('OnCalendar=*-*-* *:00:00\n')
    expect(readFileSync(join(units, 'ownops-custom.service'), 'utf8')).toBe(HAND_WRITTEN)
    expect(statSync(join(units, 'ownops-custom.service')).mtimeMs).toBe(custom)
  })

  it('stops before changing anything when a file of the same name was not generated by ownops', async () => {
    config(CONFIG())
    mkdirSync(units, { recursive: true })
    writeFileSync(join(units, 'ownops-monitor.service'), HAND_WRITTEN)
    const before = snapshot(root)
    const result = await runCli(['-c', join(dir, 'ownops.yml'), 'schedule', 'install', '--root', root], {
      env: testEnv(dir, { OWNOPS_LOG_FORMAT: 'text' }),
      cwd: dir,
    })
    expect(result.code).toBe(1)
    expect(result.stderr).toContain(`a file in the way that ownops did not generate: ${join(units, 'ownops-monitor.service')}`)
    expect(result.stderr).toContain('nothing was changed')
    expect(snapshot(root)).toEqual(before)
  })

  it('--dry-run prints a unified diff and the systemctl commands, and changes nothing', async () => {
    config(CONFIG())
    expect((await cli(['schedule', 'install', '--root', root])).code).toBe(0)
    config(CONFIG().replace('"0 3 * * *", persistent', '"30 3 * * *", persistent'))
    const before = snapshot(root)
    const result = await cli(['schedule', 'install', '--root', root, '--dry-run'])
    expect(result.code).toBe(0)
    expect(snapshot(root)).toEqual(before)
    const path = `${units.slice(1)}/ownops-refresh.timer`
    const old = readFileSync(join(units, 'ownops-refresh.timer'), 'utf8')
    expect(result.stdout).toContain(unifiedDiff(old, old.replaceAll('0 3 * * *', '30 3 * * *').replace('03:00:00', '03:30:00'), path))
    expect(result.stdout).toContain(`--- a/${path}\n+++ b/${path}\n`)
    expect(result.stdout).toContain('-OnCalendar=*-*-* 03:00:00\n+OnCalendar=*-*-* 03:30:00\n')
    expect(result.stdout).toContain(`would run: systemctl --root=${root} enable ownops-backup.timer`)
    expect(result.stdout).toContain('(dry run: nothing was changed)')
    expect(result.stdout).not.toContain('ownops-backup.service')
  })
})

describe('schedule remove', () => {
  it('disables and deletes only generated files, --dry-run first', async () => {
    config(CONFIG())
    expect((await cli(['schedule', 'install', '--root', root])).code).toBe(0)
    expect((await cli(['schedule', 'install', '--cron', '--root', root])).code).toBe(0)
    writeFileSync(join(units, 'ownops-custom.service'), HAND_WRITTEN)
    writeFileSync(join(root, 'etc/cron.d/other'), '0 1 * * * root /bin/true\n')

    const before = snapshot(root)
    const dry = await cli(['schedule', 'remove', '--root', root, '--dry-run'])
    expect(dry.code).toBe(0)
    expect(snapshot(root)).toEqual(before)
    expect(dry.stdout).toContain(`--- a/${units.slice(1)}/ownops-backup.service\n+++ /dev/null\n`)
    expect(dry.stdout).toContain(`--- a/${root.slice(1)}/etc/cron.d/ownops\n+++ /dev/null\n`)
    expect(dry.stdout).toContain('left alone (not generated by ownops): ownops-custom.service')

    const result = await cli(['--json', 'schedule', 'remove', '--root', root])
    expect(result.code, result.stderr).toBe(0)
    const left = Object.keys(snapshot(root)).sort()
    expect(left).toEqual(['etc/cron.d/other', 'etc/systemd/system/ownops-custom.service'])
    const report = JSON.parse(result.stdout)
    expect(report.removed.map((r: { backend: string }) => r.backend)).toEqual(['systemd', 'cron'])
    expect(report.removed[0].commands[0].command).toBe(
      `systemctl --root=${root} disable ownops-at-boot.timer ownops-backup.timer ownops-cleanup.timer ownops-monitor.timer ownops-refresh.timer`,
    )
  })
})

describe('schedule install --cron', () => {
  it('writes /etc/cron.d/ownops as generate --cron prints it, idempotently, and warns about timers installed too', async () => {
    config(CONFIG().replace('    at-boot: { command: [monitor], schedule: "@reboot" }\n', ''))
    const generated = await cli(['schedule', 'generate', '--cron'])
    expect(generated.code).toBe(0)
    expect(generated.stdout.startsWith('# ==> ownops <==\n')).toBe(true)
    const first = await cli(['schedule', 'install', '--cron', '--root', root])
    expect(first.code, first.stderr).toBe(0)
    const file = join(root, 'etc/cron.d/ownops')
    expect(readFileSync(file, 'utf8')).toBe(generated.stdout.replace('# ==> ownops <==\n', ''))
    expect(statSync(file).mode & 0o777).toBe(0o644)
    expect(first.stdout).toContain('cron reads the new file within a minute')
    const mtime = statSync(file).mtimeMs
    const second = await cli(['--json', 'schedule', 'install', '--cron', '--root', root])
    expect(JSON.parse(second.stdout).changes).toEqual([{ action: 'unchanged', name: 'ownops' }])
    expect(statSync(file).mtimeMs).toBe(mtime)

    expect((await cli(['schedule', 'install', '--root', root])).stderr).toContain('is installed too: its jobs would run twice')
  })

  it('refuses a hand-written /etc/cron.d/ownops, and a job with a time zone (78)', async () => {
    config(CONFIG())
    mkdirSync(join(root, 'etc/cron.d'), { recursive: true })
    writeFileSync(join(root, 'etc/cron.d/ownops'), '0 3 * * * root /usr/local/bin/backup.sh\n')
    const conflict = await cli(['schedule', 'install', '--cron', '--root', root])
    expect(conflict.code).toBe(1)
    expect(readFileSync(join(root, 'etc/cron.d/ownops'), 'utf8')).toBe('0 3 * * * root /usr/local/bin/backup.sh\n')

    config(`${CONFIG().replace('schedule:\n', 'schedule:\n  timezone: Europe/Berlin\n')}`)
    const zoned = await runCli(['-c', join(dir, 'ownops.yml'), 'schedule', 'generate', '--cron'], {
      env: testEnv(dir, { OWNOPS_LOG_FORMAT: 'text' }),
      cwd: dir,
    })
    expect(zoned.code).toBe(78)
    expect(zoned.stderr).toContain('error: cron.d cannot run a job in a time zone of its own')
    expect(zoned.stderr).toContain('schedule.timezone: Europe/Berlin (jobs at-boot, backup, cleanup, monitor, refresh)')
    expect(zoned.stdout).toBe('')
  })
})

describe('unified diff', () => {
  const diffU = (a: string, b: string): Promise<string> => {
    writeFileSync(join(dir, 'a'), a)
    writeFileSync(join(dir, 'b'), b)
    return new Promise((done) =>
      execFile('diff', ['-u', '--label', 'a/f', '--label', 'b/f', join(dir, 'a'), join(dir, 'b')], (_e, stdout) => done(stdout)),
    )
  }
  const lines = (n: number, f: (i: number) => string = (i) => `line ${i}`) => Array.from({ length: n }, (_, i) => `${f(i)}\n`).join('')

  it.each([
    ['one change in the middle', lines(20), lines(20, (i) => (i === 10 ? 'changed' : `line ${i}`))],
    ['changes far apart make two hunks', lines(30), lines(30, (i) => (i === 2 || i === 25 ? `x${i}` : `line ${i}`))],
    ['changes close together make one hunk', lines(30), lines(30, (i) => (i === 10 || i === 15 ? `x${i}` : `line ${i}`))],
    ['lines added at the end', lines(5), lines(8)],
    ['lines removed at the start', lines(8), lines(8).split('\n').slice(3).join('\n')],
    ['everything replaced', lines(4), lines(3, (i) => `other ${i}`)],
  ])('%s: same as diff -u', async (_name, a, b) => {
    expect(unifiedDiff(a, b, 'f')).toBe(await diffU(a, b))
  })

  it('new and deleted files diff against /dev/null; equal files give nothing', () => {
    expect(unifiedDiff(undefined, 'a\nb\n', 'x')).toBe('--- /dev/null\n+++ b/x\n@@ -0,0 +1,2 @@\n+a\n+b\n')
    expect(unifiedDiff('a\n', undefined, 'x')).toBe('--- a/x\n+++ /dev/null\n@@ -1,1 +0,0 @@\n-a\n')
    expect(unifiedDiff('a\n', 'a\n', 'x')).toBe('')
  })
})
