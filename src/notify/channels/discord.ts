/**
 * Discord webhooks: `discord://WEBHOOK_ID/WEBHOOK_TOKEN` or the webhook's own URL,
 * `https://discord.com/api/webhooks/ID/TOKEN` (also discordapp.com, ptb. and canary.).
 *
 * One embed per message, coloured by level. Discord's limits (title 256, description
 * 4,096, footer 2,048, 6,000 across the embed) are counted in UTF-16 code units, which is
 * never less than what Discord counts. Longer text is cut with
 * `… (truncated, N more characters)` (`overflow: truncate`, the default), or sent over up
 * to 10 messages titled `Title (1/3)`, `Title (2/3)`, … (`overflow: split`); text beyond
 * the tenth part is cut with the same marker. A retried split send repeats every part.
 */
import type { Channel, ChannelOptions, Level, NotifyEvent } from '../types.js'
import { DeliveryError } from '../types.js'
import { clip, decode, fitText, urlParams, yesNo } from './text.js'

export interface DiscordTarget {
  id: string
  token: string
  base: string
  overflow: 'truncate' | 'split'
  /** Sent as the message's user name (apprise: `discord://BOTNAME@ID/TOKEN`). */
  username: string
  avatarUrl?: string
  /** Post into this thread of the webhook's channel (`?thread=`). */
  thread?: string
  /** Mentions for critical messages (`?ping=123,<@&456>,@here`). */
  ping: string[]
  tts: boolean
  /** The title links here (`?href=` or `?url=`). */
  href?: string
  /** A digest's problems as embed fields (default), or as one text (`?fields=no`). */
  fields: boolean
  footer: boolean
}

/** apprise's Discord parameters that ownops honours; any other is refused by name. */
const PARAMS = ['avatar', 'avatar_url', 'thread', 'ping', 'tts', 'href', 'url', 'fields', 'footer', 'overflow']

const USAGE = 'discord URL must be discord://WEBHOOK_ID/WEBHOOK_TOKEN or https://discord.com/api/webhooks/WEBHOOK_ID/WEBHOOK_TOKEN'
const HOSTS = new Set([
  'discord.com',
  'discordapp.com',
  'ptb.discord.com',
  'canary.discord.com',
  'ptb.discordapp.com',
  'canary.discordapp.com',
])
const WEBHOOK_PATH = /^\/api(?:\/v\d+)?\/webhooks\/([^/]+)\/([^/]+)\/?$/
const ID = /^\d{1,30}$/
const TOKEN = /^[A-Za-z0-9_.-]+$/

export const DISCORD_LIMITS = { title: 256, description: 4096, footer: 2048, total: 6000 } as const
/** The most messages one event is split into. */
export const DISCORD_MAX_PARTS = 10

const COLORS: Record<Level, number> = { info: 0x3498db, warning: 0xf1c40f, error: 0xe74c3c, critical: 0x992d22 }

