/**
 * A loopback stand-in for PagerDuty's Events API v2 (POST /v2/enqueue), written from
 * PagerDuty's documentation: it validates a request the way the API does and answers with
 * its response shapes — 202 `{"status":"success","message":"Event processed","dedup_key":…}`,
 * 400 `{"status":"invalid event","message":"Event object is invalid","errors":[…]}` — and
 * keeps the alerts it holds open by dedup key, so a test can see triggers and resolves.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { randomUUID } from 'node:crypto'

export interface PagerDutyRequest {
  path: string
  headers: Record<string, string | string[] | undefined>
  body: Record<string, unknown>
}

export interface PagerDutyPeer {
  url: string
  requests: PagerDutyRequest[]
  /** Open alerts by dedup key: their last trigger's summary and severity. */
  open: Map<string, { summary: string; severity: string }>
  /** The next answers (status codes) before it validates again, e.g. [500, 429]. */
  fail(...statuses: number[]): void
  close(): Promise<void>
}

const SEVERITIES = ['critical', 'error', 'warning', 'info']

function problems(body: Record<string, unknown>): string[] {
  const errors: string[] = []
  const key = body.routing_key
  if (typeof key !== 'string' || key.length !== 32) errors.push("Length of 'routing_key' is incorrect (should be 32 characters)")
  const action = body.event_action
  if (action !== 'trigger' && action !== 'acknowledge' && action !== 'resolve')
    errors.push("'event_action' is invalid (must be one of the following: 'trigger', 'acknowledge' or 'resolve')")
  const dedup = body.dedup_key
  if (dedup !== undefined && (typeof dedup !== 'string' || dedup.length > 255))
    errors.push("'dedup_key' is invalid (must be a string of at most 255 characters)")
  if (action !== 'trigger' && typeof dedup !== 'string')
    errors.push("'dedup_key' is missing and is required for acknowledge and resolve events")
  if (action === 'trigger') {
    const payload = body.payload as Record<string, unknown> | undefined
    if (payload === undefined || typeof payload !== 'object') errors.push("'payload' is missing or blank")
    else {
      if (typeof payload.summary !== 'string' || payload.summary === '') errors.push("'payload.summary' is missing or blank")
      else if (payload.summary.length > 1024) errors.push("'payload.summary' is too long (maximum is 1024 characters)")
      if (typeof payload.source !== 'string' || payload.source === '') errors.push("'payload.source' is missing or blank")
      if (!SEVERITIES.includes(String(payload.severity)))
        errors.push("'payload.severity' is invalid (must be one of the following: 'critical', 'warning', 'error' or 'info')")
      if (payload.timestamp !== undefined && (typeof payload.timestamp !== 'string' || Number.isNaN(Date.parse(payload.timestamp))))
        errors.push("'payload.timestamp' is invalid")
    }
  }
  return errors
}

export async function startPagerDutyPeer(): Promise<PagerDutyPeer> {
  const requests: PagerDutyRequest[] = []
  const open = new Map<string, { summary: string; severity: string }>()
  let failures: number[] = []
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const reply = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' })
        res.end(JSON.stringify(body))
      }
      if (req.method !== 'POST' || req.url !== '/v2/enqueue') return reply(404, { status: 'not found' })
      let body: Record<string, unknown>
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>
      } catch {
        return reply(400, { status: 'invalid event', message: 'Event object is invalid', errors: ['Malformed JSON'] })
      }
      requests.push({ path: req.url, headers: req.headers, body })
      const forced = failures.shift()
      if (forced !== undefined)
        return reply(
          forced,
          forced === 429
            ? { status: 'throttle event', message: 'Requests for this service are arriving too quickly.  Please retry later.' }
            : { status: 'error' },
        )
      const errors = problems(body)
      if (errors.length > 0) return reply(400, { status: 'invalid event', message: 'Event object is invalid', errors })
      const dedup = typeof body.dedup_key === 'string' ? body.dedup_key : randomUUID().replace(/-/g, '')
      const payload = body.payload as { summary: string; severity: string } | undefined
      if (body.event_action === 'trigger' && payload) open.set(dedup, { summary: payload.summary, severity: payload.severity })
      if (body.event_action === 'resolve') open.delete(dedup)
      reply(202, { status: 'success', message: 'Event processed', dedup_key: dedup })
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    open,
    fail(...statuses) {
      failures = statuses
    },
    async close() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
