/**
 * Cleanup against a real Docker engine and a real PostgreSQL server: batched deletes
 * through the container's psql, restore leftovers dropped by age, and Docker leftovers
 * (dangling images, stopped containers, named volumes) chosen by label only — other tests
 * share the engine, so nothing here may touch what it did not make.
 */
import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { timestampId } from '../../src/backup/artifact.js'
import { runCli, tempDir, testEnv } from '../helpers/cli.js'
import {
  cleanupAll,
  createVolume,
  describeDocker,
  execOk,
  getDocker,
  runContainer,
  startMariadb,
  startPostgres,
  uniqueName,
  waitForExit,
  type MariadbContainer,
  type PostgresContainer,
} from '../helpers/docker.js'

const PSQL = ['psql', '-U', 'postgres', '-h', '/var/run/postgresql', '-v', 'ON_ERROR_STOP=1', '-At']
const DAY = 86_400_000

interface Report {
  ok: boolean
  rows: number
  freed: number
  rules: Array<{
    rule: string
    ok: boolean
    error?: string
    rows?: number
    engineReclaimed?: number
    actions: Array<{ action: string; what: string; reason: string; bytes: number; skipped?: string }>
  }>
}

describeDocker('cleanup: PostgreSQL rows and restore leftovers', () => {
  let pg: PostgresContainer
  let dir: string
  let done: () => void
  const sql = (q: string, db = 'cam') => execOk(pg.container, [...PSQL, '-d', db, '-c', q]).then((s) => s.trim())

  beforeAll(async () => {
    ;({ dir, cleanup: done } = tempDir('ownops-cleanup-pg-'))
    pg = await startPostgres({ name: uniqueName('cl-pg') })
    await sql('create database cam', 'postgres')
    await sql(`create table frames (id bigserial primary key, detected int not null, captured_at timestamptz not null, payload text);
      insert into frames (detected, captured_at, payload) select 0, now() - interval '20 days' - (i || ' seconds')::interval, md5(i::text) from generate_series(1, 25000) i;
      insert into frames (detected, captured_at, payload) select 1, now() - interval '30 days', 'kept: detected' from generate_series(1, 50) i;
      insert into frames (detected, captured_at, payload) select i % 2, now() - interval '1 day', md5(i::text) from generate_series(1, 5000) i;`)
    writeFileSync(
      join(dir, 'ownops.yml'),
      [
        'backup:',
        `  dir: ${dir}/backups`,
        '  targets:',
        `    cam: { type: postgres, container: ${pg.container}, database: cam, user: postgres }`,
        'cleanup:',
        '  rules:',
        '    rows:',
        '      type: sql',
        '      target: cam',
        '      table: public.frames',
        `      where: "detected = 0 AND captured_at < now() - interval '14 days'"`,
        '      batch: 10000',
        '      vacuum: true',
        '      analyze: true',
      ].join('\n'),
    )
  }, 120_000)

  afterAll(async () => {
    await pg?.remove()
    await cleanupAll()
    done?.()
  })

  it('25,000 old rows and 5,000 new: the dry run counts them, the real run deletes exactly the old ones in 3 batches', async () => {
    const env = testEnv(dir)
    const dry = await runCli(['--json', 'cleanup', 'rows', '--dry-run'], { env, cwd: dir })
    expect(dry.code).toBe(0)
    expect((JSON.parse(dry.stdout) as Report).rows).toBe(25_000)
    expect(await sql('select count(*) from frames')).toBe('30050')

    const real = await runCli(['--json', 'cleanup', 'rows'], { env, cwd: dir })
    expect(real.code, real.stderr).toBe(0)
    const report = JSON.parse(real.stdout) as Report
    expect(report.rows).toBe(25_000)
    expect(report.rules[0]?.actions[0]?.reason).toMatch(/25000 rows in 3 batches of 10000/)
    expect(
      await sql(
        `select count(*), count(*) filter (where captured_at < now() - interval '14 days'), count(*) filter (where detected = 1) from frames`,
      ),
    ).toBe('5050|50|2550')
    // VACUUM (ANALYZE) ran: the statistics know the table's new size.
    expect(await sql("select n_live_tup from pg_stat_user_tables where relname = 'frames'")).toBe('5050')
    const again = JSON.parse((await runCli(['--json', 'cleanup', 'rows'], { env, cwd: dir })).stdout) as Report
    expect(again.rows).toBe(0)
  })

  it('a partitioned table needs a key: said before anything is deleted', async () => {
    await sql(`create table events (id bigint, at timestamptz) partition by range (at);
      create table events_old partition of events for values from ('2000-01-01') to ('2026-01-01');
      create table events_new partition of events for values from ('2026-01-01') to ('2100-01-01');
      insert into events select i, '2020-01-01' from generate_series(1, 100) i;`)
    writeFileSync(
      join(dir, 'events.yml'),
      `backup:\n  dir: ${dir}/backups\n  targets:\n    cam: { type: postgres, container: ${pg.container}, database: cam, user: postgres }\ncleanup:\n  backups: false\n  rules:\n    events: { type: sql, target: cam, table: events, where: "at < '2021-01-01'" }\n`,
    )
    const r = await runCli(['--json', '-c', join(dir, 'events.yml'), 'cleanup'], { env: testEnv(dir), cwd: dir })
    expect(r.code).toBe(1)
    expect((JSON.parse(r.stdout) as Report).rules[0]?.error).toMatch(
      /events is partitioned or has child tables: batches need a unique column/,
    )
    expect(await sql('select count(*) from events')).toBe('100')
    writeFileSync(
      join(dir, 'events.yml'),
      `backup:\n  dir: ${dir}/backups\n  targets:\n    cam: { type: postgres, container: ${pg.container}, database: cam, user: postgres }\ncleanup:\n  backups: false\n  rules:\n    events: { type: sql, target: cam, table: events, key: id, batch: 30, where: "at < '2021-01-01'" }\n`,
    )
    const ok = await runCli(['--json', '-c', join(dir, 'events.yml'), 'cleanup'], { env: testEnv(dir), cwd: dir })
    expect(ok.code, ok.stderr).toBe(0)
    expect((JSON.parse(ok.stdout) as Report).rows).toBe(100)
    expect(await sql('select count(*) from events')).toBe('0')
  })

  it('drops databases a restore replaced once restore.keepOld has passed; fresh ones and other databases stay', async () => {
    const old = timestampId(new Date(Date.now() - 10 * DAY))
    const fresh = timestampId(new Date(Date.now() - 1 * DAY))
    for (const db of [`cam__pre_restore_${old}`, `cam__undone_${old}`, `cam__pre_restore_${fresh}`, `other__pre_restore_${old}`])
      await sql(`create database "${db}"`, 'postgres')
    const r = await runCli(['--json', 'cleanup', 'backups'], { env: testEnv(dir), cwd: dir })
    expect(r.code, r.stderr).toBe(0)
    const actions = (JSON.parse(r.stdout) as Report).rules[0]?.actions ?? []
    expect(actions.map((a) => [a.action, a.what]).sort()).toEqual([
      ['drop-database', `database cam__pre_restore_${old} in ${pg.container}`],
      ['drop-database', `database cam__undone_${old} in ${pg.container}`],
    ])
    expect(actions.every((a) => a.bytes > 1_000_000)).toBe(true) // pg_database_size of an empty database is some MB
    const left = await sql(
      "select datname from pg_database where datname like '%restore%' or datname like '%undone%' order by 1",
      'postgres',
    )
    expect(left.split('\n')).toEqual([`cam__pre_restore_${fresh}`, `other__pre_restore_${old}`])
  })
})

