/**
 * `cleanup --dry-run` on a sql rule counts the matching rows and changes nothing, even when
 * the condition has side effects: the count runs in a read-only transaction that is rolled
 * back (PostgreSQL, MariaDB), and sqlite3 opens the file read-only in safe mode (no
 * writefile()). The database's refusal fails the dry run with its own message.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { runCli, tempDir, testEnv } from '../helpers/cli.js'
import {
  cleanupAll,
  describeDocker,
  execOk,
  startMariadb,
  startPostgres,
  uniqueName,
  type MariadbContainer,
  type PostgresContainer,
} from '../helpers/docker.js'

const PSQL = ['psql', '-U', 'postgres', '-h', '/var/run/postgresql', '-v', 'ON_ERROR_STOP=1', '-At']

interface Report {
  rows: number
  rules: Array<{ rule: string; ok: boolean; error?: string; rows?: number }>
}

describeDocker('cleanup --dry-run on sql rules changes nothing', () => {
  let work: { dir: string; cleanup: () => void }
  let pg: PostgresContainer
  let maria: MariadbContainer
  const pgsql = (q: string) => execOk(pg.container, [...PSQL, '-d', 'cam', '-c', q]).then((s) => s.trim())
  const mariadb = (q: string) =>
    execOk(maria.container, ['mariadb', '-uroot', `-p${maria.rootPassword}`, 'shop', '--batch', '--skip-column-names', '-e', q]).then((s) =>
      s.trim(),
    )
  const db = () => join(work.dir, 'jobs.db')

  beforeAll(async () => {
    work = tempDir('ownops-sql-dry-')
    ;[pg, maria] = await Promise.all([startPostgres({ name: uniqueName('dry-pg') }), startMariadb({ name: uniqueName('dry-maria') })])
    await execOk(pg.container, [...PSQL, '-c', 'create database cam'])
    await pgsql(
      'create table frames (id serial primary key, detected int); insert into frames (detected) select 0 from generate_series(1, 50)',
    )
    await execOk(maria.container, ['mariadb', '-uroot', `-p${maria.rootPassword}`, '-e', 'create database shop'])
    await mariadb(`create table orders (id int primary key, old int); insert into orders select seq, 1 from seq_1_to_30;
      create table audit (n int)`)
    await mariadb(
      'DELIMITER //\ncreate function touch_audit() returns int modifies sql data begin insert into audit values (1); return 1; end//',
    )
    execFileSync('sqlite3', [
      db(),
      'create table jobs(id integer primary key, done int); insert into jobs(done) select 1 from generate_series(1, 20);',
    ])
    writeFileSync(
      join(work.dir, 'ownops.yml'),
      `backup:
  dir: ${join(work.dir, 'backups')}
  targets:
    cam: { type: postgres, container: ${pg.container}, database: cam, user: postgres }
    shop: { type: mariadb, container: ${maria.container}, database: shop }
    jobs: { type: sqlite, path: ${db()} }
cleanup:
  backups: false
  rules:
    frames: { type: sql, target: cam, table: frames, where: "detected = 0" }
    frames-side-effect: { type: sql, target: cam, table: frames, where: "id = 1 AND lo_create(424242) < 0" }
    orders: { type: sql, target: shop, table: orders, where: "old = 1" }
    orders-side-effect: { type: sql, target: shop, table: orders, where: "old = 1 AND touch_audit() = 1" }
    jobs: { type: sql, target: jobs, table: jobs, where: "done = 1" }
    jobs-side-effect: { type: sql, target: jobs, table: jobs, where: "done = 1 AND writefile('${join(work.dir, 'written')}', 'x') >= 0" }
`,
    )
  }, 180_000)

  afterAll(async () => {
    await Promise.all([pg?.remove(), maria?.remove()])
    work?.cleanup()
    await cleanupAll()
  })

  const dry = async (rule: string) => {
    const r = await runCli(['--json', '-c', join(work.dir, 'ownops.yml'), 'cleanup', rule, '--dry-run'], {
      env: testEnv(work.dir),
      cwd: work.dir,
    })
    return { code: r.code, rule: (JSON.parse(r.stdout) as Report).rules[0], stderr: r.stderr }
  }

  it('PostgreSQL: counts; a condition that creates a large object leaves none behind', async () => {
    expect((await dry('frames')).rule).toMatchObject({ ok: true, rows: 50 })
    const side = await dry('frames-side-effect')
    expect(side.code, side.stderr).toBe(0)
    expect(side.rule).toMatchObject({ ok: true, rows: 0 })
    expect(await pgsql('select count(*) from pg_largeobject_metadata where oid = 424242')).toBe('0')
    expect(await pgsql('select count(*) from frames')).toBe('50')
  }, 60_000)

  it('MariaDB: counts; a condition calling a function that writes is refused, and nothing is written', async () => {
    expect((await dry('orders')).rule).toMatchObject({ ok: true, rows: 30 })
    const side = await dry('orders-side-effect')
    expect(side.code).toBe(1)
    expect(side.rule?.error).toMatch(/READ ONLY transaction/i)
    expect(await mariadb('select count(*) from audit')).toBe('0')
  }, 60_000)

  it('SQLite: counts; writefile() in the condition is refused, and no file is written', async () => {
    expect((await dry('jobs')).rule).toMatchObject({ ok: true, rows: 20 })
    const side = await dry('jobs-side-effect')
    expect(side.code).toBe(1)
    expect(side.rule?.error).toMatch(/safe mode/)
    expect(existsSync(join(work.dir, 'written'))).toBe(false)
    expect(execFileSync('sqlite3', [db(), 'select count(*) from jobs']).toString().trim()).toBe('20')
  }, 60_000)
})
