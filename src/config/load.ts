/**
 * Config pipeline: locate → read → parse YAML → interpolate ${VAR} in scalar values
 * (after parsing, so a secret containing YAML syntax cannot change the document and
 * every problem keeps its line) → validate against the schema → cross-field rules →
 * frozen Config. Every problem found is reported, not only the first.
 */
import { existsSync, readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node } from 'yaml'
import type { z } from 'zod'
import { OwnopsError } from '../errors.js'
import { DEFAULT_ENV_FILE } from '../sys/paths.js'
import { locateConfig } from './locate.js'
import { parseEnvFile } from './env-file.js'
import { formatProblem, problemsFromIssue, valueAt, type ConfigProblem } from './problems.js'
import { isSecretName } from '../redact.js'
import { checkRules } from './rules.js'
import { didYouMean } from '../text.js'
import { configSchema, type Config } from './schema.js'

export interface LoadOptions {
  /** --config, if given. */
  path?: string | undefined
  env?: NodeJS.ProcessEnv
  cwd?: string
  /** Overrides DEFAULT_ENV_FILE (tests). */
  defaultEnvFile?: string
  /** Overrides the search list after --config and $OWNOPS_CONFIG (tests). */
  searchPaths?: readonly string[]
  /**
   * More checks of a valid config, located like the built-in rules (file, line, key): what
   * `config validate` adds about the machine (a job's user and paths) and the clock (next runs).
   */
  extraRules?: (config: Config, file: string) => Array<Omit<ConfigProblem, 'file' | 'line'>>
  /**
   * A notification channel whose URL cannot be made (a ${VAR} that is not set, a URL that
   * does not parse) does not stop the job it reports on: the config loads with the channel in
   * `brokenChannels`. `config validate` leaves this off and reports it as the error it is.
   */
  skipBrokenChannels?: boolean
}

export interface LoadedConfig {
  config: Readonly<Config>
  /** Absolute path of the file, or undefined when running on built-in defaults. */
  file: string | undefined
  warnings: ConfigProblem[]
  /**
   * For the redactor: values of env-file variables and of ${VAR}s whose names say secret
   * (DB_PASSWORD, API_TOKEN…). Values that secret keys receive are found in the config tree.
   */
  secretValues: string[]
  envFile: string | undefined
  /** Channels that cannot be used in this run, with the problem (file, line, key, fix); see `skipBrokenChannels`. */
  brokenChannels?: Record<string, string>
}

export interface ConfigCheck {
  file: string | undefined
  problems: ConfigProblem[]
  loaded?: LoadedConfig
  /** Files that could not be read for lack of permission (the config, or the env file when a variable it may hold is missing). */
  denied?: string[]
}

export { locateConfig } from './locate.js'

