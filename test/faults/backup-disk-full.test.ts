/**
 * Faults: the backup disk fills up in the middle of a backup, for every backup source.
 * Each target first gets one good backup on a small tmpfs; then its data grows past the
 * free space and the next backup must fail cleanly: exit 1 with a report that says the
 * disk is full, no partial file left, the onError hook run, an error notification sent,
 * no dump process left running in the database container — and every earlier backup
 * still intact. Once the data is small again, the next backup succeeds.
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { tempDir, testEnv } from '../helpers/cli.js'
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
import { startHttpPeer, type HttpPeer } from '../helpers/http-peer.js'
import { backupLedger, expectNothingLost, faultsTried, mountTmpfs, needRoot, runOwnops, strays } from './helpers.js'

const PSQL = ['psql', '-U', 'postgres', '-h', '/var/run/postgresql', '-v', 'ON_ERROR_STOP=1', '-At']

interface Report {
  ok: boolean
  targets: Array<{ target: string; ok: boolean; error?: string; hint?: string; warnings: string[] }>
}

interface Case {
  target: string
  yaml: string
  /** Makes the source too big for the disk, and small again. */
  grow(): Promise<void>
  shrink(): Promise<void>
  /** The dump process inside the container, if the source runs one there. */
  container?: string
  tool?: string
}

