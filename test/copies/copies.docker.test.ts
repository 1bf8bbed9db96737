/**
 * The disaster drill: a PostgreSQL database (a real container) and a directory are backed
 * up and copied off the box — to a restic repository behind a REST server and, encrypted
 * with age, to an SFTP server, both on loopback. Then the box is lost: the backup directory
 * and the state are deleted. On the "new machine" — the config, the env file and the
 * credentials only — fresh containers are restored from the destinations, and content and
 * metadata (owners, modes, mtimes, links) are compared with the originals.
 */
import {
  chownSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
  chmodSync,
} from 'node:fs'
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { runCli, tempDir, testEnv } from '../helpers/cli.js'
import { ageKey, obscure, rcloneServe, resticInit, writeRcloneConf, type ServedPeer } from '../helpers/copies.js'
import { cleanupAll, describeDocker, execOk, startPostgres, uniqueName, type PostgresContainer } from '../helpers/docker.js'

const PSQL = ['psql', '-U', 'postgres', '-h', '/var/run/postgresql', '-v', 'ON_ERROR_STOP=1', '-At']
const REST_PASS = 'drill-rest-pass-19f2'
const RESTIC_PW = 'drill-restic-pw-6c0d'
const SFTP_PASS = 'drill-sftp-pass-ae41'

function tree(root: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const rel of readdirSync(root, { recursive: true }).map(String).sort()) {
    const p = join(root, rel)
    const s = lstatSync(p)
    const meta = `${s.uid}:${s.gid} ${(s.mode & 0o7777).toString(8)} ${Math.floor(s.mtimeMs / 1000)}`
    out[rel] = s.isSymbolicLink()
      ? `link ${readlinkSync(p)}`
      : s.isFile()
        ? `file ${meta} ${createHash('sha256').update(readFileSync(p)).digest('hex')}`
        : `dir ${meta}`
  }
  return out
}

