/**
 * Paths into a JSON document for `kind: prometheus` checks on JSON endpoints:
 * `$.http.requests`, `stats.errors`, `queues[0].depth`, `$["app.name"].count` — member
 * names after dots or in quotes, array indexes in brackets. No filters, no wildcards: a
 * path names one value. Pure.
 */

export type PathPart = string | number

export class JsonPathError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'JsonPathError'
  }
}

export function parseJsonPath(text: string): PathPart[] {
  const parts: PathPart[] = []
  let i = 0
  const s = text.trim()
  if (s.startsWith('$')) i = 1
  else if (s !== '' && s[0] !== '[' && s[0] !== '.') parts.push(readName())
  function readName(): string {
    const m = /^[A-Za-z_$][A-Za-z0-9_$-]*/.exec(s.slice(i))
    if (m === null) throw new JsonPathError(`expected a member name at ${JSON.stringify(s.slice(i, i + 10) || 'the end')} in ${s}`)
    i += m[0].length
    return m[0]
  }
  while (i < s.length) {
    const c = s[i]
    if (c === '.') {
      i++
      parts.push(readName())
    } else if (c === '[') {
      const m = /^\[\s*(?:(\d+)|"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')\s*\]/.exec(s.slice(i))
      if (m === null) throw new JsonPathError(`expected [index] or ["name"] at ${JSON.stringify(s.slice(i, i + 10))} in ${s}`)
      i += m[0].length
      parts.push(m[1] !== undefined ? Number(m[1]) : (m[2] ?? m[3] ?? '').replace(/\\(.)/g, '$1'))
    } else {
      throw new JsonPathError(`unexpected ${JSON.stringify(c)} in ${s}`)
    }
  }
  if (parts.length === 0) throw new JsonPathError(`${JSON.stringify(text)} names no value (e.g. $.http.requests)`)
  return parts
}

/** The value at the path, or undefined when a step is missing. */
export function valueAt(document: unknown, path: readonly PathPart[]): unknown {
  let at: unknown = document
  for (const part of path) {
    if (at === null || typeof at !== 'object') return undefined
    if (typeof part === 'number') {
      if (!Array.isArray(at)) return undefined
      at = at[part]
    } else {
      if (Array.isArray(at) || !Object.prototype.hasOwnProperty.call(at, part)) return undefined
      at = (at as Record<string, unknown>)[part]
    }
  }
  return at
}
