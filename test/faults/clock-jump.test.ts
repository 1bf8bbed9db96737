/**
 * Faults: the clock jumps years ahead for one backup and comes back. Retention counts back
 * from the newest backup, so that one future-dated backup would make every later backup
 * look old and prune it as soon as it was taken. Through the injected clock: backups on
 * two days, one in 2031, then more on the following days — retention refuses to prune (with
 * a warning notification) instead of removing anything, `cleanup` fails the backups rule
 * with the reason, monitor flags the future backup and judges the age on the real ones, and
 * once the future backup is moved away, retention runs again.
 */
import { mkdirSync, readdirSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli, tempDir, testEnv } from '../helpers/cli.js'
import { startHttpPeer, type HttpPeer } from '../helpers/http-peer.js'
import { backupLedger, expectNothingLost, faultsTried } from './helpers.js'

describe('faults: a clock jump', () => {
  let work: { dir: string; cleanup: () => void }
  let peer: HttpPeer
  const at = (iso: string) => () => new Date(iso)
  const cli = (args: string[], now: string) =>
    runCli(['--json', '-c', join(work.dir, 'ownops.yml'), ...args], { env: testEnv(work.dir), cwd: work.dir, clock: at(now) })
  const ids = () =>
    readdirSync(join(work.dir, 'backups', 'files'))
      .filter((n) => n.endsWith('.json'))
      .map((n) => n.replace(/\.json$/, ''))
      .sort()

  beforeAll(async () => {
    work = tempDir('ownops-fault-clock-')
    peer = await startHttpPeer()
    mkdirSync(join(work.dir, 'data'))
    writeFileSync(join(work.dir, 'data', 'state.txt'), 'the data')
    writeFileSync(
      join(work.dir, 'ownops.yml'),
      `backup:
  dir: ${join(work.dir, 'backups')}
  targets:
    files: { type: directory, path: ${join(work.dir, 'data')}, compression: gzip, keep: { within: 2d } }
monitor:
  builtins: false
  checks:
    backups: { kind: backup, maxAge: 26h }
notify:
  channels:
    hook: { url: "json://127.0.0.1:${peer.port}/hook", levels: [warning, error, critical] }
  retries: 0
`,
    )
  })

  afterAll(async () => {
    await peer?.close()
    work?.cleanup()
  })

  it('one backup dated in 2031 never makes retention remove a later backup', async (ctx) => {
    for (const day of ['2026-11-20T03:00:00Z', '2026-11-21T03:00:00Z']) expect((await cli(['backup'], day)).code).toBe(0)
    faultsTried(ctx)
    // Seen from 2031, the two real backups are older than `within: 2d` and go: that is the policy.
    expect((await cli(['backup'], '2031-05-01T03:00:00Z')).code).toBe(0)
    expect(ids()).toEqual(['files-20310501T030000Z'])
    const ledgers = [backupLedger(join(work.dir, 'backups'))]

    // Back to the right time: every run backs up and refuses to prune, so no new backup is lost.
    for (const day of ['2026-11-22T03:00:00Z', '2026-11-23T03:00:00Z', '2026-11-24T03:00:00Z']) {
      const sent = peer.requests.length
      const run = await cli(['backup'], day)
      expect(run.code, run.stderr).toBe(0)
      const report = JSON.parse(run.stdout) as { targets: Array<{ warnings: string[]; prune?: { removed: string[] } }> }
      expect(report.targets[0]?.prune?.removed).toEqual([])
      expect(report.targets[0]?.warnings.join('\n')).toMatch(
        /files-20310501T030000Z \(2031-05-01T03:00:00.000Z\) is dated in the future: the clock was wrong .* nothing was pruned/,
      )
      const alert = peer.requests
        .slice(sent)
        .map((r) => r.json as { level: string; title: string; body: string })
        .find((n) => n.level === 'warning')
      expect(alert?.body).toMatch(/dated in the future/)
      ledgers.push(backupLedger(join(work.dir, 'backups')))
    }
    expect(ids()).toHaveLength(4)
    const losses = () => [...new Set(ledgers.flatMap((l) => l.losses()))]
    expectNothingLost(ctx, losses())

    // cleanup refuses too, and says why.
    const cleanup = await cli(['cleanup'], '2026-11-24T04:00:00Z')
    expect(cleanup.code).toBe(1)
    const rule = (
      JSON.parse(cleanup.stdout) as { rules: Array<{ rule: string; ok: boolean; error?: string; actions: unknown[] }> }
    ).rules.find((r) => r.rule === 'backups')
    expect(rule).toMatchObject({ ok: false, actions: [], error: expect.stringMatching(/files: .* dated in the future/) })
    expect(ids()).toHaveLength(4)

    // backups lists it as what it is.
    const listed = await runCli(['-c', join(work.dir, 'ownops.yml'), 'backups'], {
      env: testEnv(work.dir),
      cwd: work.dir,
      clock: at('2026-11-24T04:00:00Z'),
    })
    expect(listed.stdout).toMatch(/files-20310501T030000Z .*in the future .*dated in the future: retention is suspended/)

    // monitor: the future backup is flagged; the age is that of the newest real backup.
    const monitor = await cli(['monitor'], '2026-11-24T05:00:00Z')
    const row = (
      JSON.parse(monitor.stdout) as { checks: Array<{ subject?: string; status: string; value: string; message: string }> }
    ).checks.find((r) => r.subject === 'files')
    expect(row).toMatchObject({
      status: 'warning',
      value: expect.stringMatching(/^newest 2h ago/),
      message: expect.stringMatching(/dated in the future \(2031-05-01T03:00:00.000Z\)/),
    })
    // Without a recent real backup, the age still counts: critical.
    const later = await cli(['monitor'], '2026-11-26T05:00:00Z')
    expect(
      (JSON.parse(later.stdout) as { checks: Array<{ subject?: string; status: string }> }).checks.find((r) => r.subject === 'files')
        ?.status,
    ).toBe('critical')
    expectNothingLost(ctx, losses())

    // The operator moves the future backup away: retention runs again, from the real newest backup.
    mkdirSync(join(work.dir, 'aside'))
    for (const name of readdirSync(join(work.dir, 'backups', 'files')).filter((n) => n.startsWith('files-20310501T030000Z')))
      renameSync(join(work.dir, 'backups', 'files', name), join(work.dir, 'aside', name))
    const resumed = await cli(['backup'], '2026-11-25T03:00:00Z')
    expect(resumed.code).toBe(0)
    expect((JSON.parse(resumed.stdout) as { targets: Array<{ prune?: { removed: string[] } }> }).targets[0]?.prune?.removed.sort()).toEqual(
      ['files-20261122T030000Z', 'files-20261123T030000Z'],
    )
    expect(ids()).toEqual(['files-20261124T030000Z', 'files-20261125T030000Z'])
  })
})
