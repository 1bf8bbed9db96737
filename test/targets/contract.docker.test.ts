/**
 * The contract every target type passes, against the real engine and real databases:
 * backup → verify → restore over changed live data → identical content and metadata (the
 * top directory included; in place and --to) → a restore whose service turns unhealthy →
 * automatic rollback → --undo → a drill → cleanup removes the leftovers once stale.
 *
 * Each type has a service container ("app") with a Docker healthcheck that fails while a
 * flag file exists: the test raises the flag to make the service come up unhealthy.
 */
import { createHash } from 'node:crypto'
import {
  chmodSync,
  chownSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  linkSync,
  utimesSync,
  writeFileSync,
  existsSync,
} from 'node:fs'
import { join } from 'node:path'
import { execFileSync } from 'node:child_process'
import { afterAll, beforeAll, expect, it } from 'vitest'
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
} from '../helpers/docker.js'

const DAY = 86_400_000

/** Every entry of a tree: type, owner, mode, mtime, link target, content, and which entries share an inode. */
export function treeFingerprint(root: string): string {
  const lines: string[] = []
  const inodes = new Map<string, string[]>()
  const walk = (rel: string): void => {
    const path = rel === '.' ? root : join(root, rel)
    const s = lstatSync(path, { bigint: true })
    const kind = s.isDirectory() ? 'd' : s.isSymbolicLink() ? 'l' : s.isFIFO() ? 'p' : s.isFile() ? 'f' : '?'
    let extra = ''
    if (kind === 'l') extra = readlinkSync(path)
    if (kind === 'f') {
      extra = createHash('sha256').update(readFileSync(path)).digest('hex').slice(0, 16)
      if (s.nlink > 1n) inodes.set(String(s.ino), [...(inodes.get(String(s.ino)) ?? []), rel])
    }
    lines.push(
      `${JSON.stringify(rel)} ${kind} ${s.uid}:${s.gid} ${(s.mode & 0o7777n).toString(8)} ${kind === 'l' ? '' : String(s.mtimeNs / 1000n)} ${extra}`,
    )
    if (kind === 'd') for (const name of readdirSync(path).sort()) walk(rel === '.' ? name : `${rel}/${name}`)
  }
  walk('.')
  const links = [...inodes.values()].map((group) => group.sort().join(' = ')).sort()
  return [...lines, ...links.map((l) => `hardlinks ${l}`)].join('\n')
}

/** A tree with what a restore must give back: owners, modes, mtimes, links, odd names; top 1000:1000 0750. */
function makeTree(root: string): void {
  mkdirSync(join(root, 'world/region'), { recursive: true })
  writeFileSync(join(root, 'world/level.dat'), 'level v1')
  writeFileSync(join(root, 'world/region/r.0.0.mca'), Buffer.alloc(70_000, 7))
  writeFileSync(join(root, 'secret.txt'), 'only the owner')
  writeFileSync(join(root, 'line\nbreak name'), 'odd name')
  symlinkSync('world/level.dat', join(root, 'level-link'))
  linkSync(join(root, 'world/level.dat'), join(root, 'hard-level.dat'))
  execFileSync('mkfifo', [join(root, 'fifo')])
  chownSync(join(root, 'world'), 1000, 1000)
  chownSync(join(root, 'world/level.dat'), 1000, 1000)
  chownSync(join(root, 'world/region'), 1001, 1002)
  chownSync(join(root, 'secret.txt'), 1000, 1000)
  chmodSync(join(root, 'secret.txt'), 0o600)
  chmodSync(join(root, 'world/region'), 0o2770)
  for (const p of ['world/region/r.0.0.mca', 'world/level.dat', 'secret.txt', 'world/region', 'world'])
    utimesSync(join(root, p), new Date('2026-03-01T10:00:00Z'), new Date('2026-03-01T10:00:00.123Z'))
  chownSync(root, 1000, 1000)
  chmodSync(root, 0o750)
  utimesSync(root, new Date('2026-03-02T00:00:00Z'), new Date('2026-03-02T00:00:00Z'))
}

