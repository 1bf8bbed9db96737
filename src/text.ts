/** Small text helpers shared by messages and tables. */
import picomatch from 'picomatch'

export function levenshtein(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0] ?? 0
    prev[0] = i
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j] ?? 0
      prev[j] = Math.min(up + 1, (prev[j - 1] ?? 0) + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1))
      diag = up
    }
  }
  return prev[b.length] ?? 0
}

/** The closest candidate to a mistyped word, if it is close enough to be a likely typo. */
export function didYouMean(input: string, candidates: readonly string[]): string | undefined {
  const lower = input.toLowerCase()
  let best: string | undefined
  let bestDistance = Infinity
  for (const candidate of candidates) {
    const distance = levenshtein(lower, candidate.toLowerCase())
    if (distance < bestDistance) {
      best = candidate
      bestDistance = distance
    }
  }
  const limit = Math.max(2, Math.floor(input.length / 3))
  return best !== undefined && bestDistance > 0 && bestDistance <= limit ? best : undefined
}

/** Renders rows as an aligned text table (data for stdout; no colour). */
export function renderTable(
  header: readonly string[],
  cells: ReadonlyArray<readonly string[]>,
  /** Colours the text of a body cell (not its padding), by its column: src/colour.ts. */
  paint?: (cell: string, column: number) => string,
): string {
  // A cell never carries a control character to the terminal (a file name with ESC [31m).
  const rows = cells.map((r) => r.map(escapeControl))
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: readonly string[], colour: boolean) =>
    cells
      .map((c, i) => {
        const last = i === cells.length - 1
        const padded = last ? c : c.padEnd(widths[i] ?? 0)
        if (!colour || paint === undefined || c === '') return padded
        // The colour covers the text, not the padding after it.
        return `${paint(c, i)}${padded.slice(c.length)}`
      })
      .join('  ')
      .trimEnd()
  return [line(header, false), ...rows.map((r) => line(r, true))].join('\n') + '\n'
}

/** Bytes for people: 512 B, 1.5 KiB, 2.1 GiB. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']
  let value = bytes
  let unit = 0
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return unit === 0 ? `${value} B` : `${value >= 100 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`
}

/** A percentage with at most one decimal where it matters: 91%, 0.4%. */
export function formatPercent(value: number): string {
  return value < 10 && value !== 0 && Math.round(value) !== value ? `${value.toFixed(1)}%` : `${Math.round(value)}%`
}

const globs = new Map<string, (text: string) => boolean>()

/**
 * Whether a whole string matches a glob, in ownops' one glob dialect (picomatch, as in
 * cleanup rules): `*` and `?` within a path segment, `**` across `/`, `{a,b}`, `[abc]`;
 * names starting with a dot match too.
 */
export function globMatch(pattern: string, text: string): boolean {
  let matcher = globs.get(pattern)
  if (matcher === undefined) {
    matcher = picomatch(pattern, { dot: true })
    globs.set(pattern, matcher)
  }
  return matcher(text)
}

const SIZE_UNITS: Record<string, number> = {
  b: 1,
  k: 1024,
  kb: 1000,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1000 ** 4,
  tib: 1024 ** 4,
}

export const BYTE_SIZE_PATTERN = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b?|b)?\s*$/i

/**
 * A size as people write it: `500MB`, `1GB` (powers of 1000), `1GiB`, `1G` (powers of
 * 1024, as du and ls print them), a bare number is bytes. Undefined when invalid.
 */
export function parseByteSize(input: string | number): number | undefined {
  if (typeof input === 'number') return Number.isFinite(input) && input >= 0 ? Math.floor(input) : undefined
  const match = BYTE_SIZE_PATTERN.exec(input)
  if (!match) return undefined
  const unit = SIZE_UNITS[(match[2] ?? 'b').toLowerCase()]
  return unit === undefined ? undefined : Math.floor(Number(match[1]) * unit)
}

/** A size as ownops reads it back, exactly: 500MB, 2GiB, or a number of bytes. */
export function formatByteSizeExact(bytes: number): string {
  for (const [unit, size] of [
    ['TiB', 1024 ** 4],
    ['TB', 1000 ** 4],
    ['GiB', 1024 ** 3],
    ['GB', 1000 ** 3],
    ['MiB', 1024 ** 2],
    ['MB', 1000 ** 2],
    ['KiB', 1024],
    ['kB', 1000],
  ] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`
  }
  return String(bytes)
}

const NAMED_ESCAPES: Record<number, string> = { 0x09: '\\t', 0x0a: '\\n', 0x0d: '\\r' }

function isControl(code: number): boolean {
  return code < 0x20 || (code >= 0x7f && code < 0xa0) || code === 0x2028 || code === 0x2029
}

function escapeCode(code: number): string {
  return NAMED_ESCAPES[code] ?? (code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`)
}

/** Control characters as escapes (`\n`, `\x1b`): text that cannot drive a terminal. */
export function escapeControl(text: string): string {
  let out = ''
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0
    out += isControl(code) ? escapeCode(code) : char
  }
  return out
}

/** The length of the valid UTF-8 sequence at `i`, or 0 when the byte there does not start one. */
function utf8Length(bytes: Buffer, i: number): number {
  const b = bytes[i] ?? 0
  const need = b < 0x80 ? 1 : b >= 0xc2 && b < 0xe0 ? 2 : b >= 0xe0 && b < 0xf0 ? 3 : b >= 0xf0 && b < 0xf5 ? 4 : 0
  if (need <= 1 || i + need > bytes.length) return need === 1 ? 1 : 0
  for (let k = 1; k < need; k++) if (((bytes[i + k] ?? 0) & 0xc0) !== 0x80) return 0
  const second = bytes[i + 1] ?? 0
  if (b === 0xe0 && second < 0xa0) return 0 // overlong
  if (b === 0xed && second >= 0xa0) return 0 // surrogates
  if (b === 0xf0 && second < 0x90) return 0 // overlong
  if (b === 0xf4 && second >= 0x90) return 0 // beyond U+10FFFF
  return need
}

/**
 * A file name or path for people and reports: valid UTF-8 as it is; bytes that are not
 * UTF-8 as `\xff`, control characters as `\n`, `\x1b`, and a backslash doubled, so that
 * every name reads unambiguously and none can drive a terminal.
 */
export function printable(value: string | Buffer): string {
  if (typeof value === 'string') return escapeControl(value.replace(/\\/g, '\\\\'))
  let out = ''
  for (let i = 0; i < value.length;) {
    const n = utf8Length(value, i)
    if (n === 0) {
      out += `\\x${(value[i] ?? 0).toString(16).padStart(2, '0')}`
      i++
      continue
    }
    const char = value.toString('utf8', i, i + n)
    out += char === '\\' ? '\\\\' : escapeControl(char)
    i += n
  }
  return out
}

/**
 * Names in the order a listing shows them: case aside, then by code unit — the same on every
 * host, whatever its locale. (String#localeCompare asks ICU's collator, whose first use costs
 * every run ~10 ms of start-up for an order no different on names like these.)
 */
export function compareNames(a: string, b: string): number {
  const x = a.toLowerCase()
  const y = b.toLowerCase()
  if (x !== y) return x < y ? -1 : 1
  return a < b ? -1 : a > b ? 1 : 0
}
