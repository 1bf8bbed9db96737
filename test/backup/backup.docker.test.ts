/**
 * Backups against real components: PostgreSQL 15 in a container (dumped through the Docker
 * exec API and restored with pg_restore), SQLite under write load, a directory on a Docker
 * volume, a Minecraft RCON peer, and the failure paths (tool failure, disk full, SIGKILL).
 */
import { execFileSync, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { join, relative } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BIN, runCli, tempDir, testEnv } from '../helpers/cli.js'
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
  type PostgresContainer,
} from '../helpers/docker.js'
import { startHttpPeer, type HttpPeer } from '../helpers/http-peer.js'
import { startRconPeer } from '../helpers/rcon-peer.js'

interface RunReport {
  ok: boolean
  targets: Array<{
    target: string
    ok: boolean
    file?: string
    size?: number
    sha256?: string
    error?: string
    stderr?: string
    warnings: string[]
    stopped?: string[]
    downtimeMs?: number
    prune?: { removed: string[] }
  }>
}

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex')
}

function writeConfig(dir: string, yaml: string): string {
  const file = join(dir, 'ownops.yml')
  writeFileSync(file, yaml)
  return file
}

async function backup(
  dir: string,
  args: string[],
  extraEnv: NodeJS.ProcessEnv = {},
): Promise<{ code: number; report: RunReport; stderr: string }> {
  const r = await runCli(['--json', '-c', join(dir, 'ownops.yml'), 'backup', ...args], { env: testEnv(dir, extraEnv), cwd: dir })
  let report: RunReport
  try {
    report = JSON.parse(r.stdout) as RunReport
  } catch {
    throw new Error(`backup printed no JSON report (exit ${r.code}): ${r.stdout}\n${r.stderr}`)
  }
  return { code: r.code, report, stderr: r.stderr }
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir, { recursive: true }).map(String)
}

const PSQL = ['psql', '-U', 'postgres', '-h', '/var/run/postgresql', '-v', 'ON_ERROR_STOP=1', '-At']

