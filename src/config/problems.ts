/** Config problems: where (file, line, key path), what, and how to fix it. */
import type { z } from 'zod'
import { didYouMean } from '../text.js'

export interface ConfigProblem {
  severity: 'error' | 'warning'
  file: string
  line?: number
  /** Key path, e.g. ["backup", "targets", "db", "type"]. */
  path: ReadonlyArray<string | number>
  message: string
  hint?: string
}

export function formatPath(path: ReadonlyArray<string | number | symbol>): string {
  if (path.length === 0) return '(top level)'
  return path
    .map((part, i) =>
      typeof part === 'number'
        ? `[${part}]`
        : !/^[A-Za-z0-9$_][A-Za-z0-9_.-]*$/.test(String(part))
          ? `[${JSON.stringify(String(part))}]`
          : i === 0
            ? String(part)
            : `.${String(part)}`,
    )
    .join('')
}

export function formatProblem(problem: ConfigProblem): string {
  const where = problem.line === undefined ? problem.file : `${problem.file}:${problem.line}`
  const prefix = problem.severity === 'warning' ? 'warning: ' : ''
  const hint = problem.hint === undefined ? '' : ` (${problem.hint})`
  if (problem.path.length === 0) return `${where}: ${prefix}${problem.message}${hint}`
  return `${where} ${prefix}${formatPath(problem.path)}: ${problem.message}${hint}`
}

/**
 * A schema's own error message may carry the fix after this separator: the problem shows it
 * as its hint, after what was found (`…, got number 30 (use "30d")`).
 */
export const FIX = ' — fix: '

/** zod's own wording ("Invalid input: expected string, received number"), as opposed to a schema's message. */
const ZOD_WORDING = /^Invalid (input|string|type)\b/

function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing'
  if (value === null) return 'null'
  if (typeof value === 'string') return JSON.stringify(value)
  if (Array.isArray(value)) return 'a list'
  if (typeof value === 'object') return 'a mapping'
  return typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint' ? `${typeof value} ${value}` : typeof value
}

/** The value at a path of a parsed YAML document, or undefined where the path leaves it. */
export function valueAt(root: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let node = root
  for (const key of path) {
    if (node === null || typeof node !== 'object') return undefined
    node = (node as Record<PropertyKey, unknown>)[key]
  }
  return node
}

/** Candidate keys of the object schema at a path, for "did you mean" on unknown keys. */
export type KeysAt = (path: ReadonlyArray<PropertyKey>) => string[]

/** Turns one zod issue into one or more problems with plain-language messages. */
export function problemsFromIssue(issue: z.core.$ZodIssue, input: unknown, file: string, keysAt: KeysAt): ConfigProblem[] {
  return problemsOf(issue, input, file, keysAt)
}

function problemsOf(issue: z.core.$ZodIssue, input: unknown, file: string, keysAt: KeysAt): ConfigProblem[] {
  const at = issue.message.indexOf(FIX)
  if (at >= 0) {
    const hint = issue.message.slice(at + FIX.length)
    return problemsOf({ ...issue, message: issue.message.slice(0, at) }, input, file, keysAt).map((p) => ({ ...p, hint }))
  }
  const path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))
  const got = valueAt(input, issue.path)
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((key) => {
        const suggestion = didYouMean(key, keysAt(issue.path))
        return {
          severity: 'error' as const,
          file,
          path: [...path, key],
          message: 'unknown key',
          ...(suggestion === undefined
            ? { hint: 'remove it, or check the spelling and indentation' }
            : { hint: `did you mean "${suggestion}"?` }),
        }
      })
    case 'invalid_key': {
      // A name of a target, channel, rule or job the schema refuses: which names are allowed.
      const key = String(path[path.length - 1] ?? '')
      const why = issue.issues[0]?.message ?? issue.message
      const fixed = key.replace(/[^A-Za-z0-9_.-]+/g, '-').replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '')
      return [
        {
          severity: 'error',
          file,
          path,
          message: `${JSON.stringify(key)} is not a valid name: ${why}`,
          ...(fixed !== '' ? { hint: `e.g. "${fixed}"` } : {}),
        },
      ]
    }
    case 'invalid_value': {
      const options = issue.values.map(String)
      return [enumProblem(file, path, options, got)]
    }
    case 'invalid_union': {
      const extra = issue as { note?: string; discriminator?: string; options?: unknown[] }
      if (extra.discriminator !== undefined && Array.isArray(extra.options)) {
        const discPath = path[path.length - 1] === extra.discriminator ? path : [...path, extra.discriminator]
        return [enumProblem(file, discPath, extra.options.map(String), valueAt(input, discPath))]
      }
      // A value that may be written several ways (text, or a mapping): the problems of the way
      // it is written, e.g. the key inside a mapping that is wrong, rather than "invalid input".
      const branches = (issue as { errors?: z.core.$ZodIssue[][] }).errors ?? []
      const fitting = branches.filter((b) => b.length > 0 && !b.every((i) => i.code === 'invalid_type' && i.path.length === 0))
      if (fitting.length === 1)
        return (fitting[0] ?? []).flatMap((i) => problemsOf({ ...i, path: [...issue.path, ...i.path] }, input, file, keysAt))
      return [{ severity: 'error', file, path, message: `${issue.message}, got ${describeValue(got)}` }]
    }
    case 'invalid_type': {
      if (got === undefined)
        return [{ severity: 'error', file, path, message: `missing required key (expected ${issue.expected})`, hint: 'add it' }]
      if (!ZOD_WORDING.test(issue.message))
        return [{ severity: 'error', file, path, message: `${issue.message}, got ${describeValue(got)}` }]
      return [{ severity: 'error', file, path, message: `expected ${issue.expected}, got ${describeValue(got)}` }]
    }
    case 'too_small':
    case 'too_big': {
      return [{ severity: 'error', file, path, message: `${issue.message.replace(/^Too (small|big): /, '')}, got ${describeValue(got)}` }]
    }
    default:
      return [
        { severity: 'error', file, path, message: `${issue.message.replace(/^Invalid (input|string): /, '')}, got ${describeValue(got)}` },
      ]
  }
}

function enumProblem(file: string, path: Array<string | number>, options: string[], got: unknown): ConfigProblem {
  const suggestion = typeof got === 'string' ? didYouMean(got, options) : undefined
  return {
    severity: 'error',
    file,
    path,
    message: `expected one of ${options.join('|')}, got ${describeValue(got)}`,
    ...(suggestion === undefined ? {} : { hint: `did you mean "${suggestion}"?` }),
  }
}
