/**
 * ntfy (https://ntfy.sh): `ntfy://[auth@]host[:port][/prefix]/topic` (http) and
 * `ntfys://…` (https); `ntfy://topic` or `ntfys://topic` (no path) publish to ntfy.sh.
 * Authentication: `token@` or `:token@` sends `Authorization: Bearer token`;
 * `user:pass@` sends HTTP Basic.
 *
 * Messages go through ntfy's JSON publish API (POST to the server root with
 * `{topic, title, message, priority, tags}`), so titles and bodies in any script travel
 * in a UTF-8 body instead of HTTP headers. The message is cut to ntfy's 4,096-byte limit
 * with `… (truncated, N more characters)`.
 *
 * Priority by level: info 3 (default), warning 4 (high), error 5 (max), critical 5 (max).
 * Tags (shown as emoji): info `information_source`, warning `warning`, error `x`,
 * critical `rotating_light`.
 */
import type { Channel, Level, NotifyEvent } from '../types.js'
import { decode, fitText, urlParams, utf8 } from './text.js'

export interface NtfyTarget {
  base: string
  topic: string
  authorization: string | undefined
  /** From the URL (apprise's parameters): a fixed priority, tags, a click URL, … */
  extra: NtfyExtra
}

export interface NtfyExtra {
  priority?: number
  tags?: string[]
  click?: string
  delay?: string
  email?: string
  icon?: string
  attach?: string
  filename?: string
}

/** apprise's ntfy parameters that ownops honours; any other is refused by name. */
const PARAMS = ['priority', 'tags', 'click', 'delay', 'email', 'avatar_url', 'attach', 'filename', 'token']
const PRIORITY_NAMES: Record<string, number> = { min: 1, low: 2, default: 3, high: 4, max: 5, urgent: 5 }

const USAGE = 'ntfy URL must be ntfy://[token@]host[:port]/topic, ntfys://[token@]host[:port]/topic or ntfy://topic'
const TOPIC = /^[-_A-Za-z0-9]{1,64}$/

export const NTFY_PRIORITY: Record<Level, number> = { info: 3, warning: 4, error: 5, critical: 5 }
export const NTFY_TAGS: Record<Level, string> = { info: 'information_source', warning: 'warning', error: 'x', critical: 'rotating_light' }
/** ntfy's default message size limit, in bytes. */
export const NTFY_MESSAGE_BYTES = 4096

export const ntfy: Channel<NtfyTarget> = {
  schemes: ['ntfy', 'ntfys'],

  parse(url, options) {
    if (url.protocol !== 'ntfy:' && url.protocol !== 'ntfys:') throw new Error(USAGE)
    if (url.hostname === '') throw new Error(`${USAGE} (the host is missing)`)
    const segments = url.pathname.split('/').filter((s) => s !== '')
    let origin: string
    let topic: string
    if (segments.length === 0) {
      origin = 'https://ntfy.sh'
      topic = url.hostname
      if (url.port !== '') throw new Error(`${USAGE} (the topic is missing)`)
    } else {
      origin = `${url.protocol === 'ntfys:' ? 'https' : 'http'}://${url.host}${segments
        .slice(0, -1)
        .map((s) => `/${s}`)
        .join('')}`
      topic = segments[segments.length - 1] ?? ''
    }
    if (!TOPIC.test(topic)) throw new Error(`${USAGE} (a topic is 1 to 64 letters, digits, "-" and "_")`)
    const base = options.baseUrl !== undefined ? options.baseUrl.replace(/\/+$/, '') : origin
    const params = urlParams(url, 'ntfy', PARAMS)
    const extra: NtfyExtra = {}
    const priority = params.get('priority')
    if (priority !== undefined) {
      const n = PRIORITY_NAMES[priority.toLowerCase()] ?? (/^[1-5]$/.test(priority) ? Number(priority) : undefined)
      if (n === undefined) throw new Error(`ntfy URL: ?priority= must be min, low, default, high, max or 1-5, not "${priority}"`)
      extra.priority = n
    }
    const tags = params.get('tags')
    if (tags !== undefined)
      extra.tags = tags
        .split(',')
        .map((t) => t.trim())
        .filter((t) => t !== '')
    for (const [key, field] of [
      ['click', 'click'],
      ['delay', 'delay'],
      ['email', 'email'],
      ['avatar_url', 'icon'],
      ['attach', 'attach'],
      ['filename', 'filename'],
    ] as const) {
      const value = params.get(key)
      if (value !== undefined && value !== '') extra[field] = value
    }
    const token = params.get('token')
    return { base, topic, authorization: token ? `Bearer ${token}` : authorization(url), extra }
  },

  async send(target, event, ctx) {
    const headers: Record<string, string> = { 'content-type': 'application/json' }
    if (target.authorization !== undefined) headers.authorization = target.authorization
    await ctx.http.request({
      url: `${target.base}/`,
      method: 'POST',
      headers,
      body: JSON.stringify(buildNtfyMessage(target.topic, event, target.extra)),
      timeoutMs: ctx.timeoutMs,
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    })
  },
}

/** The JSON publish payload for one event. */
export function buildNtfyMessage(topic: string, event: NotifyEvent, extra: NtfyExtra = {}) {
  const message = event.body.trim() !== '' ? event.body : event.title
  return {
    topic,
    title: event.title,
    message: fitText(message, NTFY_MESSAGE_BYTES, utf8),
    priority: extra.priority ?? NTFY_PRIORITY[event.level],
    tags: [NTFY_TAGS[event.level], ...(extra.tags ?? [])],
    ...(extra.click !== undefined ? { click: extra.click } : {}),
    ...(extra.delay !== undefined ? { delay: extra.delay } : {}),
    ...(extra.email !== undefined ? { email: extra.email } : {}),
    ...(extra.icon !== undefined ? { icon: extra.icon } : {}),
    ...(extra.attach !== undefined ? { attach: extra.attach } : {}),
    ...(extra.filename !== undefined ? { filename: extra.filename } : {}),
  }
}

function authorization(url: URL): string | undefined {
  const user = decode(url.username)
  const pass = decode(url.password)
  if (user === '' && pass === '') return undefined
  if (user === '' || pass === '') return `Bearer ${user || pass}`
  return `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`
}