describeDocker('cleanup: MariaDB rows', () => {
  let db: MariadbContainer
  let dir: string
  let done: () => void
  afterAll(async () => {
    await db?.remove()
    await cleanupAll()
    done?.()
  })

  it("deletes old rows with DELETE … LIMIT through the container's client, the password only in its environment", async () => {
    ;({ dir, cleanup: done } = tempDir('ownops-cleanup-maria-'))
    db = await startMariadb({ name: uniqueName('cl-maria') })
    const sql = (q: string) =>
      execOk(db.container, ['mariadb', '-uroot', `-p${db.rootPassword}`, '-N', '-B', '-e', q]).then((s) => s.trim())
    await sql(`CREATE DATABASE cam; USE cam; CREATE TABLE cam.frames (id BIGINT AUTO_INCREMENT PRIMARY KEY, detected INT, captured_at DATETIME, payload TEXT) ENGINE=InnoDB;
      INSERT INTO cam.frames (detected, captured_at, payload) SELECT 0, NOW() - INTERVAL 20 DAY, MD5(seq) FROM seq_1_to_25000;
      INSERT INTO cam.frames (detected, captured_at, payload) SELECT 0, NOW() - INTERVAL 1 DAY, MD5(seq) FROM seq_1_to_5000;`)
    writeFileSync(
      join(dir, 'ownops.yml'),
      `backup:\n  dir: ${dir}/backups\n  targets:\n    cam: { type: mariadb, container: ${db.container}, database: cam }\ncleanup:\n  backups: false\n  rules:\n    rows: { type: sql, target: cam, table: frames, where: "captured_at < NOW() - INTERVAL 14 DAY", batch: 10000, analyze: true }\n`,
    )
    const dry = JSON.parse((await runCli(['--json', 'cleanup', '--dry-run'], { env: testEnv(dir), cwd: dir })).stdout) as Report
    expect(dry.rows).toBe(25_000)
    const real = await runCli(['--json', 'cleanup'], { env: testEnv(dir), cwd: dir })
    expect(real.code, real.stderr).toBe(0)
    const report = JSON.parse(real.stdout) as Report
    expect(report.rows).toBe(25_000)
    expect(report.rules[0]?.actions[0]?.reason).toMatch(/25000 rows in 3 batches of 10000/)
    expect(await sql('SELECT COUNT(*), MIN(captured_at) > NOW() - INTERVAL 14 DAY FROM cam.frames')).toBe('5000\t1')
    expect(real.stderr + real.stdout).not.toContain(db.rootPassword)
  }, 180_000)
})

