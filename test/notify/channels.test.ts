import { pino } from 'pino'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { discord } from '../../src/notify/channels/discord.js'
import { gotify } from '../../src/notify/channels/gotify.js'
import { hc } from '../../src/notify/channels/hc.js'
import { json } from '../../src/notify/channels/json.js'
import { ntfy } from '../../src/notify/channels/ntfy.js'
import { slack } from '../../src/notify/channels/slack.js'
import { resolveChannel } from '../../src/notify/channels/index.js'
import { encodeTelegramToken, tgram } from '../../src/notify/channels/tgram.js'
import {
  DeliveryError,
  type Channel,
  type ChannelContext,
  type ChannelOptions,
  type Heartbeat,
  type NotifyEvent,
} from '../../src/notify/types.js'
import { createHttpClient } from '../../src/sys/http.js'
import { startHttpPeer, type HttpPeer, type RecordedRequest } from '../helpers/http-peer.js'

const http = createHttpClient({ timeoutMs: 2000 })
const log = pino({ level: 'silent' })
const ctx: ChannelContext = { http, log, timeoutMs: 2000 }
const time = new Date('2025-01-31T02:00:05.123Z')

let peer: HttpPeer

beforeAll(async () => {
  peer = await startHttpPeer()
})
afterAll(async () => {
  await peer.close()
})
beforeEach(() => {
  peer.requests.length = 0
  peer.reply({ status: 200, body: '' })
})

function event(fields: Partial<NotifyEvent> = {}): NotifyEvent {
  return {
    level: 'error',
    title: 'backup db failed',
    body: 'pg_dump: connection refused',
    source: { command: 'backup', target: 'db' },
    host: 'nas',
    time,
    ...fields,
  }
}

async function deliver<T>(
  channel: Channel<T>,
  raw: string,
  options: ChannelOptions,
  ev: NotifyEvent = event(),
): Promise<RecordedRequest[]> {
  await channel.send(channel.parse(new URL(raw), options), ev, ctx)
  return peer.requests
}

function only(requests: RecordedRequest[]): RecordedRequest {
  expect(requests).toHaveLength(1)
  return requests[0] as RecordedRequest
}

/** A body of exactly 10,000 characters, in numbered lines. */
function longBody(length = 10_000): string {
  let text = ''
  for (let i = 0; text.length < length; i++) text += `line ${String(i).padStart(5, '0')}: the quick brown fox jumps over the lazy dog\n`
  return text.slice(0, length)
}

const MARKER = /… \(truncated, (\d+) more characters\)$/
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/** Checks a truncated text against its source: kept prefix + exact marker with the right N. */
function expectTruncated(text: string, source: string): void {
  const match = MARKER.exec(text)
  expect(match, 'truncation marker').not.toBeNull()
  const kept = text.slice(0, match?.index)
  expect(source.startsWith(kept)).toBe(true)
  expect(text).toBe(`${kept}… (truncated, ${Array.from(source).length - Array.from(kept).length} more characters)`)
}

interface Embed {
  title?: string
  description?: string
  color: number
  timestamp: string
  footer: { text: string }
}

function expectDiscordLimits(body: unknown): Embed {
  const message = body as { username: string; embeds: Embed[]; content?: string }
  expect(message.username).toBe('ownops')
  expect(message.embeds).toHaveLength(1)
  const embed = message.embeds[0] as Embed
  const title = embed.title ?? ''
  const description = embed.description ?? ''
  expect(title.length).toBeLessThanOrEqual(256)
  expect(description.length).toBeLessThanOrEqual(4096)
  expect(embed.footer.text.length).toBeLessThanOrEqual(2048)
  expect(title.length + description.length + embed.footer.text.length).toBeLessThanOrEqual(6000)
  expect(message.content ?? '').toHaveLength(0)
  expect(LONE_SURROGATE.test(description)).toBe(false)
  return embed
}

const DISCORD_ID = '123456789012345678'
const DISCORD_TOKEN = 'dIsCoRd-SeCrEt_t0ken.abcdefghij'