interface Fixture {
  /** The target's YAML (one flow mapping), the app container added to it where needed. */
  target(app: string): string
  /** Where the app mounts data from, if it does. */
  appVolumes(): string[]
  snapshot(): Promise<string>
  change(): Promise<void>
  /** --to place and how to snapshot it; undefined: no side-by-side check here. */
  to?: { place: string; snapshot(): Promise<string> }
  /** Makes what an interrupted restore or drill leaves (with old stamps), to be cleaned up. */
  leftovers(stamp: string): Promise<void>
  /** The leftovers are gone (true) or not. */
  leftoversGone(): Promise<boolean>
  nonRootCheck?(): Promise<void>
  teardown(): Promise<void>
}

const cases: Array<[string, (work: string) => Promise<Fixture>]> = [
  [
    'postgres (a database named postgres)',
    async () => {
      const pg = await startPostgres({ name: uniqueName('ct-pg') })
      const psql = (q: string, db = 'postgres') =>
        execOk(pg.container, [
          'psql',
          '-X',
          '-U',
          'postgres',
          '-h',
          '/var/run/postgresql',
          '-v',
          'ON_ERROR_STOP=1',
          '-At',
          '-d',
          db,
          '-c',
          q,
        ]).then((s) => s.trim())
      await psql(
        "create table items(id int primary key, name text); insert into items select g, 'item ' || g from generate_series(1, 2000) g; create view v as select count(*) from items",
      )
      const sum = "select count(*) || ':' || md5(string_agg(t::text, '|' order by t::text)) from items t"
      return {
        target: (app) => `{ type: postgres, container: ${pg.container}, restore: { stop: [${app}] } }`,
        appVolumes: () => [],
        snapshot: async () => `${await psql(sum)} ${await psql("select count(*) from pg_views where viewname = 'v'")}`,
        change: async () => void (await psql("delete from items where id > 10; update items set name = 'changed'; drop view v")),
        to: {
          place: 'pg_side',
          snapshot: async () =>
            `${await psql(sum, 'pg_side')} ${await psql("select count(*) from pg_views where viewname = 'v'", 'pg_side')}`,
        },
        leftovers: async (stamp) => {
          await psql('create database postgres__ownops_restore')
          await psql(`create database "postgres__ownops_drill_${stamp.toLowerCase()}"`)
        },
        leftoversGone: async () =>
          (await psql("select count(*) from pg_database where datname ~ '__(ownops|pre_restore|undone|failed)'")) === '0',
        teardown: () => pg.remove(),
      }
    },
  ],
  [
    'mariadb (the app user; the container has its root password)',
    async () => {
      const db = await startMariadb({ name: uniqueName('ct-maria') })
      const sql = (q: string) =>
        execOk(db.container, ['mariadb', '-uroot', `-p${db.rootPassword}`, '-N', '-B', '-e', q]).then((s) => s.trim())
      await sql(
        "create database camserver; create user 'camserver'@'localhost' identified by 'campw'; grant all on camserver.* to 'camserver'@'localhost'; use camserver; create table frames(id int primary key, note varchar(40)); insert into frames select seq, concat('f', seq) from seq_1_to_3000; create trigger t_frames before insert on frames for each row set new.note = trim(new.note)",
      )
      const sum = (d: string) =>
        `select concat(count(*), ':', md5(group_concat(concat(id, note) order by id)), ':', (select count(*) from information_schema.TRIGGERS where TRIGGER_SCHEMA = '${d}')) from ${d}.frames`
      return {
        target: (app) =>
          `{ type: mariadb, container: ${db.container}, database: camserver, user: camserver, password: campw, restore: { stop: [${app}] } }`,
        appVolumes: () => [],
        snapshot: () => sql(sum('camserver')),
        change: async () =>
          void (await sql(
            "delete from camserver.frames where id > 5; update camserver.frames set note = 'x'; drop trigger camserver.t_frames",
          )),
        to: { place: 'cam_side', snapshot: () => sql(sum('cam_side')) },
        leftovers: async (stamp) =>
          void (await sql(`create database camserver__ownops_restore; create database camserver__ownops_drill_${stamp.toLowerCase()}`)),
        leftoversGone: async () =>
          (await sql("select count(*) from information_schema.SCHEMATA where SCHEMA_NAME like '%\\_\\_ownops%'")) === '0',
        teardown: () => db.remove(),
      }
    },
  ],
  [
    'sqlite (held open by the app in its container)',
    async (work) => {
      const dir = join(work, 'jobs')
      mkdirSync(dir)
      const file = join(dir, 'jobs.db')
      execFileSync('sqlite3', [
        file,
        'PRAGMA journal_mode=WAL; create table jobs(id integer primary key, v text); insert into jobs(v) select hex(randomblob(16)) from generate_series(1, 3000);',
      ])
      chownSync(file, 1000, 1000)
      chmodSync(file, 0o640)
      const q = (f: string, s: string) => execFileSync('sqlite3', [f, s]).toString().trim()
      const snap = (f: string) =>
        `${q(f, "select count(*) || ':' || sum(length(v)) from jobs")} ${lstatSync(f).uid}:${lstatSync(f).gid} ${(lstatSync(f).mode & 0o777).toString(8)}`
      return {
        target: () => `{ type: sqlite, path: ${file} }`,
        appVolumes: () => [`${dir}:/data`],
        snapshot: async () => snap(file),
        change: async () => void q(file, 'delete from jobs where id > 7'),
        to: { place: join(work, 'side.db'), snapshot: async () => snap(join(work, 'side.db')) },
        leftovers: async (stamp) => {
          writeFileSync(join(dir, `.jobs.db.ownops-restore-${stamp}`), 'staged')
          writeFileSync(join('/tmp', `ownops-drill-ct-${stamp}.sqlite`), 'drill')
        },
        leftoversGone: async () =>
          readdirSync(dir).every((n) => !/ownops-restore|pre-restore|undone/.test(n)) &&
          readdirSync('/tmp').every((n) => !n.startsWith('ownops-drill-ct-')),
        teardown: async () => undefined,
      }
    },
  ],
  [
    'directory (a host path the app mounts)',
    async (work) => {
      const root = join(work, 'site')
      mkdirSync(root)
      makeTree(root)
      return {
        target: () => `{ type: directory, path: ${root}, compression: gzip }`,
        appVolumes: () => [`${root}:/data`],
        snapshot: async () => treeFingerprint(root),
        change: async () => {
          writeFileSync(join(root, 'world/level.dat'), 'level v2 broken')
          rmSync(join(root, 'secret.txt'))
          chmodSync(root, 0o700)
          chownSync(root, 0, 0)
        },
        to: { place: join(work, 'site-side'), snapshot: async () => treeFingerprint(join(work, 'site-side')) },
        leftovers: async (stamp) => {
          mkdirSync(join(work, `site.ownops-restore-${stamp}`))
          mkdirSync(join(work, 'backups', `.drill-ct-${stamp}`), { recursive: true })
          mkdirSync(join('/tmp', `ownops-tar-999999-ct${process.pid}${stamp}`))
          execFileSync('mkfifo', [join('/tmp', `ownops-tar-999999-ct${process.pid}${stamp}`, 'index')])
        },
        leftoversGone: async () =>
          readdirSync(work).every((n) => !/^site\./.test(n)) &&
          !readdirSync(join(work, 'backups')).some((n) => n.startsWith('.drill-')) &&
          !readdirSync('/tmp').some((n) => n.startsWith(`ownops-tar-999999-ct${process.pid}`)),
        teardown: async () => undefined,
      }
    },
  ],
  [
    'volume (a Minecraft-like world, the server running as uid 1000)',
    async (work) => {
      const volume = await createVolume(uniqueName('ct-vol'))
      const mountpoint = (await getDocker().getVolume(volume.name).inspect()).Mountpoint
      makeTree(mountpoint)
      return {
        target: () => `{ type: directory, volume: ${volume.name} }`,
        appVolumes: () => [`${volume.name}:/data`],
        snapshot: async () => treeFingerprint(mountpoint),
        change: async () => {
          writeFileSync(join(mountpoint, 'world/level.dat'), 'level v2 broken')
          chmodSync(mountpoint, 0o700)
          chownSync(mountpoint, 0, 0)
        },
        to: { place: join(work, 'vol-side'), snapshot: async () => treeFingerprint(join(work, 'vol-side')) },
        nonRootCheck: async () => {
          const c = await runContainer({
            name: uniqueName('ct-uid'),
            cmd: ['sh', '-c', 'cat /data/world/level.dat && echo written > /data/new-by-1000 && cat /data/new-by-1000'],
            volumes: [`${volume.name}:/data`],
            user: '1000:1000',
          })
          const code = await getDocker().getContainer(c.name).wait()
          const logs = (await getDocker().getContainer(c.name).logs({ stdout: true, stderr: true })).toString()
          expect((code as { StatusCode: number }).StatusCode, logs).toBe(0)
          expect(logs).toMatch(/level v1[\s\S]*written/)
          rmSync(join(mountpoint, 'new-by-1000'))
          await c.remove()
        },
        leftovers: async (stamp) => void mkdirSync(`${mountpoint}.ownops-restore-${stamp}`),
        leftoversGone: async () => readdirSync(join(mountpoint, '..')).every((n) => n === '_data'),
        teardown: () => volume.remove(),
      }
    },
  ],
]