describeDocker('disaster drill: back up, copy off, lose the box, restore on a new one', () => {
  let pg: PostgresContainer
  let fresh: PostgresContainer
  let work: { dir: string; cleanup: () => void }
  let rest: ServedPeer
  let sftp: ServedPeer
  let key: { identity: string; recipient: string }
  const sql = (c: PostgresContainer, q: string) => execOk(c.container, [...PSQL, '-d', 'shop', '-c', q]).then((s) => s.trim())
  const checksum = "select count(*) || ':' || md5(string_agg(t::text, '|' order by t::text)) from orders t"
  const cli = (args: string[]) =>
    runCli(['--json', '-c', join(work.dir, 'ownops.yml'), ...args], { env: testEnv(work.dir, { RESTIC_PW, REST_PASS }), cwd: work.dir })

  const config = (container: string, files: string) => `backup:
  dir: ${join(work.dir, 'backups')}
  targets:
    db: { type: postgres, container: ${container}, database: shop }
    files: { type: directory, path: ${files} }
  destinations:
    offsite: { type: restic, repository: "rest:http://backup:\${REST_PASS}@127.0.0.1:${rest.port}/", password: "\${RESTIC_PW}", retries: 0 }
    cloud: { type: rclone, remote: "sftp:box1", config: ${join(work.dir, 'rclone.conf')}, age: { recipients: [${key.recipient}] }, retries: 0 }
`

  beforeAll(async () => {
    work = tempDir()
    pg = await startPostgres({ name: uniqueName('drill-pg') })
    rest = await rcloneServe('restic', join(work.dir, 'rest-root'), work.dir, { user: 'backup', pass: REST_PASS })
    sftp = await rcloneServe('sftp', join(work.dir, 'sftp-root'), work.dir, { user: 'backup', pass: SFTP_PASS })
    resticInit(`rest:http://backup:${REST_PASS}@127.0.0.1:${rest.port}/`, RESTIC_PW, work.dir)
    key = ageKey(join(work.dir), 'offline-age.key')
    writeRcloneConf(join(work.dir, 'rclone.conf'), {
      sftp: { type: 'sftp', host: '127.0.0.1', port: sftp.port, user: 'backup', pass: obscure(SFTP_PASS) },
    })
    await execOk(pg.container, [...PSQL, '-c', 'create database shop'])
    await sql(
      pg,
      "create type state as enum ('new', 'paid'); create table orders(id serial primary key, who text, state state, total numeric(10,2), note jsonb); insert into orders(who, state, total, note) select 'customer ' || g, (array['new','paid'])[1 + g % 2]::state, g * 1.5, jsonb_build_object('g', g) from generate_series(1, 20000) g",
    )

    const files = join(work.dir, 'srv', 'files')
    mkdirSync(join(files, 'uploads', 'deep'), { recursive: true })
    writeFileSync(join(files, 'uploads', 'a.txt'), 'アップロード\n')
    writeFileSync(join(files, 'uploads', 'deep', 'b.bin'), Buffer.alloc(70_000, 7))
    symlinkSync('uploads/a.txt', join(files, 'latest'))
    chownSync(join(files, 'uploads'), 1234, 5678)
    chownSync(join(files, 'uploads', 'a.txt'), 1234, 5678)
    chmodSync(join(files, 'uploads', 'a.txt'), 0o640)
    chmodSync(join(files, 'uploads', 'deep'), 0o750)
    utimesSync(join(files, 'uploads', 'a.txt'), new Date('2025-05-05T05:05:05Z'), new Date('2025-05-05T05:05:05Z'))
    writeFileSync(join(work.dir, 'ownops.yml'), config(pg.container, files))
  }, 180_000)

  afterAll(async () => {
    await rest?.stop()
    await sftp?.stop()
    await pg?.remove()
    await fresh?.remove()
    work?.cleanup()
    await cleanupAll()
  })

  it('restores the database and the directory from the destinations into fresh places, equal in content and metadata', async () => {
    const b = await cli(['backup'])
    expect(b.code, b.stdout + b.stderr).toBe(0)
    const report = JSON.parse(b.stdout) as { copies: Array<{ destination: string; ok: boolean }> }
    expect(report.copies.map((c) => [c.destination, c.ok])).toEqual([
      ['offsite', true],
      ['cloud', true],
    ])
    const wantDb = await sql(pg, checksum)
    const wantEnum = await sql(pg, "select string_agg(enumlabel, ',' order by enumsortorder) from pg_enum")
    const wantFiles = tree(join(work.dir, 'srv', 'files'))

    // The box is lost: backups and state are gone; a new machine has the config, the env and the keys.
    rmSync(join(work.dir, 'backups'), { recursive: true, force: true })
    rmSync(join(work.dir, 'state'), { recursive: true, force: true })
    fresh = await startPostgres({ name: uniqueName('drill-new') })
    const newFiles = join(work.dir, 'new-box', 'files')
    mkdirSync(join(work.dir, 'new-box'))
    writeFileSync(join(work.dir, 'ownops.yml'), config(fresh.container, newFiles))

    const listed = JSON.parse((await cli(['backups', '--from', 'offsite'])).stdout) as { copies: Array<{ target: string }> }
    expect(listed.copies.map((c) => c.target).sort()).toEqual(['db', 'files'])

    // Every target from the age-encrypted SFTP copies, databases first: refused without the key.
    const noKey = await cli(['restore', '--all', '--from', 'cloud', '--yes'])
    expect(noKey.code, noKey.stdout).toBe(2)
    const plan = await cli(['restore', '--all', '--from', 'cloud', '--dry-run'])
    expect(plan.code, plan.stdout).toBe(0)
    expect((JSON.parse(plan.stdout) as { targets: Array<{ target: string }> }).targets.map((t) => t.target)).toEqual(['db', 'files'])
    const all = await cli(['restore', '--all', '--from', 'cloud', '--identity', key.identity, '--yes'])
    expect(all.code, all.stdout + all.stderr).toBe(0)
    expect(await sql(fresh, checksum)).toBe(wantDb)
    expect(await sql(fresh, "select string_agg(enumlabel, ',' order by enumsortorder) from pg_enum")).toBe(wantEnum)
    expect(tree(newFiles)).toEqual(wantFiles)

    // And the restic copy of the database, side by side.
    const side = await cli(['restore', 'db', 'latest', '--from', 'offsite', '--to', 'shop_offsite', '--yes'])
    expect(side.code, side.stdout + side.stderr).toBe(0)
    expect((await execOk(fresh.container, [...PSQL, '-d', 'shop_offsite', '-c', checksum])).trim()).toBe(wantDb)
  }, 300_000)
})