describe('discord', () => {
  const expected = {
    username: 'ownops',
    embeds: [
      {
        title: 'backup db failed',
        description: 'pg_dump: connection refused',
        color: 0xe74c3c,
        timestamp: '2025-01-31T02:00:05.123Z',
        footer: { text: 'nas · backup db' },
      },
    ],
  }

  it('discord://ID/TOKEN posts one embed to /api/webhooks/ID/TOKEN?wait=true', async () => {
    const req = only(await deliver(discord, `discord://${DISCORD_ID}/${DISCORD_TOKEN}`, { baseUrl: peer.url }))
    expect(req.method).toBe('POST')
    expect(req.path).toBe(`/api/webhooks/${DISCORD_ID}/${DISCORD_TOKEN}?wait=true`)
    expect(req.headers['content-type']).toBe('application/json')
    expect(req.json).toEqual(expected)
  })

  it('the native https URL (discord.com, discordapp.com) is claimed and posts the same request', async () => {
    for (const host of ['discord.com', 'discordapp.com']) {
      const url = new URL(`https://${host}/api/webhooks/${DISCORD_ID}/${DISCORD_TOKEN}`)
      expect(discord.matchesHttps?.(url)).toBe(true)
    }
    expect(discord.matchesHttps?.(new URL('https://discord.com/channels/1/2'))).toBe(false)
    expect(discord.matchesHttps?.(new URL('https://example.com/api/webhooks/1/x'))).toBe(false)
    const req = only(await deliver(discord, `https://discord.com/api/webhooks/${DISCORD_ID}/${DISCORD_TOKEN}`, { baseUrl: `${peer.url}/` }))
    expect(req.path).toBe(`/api/webhooks/${DISCORD_ID}/${DISCORD_TOKEN}?wait=true`)
    expect(req.json).toEqual(expected)
  })

  it('defaults to https://discord.com', () => {
    expect(discord.parse(new URL(`discord://${DISCORD_ID}/${DISCORD_TOKEN}`), {})).toMatchObject({ base: 'https://discord.com' })
  })

  it('colours by level; the footer is the host alone without a source', async () => {
    const colours = { info: 0x3498db, warning: 0xf1c40f, error: 0xe74c3c, critical: 0x992d22 } as const
    for (const level of ['info', 'warning', 'error', 'critical'] as const) {
      await deliver(discord, `discord://${DISCORD_ID}/${DISCORD_TOKEN}`, { baseUrl: peer.url }, event({ level, source: undefined }))
    }
    expect(peer.requests.map((r) => expectDiscordLimits(r.json).color)).toEqual(Object.values(colours))
    expect(expectDiscordLimits(peer.requests[0]?.json).footer.text).toBe('nas')
  })

  it('truncate (default): a 10,000-character body arrives within every limit with the exact marker', async () => {
    const body = longBody()
    expect(body).toHaveLength(10_000)
    const req = only(await deliver(discord, `discord://${DISCORD_ID}/${DISCORD_TOKEN}`, { baseUrl: peer.url }, event({ body })))
    const embed = expectDiscordLimits(req.json)
    expect(embed.title).toBe('backup db failed')
    expect(embed.description?.length).toBeGreaterThan(4000)
    expectTruncated(embed.description ?? '', body)
  })

  it('truncate keeps the total within 6,000 when title and footer are long too', async () => {
    const ev = event({ title: 'T'.repeat(400), body: longBody(), source: { command: 'backup', target: 'x'.repeat(3000) } })
    const req = only(await deliver(discord, `discord://${DISCORD_ID}/${DISCORD_TOKEN}`, { baseUrl: peer.url, overflow: 'truncate' }, ev))
    const embed = expectDiscordLimits(req.json)
    expect(embed.title).toHaveLength(256)
    expect(embed.footer.text).toHaveLength(2048)
    expectTruncated(embed.description ?? '', ev.body)
  })

  it('truncate never splits a surrogate pair and counts characters, not code units, in N', async () => {
    const body = '😀'.repeat(5000)
    const req = only(await deliver(discord, `discord://${DISCORD_ID}/${DISCORD_TOKEN}`, { baseUrl: peer.url }, event({ body })))
    expectTruncated(expectDiscordLimits(req.json).description ?? '', body)
  })

  it('split: a 10,000-character body arrives as (1/3), (2/3), (3/3), in order, each within limits', async () => {
    const body = longBody()
    const requests = await deliver(
      discord,
      `discord://${DISCORD_ID}/${DISCORD_TOKEN}`,
      { baseUrl: peer.url, overflow: 'split' },
      event({ body }),
    )
    expect(requests).toHaveLength(3)
    const embeds = requests.map((r) => {
      expect(r.path).toBe(`/api/webhooks/${DISCORD_ID}/${DISCORD_TOKEN}?wait=true`)
      return expectDiscordLimits(r.json)
    })
    expect(embeds.map((e) => e.title)).toEqual(['backup db failed (1/3)', 'backup db failed (2/3)', 'backup db failed (3/3)'])
    expect(embeds.map((e) => e.description).join('')).toBe(body)
    // Parts break after a line, not in the middle of one.
    for (const e of embeds.slice(0, -1)) expect(e.description?.endsWith('\n')).toBe(true)
    for (const e of embeds)
      expect(e).toMatchObject({ color: 0xe74c3c, timestamp: '2025-01-31T02:00:05.123Z', footer: { text: 'nas · backup db' } })
  })

  it('split: a short body is one message without a part number; a huge one stops at 10 parts with the marker', async () => {
    await deliver(discord, `discord://${DISCORD_ID}/${DISCORD_TOKEN}`, { baseUrl: peer.url, overflow: 'split' })
    expect(expectDiscordLimits(only(peer.requests).json).title).toBe('backup db failed')
    peer.requests.length = 0
    const body = longBody(100_000)
    const requests = await deliver(
      discord,
      `discord://${DISCORD_ID}/${DISCORD_TOKEN}`,
      { baseUrl: peer.url, overflow: 'split' },
      event({ body }),
    )
    expect(requests).toHaveLength(10)
    const embeds = requests.map((r) => expectDiscordLimits(r.json))
    expect(embeds[9]?.title).toBe('backup db failed (10/10)')
    expectTruncated(embeds.map((e) => e.description).join(''), body)
  })

  it('split stops at the first failed part', async () => {
    peer.reply({ status: 204 }, { status: 503 })
    const target = discord.parse(new URL(`discord://${DISCORD_ID}/${DISCORD_TOKEN}`), { baseUrl: peer.url, overflow: 'split' })
    await expect(discord.send(target, event({ body: longBody() }), ctx)).rejects.toMatchObject({ retryable: true, status: 503 })
    expect(peer.requests).toHaveLength(2)
  })
})

