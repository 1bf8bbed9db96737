/** The backup and drill checks of monitor, over real manifests and the drills state file. */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { Readable } from 'node:stream'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Artifact, partialName } from '../../src/backup/artifact.js'
import { runCli, tempDir, testEnv } from '../helpers/cli.js'

let work: { dir: string; cleanup: () => void }
beforeEach(() => {
  work = tempDir()
})
afterEach(() => work.cleanup())

async function backupAt(target: string, time: string, size: number): Promise<void> {
  const id = `${target}-${time.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}`
  const a = await Artifact.create(join(work.dir, 'backups', target), id, 'pgdump')
  await pipeline(Readable.from([Buffer.alloc(size, 1)]), a.sink)
  await a.commit({
    target,
    type: 'postgres',
    time,
    durationMs: 1,
    compression: 'custom',
    ownopsVersion: '0',
    host: 'h',
    source: {},
    warnings: [],
  })
}

interface Row {
  check: string
  subject?: string
  status: string
  message: string
}

async function monitor(config: string, now: string): Promise<{ code: number; rows: Row[] }> {
  writeFileSync(join(work.dir, 'ownops.yml'), config)
  const r = await runCli(['--json', '-c', join(work.dir, 'ownops.yml'), 'monitor', 'backups', 'drills'], {
    env: testEnv(work.dir),
    cwd: work.dir,
    clock: () => new Date(now),
  })
  const report = JSON.parse(r.stdout) as { checks?: Row[]; observations?: Row[]; rows?: Row[] }
  return { code: r.code, rows: report.checks ?? report.observations ?? report.rows ?? [] }
}

const config = (dir: string) => `backup:
  dir: ${join(dir, 'backups')}
  targets:
    db: { type: postgres, container: db }
    files: { type: directory, path: /srv }
    new: { type: sqlite, path: /srv/x.db }
monitor:
  builtins: false
  checks:
    backups: { kind: backup, maxAge: 26h, warnAge: 25h }
    drills: { kind: drill, targets: [db, files], maxAge: 35d }
`

describe('monitor backup and drill checks', () => {
  it('judges the age and size of the newest valid backup, and the last successful drill', async () => {
    const now = new Date()
    const hoursAgo = (h: number) => new Date(now.getTime() - h * 3_600_000).toISOString()
    for (let d = 6; d >= 1; d--) await backupAt('db', hoursAgo(24 * d + 2), 1000)
    await backupAt('db', hoursAgo(2), 300) // under half the median: a broken dump
    await backupAt('files', hoursAgo(30), 1000) // too old
    mkdirSync(join(work.dir, 'backups', 'files'), { recursive: true })
    writeFileSync(join(work.dir, 'backups', 'files', partialName('files-x.tar.zst', 999_999_999)), 'x')
    mkdirSync(join(work.dir, 'state'), { recursive: true })
    writeFileSync(
      join(work.dir, 'state', 'drills.json'),
      JSON.stringify({
        db: { lastRun: hoursAgo(1), ok: false, problem: 'pg_restore failed', lastSuccess: hoursAgo(24 * 10) },
        files: { lastRun: hoursAgo(24 * 40), ok: true, lastSuccess: hoursAgo(24 * 40) },
      }),
    )
    const { code, rows } = await monitor(config(work.dir), now.toISOString())
    const by = (check: string, subject: string) => rows.find((r) => r.check === check && r.subject === subject)
    expect(by('backups', 'db')).toMatchObject({
      status: 'warning',
      message: expect.stringMatching(/under 50% of the median of the previous 5/),
    })
    expect(by('backups', 'files')).toMatchObject({
      status: 'critical',
      message: expect.stringMatching(/the newest backup is 1d6h old \(more than 26h\)/),
    })
    expect(by('backups', 'new')).toMatchObject({ status: 'critical', message: expect.stringMatching(/no valid backup/) })
    expect(by('drills', 'db')).toMatchObject({
      status: 'warning',
      message: expect.stringMatching(/the last restore drill failed: pg_restore failed/),
    })
    expect(by('drills', 'files')).toMatchObject({ status: 'critical', message: expect.stringMatching(/more than 35d/) })
    expect(code).toBe(1)
  })

  it('is ok when backups are fresh and drills recent', async () => {
    const now = new Date()
    for (let d = 3; d >= 0; d--) await backupAt('db', new Date(now.getTime() - (24 * d + 1) * 3_600_000).toISOString(), 1000)
    mkdirSync(join(work.dir, 'state'), { recursive: true })
    writeFileSync(
      join(work.dir, 'state', 'drills.json'),
      JSON.stringify({ db: { lastRun: now.toISOString(), ok: true, lastSuccess: now.toISOString() } }),
    )
    const { code, rows } = await monitor(
      config(work.dir)
        .replace('backups: { kind: backup, maxAge: 26h, warnAge: 25h }', 'backups: { kind: backup, targets: [db] }')
        .replace('targets: [db, files]', 'targets: [db]'),
      now.toISOString(),
    )
    expect(rows.filter((r) => r.check === 'backups' || r.check === 'drills').map((r) => r.status)).toEqual(['ok', 'ok'])
    expect(code).toBe(0)
  })
})