describeDocker('backup: postgres in a container', () => {
  let pg: PostgresContainer
  let work: { dir: string; cleanup: () => void }
  let peer: HttpPeer
  let firstId = ''
  let socket = ''

  beforeAll(async () => {
    work = tempDir()
    // The server's socket in a host directory too, for pg_dump on the host (url:).
    socket = join(work.dir, 'pgsock')
    mkdirSync(socket)
    chmodSync(socket, 0o777)
    pg = await startPostgres({ name: uniqueName('bk-pg'), hostSocketDir: socket })
    peer = await startHttpPeer()
    await execOk(pg.container, [...PSQL, '-c', 'create database shop'])
    await execOk(pg.container, ['pgbench', '-i', '-s', '5', '-q', '-U', 'postgres', '-h', '/var/run/postgresql', 'shop'], {
      timeoutMs: 120_000,
    })
    await execOk(pg.container, [
      ...PSQL,
      '-d',
      'shop',
      '-c',
      "create table notes(id serial primary key, body text, tag text, blob bytea); insert into notes(body, tag, blob) values ('日本語のメモ 🎮', null, null), (repeat('x', 3000000), 'large', decode(repeat('00ff', 500000), 'hex')), (E'line\\nbreak\\ttab', 'ctl', '\\x00'::bytea)",
    ])
    writeConfig(
      work.dir,
      `backup:
  dir: ${join(work.dir, 'backups')}
  targets:
    shop: { type: postgres, container: ${pg.container}, database: shop, keep: { last: 2, tags: [keepme] } }
    wrong: { type: postgres, container: ${pg.container}, database: no_such_db }
notify:
  channels:
    hook: { url: "json://127.0.0.1:${peer.port}/hook", levels: [info, warning, error, critical] }
  retries: 0
`,
    )
  }, 180_000)

  afterAll(async () => {
    await peer?.close()
    await pg?.remove()
    work?.cleanup()
    await cleanupAll()
  })

  it('dumps through docker exec into a checksummed artifact that pg_restore restores table for table', async () => {
    const { code, report, stderr } = await backup(work.dir, ['shop', '--tag', 'keepme'])
    expect(code, stderr).toBe(0)
    const t = report.targets[0]!
    expect(t.ok).toBe(true)
    firstId = t
      .file!.split('/')
      .pop()!
      .replace(/\.pgdump$/, '')
    expect(t.file).toMatch(/\/shop\/shop-\d{8}T\d{6}Z(-\d+)?\.pgdump$/)
    expect(sha256(t.file!)).toBe(t.sha256)
    expect(statSync(t.file!).size).toBe(t.size)
    expect(statSync(t.file!).mode & 0o777).toBe(0o600)
    expect(statSync(join(work.dir, 'backups', 'shop')).mode & 0o777).toBe(0o700)
    const manifest = JSON.parse(readFileSync(t.file!.replace(/\.pgdump$/, '.json'), 'utf8')) as Record<string, unknown>
    expect(manifest).toMatchObject({ target: 'shop', type: 'postgres', sha256: t.sha256, size: t.size, compression: 'custom' })
    expect((manifest.source as { pgDump: string }).pgDump).toMatch(/pg_dump \(PostgreSQL\) 15/)
    expect(readFileSync(t.file!).subarray(0, 5).toString('latin1')).toBe('PGDMP')

    // Restore into a fresh database inside the container and compare every table by checksum.
    const tar = execFileSync('tar', ['--mode=a+r', '-cf', '-', '-C', join(work.dir, 'backups', 'shop'), t.file!.split('/').pop()!], {
      maxBuffer: 1 << 30,
    })
    await getDocker().getContainer(pg.container).putArchive(tar, { path: '/var/run/postgresql' })
    await execOk(pg.container, [...PSQL, '-c', 'create database restored'])
    await execOk(
      pg.container,
      [
        'pg_restore',
        '-U',
        'postgres',
        '-h',
        '/var/run/postgresql',
        '-d',
        'restored',
        '--exit-on-error',
        `/var/run/postgresql/${t.file!.split('/').pop()!}`,
      ],
      { timeoutMs: 120_000 },
    )
    const tables = (
      await execOk(pg.container, [...PSQL, '-d', 'shop', '-c', "select tablename from pg_tables where schemaname='public' order by 1"])
    )
      .trim()
      .split('\n')
    expect(tables).toEqual(['notes', 'pgbench_accounts', 'pgbench_branches', 'pgbench_history', 'pgbench_tellers'])
    for (const table of tables) {
      const sum = `select count(*) || ':' || coalesce(md5(string_agg(t::text, '|' order by t::text)), '') from ${table} t`
      const [a, b] = await Promise.all([
        execOk(pg.container, [...PSQL, '-d', 'shop', '-c', sum]),
        execOk(pg.container, [...PSQL, '-d', 'restored', '-c', sum]),
      ])
      expect(b.trim(), table).toBe(a.trim())
    }
    expect((await execOk(pg.container, [...PSQL, '-d', 'restored', '-c', 'select count(*) from pgbench_accounts'])).trim()).toBe('500000')
  }, 240_000)

  it('over a URL, pg_dump on the host: the manifest holds the checksum of the file as pg_dump left it, and pg_restore reads it', async () => {
    // Given a file, pg_dump -Fc rewrites its table of contents at the end: the artifact's
    // checksum must be that of the finished file, not of the bytes as they first landed.
    const config = join(work.dir, 'url.yml')
    writeFileSync(
      config,
      `backup:\n  dir: ${join(work.dir, 'url-backups')}\n  targets:\n    shop: { type: postgres, url: "postgresql:///shop?host=${socket}&user=postgres" }\n`,
    )
    const r = await runCli(['--json', '-c', config, 'backup', 'shop'], { env: testEnv(work.dir), cwd: work.dir })
    expect(r.code, r.stderr).toBe(0)
    const t = (JSON.parse(r.stdout) as RunReport).targets[0]!
    expect(t.size).toBeGreaterThan(1_000_000)
    expect(statSync(t.file!).size).toBe(t.size)
    expect(sha256(t.file!)).toBe(t.sha256)
    const list = execFileSync('pg_restore', ['--list', t.file!], { encoding: 'utf8' })
    expect(list).toMatch(/TABLE DATA public pgbench_accounts/)
    expect(list).toMatch(/TABLE DATA public notes/)
  }, 120_000)

  it('a failing pg_dump leaves no artifact, exits 1 and notifies with its stderr', async () => {
    const before = peer.requests.length
    const { code, report } = await backup(work.dir, ['wrong'])
    expect(code).toBe(1)
    const t = report.targets[0]!
    expect(t.ok).toBe(false)
    expect(t.error).toMatch(/pg_dump of database no_such_db .* failed with exit 1/)
    expect(t.stderr).toMatch(/no_such_db/)
    expect(filesUnder(join(work.dir, 'backups', 'wrong'))).toEqual([])
    const sent = peer.requests.slice(before).map((r) => r.json as { level: string; title: string; body: string })
    const failure = sent.find((e) => e.level === 'error')
    expect(failure?.title).toBe('backup of wrong failed')
    expect(failure?.body).toMatch(/database "no_such_db" does not exist/)
    const list = await runCli(['--json', '-c', join(work.dir, 'ownops.yml'), 'backups', 'wrong'], { env: testEnv(work.dir), cwd: work.dir })
    expect((JSON.parse(list.stdout) as { targets: Array<{ backups: unknown[] }> }).targets[0]?.backups).toEqual([])
  }, 60_000)

  it('one failing target does not stop the others; retention keeps the last 2 and the tagged one', async () => {
    for (let i = 0; i < 2; i++) {
      const { code, report } = await backup(work.dir, [])
      expect(code).toBe(1)
      expect(report.targets.map((t) => [t.target, t.ok])).toEqual([
        ['shop', true],
        ['wrong', false],
      ])
    }
    const list = await runCli(['--json', '-c', join(work.dir, 'ownops.yml'), 'backups', 'shop'], { env: testEnv(work.dir), cwd: work.dir })
    const backups = (JSON.parse(list.stdout) as { targets: Array<{ backups: Array<{ id: string; tags?: string[] }> }> }).targets[0]!.backups
    expect(backups).toHaveLength(3)
    expect(backups[2]).toMatchObject({ id: firstId, tags: ['keepme'] })
    expect(readdirSync(join(work.dir, 'backups', 'shop')).filter((f) => !f.startsWith('.'))).toHaveLength(6)
  }, 180_000)
})