const SLACK = ['T0SECRETAA', 'B0SECRETBB', 'sLaCkSeCrEtToKeNcCcC'] as const

describe('slack', () => {
  const path = `/services/${SLACK.join('/')}`
  const expected = {
    text: '[ERROR] backup db failed',
    attachments: [
      {
        color: '#e74c3c',
        fallback: '[ERROR] backup db failed',
        blocks: [
          { type: 'header', text: { type: 'plain_text', text: 'backup db failed', emoji: true } },
          { type: 'section', text: { type: 'mrkdwn', text: 'pg_dump: connection refused' } },
          { type: 'context', elements: [{ type: 'mrkdwn', text: 'nas · backup db' }] },
        ],
      },
    ],
  }

  it('slack://A/B/C posts text and a coloured attachment with blocks to /services/A/B/C', async () => {
    const req = only(await deliver(slack, `slack://${SLACK.join('/')}`, { baseUrl: peer.url }))
    expect(req.method).toBe('POST')
    expect(req.path).toBe(path)
    expect(req.headers['content-type']).toBe('application/json')
    expect(req.json).toEqual(expected)
  })

  it('the native https URL is claimed and posts the same request', async () => {
    const url = new URL(`https://hooks.slack.com/services/${SLACK.join('/')}`)
    expect(slack.matchesHttps?.(url)).toBe(true)
    expect(slack.matchesHttps?.(new URL('https://slack.com/services/a/b/c'))).toBe(false)
    const req = only(await deliver(slack, url.href, { baseUrl: peer.url }))
    expect(req.path).toBe(path)
    expect(req.json).toEqual(expected)
    expect(slack.parse(url, {})).toMatchObject({ base: 'https://hooks.slack.com' })
  })

  it('colours by level, escapes &, < and >, and keeps the section within 3,000 characters', async () => {
    const body = 'a < b & c > d\n'.repeat(800)
    const req = only(
      await deliver(
        slack,
        `slack://${SLACK.join('/')}`,
        { baseUrl: peer.url },
        event({ level: 'warning', title: 'disk <80%> & rising', body }),
      ),
    )
    const message = req.json as typeof expected
    const attachment = message.attachments[0]
    expect(message.text).toBe('[WARNING] disk &lt;80%&gt; &amp; rising')
    expect(attachment?.color).toBe('#f1c40f')
    const section = attachment?.blocks[1] as { text: { text: string } }
    expect(section.text.text.length).toBeLessThanOrEqual(3000)
    expect(section.text.text.length).toBeGreaterThan(2900)
    expect(section.text.text).not.toMatch(/&(?!amp;|lt;|gt;)|[<>]/)
    const unescaped = section.text.text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&')
    expectTruncated(unescaped, body)
  })
})

