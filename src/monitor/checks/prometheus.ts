/**
 * `kind: prometheus` — an app's own metrics, without a Prometheus server: scrapes its
 * /metrics (the text exposition format) or a JSON endpoint, computes one number with a
 * small expression (a value, a rate between two runs, a histogram quantile; see ../expr.ts)
 * and compares it with `warn` and `critical`: the card-game service's "error rate over 5 %"
 * and "p95 over 500 ms" rules.
 */
import { z } from 'zod'
import { parseDuration } from '../../duration.js'
import { probeHttp } from '../../sys/http-probe.js'
import { didYouMean, formatBytes, parseByteSize } from '../../text.js'
import { ExpositionError, parseExposition, type Sample } from '../exposition.js'
import { evaluate, ExprError, NoValue, parseExpr, selectorsOf, seriesForRates, type Expr, type Previous } from '../expr.js'
import { JsonPathError, parseJsonPath, valueAt } from '../json-path.js'
import { passFailFields } from '../spec.js'
import type { CheckKind, Finding } from '../types.js'

/** A threshold: `> 5%`, `>= 500ms`, `< 1`, `2GB`; a bare number or value means "above". */
export interface Threshold {
  op: '>' | '>=' | '<' | '<='
  value: number
  unit: Unit
  text: string
}
export type Unit = 'percent' | 'seconds' | 'bytes' | 'number'

const THRESHOLD = /^\s*(>=|<=|>|<)?\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*(%|ms|s|m|h|d|[kKmMgGtT]i?B|B)?\s*$/

export function parseThreshold(input: string | number): Threshold | undefined {
  if (typeof input === 'number') return Number.isFinite(input) ? { op: '>', value: input, unit: 'number', text: `> ${input}` } : undefined
  const m = THRESHOLD.exec(input)
  if (m === null) return undefined
  const op = (m[1] ?? '>') as Threshold['op']
  const n = Number(m[2])
  const suffix = m[3]
  const text = `${op} ${m[2]}${suffix ?? ''}`
  if (suffix === undefined) return { op, value: n, unit: 'number', text }
  if (suffix === '%') return { op, value: n / 100, unit: 'percent', text }
  if (/^(ms|s|m|h|d)$/.test(suffix)) return { op, value: (parseDuration(`${m[2]}${suffix}`) ?? 0) / 1000, unit: 'seconds', text }
  const bytes = parseByteSize(`${m[2]}${suffix}`)
  return bytes === undefined ? undefined : { op, value: bytes, unit: 'bytes', text }
}

function crosses(value: number, t: Threshold): boolean {
  switch (t.op) {
    case '>':
      return value > t.value
    case '>=':
      return value >= t.value
    case '<':
      return value < t.value
    case '<=':
      return value <= t.value
  }
}

const threshold = z
  .union([z.string(), z.number()])
  .refine((v) => parseThreshold(v) !== undefined, { error: 'expected a threshold such as "> 5%", ">= 500ms", "< 1" or 2GB' })

const jsonName = z.string().regex(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/, { error: 'a name for the expression: letters, digits, _ and :' })