describeDocker('backup: mariadb in a container', () => {
  it('dumps with mariadb-dump through docker exec (password from the container env, never in argv); the dump restores', async () => {
    const db = await startMariadb({ name: uniqueName('bk-maria') })
    const work = tempDir()
    try {
      const sql = (q: string) =>
        execOk(db.container, ['mariadb', '-uroot', `-p${db.rootPassword}`, '--default-character-set=utf8mb4', '-N', '-B', '-e', q])
      await sql(
        "create database shop character set utf8mb4; use shop; create table items(id int primary key auto_increment, name varchar(100), note mediumtext, price decimal(10,2)) engine=innodb; insert into items(name, note, price) values ('日本語', null, 9.99), ('long', repeat('z', 100000), 0); create trigger t_items before insert on items for each row set new.name = trim(new.name); create procedure p_count() select count(*) from items;",
      )
      writeConfig(
        work.dir,
        `backup:\n  dir: ${join(work.dir, 'backups')}\n  targets:\n    shop: { type: mariadb, container: ${db.container}, database: shop }\n`,
      )
      const { code, report, stderr } = await backup(work.dir, ['shop'])
      expect(code, stderr).toBe(0)
      const t = report.targets[0]!
      expect(t.file).toMatch(/\.sql\.gz$/)
      expect(sha256(t.file!)).toBe(t.sha256)
      const dump = execFileSync('gzip', ['-dc', t.file!], { maxBuffer: 1 << 28 }).toString('utf8')
      expect(dump).toMatch(/CREATE TABLE `items`/)
      expect(dump).toMatch(/trigger t_items before insert/i)
      expect(dump).toMatch(/PROCEDURE `p_count`/)
      expect(dump).toContain("'日本語'")
      expect(stderr).not.toContain(db.rootPassword)
      expect(JSON.stringify(report)).not.toContain(db.rootPassword)

      // Restore into a second database and compare.
      await sql('create database restored character set utf8mb4')
      const tar = execFileSync(
        'sh',
        [
          '-c',
          `gzip -dc '${t.file!}' | sed 's/\`shop\`/\`restored\`/g' > '${work.dir}/dump.sql' && tar --mode=a+r -cf - -C '${work.dir}' dump.sql`,
        ],
        { maxBuffer: 1 << 28 },
      )
      await getDocker().getContainer(db.container).putArchive(tar, { path: '/tmp' })
      await execOk(db.container, [
        'sh',
        '-c',
        `mariadb -uroot -p'${db.rootPassword}' --default-character-set=utf8mb4 restored < /tmp/dump.sql`,
      ])
      const sum = "select count(*), md5(group_concat(concat_ws('|', id, name, coalesce(note, 'NULL'), price) order by id)) from items"
      expect(await sql(`use restored; ${sum}`)).toBe(await sql(`use shop; ${sum}`))
    } finally {
      await db.remove()
      work.cleanup()
    }
  }, 180_000)
})

