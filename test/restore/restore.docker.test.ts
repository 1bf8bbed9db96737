/**
 * Restores against real components: PostgreSQL in a container with an "app" container that
 * uses it, SQLite files, directories; damaged, truncated and malicious artifacts; SIGTERM
 * in the middle; side-by-side restores and restore drills.
 */
import { execFileSync, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BIN, runCli, tempDir, testEnv } from '../helpers/cli.js'
import {
  cleanupAll,
  describeDocker,
  execOk,
  getDocker,
  runContainer,
  startMariadb,
  startPostgres,
  uniqueName,
  type PostgresContainer,
  type RunningContainer,
} from '../helpers/docker.js'
import { startHttpPeer, type HttpPeer } from '../helpers/http-peer.js'

const PSQL = ['psql', '-U', 'postgres', '-h', '/var/run/postgresql', '-v', 'ON_ERROR_STOP=1', '-At']

function cli(dir: string, args: string[]) {
  return runCli(['--json', '-c', join(dir, 'ownops.yml'), ...args], { env: testEnv(dir), cwd: dir })
}

async function startedAt(container: string): Promise<string> {
  return (await getDocker().getContainer(container).inspect()).State.StartedAt
}

function rewriteManifest(file: string, artifact: string): void {
  const manifest = JSON.parse(readFileSync(file, 'utf8')) as { size: number; sha256: string }
  const data = readFileSync(artifact)
  manifest.size = data.length
  manifest.sha256 = createHash('sha256').update(data).digest('hex')
  writeFileSync(file, JSON.stringify(manifest))
}

