/**
 * The pieces `ownops status` stands on: peeking at a state file (no lock, nothing moved
 * aside), the job records' names and arguments (global options left out, secrets masked),
 * the JSON of `systemctl list-timers`, and the command's help and completion.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { buildProgram } from '../../src/cli.js'
import { completionSpec } from '../../src/completion/spec.js'
import { describeCommand } from '../../src/help/model.js'
import { jobRecordName } from '../../src/context.js'
import { withoutGlobalOptions } from '../../src/invoke.js'
import { StateStore } from '../../src/sys/state.js'
import { parseListTimers } from '../../src/sys/systemd.js'
import { runCli, tempDir, testEnv } from '../helpers/cli.js'

let dir: string
let cleanup: () => void
beforeEach(() => ({ dir, cleanup } = tempDir('ownops-status-parts-')))
afterEach(() => cleanup())

describe('StateStore.peek', () => {
  it('missing, valid, corrupt, not what is expected: the fallback and the problem; nothing moved aside', async () => {
    const store = new StateStore(join(dir, 'state'))
    expect(await store.peek('drills', {})).toEqual({ value: {}, found: false })
    mkdirSync(store.dir)
    writeFileSync(store.path('drills'), '{"db": {"ok": true}}')
    expect(await store.peek('drills', {})).toEqual({ value: { db: { ok: true } }, found: true })
    writeFileSync(store.path('monitor'), '{"version": 1, "checks": {')
    const corrupt = await store.peek('monitor', undefined)
    expect(corrupt).toMatchObject({ value: undefined, found: true, problem: expect.stringContaining('monitor.json is corrupt') })
    const wrong = await store.peek('drills', 'fallback', (v) => (Array.isArray(v) ? 'array' : undefined))
    expect(wrong.value).toBe('fallback')
    expect(readdirSync(store.dir).sort()).toEqual(['drills.json', 'monitor.json'])
  })
})

describe('job records', () => {
  it('the arguments without the global options', () => {
    expect(withoutGlobalOptions(['--config', '/etc/x.yml', 'backup', '--unscheduled'])).toEqual(['backup', '--unscheduled'])
    expect(withoutGlobalOptions(['-c', 'x.yml', '--json', '-q', 'copy', '--to', 'usb', '--log-level=debug'])).toEqual([
      'copy',
      '--to',
      'usb',
    ])
    expect(withoutGlobalOptions(['--log-level', 'info', '-v', '--no-color', '-cx.yml', 'monitor'])).toEqual(['monitor'])
    expect(withoutGlobalOptions(['lock', 'run', '--', 'tool', '--json', '-c', 'x'])).toEqual([
      'lock',
      'run',
      '--',
      'tool',
      '--json',
      '-c',
      'x',
    ])
  })

  it('one file per command line', () => {
    expect(jobRecordName(['backup'])).toBe('job-backup')
    expect(jobRecordName(['backup', '--unscheduled'])).toBe('job-backup-unscheduled')
    expect(jobRecordName(['restart', 'mc', '--safe', '--in', '30m'])).toBe('job-restart-mc-safe-in-30m')
    expect(jobRecordName(['lock', 'run', '--', '/usr/local/bin/prune.sh'])).toBe('job-lock-run-usr-local-bin-prune.sh')
    expect(jobRecordName([])).toBe('job-ownops')
    expect(jobRecordName(['x'.repeat(300)]).length).toBeLessThanOrEqual(124)
  })

  it('a job run leaves its record; a secret on its command line is masked in it and in its name', async () => {
    writeFileSync(join(dir, 'secret.env'), 'DB_PASSWORD=s3cr3t-pw\n')
    writeFileSync(
      join(dir, 'ownops.yml'),
      `envFile: ${join(dir, 'secret.env')}\nbackup:\n  targets:\n    db: { type: mysql, container: db, password: "\${DB_PASSWORD}" }\n`,
    )
    const env = testEnv(dir, { OWNOPS_CONFIG: join(dir, 'ownops.yml') })
    const run = await runCli(['lock', 'run', '--name', 'prune', '--', 'sh', '-c', 'echo s3cr3t-pw >/dev/null; exit 3'], {
      env,
      cwd: dir,
      clock: () => new Date('2026-03-01T03:00:00Z'),
    })
    expect(run.code).toBe(3)
    const files = readdirSync(join(dir, 'state')).filter((f) => f.startsWith('job-'))
    expect(files).toHaveLength(1)
    expect(files[0]).not.toContain('s3cr3t')
    const text = readFileSync(join(dir, 'state', files[0] as string), 'utf8')
    expect(text).not.toContain('s3cr3t-pw')
    expect(JSON.parse(text)).toMatchObject({ name: 'lock-run-prune', exitStatus: 3, ok: false, started: '2026-03-01T03:00:00.000Z' })
  })

  it('a read-only command leaves none', async () => {
    const env = testEnv(dir)
    expect((await runCli(['backups'], { env, cwd: dir })).code).toBe(0)
    expect((await runCli(['status'], { env, cwd: dir })).code).toBe(1)
    expect(existsSync(join(dir, 'state'))).toBe(false)
  })
})

describe('systemctl list-timers --output=json', () => {
  it('next and last elapse in microseconds; none is 0 or null; anything else: unknown', () => {
    const json = JSON.stringify([
      {
        next: 1772334000000000,
        left: 1,
        last: 1772247600123456,
        passed: 2,
        unit: 'ownops-backup.timer',
        activates: 'ownops-backup.service',
      },
      { next: null, left: null, last: 0, passed: null, unit: 'ownops-refresh.timer', activates: 'ownops-refresh.service' },
    ])
    expect(parseListTimers(json)).toEqual([
      {
        unit: 'ownops-backup.timer',
        activates: 'ownops-backup.service',
        next: new Date('2026-03-01T03:00:00.000Z'),
        last: new Date('2026-02-28T03:00:00.123Z'),
      },
      { unit: 'ownops-refresh.timer', activates: 'ownops-refresh.service', next: undefined, last: undefined },
    ])
    expect(parseListTimers('NEXT LEFT LAST PASSED UNIT ACTIVATES')).toBeUndefined()
    expect(parseListTimers('{}')).toBeUndefined()
  })
})

describe('the command', () => {
  it('help with examples and exit statuses; completion knows it and completes --root with directories', async () => {
    const help = await runCli(['status', '--help'], { env: testEnv(dir), cwd: dir })
    expect(help.code).toBe(0)
    expect(help.stdout).toContain('$ ownops status --json | jq .attention')
    expect(help.stdout).toMatch(/Exit status:\n\s+0\s+success\n\s+1\s+ran, but found problems/)
    const spec = completionSpec(describeCommand(buildProgram(async () => undefined)), '0')
    const status = spec.commands.find((c) => c.path === 'status')
    expect(status?.options.find((o) => o.long === '--root')?.values).toEqual({ type: 'dir' })
  })

  it('where systemd is said to run but does not answer: the installed files, computed', async () => {
    const env = testEnv(dir, { TZ: 'UTC' })
    expect((await runCli(['schedule', 'install', '--root', join(dir, 'root')], { env, cwd: dir })).code).toBe(0)
    const r = await runCli(['status', '--json', '--root', join(dir, 'root')], {
      env,
      cwd: dir,
      systemd: true,
      clock: () => new Date('2026-03-01T03:31:00Z'),
    })
    const report = JSON.parse(r.stdout) as { schedule: { systemd: boolean }; jobs: Array<{ job: string; next: string; nextFrom: string }> }
    expect(report.schedule.systemd).toBe(false)
    expect(report.jobs.find((j) => j.job === 'monitor')).toMatchObject({ next: '2026-03-01T03:35:00.000Z', nextFrom: 'timer unit' })
  })
})