describe('json', () => {
  const expected = {
    version: 1,
    level: 'error',
    title: 'backup db failed',
    body: 'pg_dump: connection refused',
    source: { command: 'backup', target: 'db' },
    host: 'nas',
    time: '2025-01-31T02:00:05.123Z',
  }

  it('json://host:port/path posts the documented event JSON with the option headers', async () => {
    const req = only(await deliver(json, `json://127.0.0.1:${peer.port}/hooks/ownops?src=nas`, { headers: { 'X-Api-Key': 'k-123' } }))
    expect(req.method).toBe('POST')
    expect(req.path).toBe('/hooks/ownops?src=nas')
    expect(req.headers['content-type']).toBe('application/json')
    expect(req.headers['x-api-key']).toBe('k-123')
    expect(req.headers.authorization).toBeUndefined()
    expect(req.json).toEqual(expected)
  })

  it('jsons:// with baseUrl keeps the path; method and Basic credentials from the URL; source null', async () => {
    const req = only(
      await deliver(
        json,
        'jsons://user:p%40ss@hooks.example.com/in',
        { baseUrl: peer.url, method: 'PUT' },
        event({ source: undefined, level: 'info' }),
      ),
    )
    expect(req.method).toBe('PUT')
    expect(req.path).toBe('/in')
    expect(req.headers.authorization).toBe(`Basic ${Buffer.from('user:p@ss').toString('base64')}`)
    expect(req.json).toEqual({ ...expected, level: 'info', source: null })
    expect(json.parse(new URL('jsons://hooks.example.com/in'), {})).toMatchObject({ url: 'https://hooks.example.com/in' })
  })

  it('a content type from the options replaces the default; a bad method is refused', async () => {
    const req = only(
      await deliver(json, `json://127.0.0.1:${peer.port}/`, { headers: { 'Content-Type': 'application/json; charset=utf-8' } }),
    )
    expect(req.headers['content-type']).toBe('application/json; charset=utf-8')
    expect(() => json.parse(new URL('json://h/x'), { method: 'DELETE' })).toThrow(/POST, PUT or PATCH/)
  })
})

describe('ntfy', () => {
  it('ntfy://token@host:port/topic publishes JSON to the root with a Bearer token', async () => {
    const req = only(await deliver(ntfy, `ntfy://tk_ntfySeCrEtToKeN@127.0.0.1:${peer.port}/backups`, {}))
    expect(req.method).toBe('POST')
    expect(req.path).toBe('/')
    expect(req.headers.authorization).toBe('Bearer tk_ntfySeCrEtToKeN')
    expect(req.headers['content-type']).toBe('application/json')
    expect(req.json).toEqual({
      topic: 'backups',
      title: 'backup db failed',
      message: 'pg_dump: connection refused',
      priority: 5,
      tags: ['x'],
    })
  })

  it('priority and tags by level; non-ASCII titles arrive intact', async () => {
    const title = 'Sicherung „db“ fertig — Größe 3 GB ✓ 😀'
    for (const level of ['info', 'warning', 'error', 'critical'] as const) {
      await deliver(ntfy, `ntfy://127.0.0.1:${peer.port}/backups`, {}, event({ level, title }))
    }
    const bodies = peer.requests.map((r) => r.json as { priority: number; tags: string[]; title: string })
    expect(bodies.map((b) => [b.priority, b.tags])).toEqual([
      [3, ['information_source']],
      [4, ['warning']],
      [5, ['x']],
      [5, ['rotating_light']],
    ])
    for (const b of bodies) expect(b.title).toBe(title)
    for (const r of peer.requests) expect(r.headers.authorization).toBeUndefined()
  })

  it('ntfys://user:pass@host/prefix/topic with baseUrl sends Basic auth; ntfy://topic means ntfy.sh', async () => {
    const req = only(await deliver(ntfy, 'ntfys://phil:mypass@ntfy.example.com/ntfy/alerts', { baseUrl: peer.url }))
    expect(req.path).toBe('/')
    expect(req.headers.authorization).toBe(`Basic ${Buffer.from('phil:mypass').toString('base64')}`)
    expect(req.json).toMatchObject({ topic: 'alerts' })
    expect(ntfy.parse(new URL('ntfys://ntfy.example.com/ntfy/alerts'), {})).toMatchObject({
      base: 'https://ntfy.example.com/ntfy',
      topic: 'alerts',
    })
    expect(ntfy.parse(new URL('ntfy://:tk_abc@my_Topic'), {})).toEqual({
      base: 'https://ntfy.sh',
      topic: 'my_Topic',
      authorization: 'Bearer tk_abc',
      extra: {},
    })
  })

  it('an empty body sends the title as message; a long one is cut to 4,096 bytes', async () => {
    await deliver(ntfy, `ntfy://127.0.0.1:${peer.port}/t`, {}, event({ body: '' }))
    expect(peer.requests[0]?.json).toMatchObject({ message: 'backup db failed' })
    const body = 'é'.repeat(5000)
    await deliver(ntfy, `ntfy://127.0.0.1:${peer.port}/t`, {}, event({ body }))
    const message = (peer.requests[1]?.json as { message: string }).message
    expect(Buffer.byteLength(message)).toBeLessThanOrEqual(4096)
    expect(Buffer.byteLength(message)).toBeGreaterThan(4000)
    expectTruncated(message, body)
  })
})