describeDocker('restore: postgres in place, side by side, refused, interrupted, drilled', () => {
  let pg: PostgresContainer
  let app: RunningContainer
  let work: { dir: string; cleanup: () => void }
  let peer: HttpPeer
  const sql = (q: string, db = 'shop') => execOk(pg.container, [...PSQL, '-d', db, '-c', q]).then((s) => s.trim())
  const checksum = "select count(*) || ':' || md5(string_agg(t::text, '|' order by t::text)) from items t"
  let backedUp = ''

  beforeAll(async () => {
    pg = await startPostgres({ name: uniqueName('rs-pg') })
    app = await runContainer({ name: uniqueName('rs-app'), cmd: ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 1; done'] })
    work = tempDir()
    peer = await startHttpPeer()
    await execOk(pg.container, [...PSQL, '-c', 'create database shop'])
    await sql(
      "create table items(id int primary key, name text, data bytea); insert into items select g, 'item ' || g, decode(md5(g::text), 'hex') from generate_series(1, 50000) g",
    )
    writeFileSync(
      join(work.dir, 'ownops.yml'),
      `backup:
  dir: ${join(work.dir, 'backups')}
  targets:
    shop: { type: postgres, container: ${pg.container}, database: shop, stop: [${app.name}] }
notify:
  channels:
    hook: { url: "json://127.0.0.1:${peer.port}/hook", levels: [info, warning, error, critical] }
  retries: 0
restore: { healthTimeout: 20s }
`,
    )
    const b = await cli(work.dir, ['backup', 'shop'])
    expect(b.code, b.stderr).toBe(0)
    backedUp = await sql(checksum)
  }, 180_000)

  afterAll(async () => {
    await peer?.close()
    await pg?.remove()
    await app?.remove()
    work?.cleanup()
    await cleanupAll()
  })

  it('refuses without --yes when there is no terminal, and --dry-run changes nothing', async () => {
    const before = await startedAt(app.name)
    const refused = await cli(work.dir, ['restore', 'shop'])
    expect(refused.code).toBe(2)
    expect(refused.stdout).toMatch(/refusing to restore without confirmation/)
    const plan = await cli(work.dir, ['restore', 'shop', '--dry-run'])
    expect(plan.code).toBe(0)
    const report = JSON.parse(plan.stdout) as { stops: string[]; kept: string }
    expect(report.stops).toEqual([app.name])
    expect(report.kept).toMatch(/^database shop__pre_restore_\d{8}T\d{6}Z$/)
    expect(await startedAt(app.name)).toBe(before)
  })

  it('restores in place over a changed database, stops and starts the app, keeps the old database, and --undo brings it back', async () => {
    await sql("delete from items where id > 100; update items set name = 'changed'; create table extra(x int)")
    const changed = await sql(checksum)
    expect(changed).not.toBe(backedUp)
    const before = await startedAt(app.name)
    const r = await cli(work.dir, ['restore', 'shop', 'latest', '--yes'])
    expect(r.code, r.stdout + r.stderr).toBe(0)
    const report = JSON.parse(r.stdout) as { kept: string; safetyCopy: string; downtimeMs: number }
    expect(await sql(checksum)).toBe(backedUp)
    expect(await sql("select count(*) from pg_tables where tablename = 'extra'")).toBe('0')
    expect(await startedAt(app.name)).not.toBe(before)
    expect((await getDocker().getContainer(app.name).inspect()).State.Running).toBe(true)
    expect(report.kept).toMatch(/^shop__pre_restore_/)
    expect(await sql(checksum, report.kept)).toBe(changed)
    expect(report.safetyCopy).toMatch(/^shop-/)
    const list = JSON.parse((await cli(work.dir, ['backups', 'shop'])).stdout) as {
      targets: Array<{ backups: Array<{ id: string; tags?: string[] }> }>
    }
    expect(list.targets[0]!.backups.find((b) => b.id === report.safetyCopy)?.tags).toEqual(['pre-restore'])

    const undone = await cli(work.dir, ['restore', '--undo', 'shop', '--yes'])
    expect(undone.code, undone.stdout).toBe(0)
    expect(await sql(checksum)).toBe(changed)
  }, 120_000)

  it('--to restores side by side and leaves the live database and the app untouched', async () => {
    const live = await sql(checksum)
    const before = await startedAt(app.name)
    const r = await cli(work.dir, ['restore', 'shop', '--to', 'shop_check', '--yes'])
    expect(r.code, r.stdout).toBe(0)
    expect(await sql(checksum, 'shop_check')).toBe(backedUp)
    expect(await sql(checksum)).toBe(live)
    expect(await startedAt(app.name)).toBe(before)
  }, 60_000)

  it('refuses a damaged artifact (one byte flipped) before anything stops', async () => {
    const dir = join(work.dir, 'backups', 'shop')
    const artifact = readdirSync(dir)
      .filter((f) => f.endsWith('.pgdump'))
      .sort()[0]!
    const path = join(dir, artifact)
    const original = readFileSync(path)
    const flipped = Buffer.from(original)
    const at = Math.floor(flipped.length / 2)
    flipped.writeUInt8(flipped.readUInt8(at) ^ 0xff, at)
    writeFileSync(path, flipped)
    try {
      const before = await startedAt(app.name)
      const live = await sql(checksum)
      const r = await cli(work.dir, ['restore', 'shop', artifact.replace(/\.pgdump$/, ''), '--yes'])
      expect(r.code).toBe(1)
      expect(r.stdout).toMatch(/refusing to restore .*: sha256 .* differs from the manifest's/)
      expect(await startedAt(app.name)).toBe(before)
      expect(await sql(checksum)).toBe(live)
      const verify = await cli(work.dir, ['verify', 'shop', '--all'])
      expect(verify.code).toBe(1)
      expect(verify.stdout).toMatch(/the file is damaged/)
    } finally {
      writeFileSync(path, original)
    }
  }, 60_000)

  it('a dump that fails half-way (truncated, checksum recomputed) leaves the live database untouched', async () => {
    const dir = join(work.dir, 'backups', 'shop')
    const artifact = readdirSync(dir)
      .filter((f) => f.endsWith('.pgdump'))
      .sort()[0]!
    const path = join(dir, artifact)
    const original = readFileSync(path)
    const manifestPath = path.replace(/\.pgdump$/, '.json')
    const manifest = readFileSync(manifestPath)
    truncateSync(path, Math.floor(original.length * 0.6))
    rewriteManifest(manifestPath, path)
    try {
      const live = await sql(checksum)
      const before = await startedAt(app.name)
      const r = await cli(work.dir, ['restore', 'shop', artifact.replace(/\.pgdump$/, ''), '--yes', '--no-safety-copy'])
      expect(r.code, r.stdout + r.stderr).toBe(1)
      expect(r.stdout).toMatch(/pg_restore into database shop__ownops_restore failed/)
      expect(r.stdout).toMatch(/the live data was not touched/)
      expect(await sql(checksum)).toBe(live)
      expect(await startedAt(app.name)).toBe(before)
      expect(await sql("select count(*) from pg_database where datname = 'shop__ownops_restore'", 'postgres')).toBe('0')
      const drill = await cli(work.dir, ['verify', 'shop', '--drill'])
      expect(drill.code).toBe(1)
      expect(peer.requests.some((q) => (q.json as { title?: string })?.title?.startsWith('restore drill failed'))).toBe(true)
    } finally {
      writeFileSync(path, original)
      writeFileSync(manifestPath, manifest)
    }
  }, 60_000)

  it('verify --drill succeeds on a good backup and records it for monitor', async () => {
    const r = await cli(work.dir, ['verify', 'shop', '--drill'])
    expect(r.code, r.stdout).toBe(0)
    const report = JSON.parse(r.stdout) as { results: Array<{ ok: boolean; drill: { tables: number; rows: number } }> }
    expect(report.results[0]!.drill).toEqual({ tables: 1, rows: 50000 })
    const drills = JSON.parse(readFileSync(join(work.dir, 'state', 'drills.json'), 'utf8')) as Record<
      string,
      { ok: boolean; lastSuccess: string }
    >
    expect(drills.shop).toMatchObject({ ok: true })
    expect(await sql("select count(*) from pg_database where datname like '%ownops_drill%'", 'postgres')).toBe('0')
  }, 60_000)

  it('SIGTERM during a restore: the live data is intact or fully restored, never a mix, and the app runs again', async () => {
    await sql("update items set name = 'before-sigterm'")
    const live = await sql(checksum)
    const child = spawn(process.execPath, [BIN, '-c', join(work.dir, 'ownops.yml'), 'restore', 'shop', '--yes', '--no-safety-copy'], {
      env: testEnv(work.dir),
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let err = ''
    child.stderr.on('data', (c: Buffer) => (err += c.toString()))
    // Interrupt once the restore into the staging database has begun.
    for (let i = 0; i < 200 && !/restoring into a staging place/.test(err); i++) await new Promise((r) => setTimeout(r, 25))
    child.kill('SIGTERM')
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
    expect(code).toBe(143)
    const now = await sql(checksum)
    expect([live, backedUp]).toContain(now)
    expect((await getDocker().getContainer(app.name).inspect()).State.Running).toBe(true)
  }, 60_000)
})

describeDocker('restore: mariadb', () => {
  it('restores in place (staging load first), side by side, drills, and --undo loads the replaced data back', async () => {
    const db = await startMariadb({ name: uniqueName('rs-maria') })
    const app = await runContainer({ name: uniqueName('rs-mapp'), cmd: ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 1; done'] })
    const work = tempDir()
    try {
      const sql = (q: string) =>
        execOk(db.container, ['mariadb', '-uroot', `-p${db.rootPassword}`, '--default-character-set=utf8mb4', '-N', '-B', '-e', q]).then(
          (s) => s.trim(),
        )
      await sql(
        "create database shop character set utf8mb4; use shop; create table items(id int primary key, name varchar(50)) engine=innodb; insert into items select seq, concat('item ', seq) from seq_1_to_20000; create trigger t_items before insert on items for each row set new.name = trim(new.name);",
      )
      const sum = "select concat(count(*), ':', md5(group_concat(concat(id, name) order by id))) from shop.items"
      writeFileSync(
        join(work.dir, 'ownops.yml'),
        `backup:\n  dir: ${join(work.dir, 'backups')}\n  targets:\n    shop: { type: mariadb, container: ${db.container}, database: shop, stop: [${app.name}] }\n`,
      )
      expect((await cli(work.dir, ['backup', 'shop'])).code).toBe(0)
      const good = await sql(sum)
      await sql("delete from shop.items where id > 10; update shop.items set name = 'changed'")
      const changed = await sql(sum)

      const noSafety = await cli(work.dir, ['restore', 'shop', '--yes', '--no-safety-copy'])
      expect(noSafety.code).toBe(2)
      const before = await startedAt(app.name)
      const r = await cli(work.dir, ['restore', 'shop', '--yes'])
      expect(r.code, r.stdout).toBe(0)
      expect(await sql(sum)).toBe(good)
      expect(await sql("select count(*) from information_schema.TRIGGERS where TRIGGER_SCHEMA = 'shop'")).toBe('1')
      expect(await sql("select count(*) from information_schema.SCHEMATA where SCHEMA_NAME like 'shop\\_\\_%'")).toBe('0')
      expect(await startedAt(app.name)).not.toBe(before)

      const side = await cli(work.dir, ['restore', 'shop', '--to', 'shop_check', '--yes'])
      expect(side.code, side.stdout).toBe(0)
      expect(await sql(sum.replace('shop.items', 'shop_check.items'))).toBe(good)

      const drill = await cli(work.dir, ['verify', 'shop', '--drill'])
      expect(drill.code, drill.stdout).toBe(0)
      expect((JSON.parse(drill.stdout) as { results: Array<{ drill: unknown }> }).results[0]!.drill).toEqual({ tables: 1, rows: 20000 })

      const undone = await cli(work.dir, ['restore', '--undo', 'shop', '--yes'])
      expect(undone.code, undone.stdout).toBe(0)
      expect(await sql(sum)).toBe(changed)
    } finally {
      await db.remove()
      await app.remove()
      work.cleanup()
    }
  }, 180_000)
})

describe('restore: sqlite and directories', () => {
  let work: { dir: string; cleanup: () => void }
  beforeAll(() => {
    work = tempDir()
  })
  afterAll(() => work?.cleanup())

  it('restores a SQLite database in place (with its -wal file moved aside) and side by side', async () => {
    const db = join(work.dir, 'jobs.db')
    execFileSync('sqlite3', [
      db,
      'PRAGMA journal_mode=WAL; create table jobs(id integer primary key, v text); insert into jobs(v) select hex(randomblob(20)) from generate_series(1, 1000);',
    ])
    writeFileSync(
      join(work.dir, 'ownops.yml'),
      `backup:\n  dir: ${join(work.dir, 'backups')}\n  targets:\n    jobs: { type: sqlite, path: ${db} }\n`,
    )
    expect((await cli(work.dir, ['backup', 'jobs'])).code).toBe(0)
    const sum = (file: string) => execFileSync('sqlite3', [file, "select count(*) || ':' || sum(length(v)) from jobs"]).toString().trim()
    const good = sum(db)
    execFileSync('sqlite3', [db, 'delete from jobs where id > 10'])
    const r = await cli(work.dir, ['restore', 'jobs', '--yes'])
    expect(r.code, r.stdout).toBe(0)
    expect(sum(db)).toBe(good)
    const kept = (JSON.parse(r.stdout) as { kept: string }).kept
    expect(sum(kept)).toBe('10:400')
    const side = join(work.dir, 'side.db')
    expect((await cli(work.dir, ['restore', 'jobs', '--to', side, '--yes'])).code).toBe(0)
    expect(sum(side)).toBe(good)
    const drill = await cli(work.dir, ['verify', '--drill'])
    expect(drill.code, drill.stdout).toBe(0)
  }, 60_000)

  it('restores a directory by swapping trees, keeping the old one; modes and links survive', async () => {
    const src = join(work.dir, 'site')
    mkdirSync(join(src, 'a/b'), { recursive: true })
    writeFileSync(join(src, 'a/b/file.txt'), 'v1')
    execFileSync('sh', ['-c', `cd '${src}' && ln -s a/b/file.txt rel-link && chmod 0751 a`])
    writeFileSync(
      join(work.dir, 'ownops.yml'),
      `backup:\n  dir: ${join(work.dir, 'backups')}\n  targets:\n    site: { type: directory, path: ${src}, compression: gzip }\n`,
    )
    expect((await cli(work.dir, ['backup', 'site'])).code).toBe(0)
    writeFileSync(join(src, 'a/b/file.txt'), 'v2')
    writeFileSync(join(src, 'new.txt'), 'new')
    const r = await cli(work.dir, ['restore', 'site', '--yes', '--no-safety-copy'])
    expect(r.code, r.stdout).toBe(0)
    expect(readFileSync(join(src, 'a/b/file.txt'), 'utf8')).toBe('v1')
    expect(existsSync(join(src, 'new.txt'))).toBe(false)
    expect(statSync(join(src, 'a')).mode & 0o777).toBe(0o751)
    expect(readFileSync(join(src, 'rel-link'), 'utf8')).toBe('v1')
    const kept = (JSON.parse(r.stdout) as { kept: string }).kept
    expect(readFileSync(join(kept, 'new.txt'), 'utf8')).toBe('new')
  }, 60_000)

  it('refuses a malicious archive (absolute path, ../, symlink to /etc, hard link outside) and writes nothing outside', async () => {
    const dest = join(work.dir, 'victim')
    mkdirSync(dest)
    writeFileSync(join(dest, 'keep.txt'), 'live')
    writeFileSync(
      join(work.dir, 'ownops.yml'),
      `backup:\n  dir: ${join(work.dir, 'backups')}\n  targets:\n    victim: { type: directory, path: ${dest}, compression: gzip }\n`,
    )
    const evil = join(work.dir, 'evil')
    mkdirSync(join(evil, 'in'), { recursive: true })
    writeFileSync(join(evil, 'in', 'x'), 'payload')
    execFileSync('sh', ['-c', `cd '${evil}/in' && ln -s /etc etc-link && ln x hard`])
    const outside = join(work.dir, 'outside-marker')
    const cases: Array<[string, string[]]> = [
      ['absolute', ['-P', '-czf', '-', `${evil}/in/x`]],
      ['dotdot', ['-czf', '-', '-C', `${evil}/in`, '--transform', 's,^x$,../../outside-marker,', 'x']],
      ['symlink', ['-czf', '-', '-C', `${evil}/in`, 'etc-link']],
      ['through-symlink', ['-czf', '-', '-C', `${evil}/in`, 'etc-link', '--transform', 's,^x$,etc-link/owned,', 'x']],
      ['hardlink', ['-czf', '-', '-C', `${evil}/in`, '--hard-dereference', '-P', '--transform', 's,^hard$,../hard,', 'x', 'hard']],
    ]
    const dir = join(work.dir, 'backups', 'victim')
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    for (const [name, args] of cases) {
      const id = `victim-2026010${cases.findIndex((c) => c[0] === name) + 1}T000000Z`
      const data = execFileSync('tar', args, { stdio: ['ignore', 'pipe', 'ignore'] })
      writeFileSync(join(dir, `${id}.tar.gz`), data)
      writeFileSync(
        join(dir, `${id}.json`),
        JSON.stringify({
          manifestVersion: 1,
          id,
          target: 'victim',
          type: 'directory',
          file: `${id}.tar.gz`,
          time: `2026-01-0${cases.findIndex((c) => c[0] === name) + 1}T00:00:00.000Z`,
          durationMs: 1,
          size: data.length,
          sha256: createHash('sha256').update(data).digest('hex'),
          compression: 'gzip',
          ownopsVersion: '0',
          host: 'x',
          source: {},
          warnings: [],
        }),
      )
      const r = await cli(work.dir, ['restore', 'victim', id, '--yes', '--no-safety-copy'])
      expect(r.code, `${name}: ${r.stdout}`).toBe(1)
      expect(r.stdout, name).toMatch(/refusing to extract/)
    }
    expect(existsSync(outside)).toBe(false)
    expect(existsSync('/etc/owned')).toBe(false)
    expect(readFileSync(join(dest, 'keep.txt'), 'utf8')).toBe('live')
    expect(readdirSync(work.dir).filter((f) => f.startsWith('victim.'))).toEqual([])
  }, 60_000)
})