/** Validates and returns every problem; never throws for problems in the file itself. */
export function checkConfig(options: LoadOptions = {}): ConfigCheck {
  const env = options.env ?? process.env
  const { file, explicit } = locateConfig(options)
  if (file === undefined) {
    const config = Object.freeze(configSchema.parse({}))
    return { file, problems: [], loaded: { config, file, warnings: [], secretValues: [], envFile: undefined } }
  }
  const display = displayName(file, options.cwd)
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    const message =
      code === 'ENOENT' ? 'file not found' : code === 'EACCES' ? 'permission denied' : `cannot read: ${(error as Error).message}`
    const denied = code === 'EACCES' || code === 'EPERM'
    const hint =
      code === 'ENOENT'
        ? explicit
          ? 'check the path given with --config or $OWNOPS_CONFIG'
          : undefined
        : denied
          ? `run as a user that can read ${file}, or let this user read it (e.g. chgrp GROUP ${file} && chmod 640 ${file})`
          : undefined
    return {
      file,
      problems: [{ severity: 'error', file: display, path: [], message, ...(hint === undefined ? {} : { hint }) }],
      ...(denied ? { denied: [file] } : {}),
    }
  }

  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true })
  const problems: ConfigProblem[] = []
  for (const error of doc.errors) {
    const line = lineCounter.linePos(error.pos[0]).line
    problems.push({
      severity: 'error',
      file: display,
      line,
      path: [],
      message: `YAML syntax: ${error.message.split('\n')[0]}`,
      hint: 'check indentation and quoting',
    })
  }
  if (problems.length > 0) return { file, problems }
  const locate = (path: ReadonlyArray<PropertyKey>) => lineOf(doc, lineCounter, path)

  // Environment: the process environment wins over the env file.
  const rawEnvFile = doc.get('envFile')
  const envFilePath = typeof rawEnvFile === 'string' ? resolve(file, '..', rawEnvFile) : (options.defaultEnvFile ?? DEFAULT_ENV_FILE)
  let fileVars: Record<string, string> = {}
  let envFile: string | undefined
  /** The env file exists but this user may not read it: a job run as another user under a unit
   * that loads it (EnvironmentFile=) has its variables in the environment already. */
  let envFileDenied = false
  if (existsSync(envFilePath)) {
    try {
      const parsed = parseEnvFile(readFileSync(envFilePath, 'utf8'))
      fileVars = parsed.vars
      envFile = envFilePath
      for (const p of parsed.problems)
        problems.push({
          severity: p.severity,
          file: envFilePath,
          line: p.line,
          path: [],
          message: p.message,
          ...(p.hint ? { hint: p.hint } : {}),
        })
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (code === 'EACCES' || code === 'EPERM') envFileDenied = true
      else
        problems.push({
          severity: 'error',
          file: envFilePath,
          path: [],
          message: `cannot read env file: ${(error as Error).message}`,
          hint: 'fix its permissions, or remove envFile:',
        })
    }
  } else if (typeof rawEnvFile === 'string') {
    problems.push({
      severity: 'warning',
      file: display,
      line: locate(['envFile']),
      path: ['envFile'],
      message: `env file ${envFilePath} not found`,
      hint: 'create it (mode 0600) or remove the envFile key',
    })
  }
  const secretValues = Object.entries(fileVars)
    .filter(([name]) => isSecretName(name))
    .map(([, value]) => value)
  const lookup = (name: string): string | undefined => env[name] ?? fileVars[name]
  /** Keys whose ${VAR} could not be resolved: later problems at those keys would only repeat it. */
  const unresolved = new Set<string>()

  visit(doc, {
    Scalar(_key, node, ancestry) {
      if (typeof node.value !== 'string' || !node.value.includes('$')) return
      const path = pathOf(ancestry, node)
      const result = interpolate(node.value, lookup)
      if (result.missing.length > 0) unresolved.add(path.join('.'))
      for (const missing of result.missing) {
        problems.push({
          severity: 'error',
          file: display,
          line: node.range ? lineCounter.linePos(node.range[0]).line : undefined,
          path,
          message: envFileDenied
            ? `\${${missing}} is not set, and the env file ${envFilePath} cannot be read by this user (permission denied)`
            : `\${${missing}} is not set`,
          hint: envFileDenied
            ? `run ownops as a user that can read ${envFilePath}, start the job from its unit (EnvironmentFile= passes the variables), or let this user read it (chgrp GROUP ${envFilePath} && chmod 640 ${envFilePath})`
            : `set ${missing} in the environment or in ${envFile ?? envFilePath}, or write \${${missing}:-default}`,
        })
      }
      secretValues.push(
        ...result.used
          .filter(isSecretName)
          .map((n) => lookup(n) ?? '')
          .filter((v) => v !== ''),
      )
      node.value = result.value
    },
  })

  const denied = envFileDenied && unresolved.size > 0 ? { denied: [envFilePath] } : {}
  if (denied.denied !== undefined && problems.some((p) => p.severity === 'error'))
    return { file, problems: sortProblems(problems), ...denied }
  let input: unknown
  try {
    input = doc.toJS({ maxAliasCount: 100 }) ?? {}
  } catch (error) {
    // yaml refuses a document whose aliases expand without bound ("billion laughs").
    problems.push({
      severity: 'error',
      file: display,
      path: [],
      message: `YAML: ${(error as Error).message.replace(/ indicates a resource exhaustion attack/, '')}: the aliases (*name) expand into too much data`,
      hint: 'write the values out, or use fewer nested aliases',
    })
    return { file, problems }
  }
  const parsed = configSchema.safeParse(input)
  const rulesOf = (config: Config) => [...checkRules(config), ...(options.extraRules?.(config, file) ?? [])]
  if (!parsed.success) {
    // Every problem at once where the document can still be understood: the keys of an entry
    // whose type is misspelt, checked against the type it is close to; then the cross-field
    // rules on the parts that parsed.
    for (const issue of [...parsed.error.issues, ...closeTypeIssues(parsed.error.issues, input)]) {
      for (const problem of problemsFromIssue(issue, input, display, (path) => keysAt(configSchema, path, input))) {
        if (unresolved.has(problem.path.join('.'))) continue
        problems.push({ ...problem, line: locate(problem.path) })
      }
    }
    const repaired = withoutBrokenParts(input)
    if (repaired !== undefined) {
      const seen = new Set(problems.map((p) => `${p.path.join('.')}\0${p.message}`))
      for (const rule of rulesOf(repaired.config)) {
        if (
          unresolved.has(rule.path.join('.')) ||
          seen.has(`${rule.path.join('.')}\0${rule.message}`) ||
          aboutRemoved(rule, repaired.removed)
        )
          continue
        problems.push({ ...rule, file: display, line: locate(rule.path) })
      }
    }
    return { file, problems: sortProblems(problems) }
  }
  for (const rule of rulesOf(parsed.data)) {
    if (!unresolved.has(rule.path.join('.'))) problems.push({ ...rule, file: display, line: locate(rule.path) })
  }
  const warnings = problems.filter((p) => p.severity === 'warning')
  const loaded: LoadedConfig = { config: deepFreeze(parsed.data), file, warnings, secretValues, envFile }
  const sorted = sortProblems(problems)
  const errors = problems.filter((p) => p.severity === 'error')
  if (errors.length > 0 && options.skipBrokenChannels === true && errors.every((p) => channelOf(p) !== undefined)) {
    const broken: Record<string, string> = {}
    for (const p of errors) broken[channelOf(p) as string] = [broken[channelOf(p) as string], formatProblem(p)].filter(Boolean).join('; ')
    return { file, problems: sortProblems(warnings), loaded: { ...loaded, brokenChannels: broken } }
  }
  return errors.length > 0 ? { file, problems: sorted } : { file, problems: sorted, loaded }
}

