/**
 * `kind: prometheus`: the exposition parser on text promtool accepts, the expression
 * language (its errors with the column, rates across a counter reset, histogram quantiles
 * equal to Prometheus' own — promtool evaluates the same data), JSON paths, and whole
 * monitor runs against a loopback /metrics server whose counters and histograms drive the
 * card-game service's error-rate and p95 rules, on an injected clock.
 */
import { execFile } from 'node:child_process'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { formatValue, parseThreshold, samplesOf } from '../../src/monitor/checks/prometheus.js'
import { bucketQuantile, evaluate, type ExprError, NoValue, parseExpr, seriesForRates } from '../../src/monitor/expr.js'
import { ExpositionError, parseExposition } from '../../src/monitor/exposition.js'
import { parseJsonPath, valueAt } from '../../src/monitor/json-path.js'
import { checkConfig } from '../../src/config/load.js'
import { runCli, tempDir, testEnv } from '../helpers/cli.js'

function promtool(args: string[], stdin?: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile('promtool', args, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') return reject(error) // not installed: fail, do not skip
      resolve({ code: error ? (error.code as number) : 0, out: `${stdout}${stderr}` })
    })
    child.stdin?.end(stdin ?? '')
  })
}

/** What a Go or Python client library serves: counters with labels, a histogram, escapes, special values. */
const EXPOSITION = `# HELP http_requests_total Requests handled, by route and status.
# TYPE http_requests_total counter
http_requests_total{code="200",route="/play"} 1027 1700000000000
http_requests_total{code="500",route="/play"} 3
http_requests_total{code="200",route="/lobby",} 120
# HELP http_request_duration_seconds How long requests took.
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{le="0.05"} 24054
http_request_duration_seconds_bucket{le="0.1"} 33444
http_request_duration_seconds_bucket{le="0.2"} 100392
http_request_duration_seconds_bucket{le="0.5"} 129389
http_request_duration_seconds_bucket{le="1"} 133988
http_request_duration_seconds_bucket{le="+Inf"} 144320
http_request_duration_seconds_sum 53423
http_request_duration_seconds_count 144320
# HELP app_info Build information.
# TYPE app_info gauge
app_info{path="C:\\\\games\\\\card",quote="say \\"hi\\"",multi="a\\nb"} 1
# HELP app_temperature_celsius A gauge that can be anything.
# TYPE app_temperature_celsius gauge
app_temperature_celsius NaN
app_queue_seconds{queue="mail"} +Inf
app_queue_seconds{queue="push"} -Inf
app_ratio 1.5e-3
`

describe('exposition parser', () => {
  it('reads text promtool accepts, with escapes, special values, timestamps and a trailing comma', async () => {
    const check = await promtool(['check', 'metrics'], EXPOSITION)
    expect(check.out).not.toMatch(/error|parse/i)
    const { samples, types } = parseExposition(EXPOSITION)
    expect(types.get('http_request_duration_seconds')).toBe('histogram')
    expect(samples).toHaveLength(16)
    expect(samples[0]).toEqual({
      name: 'http_requests_total',
      labels: { code: '200', route: '/play' },
      value: 1027,
      timestamp: 1700000000000,
    })
    expect(samples[2]).toEqual({ name: 'http_requests_total', labels: { code: '200', route: '/lobby' }, value: 120 })
    expect(samples.find((s) => s.name === 'app_info')?.labels).toEqual({ path: 'C:\\games\\card', quote: 'say "hi"', multi: 'a\nb' })
    expect(samples.find((s) => s.name === 'app_temperature_celsius')?.value).toBeNaN()
    expect(samples.filter((s) => s.name === 'app_queue_seconds').map((s) => s.value)).toEqual([
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
    ])
    expect(samples.find((s) => s.name === 'app_ratio')?.value).toBe(0.0015)
  })

  it('says which line it cannot read, as promtool refuses it too', async () => {
    for (const [text, message] of [
      ['ok 1\nhttp_requests_total{code=200} 1\n', 'line 2: expected a quoted value for label code'],
      ['a{x="1",x="2"} 1\n', 'line 1: label x appears twice'],
      ['a{x="1} 1\n', 'line 1: the value of label x is not closed'],
      ['a 1 2 3\n', 'line 1: unexpected text after the value of a: "3"'],
      ['a one\n', 'line 1: a: "one" is not a number'],
      ['# TYPE a countr\na 1\n', 'line 1: unknown metric type "countr" for a'],
      ['a{x="\\q"} 1\n', 'line 1: invalid escape \\q in the value of label x'],
    ] as const) {
      expect(() => parseExposition(text), text).toThrow(new ExpositionError(Number(message.slice(5, 6)), message.slice(8)))
      expect((await promtool(['check', 'metrics'], text)).code, text).not.toBe(0)
    }
  })

  it('OpenMetrics: stops at # EOF, ignores exemplars, knows a counter family by its _total samples', () => {
    const text = '# TYPE jobs counter\n# UNIT jobs jobs\njobs_total 3 # {trace_id="abc"} 1 1700000000.5\n# EOF\ngarbage {\n'
    const { samples, known } = samplesOf({}, text)
    expect(samples).toEqual([{ name: 'jobs_total', labels: {}, value: 3 }])
    expect(known('jobs_total')).toBe(true)
    expect(known('jobs_count')).toBe(false)
  })
})