const TG_TOKEN = '123456789:AAH-tElEgRaM_SeCrEt'
const TG_URL = `tgram://${TG_TOKEN.replace(':', '%3A')}`

describe('tgram', () => {
  it('sends one sendMessage per chat with HTML text', async () => {
    const requests = await deliver(tgram, `${TG_URL}/111222333/-1001234567890/@my_channel`, { baseUrl: peer.url })
    expect(requests).toHaveLength(3)
    const text = '<b>backup db failed</b>\n\npg_dump: connection refused'
    expect(requests.map((r) => [r.method, r.path, r.headers['content-type']])).toEqual(
      Array.from({ length: 3 }, () => ['POST', `/bot${TG_TOKEN}/sendMessage`, 'application/json']),
    )
    expect(requests.map((r) => r.json)).toEqual(
      ['111222333', '-1001234567890', '@my_channel'].map((chat_id) => ({
        chat_id,
        text,
        parse_mode: 'HTML',
        disable_web_page_preview: true,
      })),
    )
  })

  it('escapes HTML and cuts a 10,000-character body to 4,096 with the marker', async () => {
    const body = longBody().replace(/fox/g, '<fox> & co')
    const req = only(await deliver(tgram, `${TG_URL}/42`, { baseUrl: peer.url }, event({ title: 'a <b> & c', body })))
    const text = (req.json as { text: string }).text
    expect(text.length).toBeLessThanOrEqual(4096)
    expect(text.startsWith('<b>a &lt;b&gt; &amp; c</b>\n\n')).toBe(true)
    const shown = text.slice('<b>a &lt;b&gt; &amp; c</b>\n\n'.length).replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&')
    expectTruncated(shown, body)
  })

  it('the raw token form parses after encodeTelegramToken; defaults to api.telegram.org', () => {
    expect(() => new URL(`tgram://${TG_TOKEN}/42`)).toThrow()
    const url = new URL(encodeTelegramToken(`tgram://${TG_TOKEN}/42/43`))
    expect(tgram.parse(url, {})).toEqual({ token: TG_TOKEN, chats: ['42', '43'], base: 'https://api.telegram.org' })
    expect(tgram.parse(new URL(encodeTelegramToken(`tgram://bot${TG_TOKEN}/42`)), {})).toMatchObject({ token: TG_TOKEN })
    expect(encodeTelegramToken('discord://1/abc')).toBe('discord://1/abc')
  })

  it('a config URL may hold the token as Telegram prints it, colon and all', () => {
    const resolved = resolveChannel(`tgram://${TG_TOKEN}/42`)
    expect(resolved.kind).toBe('tgram')
    expect(resolved.target).toEqual({ token: TG_TOKEN, chats: ['42'], base: 'https://api.telegram.org' })
    expect(resolveChannel(`${TG_URL}/42`).target).toEqual(resolved.target)
  })

  it('tries every chat; fails retryable only if a failure was retryable', async () => {
    peer.reply({ status: 200 }, { status: 400, body: '{"ok":false,"description":"Bad Request: chat not found"}' }, { status: 200 })
    const target = tgram.parse(new URL(`${TG_URL}/1/2/3`), { baseUrl: peer.url })
    await expect(tgram.send(target, event(), ctx)).rejects.toMatchObject({ name: 'DeliveryError', retryable: false, status: 400 })
    expect(peer.requests).toHaveLength(3)
    peer.requests.length = 0
    peer.reply({ status: 400 }, { status: 429, body: '{"ok":false,"parameters":{"retry_after":7}}' }, { status: 200 })
    const error = await tgram.send(target, event(), ctx).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(DeliveryError)
    expect(error).toMatchObject({ retryable: true, retryAfterMs: 7000 })
    expect(String((error as Error).message)).toMatch(/^2 of 3 chats failed/)
  })
})