export const discord: Channel<DiscordTarget> = {
  schemes: ['discord'],

  matchesHttps(url) {
    return HOSTS.has(url.hostname.toLowerCase()) && WEBHOOK_PATH.test(url.pathname)
  },

  parse(url, options) {
    let id: string
    let token: string
    if (url.protocol === 'discord:') {
      const segments = url.pathname.split('/').filter((s) => s !== '')
      if (url.hostname === '' || segments.length !== 1) throw new Error(USAGE)
      id = url.hostname
      token = segments[0] ?? ''
    } else {
      const match = WEBHOOK_PATH.exec(url.pathname)
      if (!/^https?:$/.test(url.protocol) || match === null) throw new Error(USAGE)
      id = match[1] ?? ''
      token = match[2] ?? ''
    }
    if (!ID.test(id)) throw new Error(`${USAGE} (the webhook ID is a number)`)
    if (!TOKEN.test(token)) throw new Error(`${USAGE} (the webhook token has characters other than letters, digits, "-", "_" and ".")`)
    const params = urlParams(url, 'discord', PARAMS)
    const overflow = params.get('overflow') ?? options.overflow ?? 'truncate'
    if (overflow !== 'truncate' && overflow !== 'split')
      throw new Error(`discord URL: ?overflow= must be truncate or split, not "${overflow}"`)
    const thread = params.get('thread')
    if (thread !== undefined && !ID.test(thread)) throw new Error("discord URL: ?thread= is the thread's ID (a number)")
    const ping = (params.get('ping') ?? '')
      .split(/[\s,]+/)
      .filter((p) => p !== '')
      .map(mention)
    const avatar = yesNo(params.get('avatar'), 'discord', 'avatar') ?? true
    const avatarUrl = params.get('avatar_url')
    const href = params.get('href') ?? params.get('url')
    return {
      id,
      token,
      base: baseOf(options, 'https://discord.com'),
      overflow,
      username: url.protocol === 'discord:' && url.username !== '' ? decode(url.username) : 'ownops',
      ...(avatar && avatarUrl ? { avatarUrl } : {}),
      ...(thread !== undefined ? { thread } : {}),
      ping,
      tts: yesNo(params.get('tts'), 'discord', 'tts') ?? false,
      ...(href ? { href } : {}),
      fields: yesNo(params.get('fields'), 'discord', 'fields') ?? true,
      footer: yesNo(params.get('footer'), 'discord', 'footer') ?? true,
    }
  },

  async send(target, event, ctx) {
    const messages = buildDiscordMessages(event, target.overflow, target)
    if (messages.length > 1) ctx.log.debug({ parts: messages.length }, 'discord: long message split into parts')
    const url = `${target.base}/api/webhooks/${target.id}/${encodeURIComponent(target.token)}?wait=true${target.thread !== undefined ? `&thread_id=${target.thread}` : ''}`
    let unanswered: DeliveryError | undefined
    for (const [index, message] of messages.entries()) {
      // A part an earlier attempt delivered (or sent whole without an answer) is not posted again.
      const part = `part ${index + 1}`
      if (ctx.delivered?.has(part)) continue
      try {
        await ctx.http.request({
          url,
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(message),
          timeoutMs: ctx.timeoutMs,
          ...(ctx.signal ? { signal: ctx.signal } : {}),
        })
      } catch (error) {
        if (!(error instanceof DeliveryError) || !error.maybeDelivered) throw error
        unanswered ??= error
      }
      ctx.delivered?.add(part)
    }
    if (unanswered !== undefined) throw unanswered
  },
}

export interface DiscordEmbed {
  title?: string
  description?: string
  url?: string
  color: number
  timestamp: string
  footer?: { text: string }
  fields?: Array<{ name: string; value: string; inline?: boolean }>
}

export interface DiscordMessage {
  username: string
  avatar_url?: string
  content?: string
  tts?: boolean
  allowed_mentions?: { parse: string[]; users: string[]; roles: string[] }
  embeds: DiscordEmbed[]
}

/** A mention as Discord writes it: a user ID → <@ID>; <@&ROLE>, <@ID>, @here and @everyone as they are. */
function mention(text: string): string {
  if (/^\d+$/.test(text)) return `<@${text}>`
  if (/^<@[!&]?\d+>$/.test(text) || text === '@here' || text === '@everyone') return text
  throw new Error(`discord URL: ?ping= takes user IDs, <@ID>, <@&ROLE_ID>, @here or @everyone, not "${text}"`)
}

/** Embed field limits: 25 fields, a name of 256 and a value of 1,024 characters. */
export const DISCORD_FIELD_LIMITS = { fields: 25, name: 256, value: 1024 } as const

type Style = Pick<DiscordTarget, 'username' | 'avatarUrl' | 'ping' | 'tts' | 'href' | 'fields' | 'footer'>
const PLAIN: Style = { username: 'ownops', ping: [], tts: false, fields: true, footer: true }

