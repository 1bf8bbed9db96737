/**
 * The small expression language of `kind: prometheus` checks: one number from one scrape
 * (and the previous run's, for rates). Not PromQL: there are no vectors, ranges or
 * label-wise matching — a selector stands for the sum of the series it matches.
 *
 *   expr      = term { ("+" | "-") term }
 *   term      = unary { ("*" | "/") unary }
 *   unary     = "-" unary | primary
 *   primary   = number | "(" expr ")" | selector | call
 *   call      = ("rate" | "increase") "(" selector ")"
 *             | ("sum" | "min" | "max" | "avg" | "count") "(" selector ")"
 *             | "histogram_quantile" "(" number "," ( selector | "rate(" selector ")" ) ")"
 *   selector  = name [ "{" matcher { "," matcher } [","] "}" ]
 *   matcher   = label ( "=" | "!=" | "=~" | "!~" ) string
 *
 * - A selector is the sum of the series it matches (`sum(...)` says the same).
 * - `rate(s)` is the increase of `s` since the previous run divided by the seconds between
 *   the runs; `increase(s)` the increase alone. A series whose value went down was reset
 *   (the app restarted): its current value is its increase. A series that was not there in
 *   the previous run counts from 0. The first run has no rate yet.
 * - `histogram_quantile(φ, s)` is Prometheus' interpolation over the `le` buckets of `s`
 *   (every matched series' buckets added up by `le`); with `rate(s)`, over the observations
 *   since the previous run (`histogram_quantile(0.95, rate(x_bucket))`: the p95 of the last
 *   few minutes), otherwise over everything since the app started.
 * - Division by zero gives NaN (0/0, nothing happened) or ±Inf, as in PromQL.
 * Pure: the parser returns a tree; `evaluate` takes the scrapes and returns a number.
 */
import { seriesKey, type Sample } from './exposition.js'

export type Matcher = { label: string; op: '=' | '!=' | '=~' | '!~'; value: string }
export interface Selector {
  name: string
  matchers: Matcher[]
  /** Position in the expression, for messages. */
  at: number
}

export type Expr =
  | { type: 'number'; value: number }
  | { type: 'neg'; arg: Expr }
  | { type: 'binary'; op: '+' | '-' | '*' | '/'; left: Expr; right: Expr }
  | { type: 'select'; fn: 'sum' | 'min' | 'max' | 'avg' | 'count'; selector: Selector }
  | { type: 'rate'; fn: 'rate' | 'increase'; selector: Selector }
  | { type: 'quantile'; q: number; selector: Selector; rate: boolean }

export class ExprError extends Error {
  constructor(
    message: string,
    readonly at: number,
  ) {
    super(message)
    this.name = 'ExprError'
  }
}

type Token =
  | { kind: 'num'; value: number; at: number }
  | { kind: 'ident'; value: string; at: number }
  | { kind: 'str'; value: string; at: number }
  | { kind: 'op'; value: string; at: number }
  | { kind: 'end'; at: number }

