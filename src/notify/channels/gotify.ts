/**
 * Gotify: `gotify://host[:port][/prefix]/APP_TOKEN` (http) and `gotifys://…` (https).
 * POSTs `{title, message, priority}` to `${base}/message` with `X-Gotify-Key: APP_TOKEN`.
 * Priority by level: info 2, warning 5, error 8, critical 10. `baseUrl` replaces scheme,
 * host, port and prefix.
 */
import type { Channel, Level } from '../types.js'
import { decode, urlParams } from './text.js'

export interface GotifyTarget {
  base: string
  token: string
}

const USAGE = 'gotify URL must be gotify://host[:port]/APP_TOKEN or gotifys://host[:port]/APP_TOKEN'
const TOKEN = /^[A-Za-z0-9._-]+$/

export const GOTIFY_PRIORITY: Record<Level, number> = { info: 2, warning: 5, error: 8, critical: 10 }

export const gotify: Channel<GotifyTarget> = {
  schemes: ['gotify', 'gotifys'],

  parse(url, options) {
    if (url.protocol !== 'gotify:' && url.protocol !== 'gotifys:') throw new Error(USAGE)
    if (url.hostname === '') throw new Error(`${USAGE} (the host is missing)`)
    urlParams(url, 'gotify', [])
    const segments = url.pathname.split('/').filter((s) => s !== '')
    const token = decode(segments[segments.length - 1] ?? '')
    if (token === '') throw new Error(`${USAGE} (the app token is missing)`)
    if (!TOKEN.test(token)) throw new Error(`${USAGE} (the app token has characters other than letters, digits, ".", "-" and "_")`)
    const prefix = segments
      .slice(0, -1)
      .map((s) => `/${s}`)
      .join('')
    const origin = `${url.protocol === 'gotifys:' ? 'https' : 'http'}://${url.host}${prefix}`
    return { base: (options.baseUrl ?? origin).replace(/\/+$/, ''), token }
  },

  async send(target, event, ctx) {
    await ctx.http.request({
      url: `${target.base}/message`,
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-gotify-key': target.token },
      body: JSON.stringify({
        title: event.title,
        message: event.body.trim() !== '' ? event.body : event.title,
        priority: GOTIFY_PRIORITY[event.level],
      }),
      timeoutMs: ctx.timeoutMs,
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    })
  },
}