describe('expressions', () => {
  const scrape = (text: string) => samplesOf({}, text)
  const at0 = Date.parse('2026-03-01T12:00:00Z')

  it('parse errors say what and at which column', () => {
    const error = (text: string) => {
      try {
        parseExpr(text)
      } catch (e) {
        return `${(e as ExprError).message} @${(e as ExprError).at + 1}`
      }
      return 'parsed'
    }
    expect(error('rate(http_requests_total')).toBe('expected ")", found the end @25')
    expect(error('rat(x)')).toBe('unknown function rat() (there are rate, increase, histogram_quantile, sum, min, max, avg, count) @1')
    expect(error('x{code=500}')).toBe('expected a quoted value for code, found "500" @8')
    expect(error('x{code=~"5[0-9"}')).toMatch(/^invalid regular expression for code: .* @9$/)
    expect(error('histogram_quantile(x_bucket)')).toBe('histogram_quantile needs a quantile such as 0.95 first, found "x_bucket" @20')
    expect(error('x > 5')).toBe('unexpected ">" @3')
    expect(error('rate(x) / rate(y) * 100 - -1')).toBe('parsed')
  })

  it('a selector is the sum of its series; matchers =, !=, =~, !~', () => {
    const s = scrape(EXPOSITION)
    const value = (text: string) => evaluate(parseExpr(text), s, undefined, at0)
    expect(value('http_requests_total')).toBe(1150)
    expect(value('http_requests_total{route="/play"}')).toBe(1030)
    expect(value('http_requests_total{code!="200"}')).toBe(3)
    expect(value('http_requests_total{code=~"5.."}')).toBe(3)
    expect(value('http_requests_total{code!~"2.."}')).toBe(3)
    expect(value('count(http_requests_total)')).toBe(3)
    expect(value('max(http_requests_total)')).toBe(1027)
    expect(value('http_requests_total{code="404"}')).toBe(0) // the metric exists, the series not yet
    expect(() => value('http_request_total')).toThrow(new NoValue('the scrape has no metric http_request_total', true))
    expect(value('(http_request_duration_seconds_sum / http_request_duration_seconds_count) * 1000')).toBeCloseTo(370.17, 2)
  })

  it('rate and increase between two runs: a reset counter counts from 0, a new series from 0', () => {
    const before = scrape('a_total{x="1"} 100\na_total{x="2"} 50\nb_total 10\n')
    const after = scrape('a_total{x="1"} 160\na_total{x="2"} 20\na_total{x="3"} 5\nb_total 10\n')
    const expr = parseExpr('increase(a_total)')
    const previous = { at: at0, series: seriesForRates(expr, before.samples) }
    expect(previous.series).toEqual({ 'a_total{x="1"}': 100, 'a_total{x="2"}': 50 })
    // 60 + 20 (reset: its value) + 5 (new)
    expect(evaluate(expr, after, previous, at0 + 300_000)).toBe(85)
    expect(evaluate(parseExpr('rate(a_total)'), after, previous, at0 + 300_000)).toBeCloseTo(85 / 300)
    expect(() => evaluate(expr, after, undefined, at0)).toThrow(NoValue)
    // Nothing happened: 0/0 is NaN, as in PromQL.
    const still = { at: at0, series: { 'b_total{}': 10 } }
    expect(evaluate(parseExpr('rate(b_total) / rate(b_total)'), after, still, at0 + 60_000)).toBeNaN()
  })

  it("histogram_quantile equals Prometheus' own on the same buckets (promtool evaluates them)", async () => {
    const first = EXPOSITION
    const second = EXPOSITION.replace(
      /_bucket\{le="([^"]+)"\} (\d+)/g,
      (_m, le: string, n: string) =>
        `_bucket{le="${le}"} ${Number(n) + (({ '0.05': 10, '0.1': 30, '0.2': 200, '0.5': 420, '1': 480, '+Inf': 500 } as Record<string, number>)[le] ?? 0)}`,
    )
    const q = (text: string, prev?: string) =>
      evaluate(
        parseExpr(text),
        scrape(second),
        prev === undefined ? undefined : { at: at0, series: seriesForRates(parseExpr(text), scrape(prev).samples) },
        at0 + 300_000,
      )
    const overall = q('histogram_quantile(0.95, http_request_duration_seconds_bucket)')
    const recent = q('histogram_quantile(0.95, rate(http_request_duration_seconds_bucket))', first)
    const median = q('histogram_quantile(0.5, rate(http_request_duration_seconds_bucket))', first)
    expect(recent).toBeGreaterThan(0.5) // the last 500 requests were slow
    expect(median).toBeLessThan(recent)
    // The same samples as a promtool unit test: its histogram_quantile must give exactly our numbers.
    const dir = tempDir('ownops-test-quantile-')
    try {
      const buckets = [...first.matchAll(/_bucket\{le="([^"]+)"\} (\d+)/g)].map((m, i) => ({
        le: m[1],
        a: m[2],
        b: [...second.matchAll(/_bucket\{le="([^"]+)"\} (\d+)/g)][i]?.[2],
      }))
      writeFileSync(join(dir.dir, 'none.yml'), 'groups: []\n')
      const diff = 'sum by (le) (http_request_duration_seconds_bucket) - sum by (le) (http_request_duration_seconds_bucket offset 5m)'
      writeFileSync(
        join(dir.dir, 'test.yml'),
        JSON.stringify({
          rule_files: ['none.yml'],
          tests: [
            {
              interval: '5m',
              input_series: buckets.map((b) => ({ series: `http_request_duration_seconds_bucket{le="${b.le}"}`, values: `${b.a} ${b.b}` })),
              promql_expr_test: [
                {
                  expr: 'histogram_quantile(0.95, sum by (le) (http_request_duration_seconds_bucket))',
                  eval_time: '5m',
                  exp_samples: [{ labels: '{}', value: overall }],
                },
                { expr: `histogram_quantile(0.95, ${diff})`, eval_time: '5m', exp_samples: [{ labels: '{}', value: recent }] },
                { expr: `histogram_quantile(0.5, ${diff})`, eval_time: '5m', exp_samples: [{ labels: '{}', value: median }] },
              ],
            },
          ],
        }),
      )
      const run = await promtool(['test', 'rules', join(dir.dir, 'test.yml')])
      expect(run.out).toContain('SUCCESS')
      expect(run.code).toBe(0)
    } finally {
      dir.cleanup()
    }
  })

  it('bucketQuantile follows Prometheus at the edges', () => {
    const b = [
      { le: 1, count: 10 },
      { le: 2, count: 20 },
      { le: Number.POSITIVE_INFINITY, count: 30 },
    ]
    expect(bucketQuantile(0.5, b)).toBe(1.5)
    expect(bucketQuantile(0.99, b)).toBe(2) // in the +Inf bucket: the largest finite bound
    expect(bucketQuantile(0, b)).toBe(0)
    expect(bucketQuantile(1.5, b)).toBe(Number.POSITIVE_INFINITY)
    expect(bucketQuantile(0.5, b.slice(0, 2))).toBeNaN() // no +Inf bucket
    expect(
      bucketQuantile(0.5, [
        { le: 1, count: 0 },
        { le: Number.POSITIVE_INFINITY, count: 0 },
      ]),
    ).toBeNaN()
    expect(
      bucketQuantile(0.75, [
        { le: 1, count: 12 },
        { le: 2, count: 10 },
        { le: Number.POSITIVE_INFINITY, count: 20 },
      ]),
    ).toBe(2) // counts made monotonic first
  })

  it('thresholds and values in units people write', () => {
    expect(parseThreshold('> 5%')).toEqual({ op: '>', value: 0.05, unit: 'percent', text: '> 5%' })
    expect(parseThreshold('>=500ms')).toMatchObject({ op: '>=', value: 0.5, unit: 'seconds' })
    expect(parseThreshold('< 1')).toMatchObject({ op: '<', value: 1, unit: 'number' })
    expect(parseThreshold('2GB')).toMatchObject({ op: '>', value: 2e9, unit: 'bytes' })
    expect(parseThreshold(0.25)).toMatchObject({ op: '>', value: 0.25 })
    expect(parseThreshold('about 5')).toBeUndefined()
    expect(formatValue(0.0712, 'percent')).toBe('7.12%')
    expect(formatValue(0.6123, 'seconds')).toBe('612.3ms')
    expect(formatValue(Number.NaN, 'number')).toBe('NaN')
  })
})