describeDocker.each(cases)('target contract: %s', (_name, make) => {
  let work: { dir: string; cleanup: () => void }
  let fx: Fixture
  let app: { name: string }
  let flag: string
  let original = ''
  let changed = ''
  const cli = (args: string[], clock?: () => Date) =>
    runCli(['--json', '-c', join(work.dir, 'ownops.yml'), ...args], { env: testEnv(work.dir), cwd: work.dir, ...(clock ? { clock } : {}) })
  const appState = async () => (await getDocker().getContainer(app.name).inspect()).State

  beforeAll(async () => {
    work = tempDir()
    fx = await make(work.dir)
    flag = join(work.dir, 'flag')
    mkdirSync(flag)
    app = await runContainer({
      name: uniqueName('ct-app'),
      // The app keeps its data open, as a real service does.
      cmd: ['sh', '-c', 'if [ -f /data/jobs.db ]; then exec 3</data/jobs.db; fi; trap "exit 0" TERM; while true; do sleep 1; done'],
      volumes: [...fx.appVolumes(), `${flag}:/flag`],
      healthcheck: { test: ['CMD-SHELL', 'test ! -f /flag/unhealthy'], intervalMs: 300, retries: 1, timeoutMs: 2000 },
      ...(fx.appVolumes().some((v) => !v.startsWith('/')) ? { user: '1000:1000' } : {}),
    })
    writeFileSync(
      join(work.dir, 'ownops.yml'),
      `backup:\n  dir: ${join(work.dir, 'backups')}\n  targets:\n    ct: ${fx.target(app.name)}\nrestore: { healthTimeout: 4s }\n`,
    )
    original = await fx.snapshot()
  }, 180_000)

  afterAll(async () => {
    await cleanupAll()
    await fx?.teardown()
    work?.cleanup()
  })

  it('backs up and verifies', async () => {
    const b = await cli(['backup', 'ct'])
    expect(b.code, b.stdout + b.stderr).toBe(0)
    const v = await cli(['verify', 'ct'])
    expect(v.code, v.stdout).toBe(0)
  }, 60_000)

  it('restores over changed live data: identical content and metadata; the app is stopped for the swap and runs again', async () => {
    await fx.change()
    changed = await fx.snapshot()
    expect(changed).not.toBe(original)
    const plan = await cli(['restore', 'ct', '--dry-run'])
    expect((JSON.parse(plan.stdout) as { stops: string[] }).stops).toEqual([app.name])
    const before = (await appState()).StartedAt
    const r = await cli(['restore', 'ct', '--yes'])
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(await fx.snapshot()).toBe(original)
    const state = await appState()
    expect(state.StartedAt).not.toBe(before)
    expect(state.Running).toBe(true)
    expect((JSON.parse(r.stdout) as { stopped: string[] }).stopped).toEqual([app.name])
  }, 120_000)

  it('restores side by side (--to) with the same content and metadata, the live data untouched', async () => {
    if (fx.to === undefined) return
    const r = await cli(['restore', 'ct', '--to', fx.to.place, '--yes'])
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(await fx.to.snapshot()).toBe(original)
    expect(await fx.snapshot()).toBe(original)
  }, 120_000)

  it('a non-root service can read and write what was restored', async () => {
    await fx.nonRootCheck?.()
  }, 60_000)

  it('rolls back by itself when the service comes up unhealthy after the swap', async () => {
    await fx.change()
    const live = await fx.snapshot()
    writeFileSync(join(flag, 'unhealthy'), '')
    try {
      const r = await cli(['restore', 'ct', '--yes'])
      expect(r.code, r.stdout).toBe(1)
      expect(r.stdout).toMatch(/did not come up healthy[\s\S]*rolled back: the data is as it was before the restore/)
      expect(await fx.snapshot()).toBe(live)
      expect((await appState()).Running).toBe(true)
    } finally {
      rmSync(join(flag, 'unhealthy'))
    }
  }, 120_000)

  it('--undo brings back the data the successful restore replaced', async () => {
    const r = await cli(['restore', '--undo', 'ct', '--yes'])
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(await fx.snapshot()).toBe(changed)
    expect((await appState()).Running).toBe(true)
  }, 120_000)

  it('drills the newest backup and leaves nothing behind', async () => {
    const r = await cli(['verify', 'ct', '--drill'])
    expect(r.code, r.stdout).toBe(0)
    expect((JSON.parse(r.stdout) as { results: Array<{ ok: boolean }> }).results[0]?.ok).toBe(true)
  }, 120_000)

  it('cleanup removes what restores and interrupted runs left, once stale — not before', async () => {
    await fx.leftovers('20260101T000000Z')
    const early = await cli(['cleanup', 'backups'], () => new Date('2026-01-01T00:30:00Z'))
    expect(early.code, early.stdout + early.stderr).toBe(0)
    expect(await fx.leftoversGone()).toBe(false)
    const later = new Date(Date.now() + 30 * DAY)
    const r = await cli(['cleanup', 'backups'], () => later)
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(await fx.leftoversGone()).toBe(true)
    expect(existsSync(join(work.dir, 'state', 'restore-ct.json'))).toBe(false)
    expect(await fx.snapshot()).toBe(changed)
  }, 120_000)
})

describeDocker('target contract: the leftover check itself', () => {
  it('a fingerprint sees owner, mode, mtime and hard-link changes of the top directory', () => {
    const work = tempDir()
    try {
      const a = join(work.dir, 'a')
      mkdirSync(a)
      makeTree(a)
      const before = treeFingerprint(a)
      chmodSync(a, 0o700)
      expect(treeFingerprint(a)).not.toBe(before)
      chmodSync(a, 0o750)
      utimesSync(a, new Date('2026-03-02T00:00:00Z'), new Date('2026-03-02T00:00:00Z'))
      expect(treeFingerprint(a)).toBe(before)
      rmSync(join(a, 'hard-level.dat'))
      writeFileSync(join(a, 'hard-level.dat'), 'level v1')
      expect(treeFingerprint(a)).not.toBe(before)
    } finally {
      work.cleanup()
    }
  })
})
