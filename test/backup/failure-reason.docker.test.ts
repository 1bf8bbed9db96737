/**
 * A failed dump says why where people look: the database's own last error line is in the
 * backup table, in the report's `error` and in the first line of the notification, not only in
 * the stderr log line — PostgreSQL (a database that does not exist) and MariaDB (access denied).
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { runCli, tempDir, testEnv } from '../helpers/cli.js'
import {
  cleanupAll,
  describeDocker,
  startMariadb,
  startPostgres,
  uniqueName,
  type MariadbContainer,
  type PostgresContainer,
} from '../helpers/docker.js'
import { startHttpPeer, type HttpPeer } from '../helpers/http-peer.js'

describeDocker('the reason of a failed dump', () => {
  let work: { dir: string; cleanup: () => void }
  let pg: PostgresContainer
  let maria: MariadbContainer
  let peer: HttpPeer
  beforeAll(async () => {
    work = tempDir()
    peer = await startHttpPeer()
    ;[pg, maria] = await Promise.all([startPostgres({ name: uniqueName('why-pg') }), startMariadb({ name: uniqueName('why-maria') })])
    writeFileSync(
      join(work.dir, 'ownops.yml'),
      `backup:
  dir: ${join(work.dir, 'backups')}
  targets:
    app: { type: postgres, container: ${pg.container}, database: nosuchdb }
    shop: { type: mariadb, container: ${maria.container}, database: shop, user: shop, password: wrong-password }
notify:
  retries: 0
  channels:
    hook: { url: "json://127.0.0.1:${peer.port}/hook", levels: [error, critical] }
`,
    )
  }, 180_000)
  afterAll(async () => {
    await peer?.close()
    await cleanupAll()
    work?.cleanup()
  })

  it('is in the table, the report and the notification', async () => {
    const cases: Array<[string, RegExp]> = [
      ['app', /database "nosuchdb" does not exist/],
      ['shop', /Access denied for user 'shop'/],
    ]
    for (const [target, reason] of cases) {
      const text = await runCli(['-c', join(work.dir, 'ownops.yml'), 'backup', target], { env: testEnv(work.dir), cwd: work.dir })
      expect(text.code).toBe(1)
      const row = text.stdout.split('\n').find((l) => l.startsWith(`${target} `)) as string
      expect(row, text.stdout).toMatch(/FAILED/)
      expect(row).toMatch(reason)
      const json = await runCli(['--json', '-c', join(work.dir, 'ownops.yml'), 'backup', target], { env: testEnv(work.dir), cwd: work.dir })
      expect((JSON.parse(json.stdout) as { targets: Array<{ error: string }> }).targets[0]!.error).toMatch(reason)
      const sent = peer.requests
        .map((q) => q.json as { title: string; body: string })
        .filter((m) => m.title === `backup of ${target} failed`)
      expect(sent.length).toBeGreaterThan(0)
      const body = sent.at(-1)!.body
      expect(body.split('\n')[0]).toMatch(reason)
      expect(
        body.split('\n').filter((l) => reason.test(l)),
        body,
      ).toHaveLength(1)
    }
  }, 120_000)
})
