import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pino } from 'pino'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { configSchema, type Config } from '../../src/config/schema.js'
import { createLogger } from '../../src/log.js'
import { OUTBOX_STATE, readOutbox } from '../../src/notify/outbox.js'
import { makeEvent, Notifier } from '../../src/notify/send.js'
import { Redactor } from '../../src/redact.js'
import { StateStore } from '../../src/sys/state.js'
import { runCli, tempDir, testEnv } from '../helpers/cli.js'
import { peer, startHttpPeer } from '../helpers/http-peer.js'

let dir: string
let cleanup: () => void
beforeEach(() => {
  ;({ dir, cleanup } = tempDir())
})
afterEach(async () => {
  cleanup()
})

/** A port with nothing listening (bound, then closed). */
async function deadUrl(): Promise<string> {
  const p = await startHttpPeer()
  await p.close()
  return `json://127.0.0.1:${p.port}/dead`
}

function config(channels: Record<string, { url: string; levels?: string[] }>, notify: Record<string, unknown> = {}): Config {
  return configSchema.parse({ hostname: 'box1', notify: { channels, ...notify } })
}

function notifier(cfg: Config, extra: { sleeps?: number[]; lines?: string[]; now?: () => Date } = {}) {
  const log = extra.lines
    ? createLogger({ level: 'debug', redactor: new Redactor(), format: 'json', write: (l) => extra.lines!.push(l) })
    : pino({ level: 'silent' })
  return new Notifier({
    config: cfg,
    log,
    store: new StateStore(join(dir, 'state'), log),
    now: extra.now ?? (() => new Date()),
    sleep: async (ms) => void extra.sleeps?.push(ms),
    random: () => 0.5,
  })
}

const event = (cfg: Config, level: 'info' | 'warning' | 'error' | 'critical' = 'warning') =>
  makeEvent(cfg, new Date('2026-11-24T03:00:00Z'), { level, title: 'disk 91%', body: '/srv is 91% full', source: { command: 'monitor' } })

