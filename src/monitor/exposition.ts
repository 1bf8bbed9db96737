/**
 * The Prometheus text exposition format (version 0.0.4, what /metrics serves), parsed as
 * Prometheus' own text parser reads it: `# HELP` and `# TYPE` lines, other comments,
 * samples with optional labels (`\\`, `\"` and `\n` escaped in values), float values
 * (`NaN`, `+Inf`, `-Inf`), optional millisecond timestamps. OpenMetrics text is read too
 * (`# EOF`, `# UNIT`, exemplars after ` # `). A line it cannot read is an error with its
 * line number. Pure.
 */

export interface Sample {
  name: string
  labels: Record<string, string>
  value: number
  /** Milliseconds since the epoch, when the line has one. */
  timestamp?: number
}

export interface Exposition {
  samples: Sample[]
  /** Family name → counter, gauge, histogram, summary, untyped (as the TYPE lines say). */
  types: Map<string, string>
}

export class ExpositionError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`line ${line}: ${message}`)
    this.name = 'ExpositionError'
  }
}

const NAME_START = /[a-zA-Z_:]/
const NAME_CHAR = /[a-zA-Z0-9_:]/
const LABEL_START = /[a-zA-Z_]/
const LABEL_CHAR = /[a-zA-Z0-9_]/
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped', 'unknown', 'gaugehistogram', 'stateset', 'info'])

/** A float as Go's strconv.ParseFloat reads the format's values. */
export function parseFloatValue(text: string): number | undefined {
  const lower = text.toLowerCase()
  if (lower === 'nan') return Number.NaN
  if (lower === '+inf' || lower === 'inf') return Number.POSITIVE_INFINITY
  if (lower === '-inf') return Number.NEGATIVE_INFINITY
  if (!/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(text)) return undefined
  return Number(text)
}

function isBlank(c: string | undefined): boolean {
  return c === ' ' || c === '\t'
}

/** Reads one sample line (without its trailing newline). */
function parseSample(line: string, n: number): Sample {
  let i = 0
  while (isBlank(line[i])) i++
  const start = i
  if (!NAME_START.test(line[i] ?? '')) throw new ExpositionError(n, `expected a metric name, got ${JSON.stringify(line.slice(i, i + 20))}`)
  while (i < line.length && NAME_CHAR.test(line[i] as string)) i++
  const name = line.slice(start, i)
  const labels: Record<string, string> = {}
  while (isBlank(line[i])) i++
  if (line[i] === '{') {
    i++
    for (;;) {
      while (isBlank(line[i])) i++
      if (line[i] === '}') {
        i++
        break
      }
      const ls = i
      if (!LABEL_START.test(line[i] ?? ''))
        throw new ExpositionError(n, `expected a label name or "}" in ${name}{…}, got ${JSON.stringify(line.slice(i, i + 20))}`)
      while (i < line.length && LABEL_CHAR.test(line[i] as string)) i++
      const label = line.slice(ls, i)
      while (isBlank(line[i])) i++
      if (line[i] !== '=') throw new ExpositionError(n, `expected "=" after label ${label}`)
      i++
      while (isBlank(line[i])) i++
      if (line[i] !== '"') throw new ExpositionError(n, `expected a quoted value for label ${label}`)
      i++
      let value = ''
      for (;;) {
        const c = line[i]
        if (c === undefined) throw new ExpositionError(n, `the value of label ${label} is not closed`)
        i++
        if (c === '"') break
        if (c === '\\') {
          const e = line[i]
          i++
          if (e === '\\') value += '\\'
          else if (e === '"') value += '"'
          else if (e === 'n') value += '\n'
          else throw new ExpositionError(n, `invalid escape \\${e ?? ''} in the value of label ${label}`)
        } else {
          value += c
        }
      }
      if (label in labels) throw new ExpositionError(n, `label ${label} appears twice`)
      labels[label] = value
      while (isBlank(line[i])) i++
      if (line[i] === ',') {
        i++
        continue
      }
      if (line[i] === '}') {
        i++
        break
      }
      throw new ExpositionError(n, `expected "," or "}" after label ${label}`)
    }
  }
  // The value, an optional timestamp, and (OpenMetrics) an exemplar after " # ".
  const rest = line.slice(i)
  const hash = rest.search(/\s#\s/)
  const fields = (hash >= 0 ? rest.slice(0, hash) : rest).trim().split(/[ \t]+/)
  if (fields.length === 0 || fields[0] === '') throw new ExpositionError(n, `${name} has no value`)
  if (fields.length > 2)
    throw new ExpositionError(n, `unexpected text after the value of ${name}: ${JSON.stringify(fields.slice(2).join(' '))}`)
  const value = parseFloatValue(fields[0] as string)
  if (value === undefined) throw new ExpositionError(n, `${name}: ${JSON.stringify(fields[0])} is not a number`)
  const sample: Sample = { name, labels, value }
  if (fields[1] !== undefined) {
    const ts = parseFloatValue(fields[1])
    if (ts === undefined || !Number.isFinite(ts)) throw new ExpositionError(n, `${name}: ${JSON.stringify(fields[1])} is not a timestamp`)
    // OpenMetrics timestamps are seconds with a fraction; 0.0.4 ones are integer milliseconds.
    sample.timestamp = fields[1].includes('.') ? ts * 1000 : ts
  }
  return sample
}

export function parseExposition(text: string): Exposition {
  const samples: Sample[] = []
  const types = new Map<string, string>()
  const lines = text.split('\n')
  for (let index = 0; index < lines.length; index++) {
    const n = index + 1
    const line = (lines[index] as string).replace(/\r$/, '')
    if (line.trim() === '') continue
    if (line.startsWith('#')) {
      const m = /^#[ \t]+(HELP|TYPE|UNIT)[ \t]+(\S+)(?:[ \t]+(.*))?$/.exec(line)
      if (m === null) {
        if (/^#[ \t]*EOF[ \t]*$/.test(line)) break
        continue // a plain comment
      }
      const [, keyword, family, rest] = m
      if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(family as string))
        throw new ExpositionError(n, `${JSON.stringify(family)} is not a metric name`)
      if (keyword === 'TYPE') {
        const type = (rest ?? '').trim().toLowerCase()
        if (!TYPES.has(type)) throw new ExpositionError(n, `unknown metric type ${JSON.stringify(rest ?? '')} for ${family}`)
        if (types.has(family as string)) throw new ExpositionError(n, `a second TYPE line for ${family}`)
        types.set(family as string, type)
      }
      continue
    }
    samples.push(parseSample(line, n))
  }
  return { samples, types }
}

/** The identity of a series: its name and its labels, sorted. */
export function seriesKey(sample: Pick<Sample, 'name' | 'labels'>): string {
  const labels = Object.keys(sample.labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(sample.labels[k])}`)
    .join(',')
  return `${sample.name}{${labels}}`
}
