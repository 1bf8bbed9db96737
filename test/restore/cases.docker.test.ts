/**
 * What a trial of the runbooks found about restores, each against real components: data in
 * use by a running container or a host process, restore-only stops, MariaDB without root
 * and with all databases, a corrupt SQLite database, single-file targets, restore --all,
 * safety copies in `backups` and the monitor, notifications of refusals, damaged undo
 * records, a read-only state directory in a drill.
 */
import { execFileSync, spawn } from 'node:child_process'
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli, tempDir, testEnv } from '../helpers/cli.js'
import { cleanupAll, describeDocker, execOk, getDocker, runContainer, startMariadb, uniqueName } from '../helpers/docker.js'
import { startHttpPeer, type HttpPeer } from '../helpers/http-peer.js'

let peer: HttpPeer
beforeAll(async () => {
  peer = await startHttpPeer()
})
afterAll(async () => {
  await peer?.close()
  await cleanupAll()
})

function setup(targets: string, extra = '') {
  const work = tempDir()
  writeFileSync(
    join(work.dir, 'ownops.yml'),
    `backup:\n  dir: ${join(work.dir, 'backups')}\n  targets:\n${targets}\nnotify:\n  channels:\n    hook: { url: "json://127.0.0.1:${peer.port}/hook", levels: [info, warning, error, critical] }\n  retries: 0\nrestore: { healthTimeout: 10s }\n${extra}`,
  )
  const cli = (args: string[]) => runCli(['--json', '-c', join(work.dir, 'ownops.yml'), ...args], { env: testEnv(work.dir), cwd: work.dir })
  return { work, cli }
}

const titles = () => peer.requests.map((r) => (r.json as { title?: string } | undefined)?.title ?? '')