describe('delivery', () => {
  it("routes by level: default warning and above, or the channel's levels", async () => {
    const [all, def, crit] = [await peer(), await peer(), await peer()]
    const cfg = config({
      all: { url: `json://127.0.0.1:${all.port}/all`, levels: ['info', 'warning', 'error', 'critical'] },
      def: { url: `json://127.0.0.1:${def.port}/def` },
      crit: { url: `json://127.0.0.1:${crit.port}/crit`, levels: ['critical'] },
    })
    const n = notifier(cfg)
    await n.send(event(cfg, 'info'))
    await n.send(event(cfg, 'warning'))
    await n.send(event(cfg, 'critical'))
    expect(all.requests).toHaveLength(3)
    expect(def.requests).toHaveLength(2)
    expect(crit.requests).toHaveLength(1)
    expect(crit.requests[0]?.json).toMatchObject({
      version: 1,
      level: 'critical',
      title: 'disk 91%',
      body: '/srv is 91% full',
      host: 'box1',
      source: { command: 'monitor' },
    })
  })

  it('500 three times then 200: delivered on the fourth attempt, with growing backoff', async () => {
    const p = await peer()
    p.reply({ status: 500 }, { status: 500 }, { status: 500 }, { status: 200 })
    const cfg = config({ hook: { url: `json://127.0.0.1:${p.port}/x` } })
    const sleeps: number[] = []
    const report = await notifier(cfg, { sleeps }).send(event(cfg))
    expect(report.deliveries[0]).toMatchObject({ status: 'delivered', attempts: 4 })
    expect(p.requests).toHaveLength(4)
    expect(sleeps).toEqual([750, 1500, 3000]) // 1 s, 2 s, 4 s with jitter at 0.5
  })

  it('429 with Retry-After: waits what the server asks, then delivers', async () => {
    const p = await peer()
    p.reply(
      { status: 429, headers: { 'retry-after': '2' } },
      { status: 429, body: '{"retry_after": 0.35, "global": false}', headers: { 'content-type': 'application/json' } },
      { status: 204 },
    )
    const cfg = config({ hook: { url: `json://127.0.0.1:${p.port}/x` } })
    const sleeps: number[] = []
    const report = await notifier(cfg, { sleeps }).send(event(cfg))
    expect(report.deliveries[0]).toMatchObject({ status: 'delivered', attempts: 3 })
    expect(sleeps).toEqual([2000, 350])
  })

  it('a real 429 delay is honoured in wall time (no injected sleep)', async () => {
    const p = await peer()
    p.reply({ status: 429, headers: { 'retry-after': '1' } }, { status: 200 })
    const cfg = config({ hook: { url: `json://127.0.0.1:${p.port}/x` } })
    const n = new Notifier({ config: cfg, log: pino({ level: 'silent' }), store: new StateStore(join(dir, 's')), now: () => new Date() })
    await n.send(event(cfg))
    expect(p.requests).toHaveLength(2)
    expect(p.requests[1]!.at - p.requests[0]!.at).toBeGreaterThanOrEqual(950)
  })

  it('a Retry-After beyond the budget goes to the outbox at once', async () => {
    const p = await peer()
    p.reply({ status: 429, headers: { 'retry-after': '3600' } })
    const cfg = config({ hook: { url: `json://127.0.0.1:${p.port}/x` } }, { budget: '30s' })
    const sleeps: number[] = []
    const report = await notifier(cfg, { sleeps }).send(event(cfg))
    expect(report.deliveries[0]).toMatchObject({ status: 'queued', attempts: 1 })
    expect(sleeps).toEqual([])
  })

  it('400 is not retried and not queued', async () => {
    const p = await peer()
    p.reply({ status: 400, body: '{"message": "Invalid Form Body"}' })
    const cfg = config({ hook: { url: `json://127.0.0.1:${p.port}/x` } })
    const report = await notifier(cfg).send(event(cfg))
    expect(report.deliveries[0]).toMatchObject({ status: 'failed', attempts: 1, error: 'HTTP 400: {"message": "Invalid Form Body"}' })
    expect(existsSync(join(dir, 'state', `${OUTBOX_STATE}.json`))).toBe(false)
  })

  it('a server that never answers times out, is retried, then queued', async () => {
    const p = await peer()
    p.reply({ hang: true })
    const cfg = config({ hook: { url: `json://127.0.0.1:${p.port}/x` } }, { timeout: '1s', retries: 1 })
    const started = Date.now()
    const report = await notifier(cfg).send(event(cfg))
    expect(report.deliveries[0]).toMatchObject({ status: 'queued', attempts: 2 })
    expect(report.deliveries[0]?.error).toMatch(/timed out/)
    expect(Date.now() - started).toBeLessThan(10_000)
  })

  it('connection refused: retried, kept in the outbox, delivered by the next run', async () => {
    const url = await deadUrl()
    const port = Number(new URL(url.replace('json:', 'http:')).port)
    const cfg = config({ hook: { url } })
    const lines: string[] = []
    const first = await notifier(cfg, { lines }).send(event(cfg, 'error'))
    expect(first.deliveries[0]).toMatchObject({ status: 'queued', attempts: 4, error: 'connection refused' })
    const store = new StateStore(join(dir, 'state'))
    expect(await readOutbox(store)).toHaveLength(1)

    // The next run: the peer is back on the same port.
    const { createServer } = await import('node:http')
    const received: string[] = []
    const server = createServer((req, res) => {
      let body = ''
      req.on('data', (c) => (body += c))
      req.on('end', () => {
        received.push(body)
        res.end()
      })
    })
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
    try {
      const flushed = await notifier(cfg, { lines }).flushOutbox()
      expect(flushed).toEqual({ delivered: 1, dropped: 0, remaining: 0, refused: [] })
      expect(JSON.parse(received[0] ?? '{}')).toMatchObject({ level: 'error', title: 'disk 91%' })
      expect(existsSync(store.path(OUTBOX_STATE))).toBe(false)
      expect(lines.join('')).toContain('delivered a notification from the outbox')
    } finally {
      await new Promise((resolve) => server.close(resolve))
    }
  })

  it('the outbox drops entries past their age limit, with a log line, and keeps a cap', async () => {
    const url = await deadUrl()
    const cfg = config({ hook: { url } }, { retries: 0, outbox: { maxEntries: 2, maxAge: '24h' } })
    const lines: string[] = []
    const t0 = new Date('2026-11-24T00:00:00Z')
    for (const title of ['one', 'two', 'three'])
      await notifier(cfg, { lines, now: () => t0 }).send(makeEvent(cfg, t0, { level: 'error', title, body: '' }))
    const store = new StateStore(join(dir, 'state'))
    expect((await readOutbox(store)).map((e) => e.event.title)).toEqual(['two', 'three'])
    expect(lines.join('')).toContain('outbox full: dropped the oldest undelivered notification')
    const later = new Date(t0.getTime() + 25 * 3_600_000)
    const flushed = await notifier(cfg, { lines, now: () => later }).flushOutbox()
    expect(flushed).toEqual({ delivered: 0, dropped: 2, remaining: 0, refused: [] })
    expect(lines.join('')).toContain('dropped an undelivered notification: older than notify.outbox.maxAge')
  })

  it('heartbeat events go to hc channels only; messages never do', async () => {
    const [hc, hook] = [await peer(), await peer()]
    const cfg = configSchema.parse({
      notify: {
        channels: {
          hc: { url: 'hc://0b1a2c3d-1111-2222-3333-444455556666', baseUrl: hc.url },
          hook: { url: `json://127.0.0.1:${hook.port}/x`, levels: ['info', 'warning', 'error', 'critical'] },
        },
      },
    })
    const n = notifier(cfg)
    await n.send(makeEvent(cfg, new Date(), { level: 'info', title: 'backup db', body: '', heartbeat: { phase: 'start', runId: 'r1' } }))
    await n.send(event(cfg, 'error'))
    expect(hc.requests.map((r) => r.path)).toEqual(['/0b1a2c3d-1111-2222-3333-444455556666/start?rid=r1'])
    expect(hook.requests).toHaveLength(1)
  })
})