function tokenize(text: string): Token[] {
  const tokens: Token[] = []
  let i = 0
  while (i < text.length) {
    const c = text[i] as string
    if (/\s/.test(c)) {
      i++
      continue
    }
    const at = i
    const num = /^(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?/.exec(text.slice(i))
    if (num !== null) {
      tokens.push({ kind: 'num', value: Number(num[0]), at })
      i += num[0].length
      continue
    }
    const ident = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(text.slice(i))
    if (ident !== null) {
      tokens.push({ kind: 'ident', value: ident[0], at })
      i += ident[0].length
      continue
    }
    if (c === '"' || c === "'") {
      let value = ''
      i++
      for (;;) {
        const d = text[i]
        if (d === undefined) throw new ExprError('a string is not closed', at)
        i++
        if (d === c) break
        if (d === '\\') {
          const e = text[i]
          i++
          value += e === 'n' ? '\n' : e === 't' ? '\t' : (e ?? '')
        } else value += d
      }
      tokens.push({ kind: 'str', value, at })
      continue
    }
    const two = text.slice(i, i + 2)
    if (two === '!=' || two === '=~' || two === '!~') {
      tokens.push({ kind: 'op', value: two, at })
      i += 2
      continue
    }
    if ('+-*/(){},='.includes(c)) {
      tokens.push({ kind: 'op', value: c, at })
      i++
      continue
    }
    throw new ExprError(`unexpected ${JSON.stringify(c)}`, at)
  }
  tokens.push({ kind: 'end', at: text.length })
  return tokens
}

const AGGREGATES = new Set(['sum', 'min', 'max', 'avg', 'count'])
const FUNCTIONS = new Set(['rate', 'increase', 'histogram_quantile', ...AGGREGATES])

export function parseExpr(text: string): Expr {
  const tokens = tokenize(text)
  let pos = 0
  const peek = () => tokens[pos] as Token
  const next = () => tokens[pos++] as Token
  const describe = (t: Token) => (t.kind === 'end' ? 'the end' : JSON.stringify(String(t.value)))
  const expect = (op: string) => {
    const t = next()
    if (t.kind !== 'op' || t.value !== op) throw new ExprError(`expected "${op}", found ${describe(t)}`, t.at)
  }
  const isOp = (op: string) => {
    const t = peek()
    return t.kind === 'op' && t.value === op
  }

  const selector = (): Selector => {
    const t = next()
    if (t.kind !== 'ident' || FUNCTIONS.has(t.value)) throw new ExprError(`expected a metric name, found ${describe(t)}`, t.at)
    const matchers: Matcher[] = []
    if (isOp('{')) {
      next()
      while (!isOp('}')) {
        const l = next()
        if (l.kind !== 'ident' || !/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(l.value))
          throw new ExprError(`expected a label name, found ${describe(l)}`, l.at)
        const op = next()
        if (op.kind !== 'op' || !['=', '!=', '=~', '!~'].includes(op.value))
          throw new ExprError(`expected =, !=, =~ or !~ after ${l.value}, found ${describe(op)}`, op.at)
        const v = next()
        if (v.kind !== 'str') throw new ExprError(`expected a quoted value for ${l.value}, found ${describe(v)}`, v.at)
        if (op.value === '=~' || op.value === '!~') {
          try {
            new RegExp(`^(?:${v.value})$`)
          } catch (error) {
            throw new ExprError(`invalid regular expression for ${l.value}: ${(error as Error).message}`, v.at)
          }
        }
        matchers.push({ label: l.value, op: op.value as Matcher['op'], value: v.value })
        if (isOp(',')) next()
        else if (!isOp('}')) throw new ExprError(`expected "," or "}", found ${describe(peek())}`, peek().at)
      }
      next()
    }
    return { name: t.value, matchers, at: t.at }
  }

  const primary = (): Expr => {
    const t = peek()
    if (t.kind === 'num') {
      next()
      return { type: 'number', value: t.value }
    }
    if (t.kind === 'op' && t.value === '(') {
      next()
      const inner = expr()
      expect(')')
      return inner
    }
    if (t.kind === 'ident') {
      const after = tokens[pos + 1]
      if (after?.kind === 'op' && after.value === '(') {
        if (!FUNCTIONS.has(t.value))
          throw new ExprError(
            `unknown function ${t.value}() (there are rate, increase, histogram_quantile, sum, min, max, avg, count)`,
            t.at,
          )
        next()
        next()
        if (t.value === 'histogram_quantile') {
          const q = next()
          if (q.kind !== 'num') throw new ExprError(`histogram_quantile needs a quantile such as 0.95 first, found ${describe(q)}`, q.at)
          expect(',')
          let rate = false
          const inner = peek()
          if (inner.kind === 'ident' && inner.value === 'rate') {
            next()
            expect('(')
            rate = true
          }
          const s = selector()
          if (rate) expect(')')
          expect(')')
          return { type: 'quantile', q: q.value, selector: s, rate }
        }
        const s = selector()
        expect(')')
        return t.value === 'rate' || t.value === 'increase'
          ? { type: 'rate', fn: t.value, selector: s }
          : { type: 'select', fn: t.value as 'sum', selector: s }
      }
      return { type: 'select', fn: 'sum', selector: selector() }
    }
    throw new ExprError(`expected a number, a metric or a function, found ${describe(t)}`, t.at)
  }
  const unary = (): Expr => {
    if (isOp('-')) {
      next()
      return { type: 'neg', arg: unary() }
    }
    return primary()
  }
  const term = (): Expr => {
    let left = unary()
    while (isOp('*') || isOp('/')) {
      const op = (next() as { value: string }).value as '*' | '/'
      left = { type: 'binary', op, left, right: unary() }
    }
    return left
  }
  const expr = (): Expr => {
    let left = term()
    while (isOp('+') || isOp('-')) {
      const op = (next() as { value: string }).value as '+' | '-'
      left = { type: 'binary', op, left, right: term() }
    }
    return left
  }
  const tree = expr()
  if (peek().kind !== 'end') throw new ExprError(`unexpected ${describe(peek())}`, peek().at)
  return tree
}

/** Every selector of the expression, and whether it is used in a rate (its series are kept for the next run). */
export function selectorsOf(expr: Expr): Array<{ selector: Selector; rate: boolean }> {
  switch (expr.type) {
    case 'number':
      return []
    case 'neg':
      return selectorsOf(expr.arg)
    case 'binary':
      return [...selectorsOf(expr.left), ...selectorsOf(expr.right)]
    case 'select':
      return [{ selector: expr.selector, rate: false }]
    case 'rate':
      return [{ selector: expr.selector, rate: true }]
    case 'quantile':
      return [{ selector: expr.selector, rate: expr.rate }]
  }
}

export function matches(selector: Selector, sample: Pick<Sample, 'name' | 'labels'>): boolean {
  if (sample.name !== selector.name) return false
  return selector.matchers.every((m) => {
    const v = sample.labels[m.label] ?? ''
    switch (m.op) {
      case '=':
        return v === m.value
      case '!=':
        return v !== m.value
      case '=~':
        return new RegExp(`^(?:${m.value})$`).test(v)
      case '!~':
        return !new RegExp(`^(?:${m.value})$`).test(v)
    }
  })
}

/** Why an expression has no value: said to people instead of a bare NaN. */
export class NoValue extends Error {
  constructor(
    message: string,
    /** The metric is not in the scrape at all: a typo, or the app does not export it (a failure, unlike a rate's first run). */
    readonly missing = false,
  ) {
    super(message)
    this.name = 'NoValue'
  }
}

export interface Scrape {
  samples: readonly Sample[]
  /** Metric names the scrape knows (sample names and TYPE lines), to tell a typo from a series not there yet. */
  known: (name: string) => boolean
}

export interface Previous {
  /** When the previous run scraped (ms since the epoch). */
  at: number
  /** Series values of the previous run, by seriesKey. */
  series: Record<string, number>
}

/**
 * Prometheus' histogram_quantile over cumulative buckets (upper bound → count): linear
 * interpolation within the bucket the rank falls in; the +Inf bucket gives the largest
 * finite bound. NaN without a +Inf bucket or without observations.
 */
export function bucketQuantile(q: number, buckets: ReadonlyArray<{ le: number; count: number }>): number {
  if (Number.isNaN(q)) return Number.NaN
  if (q < 0) return Number.NEGATIVE_INFINITY
  if (q > 1) return Number.POSITIVE_INFINITY
  const sorted = [...buckets].sort((a, b) => a.le - b.le)
  if (sorted.length < 2 || sorted[sorted.length - 1]?.le !== Number.POSITIVE_INFINITY) return Number.NaN
  // Counts must not go down with the bound (a scrape between two bucket updates): as Prometheus, take the maximum so far.
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1] as { le: number; count: number }
    const cur = sorted[i] as { le: number; count: number }
    if (cur.count < prev.count) sorted[i] = { le: cur.le, count: prev.count }
  }
  const observations = (sorted[sorted.length - 1] as { count: number }).count
  if (!(observations > 0)) return Number.NaN
  let rank = q * observations
  let b = sorted.findIndex((x) => x.count >= rank)
  if (b < 0) b = sorted.length - 1
  if (b === sorted.length - 1) return (sorted[sorted.length - 2] as { le: number }).le
  const bucket = sorted[b] as { le: number; count: number }
  if (b === 0 && bucket.le <= 0) return bucket.le
  let start = 0
  let count = bucket.count
  if (b > 0) {
    const below = sorted[b - 1] as { le: number; count: number }
    start = below.le
    count -= below.count
    rank -= below.count
  }
  return start + (bucket.le - start) * (rank / count)
}