describe('gotify', () => {
  it('gotify://host:port/TOKEN posts to /message with X-Gotify-Key', async () => {
    const req = only(await deliver(gotify, `gotify://127.0.0.1:${peer.port}/AgOtIfYsEcReT.x`, {}))
    expect(req.method).toBe('POST')
    expect(req.path).toBe('/message')
    expect(req.headers['x-gotify-key']).toBe('AgOtIfYsEcReT.x')
    expect(req.headers['content-type']).toBe('application/json')
    expect(req.json).toEqual({ title: 'backup db failed', message: 'pg_dump: connection refused', priority: 8 })
  })

  it('priority by level; a path prefix is kept; gotifys:// is https; baseUrl replaces the base', async () => {
    for (const level of ['info', 'warning', 'error', 'critical'] as const) {
      await deliver(gotify, `gotify://127.0.0.1:${peer.port}/gotify/TOKEN`, {}, event({ level }))
    }
    expect(peer.requests.map((r) => [r.path, (r.json as { priority: number }).priority])).toEqual([
      ['/gotify/message', 2],
      ['/gotify/message', 5],
      ['/gotify/message', 8],
      ['/gotify/message', 10],
    ])
    expect(gotify.parse(new URL('gotifys://push.example.com/TOKEN'), {})).toEqual({ base: 'https://push.example.com', token: 'TOKEN' })
    peer.requests.length = 0
    expect(only(await deliver(gotify, 'gotifys://push.example.com/gotify/TOKEN', { baseUrl: peer.url })).path).toBe('/message')
  })
})

const HC_UUID = '5f0c7e1a-7d4e-4b8e-9a51-0f6f2b7c9d01'
const RID = 'c0ffee00-1234-4abc-8def-000000000001'

function beat(phase: Heartbeat['phase'], extra: Partial<Heartbeat> = {}): NotifyEvent {
  return event({ level: phase === 'fail' ? 'error' : 'info', heartbeat: { phase, runId: RID, logTail: 'done\n', ...extra } })
}