describe('ownops notify (command)', () => {
  function writeConfig(channels: Record<string, unknown>): void {
    writeFileSync(join(dir, 'ownops.yml'), JSON.stringify({ notify: { channels, retries: 0, timeout: '2s' } }))
  }

  it('--test reports every channel delivered; with one peer down it names that one and still exits 0', async () => {
    const [a, b] = [await peer(), await peer()]
    const dead = await deadUrl()
    writeConfig({ a: { url: `json://127.0.0.1:${a.port}/a` }, b: { url: `json://127.0.0.1:${b.port}/b`, levels: ['critical'] } })
    const ok = await runCli(['notify', '--test'], { env: testEnv(dir), cwd: dir })
    expect(ok.code).toBe(0)
    expect(ok.stdout).toMatch(/^a\s+json\s+delivered/m)
    expect(ok.stdout).toMatch(/^b\s+json\s+delivered/m) // --test ignores levels
    expect(ok.stdout).toContain('2 of 2 channel(s) delivered')

    writeConfig({ a: { url: `json://127.0.0.1:${a.port}/a` }, down: { url: dead } })
    const partial = await runCli(['--json', 'notify', '--test'], { env: testEnv(dir), cwd: dir })
    expect(partial.code).toBe(0)
    const report = JSON.parse(partial.stdout)
    expect(report.deliveries).toContainEqual(expect.objectContaining({ channel: 'down', status: 'failed', error: 'connection refused' }))
    expect(report.delivered).toBe(1)
    expect(existsSync(join(dir, 'state', `${OUTBOX_STATE}.json`))).toBe(false) // tests are not queued

    writeConfig({ down: { url: dead } })
    const none = await runCli(['notify', '--test'], { env: testEnv(dir), cwd: dir })
    expect(none.code).toBe(1)
    expect(none.stdout).toMatch(/^down\s+json\s+failed\s+1\s+connection refused/m)
  })

  it('`echo "disk 91%" | ownops notify --level warning -` reaches only channels that take warnings', async () => {
    const [warn, crit, dflt] = [await peer(), await peer(), await peer()]
    writeConfig({
      warn: { url: `json://127.0.0.1:${warn.port}/w`, levels: ['warning'] },
      crit: { url: `json://127.0.0.1:${crit.port}/c`, levels: ['error', 'critical'] },
      dflt: { url: `json://127.0.0.1:${dflt.port}/d` },
    })
    const result = await runCli(['notify', '--level', 'warning', '-'], { env: testEnv(dir), cwd: dir, stdin: 'disk 91%\n' })
    expect(result.code).toBe(0)
    expect(warn.requests).toHaveLength(1)
    expect(dflt.requests).toHaveLength(1)
    expect(crit.requests).toHaveLength(0)
    expect(warn.requests[0]?.json).toMatchObject({ level: 'warning', title: 'disk 91%', body: '' })
  })

  it('an info message no channel takes is not an error; an unknown --channel is', async () => {
    const a = await peer()
    writeConfig({ a: { url: `json://127.0.0.1:${a.port}/a` } })
    const info = await runCli(['notify', 'backup done'], { env: testEnv(dir), cwd: dir })
    expect(info).toMatchObject({ code: 0, stdout: 'no channel takes info messages; nothing sent\n' })
    const unknown = await runCli(['notify', '--channel', 'b', 'x'], { env: testEnv(dir), cwd: dir })
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain('no channel named \\"b\\" in notify.channels')
    const forced = await runCli(['notify', '--channel', 'a', '--title', 'T', 'body text'], { env: testEnv(dir), cwd: dir })
    expect(forced.code).toBe(0)
    expect(a.requests[0]?.json).toMatchObject({ level: 'info', title: 'T', body: 'body text' })
  })

  it('exits 1 when no channel delivered, and the next job (here: lock run) delivers from the outbox', async () => {
    const dead = await deadUrl()
    const port = Number(new URL(dead.replace('json:', 'http:')).port)
    writeConfig({ a: { url: dead } })
    const failed = await runCli(['notify', '--level', 'error', 'backup failed'], { env: testEnv(dir), cwd: dir })
    expect(failed.code).toBe(1)
    expect(failed.stdout).toContain('kept in the outbox')
    const { createServer } = await import('node:http')
    let got = ''
    const server = createServer((req, res) => {
      req.on('data', (c) => (got += c))
      req.on('end', () => res.end())
    })
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
    try {
      const other = await runCli(['lock', 'run', '--', 'true'], { env: testEnv(dir), cwd: dir })
      expect(other.code).toBe(0)
      expect(JSON.parse(got)).toMatchObject({ title: 'backup failed', level: 'error' })
    } finally {
      await new Promise((resolve) => server.close(resolve))
    }
  })

  it("--failed-unit builds the message from systemd's MONITOR_* variables", async () => {
    const a = await peer()
    writeConfig({ a: { url: `json://127.0.0.1:${a.port}/a` } })
    const env = testEnv(dir, {
      MONITOR_SERVICE_RESULT: 'exit-code',
      MONITOR_EXIT_CODE: 'exited',
      MONITOR_EXIT_STATUS: '1',
      MONITOR_INVOCATION_ID: '0123456789abcdef0123456789abcdef',
    })
    const result = await runCli(['notify', '--failed-unit', 'ownops-backup.service'], { env, cwd: dir })
    expect(result.code).toBe(0)
    const sent = a.requests[0]?.json as { level: string; title: string; body: string; source: unknown }
    expect(sent).toMatchObject({
      level: 'error',
      title: 'ownops-backup.service failed',
      source: { command: 'systemd', target: 'ownops-backup.service' },
    })
    expect(sent.body).toContain('The unit ended with result: exit-code, exited 1.')
    expect(sent.body).toContain('Details: journalctl _SYSTEMD_INVOCATION_ID=0123456789abcdef0123456789abcdef')
  })

  it('no token from the config reaches stdout or the logs', async () => {
    const p = await peer()
    p.reply({ status: 500, body: 'upstream error' })
    const token = 'Tok3nValue_abcdefghijklmnopqrstuvwxyz'
    writeFileSync(join(dir, 'ownops.env'), `HOOK=discord://123456789012345678/${token}\n`)
    writeFileSync(
      join(dir, 'ownops.yml'),
      `envFile: ownops.env\nnotify:\n  retries: 1\n  channels:\n    d: { url: "\${HOOK}", baseUrl: "${p.url}" }\n`,
    )
    for (const format of ['json', 'text']) {
      const result = await runCli(['--log-level', 'debug', 'notify', '--test'], {
        env: { ...testEnv(dir), OWNOPS_LOG_FORMAT: format },
        cwd: dir,
      })
      expect(result.code).toBe(1)
      expect(p.requests.at(-1)?.path).toContain(token) // it did go to the webhook…
      expect(result.stdout + result.stderr).not.toContain(token) // …and never into the output
      expect(result.stdout + result.stderr).not.toContain('123456789012345678')
    }
  })
})

