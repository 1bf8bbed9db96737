/**
 * `config validate` reports every problem at once where the document can still be understood:
 * a target (or check) with a misspelt type still has its other keys checked against the type
 * it is close to, and the cross-field rules (schedules, the jobs' commands, references) run on
 * the parts that parsed, while other parts are wrong.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runBin, runCli, tempDir, testEnv } from '../helpers/cli.js'

const CONFIG = `lock:
  wiat: 10m
backup:
  dir: /var/backups/ownops
  targets:
    db:
      type: postgress
      container: app-db
      databse: app
    files:
      type: directory
      path: /srv/files
cleanup:
  rules:
    logs: { type: logs, path: /srv/logs/*.log, compressAfter: 7d }
schedule:
  jobs:
    nightly: { command: [cleanup, nosuch], schedule: "0 25 * * *" }
    onefile: { command: [backup, files], schedule: "0 3 * * *" }
    dbonly: { command: [backup, db], schedule: "0 4 * * *" }
monitor:
  checks:
    api: { kind: htp, url: "http://127.0.0.1/", maxLatncy: 1s }
`

describe('config validate: every problem in one run', () => {
  let work: { dir: string; cleanup: () => void }
  beforeAll(() => {
    work = tempDir()
    writeFileSync(join(work.dir, 'ownops.yml'), CONFIG)
  })
  afterAll(() => work?.cleanup())

  it('reports the schema errors, the keys of a misspelt type and the rules of the parts that parsed together', async () => {
    const r = await runCli(['config', 'validate'], { env: testEnv(work.dir), cwd: work.dir })
    expect(r.code).toBe(78)
    const lines = r.stdout.trim().split('\n')
    expect(lines).toEqual([
      'ownops.yml:2 lock.wiat: unknown key (did you mean "wait"?)',
      'ownops.yml:7 backup.targets.db.type: expected one of postgres|mysql|mariadb|sqlite|directory, got "postgress" (did you mean "postgres"?)',
      'ownops.yml:9 backup.targets.db.databse: unknown key (did you mean "database"?)',
      'ownops.yml:18 schedule.jobs.nightly.schedule: hour "25" is out of range: 25 is not in 0-23 (midnight is 0)',
      'ownops.yml:18 schedule.jobs.nightly.command: job "nightly" runs cleanup rule "nosuch", which is not configured (rules: backups, logs)',
      expect.stringMatching(/^ownops\.yml:23 monitor\.checks\.api\.kind: expected one of [a-z|-]+, got "htp" \(did you mean "http"\?\)$/),
      'ownops.yml:23 monitor.checks.api.maxLatncy: unknown key (did you mean "maxLatency"?)',
      'ownops.yml: 7 errors',
    ])
    // The job that backs up the target whose type is wrong is not blamed for it.
    expect(r.stdout).not.toMatch(/dbonly/)
  })

  it('any other command still refuses the config with every problem (exit 78)', async () => {
    const r = await runBin(['-c', 'ownops.yml', 'backups'], { env: testEnv(work.dir), cwd: work.dir })
    expect(r.code).toBe(78)
    expect(r.stderr).toMatch(/databse: unknown key/)
    expect(r.stderr).toMatch(/runs cleanup rule \\+"nosuch/)
  })
})