describeDocker('backup: directories, volumes and Minecraft', () => {
  let work: { dir: string; cleanup: () => void }
  afterAll(async () => {
    work?.cleanup()
    await cleanupAll()
  })
  beforeAll(() => {
    work = tempDir()
  })

  it('archives a Docker volume with nested folders, modes, symlinks, an empty dir and a 200 MB file; the extracted tree is identical', async () => {
    const vol = await createVolume(uniqueName('bk-vol'))
    const info = await getDocker().getVolume(vol.name).inspect()
    const root = info.Mountpoint
    mkdirSync(join(root, 'world/region'), { recursive: true })
    mkdirSync(join(root, 'empty'))
    writeFileSync(join(root, 'world/level.dat'), 'level')
    writeFileSync(join(root, 'world/region/r.0.0.mca'), Buffer.alloc(4096, 7))
    writeFileSync(join(root, 'secret.txt'), 'only me')
    chmodSync(join(root, 'secret.txt'), 0o600)
    writeFileSync(join(root, 'run.sh'), '#!/bin/sh\n')
    chmodSync(join(root, 'run.sh'), 0o755)
    symlinkSync('world/level.dat', join(root, 'link-in'))
    symlinkSync('/etc/passwd', join(root, 'link-out'))
    execFileSync('sh', ['-c', `head -c 100000000 /dev/urandom > '${root}/big.bin' && head -c 100000000 /dev/zero >> '${root}/big.bin'`])
    writeFileSync(join(root, 'cache.tmp'), 'excluded')

    writeConfig(
      work.dir,
      `backup:\n  dir: ${join(work.dir, 'backups')}\n  targets:\n    world: { type: directory, volume: ${vol.name}, exclude: ["*.tmp"] }\n`,
    )
    const { code, report, stderr } = await backup(work.dir, ['world'])
    expect(code, stderr).toBe(0)
    const t = report.targets[0]!
    expect(t.file).toMatch(/\.tar\.zst$/)
    expect(sha256(t.file!)).toBe(t.sha256)

    const out = join(work.dir, 'extracted')
    mkdirSync(out)
    execFileSync('tar', ['-I', 'zstd', '-xpf', t.file!, '-C', out])
    const describeTree = (base: string) =>
      filesUnder(base)
        .filter((p) => p !== 'cache.tmp')
        .sort()
        .map((p) => {
          const full = join(base, p)
          const s = lstatSync(full)
          const kind = s.isSymbolicLink() ? `link:${readlinkSync(full)}` : s.isDirectory() ? 'dir' : `file:${s.size}:${sha256(full)}`
          return `${relative(base, full)} ${(s.mode & 0o7777).toString(8)} ${kind} ${s.isSymbolicLink() ? '' : Math.floor(s.mtimeMs / 1000)}`
        })
    expect(describeTree(out)).toEqual(describeTree(root))
    expect(existsSync(join(out, 'cache.tmp'))).toBe(false)
    expect(lstatSync(join(out, 'link-out')).isSymbolicLink()).toBe(true)
    const manifest = JSON.parse(readFileSync(t.file!.replace(/\.tar\.zst$/, '.json'), 'utf8')) as {
      source: { files: number; volume: string }
    }
    expect(manifest.source.volume).toBe(vol.name)
    expect(manifest.source.files).toBe(filesUnder(root).length) // the entries (without the excluded file) plus the root "."
    await vol.remove()
  }, 180_000)

  it('quiesces Minecraft over RCON: save-off, save-all flush, archive, save-on; stops and restarts containers in stop:', async () => {
    const rcon = await startRconPeer()
    const world = join(work.dir, 'mc')
    mkdirSync(join(world, 'world'), { recursive: true })
    writeFileSync(join(world, 'world/level.dat'), 'x')
    const side = await runContainer({ name: uniqueName('bk-side'), cmd: ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 1; done'] })
    writeConfig(
      work.dir,
      `backup:
  dir: ${join(work.dir, 'backups')}
  targets:
    mc:
      type: directory
      path: ${world}
      compression: gzip
      stop: [${side.name}]
      minecraft: { rcon: { host: 127.0.0.1, port: ${rcon.port}, password: "${rcon.password}" } }
`,
    )
    const { code, report, stderr } = await backup(work.dir, ['mc'])
    expect(code, stderr).toBe(0)
    expect(rcon.commands).toEqual(['save-off', 'save-all flush', 'save-on'])
    expect(report.targets[0]!.stopped).toEqual([side.name])
    expect(report.targets[0]!.downtimeMs).toBeGreaterThan(0)
    expect((await getDocker().getContainer(side.name).inspect()).State.Running).toBe(true)
    expect(stderr).not.toContain(rcon.password)
    await rcon.close()
  }, 120_000)

  it('sends save-on even when the archive fails after save-off (backup disk full)', async (context) => {
    if (process.getuid?.() !== 0) context.skip()
    const rcon = await startRconPeer()
    const tiny = join(work.dir, 'tiny-mc')
    mkdirSync(tiny)
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', tiny])
    try {
      execFileSync('sh', ['-c', `head -c 4000000 /dev/urandom > '${join(work.dir, 'mc', 'world', 'noise')}'`])
      writeConfig(
        work.dir,
        `backup:
  dir: ${tiny}
  targets:
    mc:
      type: directory
      path: ${join(work.dir, 'mc')}
      minecraft: { rcon: { host: 127.0.0.1, port: ${rcon.port}, password: "${rcon.password}" } }
`,
      )
      const { code, report } = await backup(work.dir, ['mc'])
      expect(code).toBe(1)
      expect(report.targets[0]!.error).toMatch(/no space left/)
      expect(rcon.commands).toEqual(['save-off', 'save-all flush', 'save-on'])
      expect(filesUnder(join(tiny, 'mc'))).toEqual([])
    } finally {
      execFileSync('umount', [tiny])
      await rcon.close()
    }
  }, 60_000)

  it('an unreachable RCON fails the backup by default, and proceeds with a warning when told to', async () => {
    const mcDir = join(work.dir, 'mc')
    const closed = await startRconPeer()
    const port = closed.port
    await closed.close()
    const config = (onRconError: string) =>
      `backup:\n  dir: ${join(work.dir, 'backups2')}\n  targets:\n    mc: { type: directory, path: ${mcDir}, compression: gzip, minecraft: { rcon: { port: ${port}, password: x }, retries: 1, onRconError: ${onRconError} } }\n`
    writeConfig(work.dir, config('fail'))
    const failed = await backup(work.dir, ['mc'])
    expect(failed.code).toBe(1)
    expect(failed.report.targets[0]!.error).toMatch(/cannot quiesce the Minecraft server: cannot reach RCON at 127.0.0.1:\d+: ECONNREFUSED/)
    expect(filesUnder(join(work.dir, 'backups2', 'mc'))).toEqual([])
    writeConfig(work.dir, config('proceed'))
    const proceeded = await backup(work.dir, ['mc'])
    expect(proceeded.code).toBe(0)
    expect(proceeded.report.targets[0]!.warnings.join('\n')).toMatch(/Minecraft not quiesced/)
  }, 60_000)
})

describe('backup: sqlite, disk full, SIGKILL', () => {
  let work: { dir: string; cleanup: () => void }
  beforeAll(() => {
    work = tempDir()
  })
  afterAll(() => {
    try {
      execFileSync('umount', [join(work.dir, 'tiny')], { stdio: 'ignore' })
    } catch {
      // not mounted
    }
    work?.cleanup()
  })

  it('backs up SQLite under write load: the copy passes integrity_check and holds every row committed before the start', async () => {
    const db = join(work.dir, 'jobs.db')
    execFileSync('sqlite3', [
      db,
      'PRAGMA journal_mode=WAL; create table jobs(id integer primary key, payload text); insert into jobs(payload) select hex(randomblob(200)) from generate_series(1, 20000);',
    ])
    // A writer that keeps committing while the backup runs.
    const writer = spawn(
      'sh',
      ['-c', `i=0; while [ $i -lt 400 ]; do sqlite3 '${db}' ".timeout 5000" "insert into jobs(payload) values ('w$i')"; i=$((i+1)); done`],
      { stdio: 'ignore' },
    )
    const rows = () => Number(execFileSync('sqlite3', [db, '.timeout 5000', 'select count(*) from jobs']).toString().trim())
    // The writer is under way once its first commits are in — however long that takes on a busy machine.
    let committedBefore = rows()
    while (committedBefore < 20_010) {
      await new Promise((resolve) => setTimeout(resolve, 20))
      committedBefore = rows()
    }
    writeConfig(work.dir, `backup:\n  dir: ${join(work.dir, 'backups')}\n  targets:\n    jobs: { type: sqlite, path: ${db} }\n`)
    const { code, report, stderr } = await backup(work.dir, ['jobs'])
    writer.kill()
    expect(code, stderr).toBe(0)
    const t = report.targets[0]!
    const restored = join(work.dir, 'restored.db')
    execFileSync('sh', ['-c', `gzip -dc '${t.file!}' > '${restored}'`])
    expect(execFileSync('sqlite3', [restored, 'PRAGMA integrity_check']).toString().trim()).toBe('ok')
    const count = Number(execFileSync('sqlite3', [restored, 'select count(*) from jobs']).toString().trim())
    expect(count).toBeGreaterThanOrEqual(committedBefore)
    expect(committedBefore).toBeGreaterThan(20000)
  }, 60_000)

  it('disk full: a clear error, no partial file left, exit 1', async (context) => {
    if (process.getuid?.() !== 0) context.skip()
    const tiny = join(work.dir, 'tiny')
    mkdirSync(tiny)
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', tiny])
    const src = join(work.dir, 'src')
    mkdirSync(src)
    execFileSync('sh', ['-c', `head -c 8000000 /dev/urandom > '${src}/noise'`])
    writeConfig(work.dir, `backup:\n  dir: ${tiny}\n  targets:\n    big: { type: directory, path: ${src}, compression: gzip }\n`)
    const { code, report } = await backup(work.dir, ['big'])
    expect(code).toBe(1)
    expect(report.targets[0]!.error).toMatch(/no space left on the backup disk/)
    expect(filesUnder(join(tiny, 'big'))).toEqual([])
  }, 60_000)

  it('SIGKILL mid-archive leaves nothing that `backups` lists as valid; the next run removes the partial file', async () => {
    const src = join(work.dir, 'slow')
    mkdirSync(src, { recursive: true })
    execFileSync('sh', ['-c', `head -c 300000000 /dev/urandom > '${src}/noise'`])
    const dir = join(work.dir, 'killed')
    mkdirSync(dir)
    writeConfig(
      dir,
      `backup:\n  dir: ${join(dir, 'backups')}\n  targets:\n    slow: { type: directory, path: ${src}, compression: gzip, level: 9 }\n`,
    )
    const child = spawn(process.execPath, [BIN, '-c', join(dir, 'ownops.yml'), 'backup', 'slow'], { env: testEnv(dir), stdio: 'ignore' })
    const target = join(dir, 'backups', 'slow')
    // Until the archive is under way, however long a busy machine takes to get there.
    while (child.exitCode === null && !filesUnder(target).some((f) => f.endsWith('.partial') && statSync(join(target, f)).size > 0)) {
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    const exited = child.exitCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGKILL')
    await exited
    expect(filesUnder(target).some((f) => f.endsWith('.partial'))).toBe(true)
    const list = await runCli(['--json', '-c', join(dir, 'ownops.yml'), 'backups'], { env: testEnv(dir), cwd: dir })
    const listed = JSON.parse(list.stdout) as { targets: Array<{ backups: unknown[]; oddities: Array<{ kind: string; stale: boolean }> }> }
    expect(listed.targets[0]!.backups).toEqual([])
    expect(listed.targets[0]!.oddities).toMatchObject([{ kind: 'partial', stale: true }])
    const text = await runCli(['-c', join(dir, 'ownops.yml'), 'backups'], { env: testEnv(dir), cwd: dir })
    expect(text.stdout).toMatch(/leftover partial file of an interrupted run/)

    writeFileSync(join(src, 'noise'), 'small now')
    const again = await backup(dir, ['slow'])
    expect(again.code).toBe(0)
    expect(filesUnder(target).filter((f) => f.endsWith('.partial'))).toEqual([])
  }, 120_000)
})