describe('no message twice (a peer that may have taken it)', () => {
  it('a webhook that sends 200 and its headers but never finishes the body got it: one request, delivered', async () => {
    const p = await peer()
    p.reply({ status: 200, hangBody: true })
    const cfg = config({ hook: { url: `json://127.0.0.1:${p.port}/x` } }, { timeout: '1s', retries: 3 })
    const report = await notifier(cfg).send(event(cfg))
    expect(report.deliveries[0]).toMatchObject({ status: 'delivered', attempts: 1 })
    expect(p.requests).toHaveLength(1)
  })

  it('no answer after the whole request went out: a channel without an idempotency key (Slack) is not sent it again, nor queued', async () => {
    const p = await peer()
    p.reply({ hang: true })
    const cfg = config(
      { slack: { url: 'slack://T0000/B0000/XXXXXXXXXXXXXXXX', baseUrl: p.url } as { url: string } },
      { timeout: '1s', retries: 3 },
    )
    const report = await notifier(cfg).send(event(cfg))
    expect(report.deliveries[0]).toMatchObject({ status: 'unconfirmed', attempts: 1 })
    expect(report.deliveries[0]?.error).toMatch(/timed out after 1000 ms after the request was sent/)
    expect(p.requests).toHaveLength(1)
    expect(existsSync(join(dir, 'state', `${OUTBOX_STATE}.json`))).toBe(false)
  })

  it('a JSON webhook carries an Idempotency-Key (and the event id in the body): retried with the same key, in the outbox too', async () => {
    const p = await peer()
    p.reply({ hang: true })
    const cfg = config({ hook: { url: `json://127.0.0.1:${p.port}/x` } }, { timeout: '1s', retries: 1 })
    const report = await notifier(cfg).send(event(cfg))
    expect(report.deliveries[0]).toMatchObject({ status: 'queued', attempts: 2 })
    p.reply({ status: 204 })
    await notifier(cfg).flushOutbox()
    const keys = p.requests.map((r) => r.headers['idempotency-key'])
    expect(keys).toHaveLength(3)
    expect(new Set(keys).size).toBe(1)
    expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/)
    expect(p.requests.map((r) => (r.json as { id: string }).id)).toEqual(keys)
  })

  it('a split Discord message: a retry posts only the parts that did not arrive', async () => {
    const p = await peer()
    p.reply({ status: 204 }, { status: 500 }, { status: 204 })
    const cfg = config({
      d: { url: 'discord://123456789012345678/TOKEN_abcdefghijklmnopqrstuvwxyz', baseUrl: p.url, overflow: 'split' } as { url: string },
    })
    const body = Array.from({ length: 900 }, (_, i) => `line ${i} of a long log`).join('\n')
    const report = await notifier(cfg).send(
      makeEvent(cfg, new Date('2026-11-24T03:00:00Z'), { level: 'error', title: 'backup failed', body }),
    )
    expect(report.deliveries[0]).toMatchObject({ status: 'delivered', attempts: 2 })
    const titles = p.requests.map((r) => (r.json as { embeds: Array<{ title: string }> }).embeds[0]?.title)
    expect(titles.length).toBeGreaterThanOrEqual(3)
    expect(titles[0]).toMatch(/\(1\/\d\)$/)
    expect(titles[1]).toBe(titles[2]) // the failed part again, not the first one
    expect(titles.filter((t) => /\(1\/\d\)$/.test(t ?? ''))).toHaveLength(1)
  })

  it('Telegram with two chats: a retry goes only to the chat that failed', async () => {
    const p = await peer()
    p.reply((req, i) => ({ status: i === 1 ? 500 : 200, body: '{"ok":true}' }))
    const cfg = config({ t: { url: 'tgram://123456:ABCdefGHIjklMNOpqr/1111/2222', baseUrl: p.url } as { url: string } })
    const report = await notifier(cfg).send(event(cfg))
    expect(report.deliveries[0]).toMatchObject({ status: 'delivered', attempts: 2 })
    expect(p.requests.map((r) => (r.json as { chat_id: string }).chat_id)).toEqual(['1111', '2222', '2222'])
  })
})