export const schema = z
  .strictObject({
    kind: z.literal('prometheus'),
    ...passFailFields,
    url: z
      .string()
      .regex(/^https?:\/\//i, { error: 'expected an http:// or https:// URL' })
      .meta({ description: "The app's metrics, e.g. http://127.0.0.1:8080/metrics (or a JSON endpoint with json:)." }),
    headers: z
      .record(z.string(), z.string())
      .default({})
      .meta({ description: 'Request headers, e.g. { Authorization: "Bearer ${METRICS_TOKEN}" }.' }),
    expr: z.string().meta({
      description:
        'What to compute: a metric (the sum of the series it matches, e.g. app_queue_depth{queue="mail"}), rate(counter) or increase(counter) since the previous run, histogram_quantile(0.95, rate(x_bucket)), sum/min/max/avg/count(selector), numbers, + - * / and parentheses. E.g. rate(http_requests_errors_total) / rate(http_requests_total).',
    }),
    json: z.record(jsonName, z.string()).optional().meta({
      description:
        'A JSON endpoint instead of /metrics: names for the values the expression uses, each a path into the answer, e.g. { requests: "$.http.requests", errors: "$.http.errors" }.',
    }),
    warn: threshold.optional().meta({ description: 'A warning when the value crosses this, e.g. "> 2%", "> 300ms", "< 1".' }),
    critical: threshold.optional().meta({ description: 'Critical when the value crosses this, e.g. "> 5%".' }),
  })
  .superRefine((spec, ctx) => {
    let expr: Expr
    try {
      expr = parseExpr(spec.expr)
    } catch (error) {
      if (!(error instanceof ExprError)) throw error
      ctx.addIssue({ code: 'custom', path: ['expr'], message: `column ${error.at + 1}: ${error.message}` })
      return
    }
    if (spec.json !== undefined) {
      for (const [name, path] of Object.entries(spec.json)) {
        try {
          parseJsonPath(path)
        } catch (error) {
          if (!(error instanceof JsonPathError)) throw error
          ctx.addIssue({ code: 'custom', path: ['json', name], message: error.message })
        }
      }
      const names = Object.keys(spec.json)
      for (const { selector } of selectorsOf(expr)) {
        if (!names.includes(selector.name)) {
          const guess = didYouMean(selector.name, names)
          ctx.addIssue({
            code: 'custom',
            path: ['expr'],
            message: `${selector.name} is not one of the json: names (${names.join(', ') || 'none'})${guess ? `; did you mean ${guess}?` : ''}`,
          })
        } else if (selector.matchers.length > 0) {
          ctx.addIssue({ code: 'custom', path: ['expr'], message: `${selector.name} is a JSON value: it has no labels to match` })
        }
      }
    }
    const warn = spec.warn === undefined ? undefined : parseThreshold(spec.warn)
    const critical = spec.critical === undefined ? undefined : parseThreshold(spec.critical)
    if (warn !== undefined && critical !== undefined) {
      const above = (t: Threshold) => t.op.startsWith('>')
      if (warn.unit !== critical.unit)
        ctx.addIssue({
          code: 'custom',
          path: ['critical'],
          message: `warn and critical use different units (${warn.unit} and ${critical.unit})`,
        })
      else if (above(warn) === above(critical) && (above(warn) ? warn.value > critical.value : warn.value < critical.value)) {
        ctx.addIssue({
          code: 'custom',
          path: ['warn'],
          message: `warn (${warn.text}) is crossed after critical (${critical.text}): ${above(warn) ? 'warn is the lower threshold' : 'with "<", warn is the higher threshold'}`,
        })
      }
    }
  })
  .meta({
    description:
      "An app's own metrics: a value, a rate between runs or a histogram quantile from its /metrics (or a JSON endpoint), against warn and critical.",
  })
export type PrometheusSpec = z.output<typeof schema>

/** The value for people, in the unit its thresholds use. */
export function formatValue(value: number, unit: Unit): string {
  if (Number.isNaN(value)) return 'NaN'
  if (!Number.isFinite(value)) return value > 0 ? '+Inf' : '-Inf'
  const round = (n: number) => String(Number(n.toPrecision(4)))
  switch (unit) {
    case 'percent':
      return `${round(value * 100)}%`
    case 'seconds':
      return Math.abs(value) < 1 ? `${round(value * 1000)}ms` : `${round(value)}s`
    case 'bytes':
      return formatBytes(Math.round(value))
    case 'number':
      return round(value)
  }
}

/** Memo between runs: when the last scrape was, and the series values rates need. */
interface PromMemo extends Previous {
  /** The expression the series belong to: a changed expression starts again. */
  expr: string
}

function parseMemo(value: Record<string, unknown> | undefined, expr: string): Previous | undefined {
  if (
    value === undefined ||
    value.expr !== expr ||
    typeof value.at !== 'number' ||
    value.series === null ||
    typeof value.series !== 'object'
  )
    return undefined
  return value as unknown as PromMemo
}

const MAX_BODY = 16 * 1024 * 1024

/** Reads the answer into samples: the exposition format, or the named JSON values. */
export function samplesOf(spec: Pick<PrometheusSpec, 'json'>, body: string): { samples: Sample[]; known: (name: string) => boolean } {
  if (spec.json === undefined) {
    const parsed = parseExposition(body)
    const names = new Set(parsed.samples.map((s) => s.name))
    for (const family of parsed.types.keys()) names.add(family)
    // A counter family `x` (OpenMetrics) has samples `x_total`; a histogram `x` has `x_bucket`, `x_count`, `x_sum`.
    const SUFFIXES: Record<string, string[]> = {
      counter: ['_total', '_created'],
      histogram: ['_bucket', '_count', '_sum', '_created'],
      gaugehistogram: ['_bucket', '_gcount', '_gsum'],
      summary: ['_count', '_sum', '_created'],
    }
    const known = (name: string) =>
      names.has(name) ||
      Object.entries(SUFFIXES).some(([type, suffixes]) =>
        suffixes.some((suffix) => name.endsWith(suffix) && parsed.types.get(name.slice(0, -suffix.length)) === type),
      )
    return { samples: parsed.samples, known }
  }
  let document: unknown
  try {
    document = JSON.parse(body)
  } catch (error) {
    throw new Error(`the answer is not JSON: ${(error as Error).message}`, { cause: error })
  }
  const samples: Sample[] = []
  for (const [name, path] of Object.entries(spec.json)) {
    const raw = valueAt(document, parseJsonPath(path))
    const value =
      typeof raw === 'number'
        ? raw
        : typeof raw === 'string' && raw.trim() !== '' && Number.isFinite(Number(raw))
          ? Number(raw)
          : typeof raw === 'boolean'
            ? Number(raw)
            : undefined
    if (raw === undefined) throw new Error(`the answer has no value at ${path} (${name})`)
    if (value === undefined) throw new Error(`the value at ${path} (${name}) is not a number: ${JSON.stringify(raw).slice(0, 60)}`)
    samples.push({ name, labels: {}, value })
  }
  return { samples, known: (name) => name in (spec.json ?? {}) }
}

export const prometheus: CheckKind<PrometheusSpec> = {
  usesDocker: false,
  recoverable: true,
  async run(spec, ctx) {
    const severity = spec.severity ?? 'critical'
    const expr = parseExpr(spec.expr)
    const warn = spec.warn === undefined ? undefined : parseThreshold(spec.warn)
    const critical = spec.critical === undefined ? undefined : parseThreshold(spec.critical)
    const unit: Unit = critical?.unit ?? warn?.unit ?? 'number'
    const thresholdText = [warn ? `warn ${warn.text}` : '', critical ? `crit ${critical.text}` : ''].filter(Boolean).join(', ') || undefined
    const base = { ...(thresholdText ? { threshold: thresholdText } : {}) }
    const where = spec.url
    const fail = (message: string, value = message): Finding => ({
      ...base,
      status: severity,
      value,
      message: `${spec.expr} from ${where}: ${message}`,
    })

    let body: string
    let latencyMs: number
    try {
      const accept = spec.json === undefined ? 'text/plain;version=0.0.4;q=1,*/*;q=0.1' : 'application/json'
      const res = await probeHttp({
        url: spec.url,
        method: 'GET',
        headers: { accept, ...spec.headers },
        timeoutMs: ctx.timeoutMs,
        signal: ctx.signal,
        maxBodyBytes: MAX_BODY + 1,
      })
      if (res.status < 200 || res.status > 299) return [fail(`HTTP ${res.status}`)]
      if (Buffer.byteLength(res.body) > MAX_BODY) return [fail(`the answer is larger than ${formatBytes(MAX_BODY)}`)]
      body = res.body
      latencyMs = res.latencyMs
    } catch (error) {
      if (ctx.signal.aborted) throw error
      return [fail((error as Error).message)]
    }

    let scrape
    try {
      scrape = samplesOf(spec, body)
    } catch (error) {
      if (error instanceof ExpositionError)
        return [fail(`not the Prometheus text format: ${error.message}`, 'not the Prometheus text format')]
      return [fail((error as Error).message)]
    }
    const now = ctx.now.getTime()
    const memo: PromMemo = { expr: spec.expr, at: now, series: seriesForRates(expr, scrape.samples) }
    const metrics: Record<string, number> = { latency_seconds: latencyMs / 1000 }
    let value: number
    try {
      value = evaluate(expr, scrape, parseMemo(ctx.memo(ctx.name), spec.expr), now)
    } catch (error) {
      if (!(error instanceof NoValue)) throw error
      if (error.missing) {
        const names = [...new Set(scrape.samples.map((s) => s.name))]
        const missing =
          selectorsOf(expr)
            .map((s) => s.selector.name)
            .find((n) => !scrape.known(n)) ?? ''
        const guess = didYouMean(missing, names)
        return [
          {
            ...fail(`${error.message}${guess ? ` (did you mean ${guess}?)` : ''}`),
            memo: memo as unknown as Record<string, unknown>,
            metrics,
          },
        ]
      }
      return [
        {
          ...base,
          status: 'ok',
          value: `no value yet: ${error.message}`,
          message: `${spec.expr}: no value yet (${error.message})`,
          memo: memo as unknown as Record<string, unknown>,
          metrics,
        },
      ]
    }
    if (Number.isFinite(value)) metrics.value = value
    const shown = formatValue(value, unit)
    if (Number.isNaN(value)) {
      return [
        {
          ...base,
          status: 'ok',
          value: 'NaN (nothing happened since the previous run: a division by zero, or no observations)',
          message: `${spec.expr} has no value: nothing to divide by or no observations since the previous run`,
          memo: memo as unknown as Record<string, unknown>,
          metrics,
        },
      ]
    }
    const level =
      critical !== undefined && crosses(value, critical) ? 'critical' : warn !== undefined && crosses(value, warn) ? 'warning' : 'ok'
    const limit = level === 'critical' ? critical : level === 'warning' ? warn : undefined
    const message =
      limit === undefined
        ? `${spec.expr} = ${shown}`
        : `${spec.expr} = ${shown} (${level === 'critical' ? 'critical' : 'warning'} ${limit.text})`
    return [{ ...base, status: level, value: shown, message, metrics, memo: memo as unknown as Record<string, unknown> }]
  },
}
