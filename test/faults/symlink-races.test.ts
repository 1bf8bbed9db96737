/**
 * Faults: a hostile user who owns a directory that cleanup works in swaps things for
 * symlinks between cleanup's plan and its work. A preload (fixtures/fs-trap.mjs) makes the
 * swap at a given file-system call of the real ownops process, so each race is hit every
 * time: when cleanup first enters a directory on its way, when it first removes something,
 * when it checks a log file again before deleting it, when it is about to compress one.
 * Nothing outside the root may be removed or read, and no file may be created that is more
 * permissive than its source.
 */
import { constants, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import { chownSync } from 'node:fs'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { tempDir, testEnv } from '../helpers/cli.js'
import { expectNothingLost, faultsTried, needRoot, runOwnopsWithTrap, type Trap } from './helpers.js'

const DAY = 86_400_000
const NOBODY = 65534

function write(path: string, content: string, ageDays = 0): string {
  mkdirSync(join(path, '..'), { recursive: true })
  writeFileSync(path, content)
  if (ageDays > 0) {
    const t = new Date(Date.now() - ageDays * DAY)
    utimesSync(path, t, t)
  }
  return path
}

function old(path: string, ageDays: number): void {
  const t = new Date(Date.now() - ageDays * DAY)
  utimesSync(path, t, t)
}

interface Report {
  rules: Array<{
    rule: string
    ok: boolean
    error?: string
    warnings: string[]
    actions: Array<{ action: string; what: string; skipped?: string }>
  }>
}

describe('faults: symlink races against cleanup', () => {
  let work: { dir: string; cleanup: () => void }
  beforeEach(() => {
    work = tempDir('ownops-fault-race-')
  })
  afterEach(() => work.cleanup())
  const d = (...parts: string[]) => join(work.dir, ...parts)

  describe('files rule: a directory on the way is swapped for a symlink to the same layout outside', () => {
    const variants: Array<[string, Trap['when']]> = [
      // Before anything is removed: when cleanup enters the directory again (or, as it used to, removes through it).
      [
        'before the removal walks down to the entry',
        [
          { call: 'open', path: '/jobs', flags: constants.O_NOFOLLOW | constants.O_DIRECTORY },
          { call: 'rm', path: '/results/' },
        ],
      ],
      // While the removal runs: as the first file inside goes.
      [
        'in the middle of the removal',
        [
          { call: 'unlink', path: 'data.csv' },
          { call: 'rm', path: '/results/' },
        ],
      ],
    ]
    it.for(variants)('%s: nothing outside the root is touched', async ([, when], ctx) => {
      const root = d('results')
      write(d('results', 'jobs', 'job-1', 'data.csv'), 'old results', 100)
      old(d('results', 'jobs', 'job-1'), 100)
      write(d('results', 'jobs', 'fresh.txt'), 'new') // keeps jobs/ itself from going whole
      // The same layout outside the root: what the swapped link points at.
      write(d('decoy', 'job-1', 'precious.csv'), 'irreplaceable', 100)
      old(d('decoy', 'job-1'), 100)
      writeFileSync(
        d('ownops.yml'),
        `backup: { dir: ${d('backups')} }\ncleanup:\n  backups: false\n  rules:\n    results: { type: files, root: ${root}, match: "**", olderThan: 90d }\n`,
      )
      faultsTried(ctx)
      const run = await runOwnopsWithTrap(['--json', '-c', d('ownops.yml'), 'cleanup'], testEnv(work.dir), work.dir, {
        when,
        then: [{ rename: [d('results', 'jobs'), d('results', 'jobs-real')] }, { symlink: [d('decoy'), d('results', 'jobs')] }],
        mark: d('fired'),
      })
      expect(existsSync(d('fired')), run.stderr).toBe(true)
      expect(run.code, run.stderr).toBe(0)
      const losses =
        existsSync(d('decoy', 'job-1', 'precious.csv')) && readFileSync(d('decoy', 'job-1', 'precious.csv'), 'utf8') === 'irreplaceable'
          ? []
          : [`${d('decoy', 'job-1', 'precious.csv')}, outside the root, was removed`]
      expectNothingLost(ctx, losses)
      expect(lstatSync(d('results', 'jobs')).isSymbolicLink()).toBe(true)
      // The entry inside the root was removed (it moved to jobs-real with its directory), or left alone; never the one outside.
      const actions = (JSON.parse(run.stdout) as Report).rules[0]?.actions ?? []
      expect(actions.map((a) => a.what)).toEqual([`${d('results', 'jobs', 'job-1')}/`])
      expect(existsSync(d('results', 'jobs-real', 'fresh.txt'))).toBe(true)
    })
  })

  describe('logs rule, in a log directory that belongs to the service user', () => {
    it('a rotated log swapped for a symlink to a root-only file just before compression: nothing leaks', async (ctx) => {
      needRoot(ctx)
      const logs = d('logs')
      write(d('logs', 'app.log'), 'current\n')
      write(d('logs', 'app.log.1'), 'yesterday\n'.repeat(100), 8)
      chownSync(logs, NOBODY, NOBODY)
      for (const n of ['app.log', 'app.log.1']) chownSync(d('logs', n), NOBODY, NOBODY)
      statSync(d('logs', 'app.log.1'))
      const secret = write(d('secret.txt'), 'TOP SECRET root-only contents\n')
      chownSync(secret, 0, 0)
      ;(await import('node:fs')).chmodSync(secret, 0o600)
      writeFileSync(
        d('ownops.yml'),
        `cleanup:\n  backups: false\n  rules:\n    logs: { type: logs, path: ${logs}/*.log, compressAfter: 7d }\n`,
      )
      faultsTried(ctx)
      const run = await runOwnopsWithTrap(['--json', '-c', d('ownops.yml'), 'cleanup'], testEnv(work.dir), work.dir, {
        // The first look at app.log.1.gz opens the compression of app.log.1: swap it now.
        when: [{ call: 'lstat', path: 'app.log.1.gz' }],
        then: [{ unlink: d('logs', 'app.log.1') }, { symlink: [secret, d('logs', 'app.log.1')], owner: NOBODY }],
        mark: d('fired'),
      })
      expect(existsSync(d('fired')), run.stderr).toBe(true)
      expect(run.code, run.stderr).toBe(0)
      const leaks: string[] = []
      for (const name of readdirSync(logs)) {
        const path = join(logs, name)
        const s = lstatSync(path)
        if (s.isSymbolicLink()) continue
        const content = name.endsWith('.gz') ? gunzipSync(readFileSync(path)).toString() : readFileSync(path, 'utf8')
        if (content.includes('TOP SECRET'))
          leaks.push(`${name} holds the root-only file's contents (mode ${(s.mode & 0o777).toString(8)}, uid ${s.uid})`)
        if ((s.mode & 0o077 & ~0o044) !== 0) leaks.push(`${name} is mode ${(s.mode & 0o777).toString(8)}`)
      }
      expectNothingLost(ctx, leaks)
      expect(readFileSync(secret, 'utf8')).toBe('TOP SECRET root-only contents\n')
      expect(statSync(secret).mode & 0o777).toBe(0o600)
      const action = (JSON.parse(run.stdout) as Report).rules[0]?.actions[0]
      expect(action).toMatchObject({ action: 'compress', skipped: expect.stringMatching(/replaced by a symlink since the plan/) })
    })

    it('a directory of rotated logs swapped for a symlink just before an old log is deleted: the file outside stays', async (ctx) => {
      const logs = d('logs')
      write(d('logs', 'sub', 'app.log'), 'current\n')
      write(d('logs', 'sub', 'app.log.3'), 'old\n', 40)
      // Outside: a file of the same name and mtime (the user can set an mtime on a file of their own to match).
      write(d('elsewhere', 'app.log.3'), 'not a log of this service\n')
      utimesSync(d('elsewhere', 'app.log.3'), statSync(d('logs', 'sub', 'app.log.3')).atime, statSync(d('logs', 'sub', 'app.log.3')).mtime)
      writeFileSync(
        d('ownops.yml'),
        `cleanup:\n  backups: false\n  rules:\n    logs: { type: logs, path: "${logs}/**/*.log", deleteAfter: 30d }\n`,
      )
      faultsTried(ctx)
      const run = await runOwnopsWithTrap(['--json', '-c', d('ownops.yml'), 'cleanup'], testEnv(work.dir), work.dir, {
        // The listing looks at app.log.3 once; the second look is the check before the deletion.
        when: [{ call: 'lstat', path: 'app.log.3', nth: 2 }],
        then: [{ rename: [d('logs', 'sub'), d('logs', 'sub-real')] }, { symlink: [d('elsewhere'), d('logs', 'sub')] }],
        mark: d('fired'),
      })
      expect(existsSync(d('fired')), run.stderr).toBe(true)
      expect(run.code, run.stderr).toBe(0)
      expectNothingLost(
        ctx,
        existsSync(d('elsewhere', 'app.log.3')) ? [] : [`${d('elsewhere', 'app.log.3')}, outside the log directory, was deleted`],
      )
    })
  })
})