describe('hc', () => {
  it('hc://UUID: start, success, fail and exit pings with rid and the log tail as body', async () => {
    const target = hc.parse(new URL(`hc://${HC_UUID}`), { baseUrl: peer.url })
    for (const ev of [
      beat('start', { logTail: '' }),
      beat('success'),
      beat('fail'),
      beat('exit', { exitStatus: 3 }),
      beat('exit', { exitStatus: 0 }),
    ]) {
      await hc.send(target, ev, ctx)
    }
    expect(peer.requests.map((r) => [r.method, r.path, r.text])).toEqual([
      ['POST', `/${HC_UUID}/start?rid=${RID}`, ''],
      ['POST', `/${HC_UUID}?rid=${RID}`, 'done\n'],
      ['POST', `/${HC_UUID}/fail?rid=${RID}`, 'done\n'],
      ['POST', `/${HC_UUID}/3?rid=${RID}`, 'done\n'],
      ['POST', `/${HC_UUID}/0?rid=${RID}`, 'done\n'],
    ])
    expect(peer.requests[1]?.headers['content-type']).toBe('text/plain; charset=utf-8')
    expect(hc.parse(new URL(`hc://${HC_UUID}`), {})).toMatchObject({ origin: 'https://hc-ping.com', path: `/${HC_UUID}` })
  })

  it('an exit without a usable status is a fail ping', async () => {
    await deliver(hc, `hc://${HC_UUID}`, { baseUrl: peer.url }, beat('exit'))
    await deliver(hc, `hc://${HC_UUID}`, { baseUrl: peer.url }, beat('exit', { exitStatus: 300 }))
    expect(peer.requests.map((r) => r.path)).toEqual([`/${HC_UUID}/fail?rid=${RID}`, `/${HC_UUID}/fail?rid=${RID}`])
  })

  it('hc://PING_KEY/SLUG keeps a query such as ?create=1', async () => {
    const req = only(await deliver(hc, 'hc://pInGkEySeCrEt_123/nightly-backup?create=1', { baseUrl: peer.url }, beat('start')))
    expect(req.path).toBe(`/pInGkEySeCrEt_123/nightly-backup/start?create=1&rid=${RID}`)
    expect(hc.parse(new URL('hc://pInGkEySeCrEt_123/nightly-backup'), {})).toMatchObject({
      origin: 'https://hc-ping.com',
      path: '/pInGkEySeCrEt_123/nightly-backup',
    })
  })

  it('self-hosted: hc://host:port/ping/UUID is http, hcs:// is https, a native https URL is claimed', async () => {
    const req = only(await deliver(hc, `hc://127.0.0.1:${peer.port}/ping/${HC_UUID}/`, {}, beat('success')))
    expect(req.path).toBe(`/ping/${HC_UUID}?rid=${RID}`)
    expect(hc.parse(new URL(`hcs://hc.example.com/ping/${HC_UUID}`), {})).toMatchObject({
      origin: 'https://hc.example.com',
      path: `/ping/${HC_UUID}`,
    })
    expect(hc.parse(new URL(`hc://hc.example.com/ping/${HC_UUID}`), {})).toMatchObject({ origin: 'http://hc.example.com' })
    expect(hc.matchesHttps?.(new URL(`https://hc-ping.com/${HC_UUID}`))).toBe(true)
    expect(hc.matchesHttps?.(new URL(`https://hc.example.com/ping/${HC_UUID}`))).toBe(true)
    expect(hc.matchesHttps?.(new URL('https://example.com/hooks/x'))).toBe(false)
    peer.requests.length = 0
    const native = only(await deliver(hc, `https://hc-ping.com/${HC_UUID}`, { baseUrl: peer.url }, beat('fail')))
    expect(native.path).toBe(`/${HC_UUID}/fail?rid=${RID}`)
  })

  it('the body is the last tailBytes bytes of the log tail, cut on a UTF-8 boundary', async () => {
    const logTail = `${'x'.repeat(20_000)}\nEND`
    await deliver(hc, `hc://${HC_UUID}`, { baseUrl: peer.url }, beat('success', { logTail }))
    expect(peer.requests[0]?.body.length).toBe(10_000)
    expect(peer.requests[0]?.text).toBe(logTail.slice(-10_000))
    const multi = 'aé€😀'.repeat(10) // 1 + 2 + 3 + 4 bytes a repeat
    await deliver(hc, `hc://${HC_UUID}`, { baseUrl: peer.url, tailBytes: 8 }, beat('success', { logTail: multi }))
    // The last 8 bytes start inside 'é': its continuation byte is dropped.
    expect(peer.requests[1]?.body).toEqual(Buffer.from('€😀'))
  })

  it('an event without heartbeat: error and critical ping /fail, others succeed; title and body as body', async () => {
    await deliver(hc, `hc://${HC_UUID}`, { baseUrl: peer.url }, event({ level: 'critical' }))
    await deliver(
      hc,
      `hc://${HC_UUID}`,
      { baseUrl: peer.url },
      event({ level: 'info', title: 'ownops test notification', body: 'it works' }),
    )
    expect(peer.requests.map((r) => [r.path, r.text])).toEqual([
      [`/${HC_UUID}/fail`, 'backup db failed\n\npg_dump: connection refused'],
      [`/${HC_UUID}`, 'ownops test notification\n\nit works'],
    ])
  })
})