/** The notification channel a problem is about (notify.channels.NAME…), if it is about one. */
function channelOf(problem: ConfigProblem): string | undefined {
  const [a, b, name] = problem.path
  return a === 'notify' && b === 'channels' && name !== undefined ? String(name) : undefined
}

type Path = ReadonlyArray<string | number>

/**
 * The issues of entries whose `type:` (or `kind:`) is misspelt, found by checking the entry
 * again as the type it is close to ("postgress": postgres): its other keys are not hidden
 * behind the wrong type. The discriminator itself is reported by the first pass.
 */
function closeTypeIssues(issues: readonly z.core.$ZodIssue[], input: unknown): z.core.$ZodIssue[] {
  const more: z.core.$ZodIssue[] = []
  for (const issue of issues) {
    const extra = issue as { discriminator?: string; options?: unknown[] }
    if (issue.code !== 'invalid_union' || extra.discriminator === undefined || !Array.isArray(extra.options)) continue
    const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol')
    const entry = path[path.length - 1] === extra.discriminator ? path.slice(0, -1) : path
    const value = valueAt(input, [...entry, extra.discriminator])
    const guess = typeof value === 'string' ? didYouMean(value, extra.options.map(String)) : undefined
    if (guess === undefined) continue
    const patched = structuredClone(input)
    const node = valueAt(patched, entry)
    if (node === null || typeof node !== 'object') continue
    ;(node as Record<string, unknown>)[extra.discriminator] = guess
    const again = configSchema.safeParse(patched)
    if (again.success) continue
    for (const i of again.error.issues) if (startsWith(i.path, entry)) more.push(i)
  }
  return more
}

/** Named entries: a problem inside one makes the whole entry unusable for the cross-field rules. */
const ENTRY_MAPS: Path[] = [
  ['backup', 'targets'],
  ['backup', 'destinations'],
  ['notify', 'channels'],
  ['monitor', 'checks'],
  ['cleanup', 'rules'],
  ['restart', 'services'],
  ['schedule', 'jobs'],
  ['schedule', 'boot'],
]

/**
 * The document with what the schema refuses taken out — unknown keys, wrong values (their
 * defaults take their place), whole entries (a target, a check, a job) with a problem inside
 * — so that the cross-field rules can run on the rest. Undefined when nothing sensible is left.
 */
