/**
 * Outgoing HTTP for notifications and checks, over undici: a timeout on every request,
 * and responses classified for retrying (network errors, 5xx, 429 with its delay) or
 * not (other 4xx). Response bodies in errors are cut short; the caller's redactor masks
 * anything secret before it reaches a log.
 */
import type { Readable } from 'node:stream'
import { DeliveryError } from './delivery.js'

export interface HttpRequest {
  url: string
  method?: string
  headers?: Record<string, string>
  body?: string | Buffer
  timeoutMs?: number
  signal?: AbortSignal
}

export interface HttpResponse {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

export interface HttpClient {
  /** Sends a request; resolves for 2xx, throws DeliveryError otherwise. */
  request(req: HttpRequest): Promise<HttpResponse>
}

export function createHttpClient(defaults: { timeoutMs: number; userAgent?: string }): HttpClient {
  return {
    async request(req) {
      // undici is CommonJS: its exports are read from its default (module.exports), which the
      // bundled command line (scripts/bundle.mjs) offers as Node itself does.
      const { request } = (await import('undici')).default
      const timeoutMs = req.timeoutMs ?? defaults.timeoutMs
      const timeout = AbortSignal.timeout(timeoutMs)
      const signal = req.signal ? AbortSignal.any([req.signal, timeout]) : timeout
      // The body goes out through a generator that notes when the last byte was handed to
      // the socket: a failure before that cannot have delivered anything; one after it may.
      let sent = req.body === undefined
      const payload = req.body === undefined ? undefined : Buffer.from(req.body)
      const body =
        payload === undefined
          ? undefined
          : (async function* () {
              yield payload
              sent = true
            })()
      let status: number
      let headers: HttpResponse['headers']
      let res: Awaited<ReturnType<typeof request>>
      try {
        res = await request(req.url, {
          method: (req.method ?? 'POST') as 'POST',
          headers: {
            'user-agent': defaults.userAgent ?? 'ownops',
            ...req.headers,
            ...(payload === undefined ? {} : { 'content-length': String(payload.length) }),
          },
          // An AsyncIterable body is documented (Dispatcher.md); the type declaration lists fewer.
          ...(body === undefined ? {} : { body: body as unknown as Readable }),
          signal,
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
        })
        status = res.statusCode
        headers = res.headers
      } catch (error) {
        if (req.signal?.aborted) throw req.signal.reason ?? error
        const reason = timeout.aborted ? `timed out after ${timeoutMs} ms` : describeNetworkError(error)
        throw new DeliveryError(sent ? `${reason} after the request was sent` : reason, {
          retryable: true,
          maybeDelivered: sent,
          cause: error,
        })
      }
      let text = ''
      try {
        text = await res.body.text()
      } catch (error) {
        // The status is what counts: a 2xx whose body never ends was still accepted.
        if (req.signal?.aborted && !(status >= 200 && status < 300)) throw req.signal.reason ?? error
      }
      if (status >= 200 && status < 300) return { status, headers, body: text }
      throw responseError(status, headers, text)
    },
  }
}

function describeNetworkError(error: unknown): string {
  const cause = (error as { cause?: NodeJS.ErrnoException }).cause
  const code = cause?.code ?? (error as NodeJS.ErrnoException).code
  if (code === 'ECONNREFUSED') return 'connection refused'
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'host name not found'
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') return 'connection reset'
  if (code?.startsWith('UND_ERR_') && code.includes('TIMEOUT')) return 'timed out'
  return code ?? (error as Error).message
}

export function responseError(status: number, headers: HttpResponse['headers'], body: string): DeliveryError {
  const snippet = body.replace(/\s+/g, ' ').trim().slice(0, 200)
  const text = `HTTP ${status}${snippet ? `: ${snippet}` : ''}`
  if (status === 429) {
    const retryAfterMs = retryAfter(headers, body)
    return new DeliveryError(text, { retryable: true, status, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) })
  }
  return new DeliveryError(text, { retryable: status >= 500, status })
}

/** The delay a 429 asks for: Retry-After (seconds or HTTP date), X-RateLimit-Reset-After, or a JSON retry_after. */
export function retryAfter(headers: HttpResponse['headers'], body: string, now = Date.now()): number | undefined {
  const header = (name: string) => {
    const value = headers[name]
    return Array.isArray(value) ? value[0] : value
  }
  const retry = header('retry-after')
  if (retry !== undefined) {
    if (/^\d+(\.\d+)?$/.test(retry.trim())) return Math.ceil(Number(retry) * 1000)
    const date = Date.parse(retry)
    if (!Number.isNaN(date)) return Math.max(0, date - now)
  }
  const reset = header('x-ratelimit-reset-after')
  if (reset !== undefined && /^\d+(\.\d+)?$/.test(reset.trim())) return Math.ceil(Number(reset) * 1000)
  try {
    const json = JSON.parse(body) as { retry_after?: unknown; parameters?: { retry_after?: unknown } }
    const value = json.retry_after ?? json.parameters?.retry_after // Discord; Telegram
    if (typeof value === 'number') return Math.ceil(value * 1000)
  } catch {
    // not JSON
  }
  return undefined
}