describeDocker('cleanup: Docker leftovers', () => {
  let dir: string
  let done: () => void
  const mark = `ownops-test.cleanup=${randomBytes(4).toString('hex')}`
  const [markKey, markValue] = mark.split('=') as [string, string]
  const images: string[] = []

  beforeAll(() => {
    ;({ dir, cleanup: done } = tempDir('ownops-cleanup-docker-'))
  })

  afterAll(async () => {
    for (const id of images)
      await getDocker()
        .getImage(id)
        .remove({ force: true })
        .catch(() => undefined)
    await cleanupAll()
    done?.()
  })

  it('dangling images and stopped containers with the label, old enough; named unused volumes; everything else stays', async () => {
    const docker = getDocker()
    // Images: one dangling with our label (goes), one dangling with another value, one tagged with our label.
    const base = await runContainer({ cmd: ['true'] })
    await waitForExit(base.name)
    const commit = async (label: string, repo?: string) => {
      const r = (await docker.getContainer(base.name).commit({ changes: `LABEL ${label}`, ...(repo ? { repo, tag: 'x' } : {}) })) as {
        Id: string
      }
      images.push(r.Id)
      return r.Id
    }
    const dangling = await commit(mark)
    const otherValue = await commit(`${markKey}=someone-else`)
    const tagged = await commit(mark, `ownops-test/cleanup-${markValue}`)

    // Containers: exited with the label (old), exited without it, running with it, exited with it but recent.
    const oldOne = await runContainer({ cmd: ['true'], labels: { [markKey]: markValue } })
    await waitForExit(oldOne.name)
    const unlabelled = await runContainer({ cmd: ['true'] })
    await waitForExit(unlabelled.name)
    const volumeInUse = await createVolume()
    const running = await runContainer({ cmd: ['sleep', '600'], labels: { [markKey]: markValue }, volumes: [`${volumeInUse.name}:/data`] })
    await new Promise((resolve) => setTimeout(resolve, 1200))
    const recent = await runContainer({ cmd: ['true'], labels: { [markKey]: markValue } })
    await waitForExit(recent.name)
    const finished = async (name: string) => Date.parse((await docker.getContainer(name).inspect()).State.FinishedAt)
    const gap = (await finished(recent.name)) - (await finished(oldOne.name))
    expect(gap).toBeGreaterThan(1000)
    // The run's clock is an hour after the recent one stopped; the cut-off falls between the two.
    const clockAt = (await finished(recent.name)) + 3_600_000
    const olderThan = `1h${Math.round(gap / 2)}ms`

    const unused = await createVolume()
    const notNamed = await createVolume()
    writeFileSync(
      join(dir, 'ownops.yml'),
      [
        'cleanup:',
        '  backups: false',
        '  rules:',
        '    leftovers:',
        '      type: docker',
        `      images: { label: ["${mark}"] }`,
        `      containers: { olderThan: ${olderThan}, label: ["${mark}"] }`,
        `      volumes: [${unused.name}, ${volumeInUse.name}, ownops-test-no-such-volume]`,
      ].join('\n'),
    )
    const run = (args: string[]) => runCli(['--json', 'cleanup', ...args], { env: testEnv(dir), cwd: dir, clock: () => new Date(clockAt) })
    const exists = async () => ({
      images: await Promise.all(
        [dangling, otherValue, tagged].map((id) =>
          docker
            .getImage(id)
            .inspect()
            .then(
              () => true,
              () => false,
            ),
        ),
      ),
      containers: await Promise.all(
        [oldOne.name, unlabelled.name, running.name, recent.name].map((n) =>
          docker
            .getContainer(n)
            .inspect()
            .then(
              () => true,
              () => false,
            ),
        ),
      ),
      volumes: await Promise.all(
        [unused.name, volumeInUse.name, notNamed.name].map((n) =>
          docker
            .getVolume(n)
            .inspect()
            .then(
              () => true,
              () => false,
            ),
        ),
      ),
    })

    const dry = await run(['--dry-run'])
    expect(dry.code, dry.stderr).toBe(0)
    expect(await exists()).toEqual({ images: [true, true, true], containers: [true, true, true, true], volumes: [true, true, true] })
    const planned = (JSON.parse(dry.stdout) as Report).rules[0]?.actions.map((a) => [a.what, a.skipped ?? null]) ?? []
    const short = dangling.replace(/^sha256:/, '').slice(0, 12)
    expect(planned).toEqual([
      [`image ${short}`, null],
      [`container ${oldOne.name}`, null],
      [`volume ${unused.name}`, null],
      [`volume ${volumeInUse.name}`, `in use by ${running.name}`],
    ])

    const real = await run([])
    expect(real.code, real.stderr).toBe(0)
    const report = JSON.parse(real.stdout) as Report
    expect(report.rules[0]?.actions.map((a) => [a.what, a.skipped ?? null])).toEqual(planned)
    expect(report.rules[0]?.engineReclaimed).toBeGreaterThanOrEqual(0)
    expect(await exists()).toEqual({ images: [false, true, true], containers: [false, true, true, true], volumes: [false, true, true] })

    const again = await run([])
    expect((JSON.parse(again.stdout) as Report).rules[0]?.actions.map((a) => a.what)).toEqual([`volume ${volumeInUse.name}`])
  }, 120_000)
})