/** The webhook payloads for one event: one, or several in order when split. */
export function buildDiscordMessages(
  event: NotifyEvent,
  overflow: 'truncate' | 'split' = 'truncate',
  style: Style = PLAIN,
): DiscordMessage[] {
  const source = event.source ? ` · ${event.source.command}${event.source.target ? ` ${event.source.target}` : ''}` : ''
  const footer = style.footer ? clip(`${event.host}${source}`, DISCORD_LIMITS.footer) : ''
  const base = {
    color: COLORS[event.level],
    timestamp: event.time.toISOString(),
    ...(footer ? { footer: { text: footer } } : {}),
    ...(style.href ? { url: style.href } : {}),
  }
  // A mention pings people: only for critical messages, and only where the URL asks for one.
  const ping = event.level === 'critical' && style.ping.length > 0 ? style.ping : []
  const head = (first: boolean) => ({
    username: style.username,
    ...(style.avatarUrl ? { avatar_url: style.avatarUrl } : {}),
    ...(style.tts ? { tts: true } : {}),
    ...(first && ping.length > 0
      ? {
          content: ping.join(' '),
          allowed_mentions: {
            parse: ping.filter((p) => p.startsWith('@')).map((p) => p.slice(1)),
            users: ping.flatMap((p) => /^<@!?(\d+)>$/.exec(p)?.slice(1) ?? []),
            roles: ping.flatMap((p) => /^<@&(\d+)>$/.exec(p)?.slice(1) ?? []),
          },
        }
      : {}),
  })
  let sent = 0
  const embed = (title: string, description: string, fields?: DiscordEmbed['fields']): DiscordMessage => ({
    ...head(sent++ === 0),
    embeds: [
      { ...(title ? { title } : {}), ...(description ? { description } : {}), ...(fields && fields.length > 0 ? { fields } : {}), ...base },
    ],
  })

  const title = clip(event.title, DISCORD_LIMITS.title)
  const alerts = event.alerts ?? []
  if (style.fields && alerts.length > 0) {
    // One field per problem, not space-padded columns in a proportional font.
    const shown = alerts.slice(0, DISCORD_FIELD_LIMITS.fields - (alerts.length > DISCORD_FIELD_LIMITS.fields ? 1 : 0))
    const fields = shown.map((a) => ({
      name: clip(`${a.label} · ${a.subject}`, DISCORD_FIELD_LIMITS.name),
      value: clip(a.text, DISCORD_FIELD_LIMITS.value),
    }))
    if (shown.length < alerts.length)
      fields.push({ name: `… and ${alerts.length - shown.length} more`, value: 'the whole list: `ownops monitor`' })
    // The total of 6,000 characters: cut the values evenly when they would not fit.
    const room = DISCORD_LIMITS.total - title.length - footer.length - 200
    const used = fields.reduce((n, f) => n + f.name.length + f.value.length, 0)
    if (used > room) {
      const each = Math.max(40, Math.floor(room / fields.length) - DISCORD_FIELD_LIMITS.name)
      for (const f of fields) f.value = clip(f.value, each)
    }
    const last =
      event.body
        .split('\n')
        .filter((l) => l.trim() !== '')
        .at(-1) ?? ''
    return [embed(title, last.startsWith('`ownops monitor`') ? clip(last, 200) : '', fields)]
  }
  if (overflow === 'truncate' || event.body.length <= descriptionBudget(title, footer)) {
    return [embed(title, fitText(event.body, descriptionBudget(title, footer)))]
  }

  // Budget for the worst-case title, so that the part count does not change the sizes.
  const budget = descriptionBudget('x'.repeat(DISCORD_LIMITS.title), footer)
  const parts = splitText(event.body, budget, DISCORD_MAX_PARTS)
  return parts.map((part, i) => {
    const suffix = ` (${i + 1}/${parts.length})`
    return embed(clip(event.title, DISCORD_LIMITS.title - suffix.length) + suffix, part)
  })
}

function descriptionBudget(title: string, footer: string): number {
  return Math.min(DISCORD_LIMITS.description, DISCORD_LIMITS.total - title.length - footer.length)
}

function baseOf(options: ChannelOptions, fallback: string): string {
  return (options.baseUrl ?? fallback).replace(/\/+$/, '')
}

/**
 * Splits `text` into chunks of at most `size` units, breaking after a newline (or else a
 * space) in the second half of a chunk when there is one. At most `maxParts` chunks: the
 * last one is cut with the truncation marker if the text does not fit.
 */
function splitText(text: string, size: number, maxParts: number): string[] {
  const chars = Array.from(text)
  const parts: string[] = []
  let i = 0
  while (i < chars.length) {
    if (parts.length === maxParts - 1) {
      parts.push(fitText(chars.slice(i).join(''), size))
      break
    }
    let used = 0
    let j = i
    while (j < chars.length && used + (chars[j] ?? '').length <= size) used += (chars[j++] ?? '').length
    if (j < chars.length) j = breakPoint(chars, i, j)
    parts.push(chars.slice(i, j).join(''))
    i = j
  }
  return parts
}

function breakPoint(chars: string[], start: number, end: number): number {
  const floor = start + Math.floor((end - start) / 2)
  for (const sep of ['\n', ' ']) {
    for (let k = end; k > floor; k--) if (chars[k - 1] === sep) return k
  }
  return end
}
