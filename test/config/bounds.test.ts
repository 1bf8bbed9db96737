/**
 * What the runtime can honour, and exit codes that blame the environment, not ownops:
 * durations a timer cannot hold (Node fires a timer longer than 24.8 days at once) or
 * that no date can reach are config errors with file, line and key; a YAML alias bomb is
 * exit 78; an unreadable or misplaced backup directory is 77 or 78 — never 70.
 */
import { spawnSync } from 'node:child_process'
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { parseDuration, parseDurationValue } from '../../src/duration.js'
import { BIN, runCli, tempDir, testEnv } from '../helpers/cli.js'

let dir: string
let done: () => void
beforeEach(() => ({ dir, cleanup: done } = tempDir('ownops-bounds-')))
afterEach(() => done())

const validate = async (yaml: string) => {
  writeFileSync(join(dir, 'ownops.yml'), yaml)
  return runCli(['config', 'validate'], { env: testEnv(dir, { OWNOPS_LOG_FORMAT: 'text' }), cwd: dir })
}

describe('durations', () => {
  it('parseDuration: nothing longer than 100 years, nothing that is not finite', () => {
    expect(parseDuration('36500d')).toBe(36_500 * 86_400_000)
    expect(parseDuration('36501d')).toBeUndefined()
    expect(parseDuration('99999999999999999999d')).toBeUndefined()
    expect(parseDurationValue(Number.POSITIVE_INFINITY)).toBeUndefined()
    expect(parseDuration(`${'9'.repeat(400)}s`)).toBeUndefined()
  })

  it('a time limit longer than a timer can hold, and a span no date can reach, are config errors with their lines', async () => {
    const r = await validate(
      [
        'notify:', // 1
        '  timeout: 99999999999999999999d', // 2
        'monitor:', // 3
        '  timeout: 25d', // 4
        '  checks:', // 5
        '    api:', // 6
        '      kind: http', // 7
        '      url: http://127.0.0.1:1/', // 8
        '      timeout: 30d', // 9
        'cleanup:', // 10
        '  rules:', // 11
        '    old:', // 12
        '      type: files', // 13
        `      root: ${dir}/x`, // 14
        '      olderThan: 99999999999999999999d', // 15
        'restart:', // 16
        '  services:', // 17
        '    mc: { stopTimeout: .inf }', // 18
        '',
      ].join('\n'),
    )
    expect(r.code).toBe(78)
    expect(r.stdout + r.stderr).toMatch(/ownops\.yml:2 notify\.timeout: expected at most 24d: ownops waits this long with a timer/)
    expect(r.stdout + r.stderr).toMatch(/ownops\.yml:4 monitor\.timeout: expected at most 24d/)
    expect(r.stdout + r.stderr).toMatch(/ownops\.yml:9 monitor\.checks\.api\.timeout: expected at most 24d/)
    expect(r.stdout + r.stderr).toMatch(/ownops\.yml:15 cleanup\.rules\.old\.olderThan: expected at most 36500d \(100 years\)/)
    expect(r.stdout + r.stderr).toMatch(/ownops\.yml:18 restart\.services\.mc\.stopTimeout: .*got number Infinity/)
  })

  it('what the runtime can honour still validates: a 24-day time limit, a year of age', async () => {
    const r = await validate(
      `monitor:\n  timeout: 24d\n  deadline: 24d\ncleanup:\n  rules:\n    old: { type: files, root: ${dir}/x, olderThan: 365d }\n`,
    )
    expect(r.code, r.stdout + r.stderr).toBe(0)
  })

  it('flags: a pause or a restart delay no date can reach is a usage error', async () => {
    const env = testEnv(dir)
    expect((await runCli(['monitor', '--pause', '99999999999999999999d'], { env, cwd: dir })).code).toBe(2)
    const restart = await runCli(['restart', 'app', '--in', '99999999999999999999d', '--dry-run'], { env, cwd: dir })
    expect(restart.code, restart.stderr).toBe(2)
    expect(restart.stderr).toMatch(/--in: not a duration \(of at most 100 years\)/)
  })
})

describe('exit codes that blame the environment', () => {
  it('a YAML alias bomb is a config error (78), not a crash', async () => {
    const lines = ['a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for (let i = 1, prev = 'a'; i <= 9; prev = `l${i}`, i++) lines.push(`l${i}: &l${i} [${Array(9).fill(`*${prev}`).join(', ')}]`)
    const r = await validate(`${lines.join('\n')}\n`)
    expect(r.code).toBe(78)
    expect(r.stdout + r.stderr).toMatch(/ownops\.yml: YAML: Excessive alias count: the aliases \(\*name\) expand into too much data/)
    expect(r.stdout + r.stderr).not.toMatch(/internal error|bug in ownops/)
  })

  it('a backup directory that is a file is 78, naming it', async () => {
    writeFileSync(join(dir, 'file'), 'not a directory')
    writeFileSync(join(dir, 'ownops.yml'), `backup: { dir: ${dir}/file, targets: { db: { type: sqlite, path: ${dir}/x.db } } }\n`)
    for (const command of [['backups'], ['verify'], ['backup', '--dry-run']]) {
      const r = await runCli(command, { env: testEnv(dir, { OWNOPS_LOG_FORMAT: 'text' }), cwd: dir })
      expect(r.code, `${command.join(' ')}: ${r.stderr}`).toBe(78)
      expect(r.stderr).toMatch(new RegExp(`${dir}/file/db is not a directory`))
    }
  })

  it('a backup directory the user cannot read is 77 with the fix, for a user that is not root', async (ctx) => {
    if (process.getuid?.() !== 0) ctx.skip()
    mkdirSync(join(dir, 'private', 'db'), { recursive: true })
    chmodSync(join(dir, 'private'), 0o700)
    chmodSync(dir, 0o755)
    writeFileSync(join(dir, 'ownops.yml'), `backup: { dir: ${dir}/private, targets: { db: { type: sqlite, path: ${dir}/x.db } } }\n`)
    chmodSync(join(dir, 'ownops.yml'), 0o644)
    for (const command of [['backups'], ['verify']]) {
      const r = spawnSync(process.execPath, [BIN, '-c', join(dir, 'ownops.yml'), ...command], {
        uid: 65534,
        gid: 65534,
        env: testEnv('/tmp', {
          OWNOPS_LOG_FORMAT: 'text',
          OWNOPS_STATE_DIR: '/tmp/ownops-bounds-nobody/state',
          OWNOPS_LOCK_DIR: '/tmp/ownops-bounds-nobody/lock',
        }),
        encoding: 'utf8',
      })
      expect(r.status, `${command.join(' ')}: ${r.stderr}`).toBe(77)
      expect(r.stderr).toMatch(/cannot read the backup directory .*private\/db: permission denied/)
      expect(r.stderr).toMatch(/hint: run as root, or give this user read access to backup\.dir/)
    }
  })
})
