/**
 * Heartbeats in the healthchecks.io style.
 *
 * URL forms:
 * - `hc://UUID` → https://hc-ping.com/UUID
 * - `hc://PING_KEY/SLUG` → https://hc-ping.com/PING_KEY/SLUG
 * - `hc://host[:port]/path` (http) and `hcs://host[:port]/path` (https) for a self-hosted
 *   Healthchecks: the first part is a host when it has a dot or a port, or is `localhost`
 * - `https://hc-ping.com/…`, or any http(s) URL whose path has `/ping/`
 * A query in the URL (e.g. `?create=1`) is kept on every ping. `baseUrl` replaces the
 * scheme, host and port (`https://hc-ping.com` for the short forms); the path is kept.
 * `{job}` in the path becomes the name of the pinging job (backup, backup-world, monitor,
 * cleanup…): `hc://PING_KEY/{job}?create=1` gives every job a check of its own.
 * Pings are idempotent: a repeated one means the same, so they are retried after a
 * request that got no answer.
 *
 * A heartbeat event pings `start` → URL/start, `success` → URL, `fail` → URL/fail,
 * `exit` → URL/EXIT_STATUS (URL/fail without a status in 0–255), each with `?rid=RUN_ID`
 * (Healthchecks expects a UUID) and, as the POST body, the last `tailBytes` (default
 * 10,000) bytes of the log tail, cut on a UTF-8 character boundary.
 * Any other event (`ownops notify --test`, say) pings URL/fail for error and critical and
 * URL otherwise, with the title and body (their first `tailBytes` bytes) as the body.
 */
import type { Channel, NotifyEvent } from '../types.js'

export interface HcTarget {
  /** Scheme, host and port, without a trailing slash. */
  origin: string
  /** The check's ping path, e.g. /UUID or /ping/UUID; no trailing slash. */
  path: string
  /** Query parameters from the URL, kept on every ping. */
  query: string
  tailBytes: number
}

const USAGE = 'hc URL must be hc://UUID, hc://PING_KEY/SLUG, hc(s)://host[:port]/ping/UUID or an https ping URL'
const HC_PING = 'https://hc-ping.com'
const SEGMENT = /^(?:[A-Za-z0-9_-]|\{job\})+$/
const JOB = '{job}'
export const DEFAULT_TAIL_BYTES = 10_000

export const hc: Channel<HcTarget> = {
  schemes: ['hc', 'hcs'],
  idempotent: true,

  matchesHttps(url) {
    return url.hostname.toLowerCase() === 'hc-ping.com' || url.pathname.includes('/ping/')
  },

  parse(url, options) {
    const tailBytes = options.tailBytes ?? DEFAULT_TAIL_BYTES
    if (!Number.isInteger(tailBytes) || tailBytes < 0) throw new Error('hc channel tailBytes must be a whole number of bytes, 0 or more')
    if (url.username !== '' || url.password !== '') throw new Error(`${USAGE} (no user@ part)`)
    // `{job}` arrives percent-encoded from the URL parser.
    const segments = url.pathname
      .split('/')
      .filter((s) => s !== '')
      .map((s) => s.replace(/%7Bjob%7D/gi, JOB))
    let origin: string
    let path: string
    if (url.protocol === 'hc:' || url.protocol === 'hcs:') {
      if (url.hostname === '') throw new Error(`${USAGE} (the check is missing)`)
      const isHost = url.hostname.includes('.') || url.port !== '' || url.hostname.toLowerCase() === 'localhost'
      if (isHost) {
        if (segments.length === 0) throw new Error(`${USAGE} (the ping path is missing after the host)`)
        origin = `${url.protocol === 'hcs:' ? 'https' : 'http'}://${url.host}`
        path = segments.map((s) => `/${s}`).join('')
      } else {
        const parts = [url.hostname, ...segments]
        if (parts.length > 2) throw new Error(`${USAGE} (too many parts for hc-ping.com: UUID or PING_KEY/SLUG)`)
        if (!parts.every((s) => SEGMENT.test(s))) throw new Error(`${USAGE} (a UUID, ping key or slug is letters, digits, "-" and "_")`)
        origin = HC_PING
        path = parts.map((s) => `/${s}`).join('')
      }
    } else if (url.protocol === 'https:' || url.protocol === 'http:') {
      if (segments.length === 0) throw new Error(`${USAGE} (the ping path is missing)`)
      origin = url.origin
      path = segments.map((s) => `/${s}`).join('')
    } else {
      throw new Error(USAGE)
    }
    if (options.baseUrl !== undefined) origin = options.baseUrl.replace(/\/+$/, '')
    return { origin, path, query: url.search.replace(/^\?/, ''), tailBytes }
  },

  async send(target, event, ctx) {
    const { suffix, rid, body } = ping(event, target.tailBytes)
    const params = new URLSearchParams(target.query)
    if (rid !== undefined) params.set('rid', rid)
    const query = params.toString()
    const path = target.path.replaceAll(JOB, jobSlug(event.heartbeat?.job ?? event.source?.command ?? 'ownops'))
    await ctx.http.request({
      url: `${target.origin}${path}${suffix}${query ? `?${query}` : ''}`,
      method: 'POST',
      headers: { 'content-type': 'text/plain; charset=utf-8' },
      body,
      timeoutMs: ctx.timeoutMs,
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    })
  },
}

/** Whether pings of every job go to this one check (no `{job}` in its path). */
export function isSingleCheck(target: HcTarget): boolean {
  return !target.path.includes(JOB)
}

/** A job name as a Healthchecks slug: lower case letters, digits, "-" and "_". */
function jobSlug(job: string): string {
  return (
    job
      .toLowerCase()
      .replace(/[^a-z0-9_-]+/g, '-')
      .replace(/^-+|-+$/g, '') || 'ownops'
  )
}

function ping(event: NotifyEvent, tailBytes: number): { suffix: string; rid: string | undefined; body: Buffer } {
  const beat = event.heartbeat
  if (beat === undefined) {
    const suffix = event.level === 'error' || event.level === 'critical' ? '/fail' : ''
    const text = event.body.trim() === '' ? event.title : `${event.title}\n\n${event.body}`
    return { suffix, rid: undefined, body: utf8Head(text, tailBytes) }
  }
  const status = beat.exitStatus
  const suffix =
    beat.phase === 'start'
      ? '/start'
      : beat.phase === 'success'
        ? ''
        : beat.phase === 'fail'
          ? '/fail'
          : status !== undefined && Number.isInteger(status) && status >= 0 && status <= 255
            ? `/${status}`
            : '/fail'
  return { suffix, rid: beat.runId, body: utf8Tail(beat.logTail ?? '', tailBytes) }
}

/** The last `max` bytes of `text` in UTF-8, starting on a character boundary. */
export function utf8Tail(text: string, max: number): Buffer {
  const bytes = Buffer.from(text, 'utf8')
  if (bytes.length <= max) return bytes
  let start = bytes.length - max
  while (start < bytes.length && ((bytes[start] ?? 0) & 0xc0) === 0x80) start++
  return bytes.subarray(start)
}

/** The first `max` bytes of `text` in UTF-8, ending on a character boundary. */
export function utf8Head(text: string, max: number): Buffer {
  const bytes = Buffer.from(text, 'utf8')
  if (bytes.length <= max) return bytes
  let end = max
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--
  return bytes.subarray(0, end)
}