describe('the outbox: refused messages and corrupt files', () => {
  const queueThree = async (cfg: Config, lines: string[]) => {
    for (const title of ['one', 'two', 'three'])
      await notifier(cfg, { lines }).send(makeEvent(cfg, new Date(), { level: 'error', title, body: '' }))
  }

  it('a 400 for one message drops only that one, and reports it; the others are delivered', async () => {
    const p = await peer()
    p.reply({ status: 503 })
    const cfg = config({ hook: { url: `json://127.0.0.1:${p.port}/x` } }, { retries: 0 })
    const lines: string[] = []
    await queueThree(cfg, lines)
    p.requests.length = 0
    p.reply((req) => ({ status: (req.json as { title: string }).title === 'two' ? 400 : 204, body: '{"message":"Invalid Form Body"}' }))
    const flushed = await notifier(cfg, { lines }).flushOutbox()
    expect(flushed).toEqual({
      delivered: 2,
      dropped: 1,
      remaining: 0,
      refused: [{ channel: 'hook', title: 'two', error: 'HTTP 400: {"message":"Invalid Form Body"}' }],
    })
    expect(lines.join('')).toMatch(/"level":50.*dropped a notification from the outbox: the channel refused it/)
  })

  it('a channel that refuses its own address (404: the webhook was deleted) keeps its messages for when it is fixed', async () => {
    const p = await peer()
    p.reply({ status: 503 })
    const cfg = config({ hook: { url: `json://127.0.0.1:${p.port}/x` } }, { retries: 0 })
    const lines: string[] = []
    await queueThree(cfg, lines)
    p.requests.length = 0
    p.reply({ status: 404, body: 'Unknown Webhook' })
    const flushed = await notifier(cfg, { lines }).flushOutbox()
    expect(flushed).toMatchObject({ delivered: 0, dropped: 0, remaining: 3 })
    expect(p.requests).toHaveLength(1) // not three 404s
    expect((await readOutbox(new StateStore(join(dir, 'state')))).map((e) => e.event.title)).toEqual(['one', 'two', 'three'])
    expect(lines.join('')).toMatch(/"level":50.*channel hook refuses every message/)
  })

  it('a corrupt outbox is moved aside once, with one warning, and a new one starts', async () => {
    const p = await peer()
    const store = new StateStore(join(dir, 'state'))
    const { mkdirSync, readdirSync } = await import('node:fs')
    mkdirSync(store.dir, { recursive: true })
    writeFileSync(store.path(OUTBOX_STATE), '[{"id": "a1", "channel": "hook", "event": {"title": ')
    const cfg = config({ hook: { url: `json://127.0.0.1:${p.port}/x` } })
    const lines: string[] = []
    await notifier(cfg, { lines }).flushOutbox()
    await notifier(cfg, { lines }).flushOutbox()
    expect(lines.join('').match(/state file is corrupt/g)).toHaveLength(1)
    expect(readdirSync(store.dir).filter((f) => f.startsWith(`${OUTBOX_STATE}.json.corrupt-`))).toHaveLength(1)
    expect(existsSync(store.path(OUTBOX_STATE))).toBe(false)
    // A new undelivered message starts a fresh, valid outbox.
    p.reply({ status: 503 })
    await notifier(config({ hook: { url: `json://127.0.0.1:${p.port}/x` } }, { retries: 0 }), { lines }).send(event(cfg))
    expect((await readOutbox(store)).map((e) => e.event.title)).toEqual(['disk 91%'])
  })
})