describe('parse errors name the problem without quoting secrets', () => {
  const cases: Array<[string, Channel<unknown>, string, string, RegExp]> = [
    ['discord: no token', discord, 'discord://123456789012345678', '123456789012345678', /discord:\/\/WEBHOOK_ID\/WEBHOOK_TOKEN/],
    ['discord: non-numeric id', discord, `discord://notanumber/${DISCORD_TOKEN}`, DISCORD_TOKEN, /webhook ID is a number/],
    ['discord: bad token', discord, `discord://${DISCORD_ID}/${DISCORD_TOKEN}%21`, DISCORD_TOKEN, /webhook token/],
    ['discord: extra segment', discord, `discord://${DISCORD_ID}/${DISCORD_TOKEN}/x`, DISCORD_TOKEN, /WEBHOOK_TOKEN/],
    ['discord: https without token', discord, `https://discord.com/api/webhooks/${DISCORD_ID}`, DISCORD_ID, /WEBHOOK_TOKEN/],
    ['slack: two tokens', slack, `slack://${SLACK[0]}/${SLACK[2]}`, SLACK[2], /expected 3/],
    ['slack: bad characters', slack, `slack://${SLACK[0]}/${SLACK[1]}/${SLACK[2]}-x`, SLACK[2], /letters and digits/],
    ['ntfy: bad topic', ntfy, 'ntfy://tk_ntfySeCrEtToKeN@ntfy.example.com/bad.topic', 'tk_ntfySeCrEtToKeN', /topic/],
    ['ntfy: no topic', ntfy, 'ntfys://phil:hunter2secret@ntfy.example.com:8443', 'hunter2secret', /topic is missing/],
    ['tgram: no chat', tgram, TG_URL, 'tElEgRaM_SeCrEt', /no chat ID/],
    ['tgram: bad chat', tgram, `${TG_URL}/not-a-chat`, 'tElEgRaM_SeCrEt', /chat 1/],
    ['tgram: bad token', tgram, 'tgram://AAH-tElEgRaM_SeCrEt/42', 'tElEgRaM_SeCrEt', /DIGITS:KEY/],
    ['gotify: no token', gotify, 'gotify://push.example.com', 'push.example.com/', /app token is missing/],
    ['gotify: bad token', gotify, 'gotify://push.example.com/AgOtIfYsEcReT%21', 'AgOtIfYsEcReT', /app token/],
    ['json: no host', json, 'json:///path/secretpath', 'secretpath', /host is missing/],
    ['hc: too many parts', hc, 'hc://pInGkEySeCrEt_123/a/b', 'pInGkEySeCrEt_123', /UUID or PING_KEY\/SLUG/],
    ['hc: host without path', hc, 'hcs://hc.example.com:8000', 'hc.example.com', /ping path is missing/],
  ]

  it.each(cases)('%s', (_name, channel, raw, secret, message) => {
    let error: unknown
    try {
      channel.parse(new URL(raw), {})
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(Error)
    expect(error).not.toBeInstanceOf(DeliveryError)
    expect((error as Error).message).toMatch(message)
    expect((error as Error).message).not.toContain(secret)
  })
})

/** Every channel, one sample URL pointing at the peer: the same checks for all. */
interface ContractRow {
  name: string
  channel: Channel<unknown>
  url: (peer: HttpPeer) => string
  options?: (peer: HttpPeer) => ChannelOptions
  requests: number
}

const contract: ContractRow[] = [
  {
    name: 'discord',
    channel: discord,
    url: () => `discord://${DISCORD_ID}/${DISCORD_TOKEN}`,
    options: (p) => ({ baseUrl: p.url }),
    requests: 1,
  },
  {
    name: 'discord (https)',
    channel: discord,
    url: () => `https://discord.com/api/webhooks/${DISCORD_ID}/${DISCORD_TOKEN}`,
    options: (p) => ({ baseUrl: p.url }),
    requests: 1,
  },
  { name: 'slack', channel: slack, url: () => `slack://${SLACK.join('/')}`, options: (p) => ({ baseUrl: p.url }), requests: 1 },
  {
    name: 'slack (https)',
    channel: slack,
    url: () => `https://hooks.slack.com/services/${SLACK.join('/')}`,
    options: (p) => ({ baseUrl: p.url }),
    requests: 1,
  },
  { name: 'json', channel: json, url: (p) => `json://127.0.0.1:${p.port}/hook`, requests: 1 },
  { name: 'ntfy', channel: ntfy, url: (p) => `ntfy://tk_token@127.0.0.1:${p.port}/topic`, requests: 1 },
  { name: 'tgram', channel: tgram, url: () => `${TG_URL}/42/43`, options: (p) => ({ baseUrl: p.url }), requests: 2 },
  { name: 'gotify', channel: gotify, url: (p) => `gotify://127.0.0.1:${p.port}/TOKEN`, requests: 1 },
  { name: 'hc', channel: hc, url: (p) => `hc://127.0.0.1:${p.port}/ping/${HC_UUID}`, requests: 1 },
  { name: 'hc (https)', channel: hc, url: () => `https://hc-ping.com/${HC_UUID}`, options: (p) => ({ baseUrl: p.url }), requests: 1 },
]

describe.each(contract)('contract: $name', ({ channel, url, options, requests }) => {
  const target = () => channel.parse(new URL(url(peer)), options?.(peer) ?? {})

  it('parses and delivers to the peer', async () => {
    await channel.send(target(), event(), ctx)
    expect(peer.requests).toHaveLength(requests)
    for (const r of peer.requests) expect(r.method).toBe('POST')
  })

  it('a 500 rejects with a retryable DeliveryError', async () => {
    peer.reply({ status: 500, body: 'boom' })
    const error = await channel.send(target(), event(), ctx).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(DeliveryError)
    expect(error).toMatchObject({ retryable: true, status: 500 })
  })

  it('a 400 rejects with a non-retryable DeliveryError', async () => {
    peer.reply({ status: 400, body: 'bad request' })
    const error = await channel.send(target(), event(), ctx).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(DeliveryError)
    expect(error).toMatchObject({ retryable: false, status: 400 })
  })
})