function withoutBrokenParts(input: unknown): { config: Config; removed: Path[] } | undefined {
  const current = structuredClone(input)
  const removed: Path[] = []
  for (let round = 0; round < 20; round++) {
    const result = configSchema.safeParse(current)
    if (result.success) return { config: result.data, removed }
    for (const issue of result.error.issues) {
      const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol')
      const cuts = issue.code === 'unrecognized_keys' ? issue.keys.map((k) => [...path, k]) : [cutFor(path)]
      for (let cut of cuts) {
        while (cut.length > 0 && !removeAt(current, cut)) cut = cut.slice(0, -1)
        if (cut.length === 0) return undefined
        removed.push(cut)
      }
    }
  }
  return undefined
}

/** What goes for a problem at `path`: the named entry around it, else the list around it, else the key itself. */
function cutFor(path: Path): Path {
  for (const map of ENTRY_MAPS) if (path.length > map.length && startsWith(path, map)) return path.slice(0, map.length + 1)
  const list = path.findIndex((p) => typeof p === 'number')
  return list > 0 ? path.slice(0, list) : path
}

function removeAt(root: unknown, path: Path): boolean {
  const parent = valueAt(root, path.slice(0, -1))
  const key = path[path.length - 1]
  if (parent === null || typeof parent !== 'object' || key === undefined || !(String(key) in parent)) return false
  delete (parent as Record<string, unknown>)[String(key)]
  return true
}

/** A rule's problem about something taken out (inside it, or naming a removed entry) would only be noise. */
function aboutRemoved(problem: { path: Path; message: string }, removed: readonly Path[]): boolean {
  return removed.some((cut) => {
    if (startsWith(problem.path, cut)) return true
    const isEntry = ENTRY_MAPS.some((map) => cut.length === map.length + 1 && startsWith(cut, map))
    const name = String(cut[cut.length - 1])
    return isEntry && new RegExp(`(^|[^\\w.-])${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}([^\\w-]|$)`).test(problem.message)
  })
}

function startsWith(path: ReadonlyArray<PropertyKey>, prefix: Path): boolean {
  return prefix.every((p, i) => String(path[i]) === String(p))
}

/**
 * In line order. A warning about a mapping with an error inside it is left out: it judged
 * what was left of the mapping (a keep policy whose only rule is wrong has "no rule").
 */
function sortProblems(problems: ConfigProblem[]): ConfigProblem[] {
  const errors = problems.filter((p) => p.severity === 'error')
  const within = (outer: ConfigProblem, inner: ConfigProblem) =>
    inner.file === outer.file && inner.path.length > outer.path.length && outer.path.every((key, i) => inner.path[i] === key)
  const kept = problems.filter((p) => p.severity === 'error' || p.path.length === 0 || !errors.some((e) => within(p, e)))
  return kept.sort((a, b) => (a.file === b.file ? (a.line ?? 0) - (b.line ?? 0) : a.file < b.file ? -1 : 1))
}

/** Loads the config or throws an OwnopsError (exit 78) listing every problem. */
export function loadConfig(options: LoadOptions = {}): LoadedConfig {
  const result = checkConfig(options)
  const errors = result.problems.filter((p) => p.severity === 'error')
  if (result.loaded !== undefined && errors.length === 0) return result.loaded
  const where = result.file === undefined ? 'the configuration' : displayName(result.file, options.cwd)
  const denied = result.denied ?? []
  throw new OwnopsError(
    denied.length > 0
      ? `permission denied: cannot read ${denied.join(', ')}`
      : `${where}: ${errors.length} problem${errors.length === 1 ? '' : 's'} found`,
    {
      // What this user cannot read is a permission problem (77), not a wrong config.
      kind: denied.length > 0 ? 'permission' : 'config',
      details: result.problems.map(formatProblem),
      hint: 'fix the lines above; `ownops config validate` checks again',
    },
  )
}

/** ${VAR}, ${VAR:-default} and ${VAR-default}; $$ is a literal $. */
export function interpolate(
  value: string,
  lookup: (name: string) => string | undefined,
): { value: string; missing: string[]; used: string[] } {
  const missing: string[] = []
  const used: string[] = []
  const out = value.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}/g,
    (match, name: string | undefined, op: string | undefined, fallback: string | undefined) => {
      if (match === '$$') return '$'
      const key = name as string
      const current = lookup(key)
      if (op === ':-' && (current === undefined || current === '')) return fallback ?? ''
      if (op === '-' && current === undefined) return fallback ?? ''
      if (current === undefined) {
        missing.push(key)
        return match
      }
      used.push(key)
      return current
    },
  )
  return { value: out, missing, used }
}

