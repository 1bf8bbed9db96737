/**
 * A notification channel that cannot be made (its ${VAR} is not set) does not stop the job it
 * reports on: the backup runs, the channel is skipped with a loud error, the job exits 1, the
 * other channels are told which channel is broken (once, then daily), and `config validate`
 * still reports it (exit 78). An env file this user may not read is 77 for every command,
 * `config validate` included.
 */
import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BIN, runCli, tempDir, testEnv } from '../helpers/cli.js'
import { startHttpPeer, type HttpPeer } from '../helpers/http-peer.js'

describe('a broken notification channel', () => {
  let work: { dir: string; cleanup: () => void }
  let peer: HttpPeer
  let now = new Date('2026-06-01T03:00:00Z')
  const cli = (args: string[]) =>
    runCli(['-c', join(work.dir, 'ownops.yml'), ...args], { env: testEnv(work.dir), cwd: work.dir, clock: () => now })
  const titles = () => peer.requests.map((r) => (r.json as { title: string }).title)

  beforeAll(async () => {
    work = tempDir()
    peer = await startHttpPeer()
    mkdirSync(join(work.dir, 'data'))
    writeFileSync(join(work.dir, 'data', 'a.txt'), 'a')
    writeFileSync(
      join(work.dir, 'ownops.yml'),
      `backup:
  dir: ${join(work.dir, 'backups')}
  targets:
    files: { type: directory, path: ${join(work.dir, 'data')}, compression: gzip }
notify:
  retries: 0
  channels:
    discord: { url: "\${NOPE_WEBHOOK_URL}", levels: [info, warning, error, critical] }
    hook: { url: "json://127.0.0.1:${peer.port}/hook", levels: [info, warning, error, critical] }
`,
    )
  })
  afterAll(async () => {
    await peer?.close()
    work?.cleanup()
  })

  it('does not stop the backup: the channel is skipped loudly, the job exits 1, the others hear of it', async () => {
    const r = await cli(['backup'])
    expect(r.code, r.stderr).toBe(1)
    expect(readdirSync(join(work.dir, 'backups', 'files')).filter((f) => f.endsWith('.json'))).toHaveLength(1)
    expect(r.stderr).toMatch(
      /"level":50.*notification channel discord is broken and is skipped in this run: ownops\.yml:8 notify\.channels\.discord\.url: \$\{NOPE_WEBHOOK_URL\} is not set/,
    )
    expect(r.stderr).toMatch(/exit 1: notification channel discord is broken/)
    expect(titles()).toContain('backup done (1 target)')
    expect(titles()).toContain('notification channel discord cannot be used: skipped')
    const notice = peer.requests.find((q) => (q.json as { title: string }).title.startsWith('notification channel discord'))!.json as {
      level: string
      body: string
    }
    expect(notice.level).toBe('error')
    expect(notice.body).toMatch(/NOPE_WEBHOOK_URL\} is not set/)
  })

  it('tells the other channels once, and again after a day while it stays broken', async () => {
    const before = titles().filter((t) => t.startsWith('notification channel')).length
    now = new Date('2026-06-01T04:00:00Z')
    expect((await cli(['backup'])).code).toBe(1)
    expect(titles().filter((t) => t.startsWith('notification channel')).length).toBe(before)
    now = new Date('2026-06-02T04:00:00Z')
    expect((await cli(['backup'])).code).toBe(1)
    expect(titles().filter((t) => t.startsWith('notification channel')).length).toBe(before + 1)
  })

  it('config validate still reports it (exit 78)', async () => {
    const r = await cli(['config', 'validate'])
    expect(r.code).toBe(78)
    expect(r.stdout).toMatch(/ownops\.yml:8 notify\.channels\.discord\.url: \$\{NOPE_WEBHOOK_URL\} is not set/)
  })

  it('a broken channel named with --channel fails and says why; the others still deliver', async () => {
    const r = await cli(['notify', '--channel', 'discord', '--channel', 'hook', 'hello'])
    expect(r.code).toBe(1)
    expect(r.stdout + r.stderr).toMatch(/discord.*the channel is broken/)
    expect(titles()).toContain('hello')
  })
})

describe('an env file this user may not read', () => {
  it('is exit 77 for config validate as for every other command, naming the file', (ctx) => {
    if (process.getuid?.() !== 0) ctx.skip()
    const work = tempDir()
    try {
      chmodSync(work.dir, 0o755)
      writeFileSync(join(work.dir, 'ownops.env'), 'SECRET_URL=json://127.0.0.1:9/x\n', { mode: 0o600 })
      writeFileSync(
        join(work.dir, 'ownops.yml'),
        `envFile: ${join(work.dir, 'ownops.env')}\nnotify:\n  channels:\n    hook: { url: "\${SECRET_URL}" }\n`,
        { mode: 0o644 },
      )
      const env = testEnv('/tmp', {
        OWNOPS_LOG_FORMAT: 'text',
        OWNOPS_STATE_DIR: '/tmp/ownops-envfile-nobody/state',
        OWNOPS_LOCK_DIR: '/tmp/ownops-envfile-nobody/lock',
      })
      for (const command of [['config', 'validate'], ['backups'], ['config', 'show']]) {
        const r = spawnSync(process.execPath, [BIN, '-c', join(work.dir, 'ownops.yml'), ...command], {
          uid: 65534,
          gid: 65534,
          env,
          encoding: 'utf8',
          cwd: '/tmp',
        })
        expect(r.status, `${command.join(' ')}: ${r.stdout}${r.stderr}`).toBe(77)
        expect(r.stdout + r.stderr).toMatch(
          /ownops\.env cannot be read by this user \(permission denied\)|permission denied: cannot read .*ownops\.env/,
        )
      }
      expect(existsSync(join(work.dir, 'ownops.env'))).toBe(true)
    } finally {
      work.cleanup()
    }
  })
})