describeDocker('restore: data in use', () => {
  it('a running container that mounts the path is stopped for the swap and shown in the plan; --no-stop refuses, naming it, and changes nothing', async () => {
    const { work, cli } = setup('    site: { type: directory, path: SITE, compression: gzip }'.replace('SITE', '/dev/null'))
    const site = join(work.dir, 'site')
    mkdirSync(site)
    writeFileSync(join(site, 'a.txt'), 'v1')
    writeFileSync(join(work.dir, 'ownops.yml'), readFileSync(join(work.dir, 'ownops.yml'), 'utf8').replace('/dev/null', site))
    const app = await runContainer({
      name: uniqueName('use-app'),
      cmd: ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 1; done'],
      volumes: [`${site}:/srv/site`],
    })
    expect((await cli(['backup', 'site'])).code).toBe(0)
    writeFileSync(join(site, 'a.txt'), 'v2')
    const plan = await cli(['restore', 'site', '--dry-run'])
    expect((JSON.parse(plan.stdout) as { stops: string[] }).stops).toEqual([app.name])
    const refused = await cli(['restore', 'site', '--yes', '--no-stop'])
    expect(refused.code).toBe(1)
    expect(refused.stdout).toMatch(new RegExp(`refusing to restore site: ${app.name} uses .* and --no-stop was given`))
    expect(readFileSync(join(site, 'a.txt'), 'utf8')).toBe('v2')
    expect(titles()).toContain('restore of site refused')
    const before = (await getDocker().getContainer(app.name).inspect()).State.StartedAt
    const r = await cli(['restore', 'site', '--yes'])
    expect(r.code, r.stdout).toBe(0)
    expect(readFileSync(join(site, 'a.txt'), 'utf8')).toBe('v1')
    const after = (await getDocker().getContainer(app.name).inspect()).State
    expect(after.StartedAt).not.toBe(before)
    expect(after.Running).toBe(true)
    expect(r.stdout).not.toMatch(/nothing was stopped/)
    work.cleanup()
  }, 60_000)

  it('a host process holding the SQLite file is named in a refusal before anything changes', async () => {
    const { work, cli } = setup('    jobs: { type: sqlite, path: DB }'.replace('DB', '/dev/null'))
    const db = join(work.dir, 'jobs.db')
    execFileSync('sqlite3', [db, 'create table t(x); insert into t values (1);'])
    writeFileSync(join(work.dir, 'ownops.yml'), readFileSync(join(work.dir, 'ownops.yml'), 'utf8').replace('/dev/null', db))
    expect((await cli(['backup', 'jobs'])).code).toBe(0)
    execFileSync('sqlite3', [db, 'insert into t values (2);'])
    const holder = spawn('sh', ['-c', `exec 3<'${db}'; sleep 60`], { stdio: 'ignore' })
    try {
      await new Promise((r) => setTimeout(r, 300))
      const r = await cli(['restore', 'jobs', '--yes'])
      expect(r.code).toBe(1)
      expect(r.stdout).toMatch(/refusing to restore jobs: (a process holds|processes hold) .*jobs\.db open/)
      expect(r.stdout).toMatch(new RegExp(`pid ${holder.pid}: sh -c exec 3<`))
      expect(execFileSync('sqlite3', [db, 'select count(*) from t']).toString().trim()).toBe('2')
      expect(
        existsSync(join(work.dir, 'backups', 'jobs')) && JSON.parse((await cli(['backups', 'jobs'])).stdout).targets[0].backups.length,
      ).toBe(1)
    } finally {
      holder.kill()
      work.cleanup()
    }
  }, 60_000)

  it('restore.stop is stopped for a restore only; stop: for both; the backup leaves restore.stop running', async () => {
    const both = await runContainer({ name: uniqueName('both'), cmd: ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 1; done'] })
    const only = await runContainer({ name: uniqueName('only'), cmd: ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 1; done'] })
    const { work, cli } = setup(
      `    d: { type: directory, path: DIR, compression: gzip, stop: [${both.name}], restore: { stop: [${only.name}] } }`.replace(
        'DIR',
        '/dev/null',
      ),
    )
    const dir = join(work.dir, 'd')
    mkdirSync(dir)
    writeFileSync(join(work.dir, 'ownops.yml'), readFileSync(join(work.dir, 'ownops.yml'), 'utf8').replace('/dev/null', dir))
    const started = async (n: string) => (await getDocker().getContainer(n).inspect()).State.StartedAt
    const onlyBefore = await started(only.name)
    const b = await cli(['backup', 'd'])
    expect(b.code).toBe(0)
    expect(await started(only.name)).toBe(onlyBefore)
    const plan = JSON.parse((await cli(['restore', 'd', '--dry-run'])).stdout) as { stops: string[] }
    expect(plan.stops.sort()).toEqual([both.name, only.name].sort())
    work.cleanup()
  }, 60_000)
})

describeDocker('restore: MariaDB', () => {
  it('without root credentials: names the missing privilege and the GRANT before anything changes; with it, restores as the app user', async () => {
    const db = await startMariadb({ name: uniqueName('rc-maria'), rootPasswordInEnv: false })
    const { cli, work } = setup(
      `    cam: { type: mariadb, container: ${db.container}, database: camserver, user: camserver, password: campw }`,
    )
    try {
      const root = (q: string) =>
        execOk(db.container, ['mariadb', '-uroot', `-p${db.rootPassword}`, '-N', '-B', '-e', q]).then((s) => s.trim())
      await root(
        "create database camserver; create user 'camserver'@'localhost' identified by 'campw'; grant all on camserver.* to 'camserver'@'localhost'; create table camserver.f(id int primary key); insert into camserver.f values (1),(2)",
      )
      expect((await cli(['backup', 'cam'])).code).toBe(0)
      await root('insert into camserver.f values (3)')
      const r = await cli(['restore', 'cam', '--yes'])
      expect(r.code, r.stdout).toBe(77)
      expect(r.stdout).toMatch(/user camserver may not create the database camserver__ownops_restore that a staged restore needs/)
      expect(r.stdout).toMatch(/GRANT ALL PRIVILEGES ON `camserver\\\\_\\\\_ownops\\\\_%`\.\* TO 'camserver'@'%'/)
      expect(await root('select count(*) from camserver.f')).toBe('3')
      expect(JSON.parse((await cli(['backups', 'cam'])).stdout).targets[0].backups.length).toBe(1)
      await root("grant all on `camserver\\_\\_ownops\\_%`.* to 'camserver'@'localhost'")
      const ok = await cli(['restore', 'cam', '--yes'])
      expect(ok.code, ok.stdout).toBe(0)
      expect(await root('select count(*) from camserver.f')).toBe('2')
    } finally {
      await db.remove()
      work.cleanup()
    }
  }, 180_000)

  it('an all-databases dump restores every user database (not mysql), in place and in a drill', async () => {
    const db = await startMariadb({ name: uniqueName('rc-all') })
    const { cli, work } = setup(`    all: { type: mariadb, container: ${db.container} }`)
    try {
      const root = (q: string) =>
        execOk(db.container, ['mariadb', '-uroot', `-p${db.rootPassword}`, '-N', '-B', '-e', q]).then((s) => s.trim())
      await root(
        "create database a; create database b; create table a.t(x int); create table b.u(y varchar(9)); insert into a.t values (1),(2); insert into b.u values ('b1')",
      )
      expect((await cli(['backup', 'all'])).code).toBe(0)
      await root("insert into a.t values (3); drop table b.u; create table b.v(z int); create user 'later'@'localhost'")
      const r = await cli(['restore', 'all', '--yes'])
      expect(r.code, r.stdout).toBe(0)
      expect(await root('select group_concat(x order by x) from a.t')).toBe('1,2')
      expect(await root("select group_concat(table_name) from information_schema.tables where table_schema = 'b'")).toBe('u')
      // Users and grants stay as the server has them.
      expect(await root("select count(*) from mysql.user where user = 'later'")).toBe('1')
      const drill = await cli(['verify', 'all', '--drill'])
      expect(drill.code, drill.stdout).toBe(0)
      // Every table of every database read: a.t's two rows and b.u's one.
      expect((JSON.parse(drill.stdout) as { results: Array<{ drill: unknown }> }).results[0]?.drill).toEqual({ tables: 2, rows: 3 })
      expect(await root("select count(*) from information_schema.SCHEMATA where SCHEMA_NAME like '%ownops%'")).toBe('0')
      const undo = await cli(['restore', '--undo', 'all', '--yes'])
      expect(undo.code, undo.stdout).toBe(0)
      expect(await root('select group_concat(x order by x) from a.t')).toBe('1,2,3')
      // A stopped database container is a dependency that is unavailable: the same error,
      // with the same exit status (69) wherever it stops a command.
      await getDocker().getContainer(db.container).stop({ t: 5 })
      const backup = await cli(['backup', 'all'])
      expect(backup.code).toBe(1) // the run's status: a target failed
      expect(JSON.parse(backup.stdout).targets[0]).toMatchObject({
        ok: false,
        error: `container ${db.container} is not running; the dump runs inside it`,
        hint: `docker start ${db.container}`,
      })
      const stopped = await cli(['restore', 'all', '--yes'])
      expect(stopped.code, stopped.stdout).toBe(69)
      expect(JSON.parse(stopped.stdout).error).toMatchObject({ exitCode: 69, hint: `docker start ${db.container}` })
      expect(JSON.parse(stopped.stdout).error.message).toContain(`container ${db.container} is not running`)
    } finally {
      await db.remove()
      work.cleanup()
    }
  }, 180_000)
})

describe('restore: single files, corrupt SQLite, --all, safety copies, undo records, drills', () => {
  it('a single-file target backs up, verifies, restores (owner, mode, mtime) and drills', async () => {
    const { work, cli } = setup('    env: { type: directory, path: FILE, compression: gzip }'.replace('FILE', '/dev/null'))
    const app = join(work.dir, 'app')
    mkdirSync(app)
    const file = join(app, '.env.prod')
    writeFileSync(file, 'TOKEN=one\n')
    chownSync(file, 1000, 1000)
    chmodSync(file, 0o640)
    writeFileSync(join(work.dir, 'ownops.yml'), readFileSync(join(work.dir, 'ownops.yml'), 'utf8').replace('/dev/null', file))
    const v = await cli(['config', 'validate'])
    expect(v.code).toBe(0)
    const b = await cli(['backup', 'env'])
    expect(b.code, b.stdout).toBe(0)
    expect((await cli(['verify', 'env'])).code).toBe(0)
    const before = statSync(file)
    writeFileSync(file, 'TOKEN=two\n')
    chmodSync(file, 0o600)
    const r = await cli(['restore', 'env', '--yes'])
    expect(r.code, r.stdout).toBe(0)
    const after = statSync(file)
    expect(readFileSync(file, 'utf8')).toBe('TOKEN=one\n')
    expect([after.uid, after.gid, after.mode & 0o7777, after.mtimeMs]).toEqual([1000, 1000, 0o640, before.mtimeMs])
    expect(readFileSync((JSON.parse(r.stdout) as { kept: string }).kept, 'utf8')).toBe('TOKEN=two\n')
    const side = join(work.dir, 'side.env')
    expect((await cli(['restore', 'env', '--to', side, '--yes'])).code).toBe(0)
    expect(readFileSync(side, 'utf8')).toBe('TOKEN=one\n')
    const drill = await cli(['verify', 'env', '--drill'])
    expect(drill.code, drill.stdout).toBe(0)
    work.cleanup()
  }, 60_000)

  it('a corrupt SQLite database refuses the safety copy, changes nothing, and notifies', async () => {
    const { work, cli } = setup('    jobs: { type: sqlite, path: DB }'.replace('DB', '/dev/null'))
    const db = join(work.dir, 'jobs.db')
    execFileSync('sqlite3', [db, 'create table t(x text); insert into t select hex(randomblob(500)) from generate_series(1, 400);'])
    writeFileSync(join(work.dir, 'ownops.yml'), readFileSync(join(work.dir, 'ownops.yml'), 'utf8').replace('/dev/null', db))
    expect((await cli(['backup', 'jobs'])).code).toBe(0)
    // Damage a page in the middle of the file.
    const data = readFileSync(db)
    data.fill(0xff, 8192, 12288)
    writeFileSync(db, data)
    const damaged = readFileSync(db)
    const count = peer.requests.length
    const r = await cli(['restore', 'jobs', '--yes'])
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(/the safety copy of the current data failed/)
    expect(readFileSync(db).equals(damaged)).toBe(true)
    const sent = peer.requests.slice(count).map((q) => q.json as { title: string; level: string })
    expect(sent.some((m) => m.title === 'restore of jobs failed' && m.level === 'error')).toBe(true)
    work.cleanup()
  }, 60_000)

  it('restore --all: databases first, one plan, one report; a failure stops the sequence and says what was and was not restored', async () => {
    const { work, cli } = setup(
      '    files: { type: directory, path: FILES, compression: gzip }\n    jobs: { type: sqlite, path: DB }\n    more: { type: directory, path: MORE, compression: gzip }',
    )
    const files = join(work.dir, 'files')
    const more = join(work.dir, 'more')
    const db = join(work.dir, 'jobs.db')
    mkdirSync(files)
    mkdirSync(more)
    writeFileSync(join(files, 'f'), 'v1')
    writeFileSync(join(more, 'm'), 'v1')
    execFileSync('sqlite3', [db, 'create table t(x); insert into t values (1);'])
    writeFileSync(
      join(work.dir, 'ownops.yml'),
      readFileSync(join(work.dir, 'ownops.yml'), 'utf8').replace('FILES', files).replace('MORE', more).replace('DB', db),
    )
    expect((await cli(['backup'])).code).toBe(0)
    writeFileSync(join(files, 'f'), 'v2')
    writeFileSync(join(more, 'm'), 'v2')
    execFileSync('sqlite3', [db, 'insert into t values (2);'])
    const plan = await cli(['restore', '--all', '--dry-run'])
    expect(plan.code, plan.stdout).toBe(0)
    expect((JSON.parse(plan.stdout) as { targets: Array<{ target: string }> }).targets.map((t) => t.target)).toEqual([
      'jobs',
      'files',
      'more',
    ])
    const r = await cli(['restore', '--all', '--yes'])
    expect(r.code, r.stdout).toBe(0)
    expect(readFileSync(join(files, 'f'), 'utf8')).toBe('v1')
    expect(readFileSync(join(more, 'm'), 'utf8')).toBe('v1')
    expect(execFileSync('sqlite3', [db, 'select count(*) from t']).toString().trim()).toBe('1')
    // Now the last one cannot be restored: its parent directory is gone at the swap... the plan refuses it up front.
    writeFileSync(join(files, 'f'), 'v3')
    execFileSync('rm', ['-rf', more])
    writeFileSync(
      join(work.dir, 'ownops.yml'),
      readFileSync(join(work.dir, 'ownops.yml'), 'utf8').replace(more, join(work.dir, 'gone', 'more')),
    )
    const refused = await cli(['restore', '--all', '--yes'])
    expect(refused.code).toBe(1)
    expect(refused.stdout).toMatch(/does not exist/)
    expect(readFileSync(join(files, 'f'), 'utf8')).toBe('v3')
    expect(titles()).toContain('restore --all refused')
    work.cleanup()
  }, 60_000)

  it('backups marks pre-restore safety copies; the monitor backup check does not count them as fresh', async () => {
    const { work, cli } = setup(
      '    jobs: { type: sqlite, path: DB }'.replace('DB', '/dev/null'),
      'monitor:\n  builtins: false\n  checks:\n    bk: { kind: backup, maxAge: 1h }\n',
    )
    const db = join(work.dir, 'jobs.db')
    execFileSync('sqlite3', [db, 'create table t(x); insert into t values (1);'])
    writeFileSync(join(work.dir, 'ownops.yml'), readFileSync(join(work.dir, 'ownops.yml'), 'utf8').replace('/dev/null', db))
    const clock = (iso: string) => () => new Date(iso)
    const at = (args: string[], iso: string) =>
      runCli(['--json', '-c', join(work.dir, 'ownops.yml'), ...args], { env: testEnv(work.dir), cwd: work.dir, clock: clock(iso) })
    expect((await at(['backup', 'jobs'], '2026-06-01T03:00:00Z')).code).toBe(0)
    expect((await at(['restore', 'jobs', '--yes'], '2026-06-02T12:00:00Z')).code).toBe(0)
    const list = await at(['backups', 'jobs'], '2026-06-02T12:05:00Z')
    const backups =
      (JSON.parse(list.stdout) as { targets: Array<{ backups: Array<{ safetyCopy?: boolean; tags?: string[] }> }> }).targets[0]?.backups ??
      []
    expect(backups.map((b) => b.safetyCopy === true)).toEqual([true, false])
    const text = await runCli(['-c', join(work.dir, 'ownops.yml'), 'backups', 'jobs'], {
      env: testEnv(work.dir),
      cwd: work.dir,
      clock: clock('2026-06-02T12:05:00Z'),
    })
    expect(text.stdout).toMatch(/pre-restore safety copy/)
    const mon = await at(['monitor'], '2026-06-02T12:05:00Z')
    expect(mon.stdout).toMatch(/the newest backup is 1d9h5m old/)
    expect(cli).toBeTypeOf('function')
    work.cleanup()
  }, 60_000)

  it.each([['null'], ['{}'], ['[1]'], ['{"target":"site","time":"x","backup":"b","live":"/x"}'], ['not json']])(
    'an undo record of %s is refused with its path; nothing is stopped or renamed',
    async (content) => {
      const { work, cli } = setup(
        '    site: { type: directory, path: SITE, compression: gzip }'.replace('SITE', join('/tmp', 'never-there-ownops')),
      )
      mkdirSync(join(work.dir, 'state'), { recursive: true })
      writeFileSync(join(work.dir, 'state', 'restore-site.json'), content)
      const r = await cli(['restore', '--undo', 'site', '--yes'])
      expect(r.code).toBe(1)
      expect(r.stdout).toMatch(/the undo record .*restore-site\.json is damaged .*nothing was touched/)
      expect(r.stdout).not.toMatch(/undefined/)
      work.cleanup()
    },
  )

  it('verify --drill with a read-only state directory exits 77 and says why', async () => {
    const { work, cli } = setup('    d: { type: directory, path: DIR, compression: gzip }'.replace('DIR', '/dev/null'))
    const dir = join(work.dir, 'd')
    mkdirSync(dir)
    writeFileSync(join(dir, 'x'), 'x')
    writeFileSync(join(work.dir, 'ownops.yml'), readFileSync(join(work.dir, 'ownops.yml'), 'utf8').replace('/dev/null', dir))
    expect((await cli(['backup', 'd'])).code).toBe(0)
    const state = join(work.dir, 'state')
    mkdirSync(state, { recursive: true })
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', state])
    try {
      const r = await cli(['verify', '--drill'])
      expect(r.code, r.stdout).toBe(77)
      expect(r.stdout).toMatch(/cannot be recorded for monitor: .*drills\.json: read-only file system/)
    } finally {
      execFileSync('umount', [state])
      work.cleanup()
    }
  })
})