function displayName(file: string, cwd = process.cwd()): string {
  return file.startsWith(`${cwd}/`) ? file.slice(cwd.length + 1) : file
}

function pathOf(ancestry: ReadonlyArray<unknown>, node: Node): Array<string | number> {
  const path: Array<string | number> = []
  let child: unknown = node
  for (let i = ancestry.length - 1; i >= 0; i--) {
    const parent = ancestry[i]
    if (isPair(parent)) {
      if (parent.value === child) path.unshift(isScalar(parent.key) ? String(parent.key.value) : String(parent.key))
    } else if (isSeq(parent)) {
      path.unshift(parent.items.indexOf(child))
    }
    child = parent
  }
  return path
}

/** The line of the deepest node that exists along a key path (the key's line for mapping entries). */
function lineOf(doc: Document, counter: LineCounter, path: ReadonlyArray<PropertyKey>): number | undefined {
  let node: unknown = doc.contents
  let line: number | undefined = node && (node as Node).range ? counter.linePos((node as Node).range![0]).line : undefined
  for (const key of path) {
    if (isMap(node)) {
      const pair = node.items.find((item) => isScalar(item.key) && String(item.key.value) === String(key))
      if (pair === undefined) break
      const keyNode = pair.key as Node
      if (keyNode.range) line = counter.linePos(keyNode.range[0]).line
      node = pair.value
      if (isScalar(node) && node.range) line = counter.linePos(node.range[0]).line
    } else if (isSeq(node) && typeof key === 'number') {
      node = node.items[key]
      if (node && (node as Node).range) line = counter.linePos((node as Node).range![0]).line
    } else {
      break
    }
  }
  return line
}

type AnySchema = z.ZodType
/** Known keys of the object schema at a path (unions: the keys of every option). */
export function keysAt(schema: AnySchema, path: ReadonlyArray<PropertyKey>, input?: unknown): string[] {
  const found = new Set<string>()
  const walk = (s: AnySchema, rest: ReadonlyArray<PropertyKey>, value: unknown): void => {
    const def = (s as unknown as { _zod: { def: Record<string, unknown> } })._zod.def
    switch (def.type) {
      case 'optional':
      case 'nullable':
      case 'default':
      case 'prefault':
      case 'readonly':
      case 'catch':
        return walk(def.innerType as AnySchema, rest, value)
      case 'pipe':
        return walk(def.in as AnySchema, rest, value)
      case 'union': {
        const options = def.options as AnySchema[]
        // Discriminated by `type` (backup targets) or `kind` (monitor checks).
        const discriminator = value !== null && typeof value === 'object' && 'kind' in value && !('type' in value) ? 'kind' : 'type'
        const typeValue = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[discriminator] : undefined
        const matching = options.filter((o) => {
          const shape = (o as unknown as { _zod: { def: { shape?: Record<string, AnySchema> } } })._zod.def.shape
          const field = shape?.[discriminator]
          const literal = field ? (field as unknown as { _zod: { def: { values?: unknown[] } } })._zod.def.values : undefined
          return typeValue === undefined || literal === undefined || literal.includes(typeValue)
        })
        for (const option of matching.length > 0 ? matching : options) walk(option, rest, value)
        return
      }
      case 'object': {
        const shape = def.shape as Record<string, AnySchema>
        if (rest.length === 0) {
          for (const key of Object.keys(shape)) found.add(key)
          return
        }
        const [head, ...tail] = rest
        const next = shape[String(head)]
        if (next !== undefined)
          walk(next, tail, value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[String(head)] : undefined)
        return
      }
      case 'record': {
        if (rest.length === 0) return
        const [head, ...tail] = rest
        walk(
          def.valueType as AnySchema,
          tail,
          value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[String(head)] : undefined,
        )
        return
      }
      case 'array': {
        if (rest.length === 0) return
        const [head, ...tail] = rest
        walk(def.element as AnySchema, tail, Array.isArray(value) ? value[Number(head)] : undefined)
        return
      }
      default:
        return
    }
  }
  walk(schema, path, input)
  return [...found]
}

function deepFreeze<T>(value: T): Readonly<T> {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const child of Object.values(value as Record<string, unknown>)) deepFreeze(child)
  }
  return value
}
