/**
 * Relative host paths are config errors: timers and cron run ownops from /, so `path:
 * data/jobs.db` would mean /data/jobs.db at 3 a.m. and a relative lock.dir would be created in
 * the root filesystem. Every key that names a path on the host is checked, with its line.
 */
import { randomBytes } from 'node:crypto'
import { existsSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runBin, runCli, tempDir, testEnv } from '../helpers/cli.js'

describe('relative host paths', () => {
  let work: { dir: string; cleanup: () => void }
  beforeAll(() => {
    work = tempDir()
  })
  afterAll(() => work?.cleanup())

  it('config validate names each relative host path with its line (exit 78)', async () => {
    writeFileSync(
      join(work.dir, 'ownops.yml'),
      `stateDir: state
lock:
  dir: lock-rel
backup:
  dir: backups
  prometheus: metrics/ownops_backup.prom
  targets:
    jobs: { type: sqlite, path: data/jobs.db }
    files: { type: directory, path: ./files }
    world: { type: directory, volume: mc-data, path: world }
    incontainer: { type: sqlite, container: jobmanager, path: /app/data/jobs.db }
  destinations:
    offsite: { type: restic, repository: /srv/restic, passwordFile: restic.pw }
monitor:
  checks:
    jobsdb: { kind: sqlite, path: jobs.db }
    api: { kind: http, url: "https://127.0.0.1/", tls: { ca: ca.pem } }
  prometheus: { textfile: ownops.prom }
schedule:
  jobs:
    report: { command: [monitor, api], schedule: "0 * * * *", readWritePaths: [out] }
`,
    )
    const r = await runCli(['config', 'validate'], { env: testEnv(work.dir), cwd: work.dir })
    expect(r.code, r.stdout).toBe(78)
    const lines = r.stdout.trim().split('\n')
    const relative = lines.filter((l) => /is a relative path/.test(l))
    expect(relative.map((l) => l.replace(/ is a relative path.*/, ''))).toEqual([
      'ownops.yml:1 stateDir: "state"',
      'ownops.yml:3 lock.dir: "lock-rel"',
      'ownops.yml:5 backup.dir: "backups"',
      'ownops.yml:6 backup.prometheus: "metrics/ownops_backup.prom"',
      'ownops.yml:8 backup.targets.jobs.path: "data/jobs.db"',
      'ownops.yml:9 backup.targets.files.path: "./files"',
      'ownops.yml:13 backup.destinations.offsite.passwordFile: "restic.pw"',
      'ownops.yml:16 monitor.checks.jobsdb.path: "jobs.db"',
      'ownops.yml:17 monitor.checks.api.tls.ca: "ca.pem"',
      'ownops.yml:18 monitor.prometheus.textfile: "ownops.prom"',
    ])
    expect(lines).toContain('ownops.yml:21 schedule.jobs.report.readWritePaths[0]: "out" is not an absolute path')
    expect(relative[4]).toContain('scheduled runs (systemd timers, cron) start in /, where it means /data/jobs.db')
    expect(lines.at(-1)).toBe(`ownops.yml: ${relative.length + 1} errors`)
  })

  it('a relative lock.dir stops every command before anything is created, also from /', async () => {
    const name = `ownops-lock-rel-${randomBytes(4).toString('hex')}`
    writeFileSync(
      join(work.dir, 'rel.yml'),
      `lock:\n  dir: ${name}\nbackup:\n  dir: ${join(work.dir, 'b')}\n  targets:\n    f: { type: directory, path: ${work.dir}/nothing-here }\n`,
    )
    const env = testEnv(work.dir)
    delete env.OWNOPS_LOCK_DIR
    try {
      const r = await runBin(['-c', join(work.dir, 'rel.yml'), 'lock', 'run', '--', 'true'], { env, cwd: '/' })
      expect(r.code, r.stderr).toBe(78)
      expect(r.stderr).toMatch(/lock\.dir: .*is a relative path/)
      expect(existsSync(join('/', name))).toBe(false)
      expect(r.stderr).not.toMatch(/internal error/)
    } finally {
      rmSync(join('/', name), { recursive: true, force: true })
    }
  })
})