describe('JSON paths', () => {
  it('name one value: members, indexes, quoted names', () => {
    const doc = { http: { requests: 12, 'errors.5xx': '3' }, queues: [{ depth: 4 }] }
    expect(valueAt(doc, parseJsonPath('$.http.requests'))).toBe(12)
    expect(valueAt(doc, parseJsonPath('http["errors.5xx"]'))).toBe('3')
    expect(valueAt(doc, parseJsonPath('$.queues[0].depth'))).toBe(4)
    expect(valueAt(doc, parseJsonPath('$.queues[1].depth'))).toBeUndefined()
    expect(valueAt(doc, parseJsonPath('$.http.constructor'))).toBeUndefined()
    expect(() => parseJsonPath('$.queues[*]')).toThrow(/expected \[index\] or \["name"\]/)
    expect(() => parseJsonPath('$')).toThrow(/names no value/)
  })
})

describe('prometheus checks in monitor runs', () => {
  let server: Server
  let url: string
  let dir: string
  let cleanup: () => void
  /** What the app has counted so far; the test moves it between runs. */
  const app = { ok: 0, errors: 0, durations: [] as number[], json: {} as unknown }
  const BOUNDS = [0.05, 0.1, 0.25, 0.5, 1, 2.5]

  function exposition(): string {
    const lines = [
      '# HELP http_requests_total Requests handled.',
      '# TYPE http_requests_total counter',
      `http_requests_total{route="/play"} ${app.ok + app.errors}`,
      '# HELP http_requests_errors_total Requests that failed.',
      '# TYPE http_requests_errors_total counter',
      `http_requests_errors_total{route="/play"} ${app.errors}`,
      '# HELP http_request_duration_seconds Request latency.',
      '# TYPE http_request_duration_seconds histogram',
      ...BOUNDS.map(
        (le) => `http_request_duration_seconds_bucket{route="/play",le="${le}"} ${app.durations.filter((d) => d <= le).length}`,
      ),
      `http_request_duration_seconds_bucket{route="/play",le="+Inf"} ${app.durations.length}`,
      `http_request_duration_seconds_sum{route="/play"} ${app.durations.reduce((a, b) => a + b, 0)}`,
      `http_request_duration_seconds_count{route="/play"} ${app.durations.length}`,
    ]
    return `${lines.join('\n')}\n`
  }

  beforeAll(async () => {
    ;({ dir, cleanup } = tempDir('ownops-test-prom-'))
    server = createServer((req, res) => {
      if (req.url === '/metrics') {
        res.setHeader('content-type', 'text/plain; version=0.0.4')
        res.end(exposition())
      } else if (req.url === '/stats.json') {
        res.setHeader('content-type', 'application/json')
        res.end(JSON.stringify(app.json))
      } else {
        res.statusCode = 404
        res.end('not found')
      }
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve))
    cleanup()
  })

  it('the card-game rules: error rate over 5% is critical, p95 over 500ms a warning, on the requests since the previous run', async () => {
    // The page of the card-game service's policy, as a config.
    const config = join(dir, 'ownops.yml')
    const prom = join(dir, 'ownops.prom')
    writeFileSync(
      config,
      [
        'monitor:',
        '  builtins: false',
        `  prometheus: { textfile: ${prom} }`,
        '  failuresBeforeAlert: 1',
        '  checks:',
        '    errors:',
        '      kind: prometheus',
        `      url: ${url}/metrics`,
        '      expr: rate(http_requests_errors_total) / rate(http_requests_total)',
        '      warn: "> 2%"',
        '      critical: "> 5%"',
        '    p95:',
        '      kind: prometheus',
        `      url: ${url}/metrics`,
        '      expr: histogram_quantile(0.95, rate(http_request_duration_seconds_bucket{route="/play"}))',
        '      warn: "> 500ms"',
        '      critical: "> 2s"',
        '',
      ].join('\n'),
    )
    const env = testEnv(dir, { OWNOPS_CONFIG: config })
    let now = Date.parse('2026-03-01T20:00:00Z')
    const clock = () => new Date(now)
    const run = async () => {
      const r = await runCli(['--json', 'monitor'], { env, cwd: dir, clock })
      const report = JSON.parse(r.stdout) as { checks: Array<{ id: string; status: string; value: string; message: string }> }
      return { code: r.code, row: (id: string) => report.checks.find((c) => c.id === id) }
    }
    // A quiet evening: 10,000 requests so far, 1% failed, all fast.
    app.ok = 9900
    app.errors = 100
    app.durations = Array.from({ length: 1000 }, (_, i) => 0.02 + (i % 10) * 0.01)
    const first = await run()
    expect(first.row('errors')).toMatchObject({
      status: 'ok',
      value: "no value yet: a rate needs the previous run's scrape: the next run has one",
    })
    expect(first.code).toBe(0)

    // Five minutes later: 1,000 more requests, 80 of them failed (8%); 100 slow ones.
    now += 300_000
    app.ok += 920
    app.errors += 80
    app.durations.push(...Array.from({ length: 900 }, () => 0.04), ...Array.from({ length: 100 }, () => 0.9))
    const second = await run()
    expect(second.row('errors')).toMatchObject({
      status: 'critical',
      value: '8%',
      message: 'rate(http_requests_errors_total) / rate(http_requests_total) = 8% (critical > 5%)',
    })
    expect(second.row('p95')).toMatchObject({ status: 'warning', value: expect.stringMatching(/^\d+(\.\d+)?ms$/) })
    expect(Number.parseFloat(second.row('p95')?.value ?? '')).toBeGreaterThan(500)
    expect(second.code).toBe(1)
    // Over everything since the app started, the same p95 would look fine: the rate is what tells.
    const text = readFileSync(prom, 'utf8')
    expect(text).toMatch(/^ownops_monitor_expression_value\{check="errors",kind="prometheus"\} 0\.08$/m)
    expect(text).toMatch(/^ownops_monitor_status\{check="errors",kind="prometheus"\} 2$/m)

    // Another five minutes: 2,000 requests, 10 failed (0.5%), all fast again.
    now += 300_000
    app.ok += 1990
    app.errors += 10
    app.durations.push(...Array.from({ length: 2000 }, () => 0.03))
    const third = await run()
    expect(third.row('errors')).toMatchObject({ status: 'ok', value: '0.5%' })
    expect(third.row('p95')).toMatchObject({ status: 'ok' })

    // The app restarts: its counters start from 0. The rate counts the new values, not a negative jump.
    now += 300_000
    app.ok = 94
    app.errors = 6
    app.durations = Array.from({ length: 100 }, () => 0.03)
    const fourth = await run()
    expect(fourth.row('errors')).toMatchObject({ status: 'critical', value: '6%' })
  })

  it('a JSON endpoint with paths; a wrong metric name or a dead endpoint is a failure that says so', async () => {
    const config = join(dir, 'json.yml')
    writeFileSync(
      config,
      JSON.stringify({
        monitor: {
          builtins: false,
          failuresBeforeAlert: 1,
          checks: {
            queue: {
              kind: 'prometheus',
              url: `${url}/stats.json`,
              json: { depth: '$.queues[0].depth', done: '$.jobs["done.total"]' },
              expr: 'depth',
              warn: '> 100',
              critical: '> 1000',
            },
            throughput: {
              kind: 'prometheus',
              url: `${url}/stats.json`,
              json: { done: '$.jobs["done.total"]' },
              expr: 'rate(done) * 60',
              warn: '< 10',
              severity: 'warning',
            },
            typo: { kind: 'prometheus', url: `${url}/metrics`, expr: 'rate(http_request_total)', critical: '> 1' },
            gone: { kind: 'prometheus', url: `${url}/nothing`, expr: 'x', critical: '> 1' },
          },
        },
      }),
    )
    const env = testEnv(dir, { OWNOPS_CONFIG: config, OWNOPS_STATE_DIR: join(dir, 'state-json') })
    let now = Date.parse('2026-03-01T21:00:00Z')
    const clock = () => new Date(now)
    const rows = async () =>
      JSON.parse((await runCli(['--json', 'monitor'], { env, cwd: dir, clock })).stdout).checks as Array<{
        id: string
        status: string
        value: string
        message: string
      }>
    app.json = { queues: [{ depth: 250 }], jobs: { 'done.total': '1200' } }
    const first = await rows()
    expect(first.find((r) => r.id === 'queue')).toMatchObject({ status: 'warning', value: '250', threshold: 'warn > 100, crit > 1000' })
    expect(first.find((r) => r.id === 'typo')).toMatchObject({
      status: 'critical',
      message:
        'rate(http_request_total) from ' +
        `${url}/metrics: the scrape has no metric http_request_total (did you mean http_requests_total?)`,
    })
    expect(first.find((r) => r.id === 'gone')).toMatchObject({ status: 'critical', value: 'HTTP 404' })
    now += 60_000
    app.json = { queues: [{ depth: 3 }], jobs: { 'done.total': '1205' } }
    const second = await rows()
    expect(second.find((r) => r.id === 'queue')).toMatchObject({ status: 'ok', value: '3' })
    expect(second.find((r) => r.id === 'throughput')).toMatchObject({
      status: 'warning',
      value: '5',
      message: 'rate(done) * 60 = 5 (warning < 10)',
    })
  })

  it('config validate names the key and the column of a bad expression, a JSON name the expression lacks, thresholds in the wrong order', () => {
    const file = join(dir, 'bad.yml')
    writeFileSync(
      file,
      [
        'monitor:',
        '  checks:',
        '    errors:',
        '      kind: prometheus',
        '      url: http://127.0.0.1:9/metrics',
        '      expr: rate(http_requests_errors_total / rate(http_requests_total)',
        '    queue:',
        '      kind: prometheus',
        '      url: http://127.0.0.1:9/stats',
        '      json: { depth: "$.queue.depth" }',
        '      expr: deep',
        '    p95:',
        '      kind: prometheus',
        '      url: http://127.0.0.1:9/metrics',
        '      expr: histogram_quantile(0.95, rate(x_bucket))',
        '      warn: "> 2s"',
        '      critical: "> 500ms"',
        '',
      ].join('\n'),
    )
    const problems = checkConfig({ path: file, env: {}, cwd: dir }).problems.map((p) => `${p.line}: ${p.path.join('.')}: ${p.message}`)
    expect(problems).toEqual([
      '6: monitor.checks.errors.expr: column 33: expected ")", found "/", got "rate(http_requests_errors_total / rate(http_requests_total)"',
      '11: monitor.checks.queue.expr: deep is not one of the json: names (depth), got "deep"',
      '16: monitor.checks.p95.warn: warn (> 2s) is crossed after critical (> 500ms): warn is the lower threshold, got "> 2s"',
    ])
  })
})