/** Evaluates the expression on a scrape. Throws NoValue when it has none (first run for a rate, no such metric). */
export function evaluate(expr: Expr, scrape: Scrape, previous: Previous | undefined, now: number): number {
  const select = (s: Selector): Sample[] => {
    if (!scrape.known(s.name)) throw new NoValue(`the scrape has no metric ${s.name}`, true)
    return scrape.samples.filter((x) => matches(s, x))
  }
  const increases = (s: Selector): Array<{ sample: Sample; increase: number }> => {
    const current = select(s)
    if (previous === undefined) throw new NoValue("a rate needs the previous run's scrape: the next run has one")
    return current.map((sample) => {
      const before = previous.series[seriesKey(sample)]
      const increase = before === undefined ? sample.value : sample.value >= before ? sample.value - before : sample.value
      return { sample, increase }
    })
  }
  const go = (e: Expr): number => {
    switch (e.type) {
      case 'number':
        return e.value
      case 'neg':
        return -go(e.arg)
      case 'binary': {
        const a = go(e.left)
        const b = go(e.right)
        return e.op === '+' ? a + b : e.op === '-' ? a - b : e.op === '*' ? a * b : a / b
      }
      case 'select': {
        const values = select(e.selector).map((x) => x.value)
        if (e.fn === 'count') return values.length
        if (e.fn === 'sum') return values.reduce((a, b) => a + b, 0)
        if (values.length === 0) return Number.NaN
        if (e.fn === 'min') return Math.min(...values)
        if (e.fn === 'max') return Math.max(...values)
        return values.reduce((a, b) => a + b, 0) / values.length
      }
      case 'rate': {
        const total = increases(e.selector).reduce((sum, x) => sum + x.increase, 0)
        if (e.fn === 'increase') return total
        const seconds = (now - (previous as Previous).at) / 1000
        if (!(seconds > 0)) throw new NoValue('no time has passed since the previous run')
        return total / seconds
      }
      case 'quantile': {
        const byLe = new Map<number, number>()
        const rows = e.rate
          ? increases(e.selector).map((x) => ({ sample: x.sample, value: x.increase }))
          : select(e.selector).map((sample) => ({ sample, value: sample.value }))
        for (const { sample, value } of rows) {
          const le = sample.labels.le
          if (le === undefined)
            throw new NoValue(`${e.selector.name} has series without an le label: histogram_quantile needs the _bucket series`)
          const bound = le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le)
          byLe.set(bound, (byLe.get(bound) ?? 0) + value)
        }
        if (byLe.size === 0) throw new NoValue(`no series matches ${e.selector.name}`)
        return bucketQuantile(
          e.q,
          [...byLe].map(([le, count]) => ({ le, count })),
        )
      }
    }
  }
  return go(expr)
}

/** The series the next run needs for its rates: those matched by rate selectors, by seriesKey. */
export function seriesForRates(expr: Expr, samples: readonly Sample[]): Record<string, number> {
  const out: Record<string, number> = {}
  for (const { selector, rate } of selectorsOf(expr)) {
    if (!rate) continue
    for (const sample of samples) if (matches(selector, sample)) out[seriesKey(sample)] = sample.value
  }
  return out
}