describeDocker('faults: the backup disk is full, for every backup source', () => {
  let work: { dir: string; cleanup: () => void }
  let pg: PostgresContainer
  let maria: MariadbContainer
  let peer: HttpPeer
  let unmount: (() => void) | undefined
  const cases: Case[] = []
  const backups = () => join(work.dir, 'backups')

  beforeAll(async () => {
    work = tempDir('ownops-fault-disk-')
    const socket = join(work.dir, 'pgsock')
    mkdirSync(socket)
    chmodSync(socket, 0o777)
    peer = await startHttpPeer()
    ;[pg, maria] = await Promise.all([
      startPostgres({ name: uniqueName('fault-pg'), hostSocketDir: socket }),
      startMariadb({ name: uniqueName('fault-maria') }),
    ])
    const pgsql = (db: string, q: string) => execOk(pg.container, [...PSQL, '-d', db, '-c', q])
    for (const db of ['custom', 'plain', 'hostdump']) {
      await pgsql('postgres', `create database ${db}`)
      await pgsql(db, "create table notes(id int primary key, body text); insert into notes values (1, 'keep me')")
    }
    // About 6 MB of random bytes: it compresses to nothing less, so it never fits on 3 MB.
    const noise =
      "create table noise as select i, decode(string_agg(md5(random()::text || j), ''), 'hex') as b from generate_series(1, 200) i, generate_series(1, 1000) j group by i"
    const pgCase = (target: string, db: string, yaml: string, inContainer: boolean): Case => ({
      target,
      yaml,
      grow: async () => void (await pgsql(db, noise)),
      shrink: async () => void (await pgsql(db, 'drop table noise')),
      ...(inContainer ? { container: pg.container, tool: 'pg_dump' } : {}),
    })
    cases.push(pgCase('pgcustom', 'custom', `{ type: postgres, container: ${pg.container}, database: custom }`, true))
    cases.push(pgCase('pgplain', 'plain', `{ type: postgres, container: ${pg.container}, database: plain, format: plain }`, true))
    cases.push(pgCase('pghost', 'hostdump', `{ type: postgres, url: "postgresql:///hostdump?host=${socket}&user=postgres" }`, false))

    const mariadb = (q: string, db = 'shop') => execOk(maria.container, ['mariadb', '-uroot', `-p${maria.rootPassword}`, db, '-e', q])
    await mariadb('create database shop', 'mysql')
    await mariadb("create table notes(id int primary key, body text); insert into notes values (1, 'keep me')")
    cases.push({
      target: 'maria',
      yaml: `{ type: mariadb, container: ${maria.container}, database: shop }`,
      grow: async () => void (await mariadb('create table noise as select seq, random_bytes(1024) as b from seq_1_to_6000')),
      shrink: async () => void (await mariadb('drop table noise')),
      container: maria.container,
      tool: 'mariadb-dump',
    })

    const { execFileSync } = await import('node:child_process')
    for (const [target, extra] of [
      ['sqlitegz', ''],
      ['sqliteraw', ', compression: none'],
    ] as const) {
      const db = join(work.dir, `${target}.db`)
      execFileSync('sqlite3', [db, "create table jobs(id integer primary key, body text); insert into jobs(body) values ('keep me')"])
      cases.push({
        target,
        yaml: `{ type: sqlite, path: ${db}${extra} }`,
        grow: async () =>
          void execFileSync('sqlite3', [db, 'create table noise as select randomblob(1024) as b from generate_series(1, 6000)']),
        shrink: async () => void execFileSync('sqlite3', [db, 'drop table noise; vacuum']),
      })
    }
    for (const [target, extra] of [
      ['dirzstd', ''],
      ['dirgzip', ', compression: gzip'],
      ['dirnone', ', compression: none'],
    ] as const) {
      const tree = join(work.dir, target)
      mkdirSync(tree)
      writeFileSync(join(tree, 'keep'), 'keep me')
      cases.push({
        target,
        yaml: `{ type: directory, path: ${tree}${extra} }`,
        grow: async () => void execFileSync('sh', ['-c', `head -c 6000000 /dev/urandom > '${tree}/noise'`]),
        shrink: async () => rmSync(join(tree, 'noise')),
      })
    }

    const targets = cases
      .map((c) => `    ${c.target}: ${c.yaml.replace(/ }$/, `, onError: [touch, ${join(work.dir, `onerror-${c.target}`)}] }`)}`)
      .join('\n')
    writeFileSync(
      join(work.dir, 'ownops.yml'),
      `backup:\n  dir: ${backups()}\n  targets:\n${targets}\nnotify:\n  channels:\n    hook: { url: "json://127.0.0.1:${peer.port}/hook", levels: [error, critical] }\n  retries: 0\n`,
    )
  }, 240_000)

  afterAll(async () => {
    unmount?.()
    await peer?.close()
    await Promise.all([pg?.remove(), maria?.remove()])
    work?.cleanup()
    await cleanupAll()
  })

  const names = ['pgcustom', 'pgplain', 'pghost', 'maria', 'sqlitegz', 'sqliteraw', 'dirzstd', 'dirgzip', 'dirnone']
  it.for(names)(
    '%s: a full disk is a clean failure that loses nothing, and the next backup works',
    { timeout: 120_000 },
    async (name, ctx) => {
      needRoot(ctx)
      unmount ??= mountTmpfs(backups(), '3m')
      const c = cases.find((x) => x.target === name)!
      const env = testEnv(work.dir)
      const config = ['-c', join(work.dir, 'ownops.yml')]

      const first = await runOwnops([...config, '--json', 'backup', name], env, work.dir)
      expect(first.code, first.stderr).toBe(0)
      const ledger = backupLedger(backups())
      expect(ledger.count).toBeGreaterThan(0)

      await c.grow()
      faultsTried(ctx)
      const sent = peer.requests.length
      const full = await runOwnops([...config, '--json', 'backup', name], env, work.dir)
      expect(full.code, full.stderr).toBe(1)
      const report = JSON.parse(full.stdout) as Report
      expect(report.targets[0]).toMatchObject({ target: name, ok: false })
      expect(report.targets[0]?.error).toMatch(/no space left on the backup disk/)
      expect(full.stderr).not.toMatch(/Unhandled|internal error|ERR_/)
      expect(strays(join(backups(), name)), `nothing but complete backups is left`).toEqual([])
      expect(existsSync(join(work.dir, `onerror-${name}`)), 'the onError hook ran').toBe(true)
      const notes = peer.requests.slice(sent).map((r) => r.json as { level: string; title: string; body: string })
      expect(notes.find((n) => n.level === 'error')).toMatchObject({
        title: `backup of ${name} failed`,
        body: expect.stringMatching(/no space left/),
      })
      if (c.container !== undefined) {
        const ps = await execOk(c.container, ['ps', '-o', 'pid,args'])
        expect(ps, `no ${c.tool} left running in ${c.container}`).not.toContain(c.tool)
      }
      expectNothingLost(ctx, ledger.losses())

      await c.shrink()
      const again = await runOwnops([...config, '--json', 'backup', name], env, work.dir)
      expect(again.code, again.stderr).toBe(0)
      expect(readdirSync(join(backups(), name)).filter((n) => n.endsWith('.json'))).toHaveLength(2)
      expectNothingLost(ctx, ledger.losses())
    },
  )
})
