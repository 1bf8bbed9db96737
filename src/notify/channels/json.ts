/**
 * Generic JSON webhooks: `json://host[:port]/path` (http) and `jsons://host[:port]/path`
 * (https). `user:pass@` in the URL becomes HTTP Basic authentication; the query string is
 * kept. Options: `method` (POST, the default, PUT or PATCH), `headers` (added to every
 * request), `baseUrl` (replaces scheme, host and port; the URL's path is kept).
 *
 * The request body is the ownops event, version 1:
 *
 * ```json
 * {
 *   "version": 1,
 *   "level": "error",
 *   "title": "backup db failed",
 *   "body": "pg_dump: error: connection to server failed …",
 *   "source": { "command": "backup", "target": "db" },
 *   "host": "nas",
 *   "time": "2025-01-31T02:00:05.123Z"
 * }
 * ```
 *
 * - `level`: "info" | "warning" | "error" | "critical"
 * - `source`: what produced the event, `{ "command": string, "target"?: string }`, or `null`
 * - `time`: when it happened, ISO 8601 in UTC
 *
 * - `id`: unique per event, the same on every retry; also sent as the `Idempotency-Key`
 *   header, so a receiver can drop a repeat (a retry after an answer that never came)
 *
 * Sent with `content-type: application/json` unless `headers` sets a content type.
 * New fields may be added within version 1; a change to existing ones bumps `version`.
 */
import type { Channel, Level, NotifyEvent } from '../types.js'
import { decode } from './text.js'

export interface JsonTarget {
  url: string
  method: string
  headers: Record<string, string>
  format: 'ownops' | 'apprise'
}

/** apprise's JSON body (its json:// notifications), for receivers written for apprise. */
export interface AppriseJson {
  version: '1.0'
  title: string
  message: string
  /** info, success (a message that only says problems are gone), warning, failure. */
  type: 'info' | 'success' | 'warning' | 'failure'
  attachments: Array<{ filename: string; base64: string; mimetype: string }>
}

/** The documented event shape (version 1) sent by the json channel. */
export interface OwnopsEventJson {
  version: 1
  id?: string
  level: Level
  title: string
  body: string
  source: { command: string; target?: string } | null
  host: string
  time: string
}

const USAGE = 'json URL must be json://host[:port]/path or jsons://host[:port]/path'
const METHODS = new Set(['POST', 'PUT', 'PATCH'])
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

export const json: Channel<JsonTarget> = {
  schemes: ['json', 'jsons'],
  idempotent: true,

  parse(url, options) {
    if (url.protocol !== 'json:' && url.protocol !== 'jsons:') throw new Error(USAGE)
    if (url.hostname === '') throw new Error(`${USAGE} (the host is missing)`)
    const method = (options.method ?? 'POST').toUpperCase()
    if (!METHODS.has(method)) throw new Error(`json channel method must be POST, PUT or PATCH, not ${JSON.stringify(options.method)}`)
    const headers: Record<string, string> = {}
    for (const [name, value] of Object.entries(options.headers ?? {})) {
      if (!HEADER_NAME.test(name)) throw new Error(`json channel header name ${JSON.stringify(name)} is not a valid HTTP header name`)
      if (/[\r\n\0]/.test(value)) throw new Error(`json channel header ${name} has a line break or NUL in its value`)
      headers[name] = value
    }
    if (url.username !== '' || url.password !== '') {
      const credentials = `${decode(url.username)}:${decode(url.password)}`
      headers.authorization = `Basic ${Buffer.from(credentials).toString('base64')}`
    }
    if (!Object.keys(headers).some((name) => name.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json'
    const origin = options.baseUrl?.replace(/\/+$/, '') ?? `${url.protocol === 'jsons:' ? 'https' : 'http'}://${url.host}`
    return { url: `${origin}${url.pathname === '' ? '/' : url.pathname}${url.search}`, method, headers, format: options.format ?? 'ownops' }
  },

  async send(target, event, ctx) {
    await ctx.http.request({
      url: target.url,
      method: target.method,
      headers: { ...(event.id === undefined ? {} : { 'idempotency-key': event.id }), ...target.headers },
      body: JSON.stringify(target.format === 'apprise' ? appriseJson(event) : eventJson(event)),
      timeoutMs: ctx.timeoutMs,
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    })
  },
}

/** The documented ownops event JSON (version 1). */
export function eventJson(event: NotifyEvent): OwnopsEventJson {
  return {
    version: 1,
    ...(event.id === undefined ? {} : { id: event.id }),
    level: event.level,
    title: event.title,
    body: event.body,
    source: event.source
      ? { command: event.source.command, ...(event.source.target === undefined ? {} : { target: event.source.target }) }
      : null,
    host: event.host,
    time: event.time.toISOString(),
  }
}

/** apprise's json:// body for one event. */
export function appriseJson(event: NotifyEvent): AppriseJson {
  const resolvedOnly = event.alerts !== undefined && event.alerts.length > 0 && event.alerts.every((a) => a.state === 'closed')
  const type =
    event.level === 'error' || event.level === 'critical'
      ? 'failure'
      : event.level === 'warning'
        ? 'warning'
        : resolvedOnly
          ? 'success'
          : 'info'
  return {
    version: '1.0',
    title: event.title,
    message: event.body,
    type,
    attachments: (event.attachments ?? []).map((a) => ({
      filename: a.name,
      base64: a.content.toString('base64'),
      mimetype: a.contentType ?? 'application/octet-stream',
    })),
  }
}
