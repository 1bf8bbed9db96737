/**
 * The names shell completion offers — targets, destinations, channels, services, clean-up
 * rules, checks, and a target's backup ids — read from the config file alone: no schema, no
 * env file, no Docker, no network, so that a TAB answers at once, even when the config is
 * not valid yet or its env file is not readable by the user at the keyboard.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { isMap, isScalar, parseDocument, type Document } from 'yaml'
import { locateConfig } from '../config/locate.js'
import { BUILTIN_CHECKS } from '../monitor/builtins.js'
import { DEFAULT_BACKUP_DIR } from '../sys/paths.js'

/** What `ownops __complete KIND` lists. */
export const NAME_KINDS = ['targets', 'destinations', 'channels', 'services', 'rules', 'checks', 'backups'] as const
export type NameKind = (typeof NAME_KINDS)[number]

export function isNameKind(value: string): value is NameKind {
  return (NAME_KINDS as readonly string[]).includes(value)
}

/** A name as the config allows it (letters, digits, -, _, .): nothing else reaches a shell. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/

/** Where each kind's names are in the config, and the names that exist without it. */
const SECTIONS: Record<Exclude<NameKind, 'backups'>, { path: readonly string[]; builtin?: readonly string[] }> = {
  targets: { path: ['backup', 'targets'] },
  destinations: { path: ['backup', 'destinations'] },
  channels: { path: ['notify', 'channels'] },
  services: { path: ['restart', 'services'] },
  rules: { path: ['cleanup', 'rules'], builtin: ['backups'] },
  checks: { path: ['monitor', 'checks'], builtin: Object.keys(BUILTIN_CHECKS) },
}

export interface NamesOptions {
  /** --config, if given. */
  config?: string | undefined
  env: NodeJS.ProcessEnv
  cwd: string
  /** backups: the target whose backups to list. */
  target?: string | undefined
}

/** The names of a kind, in the config's order (backup ids newest first); none when the config cannot be read. */
export function completionNames(kind: NameKind, options: NamesOptions): string[] {
  const { file } = locateConfig({ path: options.config, env: options.env, cwd: options.cwd })
  const doc = file === undefined ? undefined : readDocument(file)
  if (kind === 'backups') return ['latest', ...backupIds(doc, options)]
  const { path, builtin = [] } = SECTIONS[kind]
  const names = keysAt(doc, path)
  const builtins = kind === 'checks' && scalarAt(doc, ['monitor', 'builtins']) === false ? [] : builtin
  return [...new Set([...builtins, ...names])].filter((name) => NAME.test(name))
}

function readDocument(file: string): Document | undefined {
  try {
    return parseDocument(readFileSync(file, 'utf8'))
  } catch {
    return undefined // unreadable: nothing to offer
  }
}

function nodeAt(doc: Document | undefined, path: readonly string[]): unknown {
  try {
    return doc?.getIn(path, true)
  } catch {
    return undefined // a scalar where a map was expected
  }
}

function keysAt(doc: Document | undefined, path: readonly string[]): string[] {
  const node = nodeAt(doc, path)
  if (!isMap(node)) return []
  return node.items.flatMap((pair) => (isScalar(pair.key) && typeof pair.key.value === 'string' ? [pair.key.value] : []))
}

function scalarAt(doc: Document | undefined, path: readonly string[]): unknown {
  const node = nodeAt(doc, path)
  return isScalar(node) ? node.value : undefined
}

/** The ids of a target's backups: the manifests in <backup.dir>/<target>/, newest first. */
function backupIds(doc: Document | undefined, { target, cwd }: NamesOptions): string[] {
  if (target === undefined || !NAME.test(target)) return []
  const configured = scalarAt(doc, ['backup', 'dir'])
  // A ${VAR} in backup.dir would need the env file: no ids then.
  if (configured !== undefined && (typeof configured !== 'string' || configured.includes('$'))) return []
  const dir = resolve(cwd, configured ?? DEFAULT_BACKUP_DIR)
  try {
    return readdirSync(join(dir, target))
      .filter((name) => name.endsWith('.json') && !name.startsWith('.'))
      .map((name) => name.slice(0, -'.json'.length))
      .filter((id) => NAME.test(id))
      .sort()
      .reverse()
  } catch {
    return [] // not there, or not readable by this user
  }
}
