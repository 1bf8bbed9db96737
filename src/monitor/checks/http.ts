/**
 * `kind: http` — an HTTP(S) endpoint: method, headers, expected status, a regular
 * expression the body must match, a latency limit, and days left on the TLS certificate.
 */
import { z } from 'zod'
import { duration } from '../../config/fields.js'
import { formatDurationSetting } from '../../duration.js'
import { probeHttp, type ProbeResponse } from '../../sys/http-probe.js'
import { passFailFields } from '../spec.js'
import type { CheckKind, Finding } from '../types.js'

export const schema = z.strictObject({
  kind: z.literal('http'),
  ...passFailFields,
  url: z.string().regex(/^https?:\/\//i, { error: 'expected an http:// or https:// URL' }),
  method: z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']).default('GET'),
  headers: z
    .record(z.string(), z.string())
    .default({})
    .meta({ description: 'Request headers, e.g. { Authorization: "Bearer ${API_TOKEN}" }.' }),
  body: z.string().optional().meta({ description: 'Request body.' }),
  status: z
    .union([z.number().int().min(100).max(599), z.array(z.number().int().min(100).max(599)).min(1)])
    .optional()
    .meta({ description: 'Expected status code(s) (default: any 2xx or 3xx).' }),
  match: z
    .string()
    .optional()
    .meta({ description: 'A regular expression the response body must match, e.g. "\\"status\\":\\s*\\"ok\\"".' }),
  maxLatency: duration.optional().meta({ description: 'A slower answer is a warning, e.g. 1s.' }),
  certDays: z
    .strictObject({ warn: z.number().int().min(0).default(14), critical: z.number().int().min(0).default(3) })
    .prefault({})
    .meta({ description: 'https: days left on the certificate before a warning (14) and critical (3).' }),
  tls: z
    .strictObject({
      verify: z.boolean().default(true).meta({ description: 'false accepts any certificate (its expiry is still checked).' }),
      ca: z.string().optional().meta({ description: 'A PEM file with the CA or self-signed certificate to trust.' }),
    })
    .prefault({}),
})
export type HttpSpec = z.output<typeof schema>

const DAY_MS = 86_400_000

/** Judges a response against the spec. Pure. */
export function assessResponse(spec: HttpSpec, res: ProbeResponse, now: Date): Finding {
  const severity = spec.severity ?? 'critical'
  const expected = spec.status === undefined ? undefined : Array.isArray(spec.status) ? spec.status : [spec.status]
  const latency = Math.round(res.latencyMs)
  const metrics: Record<string, number> = { status_code: res.status, latency_seconds: res.latencyMs / 1000 }
  const where = `${spec.method} ${spec.url}`
  const days = res.certificate ? Math.floor((res.certificate.validTo.getTime() - now.getTime()) / DAY_MS) : undefined
  if (days !== undefined && res.certificate) {
    metrics.cert_days_left = days
    metrics.cert_expiry_timestamp_seconds = Math.floor(res.certificate.validTo.getTime() / 1000)
  }
  const certText = days === undefined ? '' : `, certificate ${days} days left`
  const value = `HTTP ${res.status} in ${latency} ms${certText}`
  const threshold = [
    expected ? `status ${expected.join('|')}` : 'status 2xx/3xx',
    spec.maxLatency !== undefined ? `< ${formatDurationSetting(spec.maxLatency)}` : undefined,
    days !== undefined ? `cert > ${spec.certDays.warn}d` : undefined,
  ]
    .filter(Boolean)
    .join(', ')
  const fail = (status: Finding['status'], message: string): Finding => ({ status, value, threshold, message, metrics })

  const statusOk = expected ? expected.includes(res.status) : res.status >= 200 && res.status < 400
  if (!statusOk)
    return fail(
      severity,
      `${where} answered HTTP ${res.status}, expected ${expected ? expected.join(' or ') : '2xx or 3xx'}${snippet(res.body)}`,
    )
  if (spec.match !== undefined && !new RegExp(spec.match).test(res.body))
    return fail(severity, `${where}: the body does not match /${spec.match}/${snippet(res.body)}`)
  if (days !== undefined && days < spec.certDays.critical)
    return fail(
      'critical',
      `${where}: the TLS certificate expires in ${days} days (${res.certificate?.validTo.toISOString().slice(0, 10)})`,
    )
  if (days !== undefined && days < spec.certDays.warn)
    return fail('warning', `${where}: the TLS certificate expires in ${days} days (${res.certificate?.validTo.toISOString().slice(0, 10)})`)
  const maxMs = spec.maxLatency
  if (maxMs !== undefined && res.latencyMs > maxMs)
    return fail('warning', `${where} is slow: ${latency} ms (limit ${formatDurationSetting(maxMs)})`)
  return { status: 'ok', value, threshold, message: `${where} answered HTTP ${res.status} in ${latency} ms${certText}`, metrics }
}

function snippet(body: string): string {
  const text = body.replace(/\s+/g, ' ').trim()
  return text === '' ? '' : `: ${text.length > 100 ? `${text.slice(0, 99)}…` : text}`
}

export const http: CheckKind<HttpSpec> = {
  usesDocker: false,
  recoverable: true,
  async run(spec, ctx) {
    try {
      const res = await probeHttp({
        url: spec.url,
        method: spec.method,
        headers: spec.headers,
        ...(spec.body === undefined ? {} : { body: spec.body }),
        timeoutMs: ctx.timeoutMs,
        signal: ctx.signal,
        verify: spec.tls.verify,
        ...(spec.tls.ca === undefined ? {} : { caFile: spec.tls.ca }),
      })
      return [assessResponse(spec, res, ctx.now)]
    } catch (error) {
      if (ctx.signal.aborted) throw error
      const message = (error as Error).message
      return [
        {
          status: spec.severity ?? 'critical',
          value: message,
          message: `${spec.method} ${spec.url}: ${message}`,
          metrics: { status_code: 0 },
        },
      ]
    }
  },
}
