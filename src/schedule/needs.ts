/**
 * What a scheduled job writes, from the config and its command line: the paths its unit's
 * sandbox must leave writable. Pure: config and arguments in, paths with their reasons out.
 *
 * - backup, verify, restore: SQLite databases on the host (SQLite writes -shm/-wal files even
 *   to read) or Docker's volumes; the paths named in the targets' hooks;
 * - restore: the place the data is restored to (beside the old data, or --to);
 * - cleanup: the roots of files rules, the directories of logs rules, SQLite files of sql
 *   rules, and (backups rule) the data restores replaced, which lies beside the live data;
 * - monitor: SQLite files it checks, the Prometheus textfile;
 * - backup: the Prometheus textfile;
 * - backup and copy: the local paths of destinations off the box and rclone's config directory
 *   (copies/units.ts).
 * The backup, state and lock directories are every job's (writablePaths in jobs.ts).
 */
import { dirname, isAbsolute, posix } from 'node:path'
import { globBase } from '../cleanup/roots.js'
import type { Config } from '../config/schema.js'
import { copyNeeds } from '../copies/units.js'

export interface PathNeed {
  /** Absolute path that must be writable. */
  path: string
  /** What needs it, e.g. `cleanup rule scratch (root /tmp)`. */
  why: string
  /** The config key it comes from. */
  key: Array<string | number>
}

type Target = Config['backup']['targets'][string]
type Hook = Target['before']

const DOCKER_VOLUMES = '/var/lib/docker/volumes'
/** Where the engine keeps container logs (json-file). */
const DOCKER_CONTAINERS = '/var/lib/docker/containers'

export function jobNeeds(config: Config, args: readonly string[]): PathNeed[] {
  const [command, ...rest] = args
  const positional = rest.filter((a, i) => !a.startsWith('-') && !VALUE_FLAGS.has(rest[i - 1] ?? ''))
  const needs: PathNeed[] = []
  const targets = Object.entries(config.backup.targets)
  const named = (names: readonly string[]) => (names.length === 0 ? targets : targets.filter(([name]) => names.includes(name)))
  const backupDir: PathNeed = { path: posix.normalize(config.backup.dir), why: 'backup.dir', key: ['backup', 'dir'] }
  if (command === 'backup' || command === 'verify' || command === 'restore') needs.push(backupDir)
  switch (command) {
    case 'backup': {
      const chosen = rest.includes('--unscheduled') ? targets.filter(([, t]) => t.schedule === undefined) : named(positional)
      for (const [name, target] of chosen) needs.push(...sqliteNeeds(name, target, 'backup'), ...hookNeeds(name, target))
      if (config.backup.prometheus !== undefined)
        needs.push({ path: dirname(config.backup.prometheus), why: 'backup.prometheus (textfile)', key: ['backup', 'prometheus'] })
      break
    }
    case 'verify':
      for (const [name, target] of named(positional)) needs.push(...sqliteNeeds(name, target, 'verify'))
      break
    case 'restore': {
      const to = valueOf(rest, '--to')
      for (const [name, target] of named(positional.slice(0, 1))) {
        if (to !== undefined && isAbsolute(to))
          needs.push(
            { path: posix.normalize(to), why: `restore ${name} --to ${to}`, key: ['backup', 'targets', name] },
            { path: dirname(posix.normalize(to)), why: `restore ${name} --to ${to} (created beside it)`, key: ['backup', 'targets', name] },
          )
        else needs.push(...dataNeeds(name, target, 'restore'))
        needs.push(...hookNeeds(name, target))
      }
      break
    }
    case 'cleanup':
      needs.push(...cleanupNeeds(config, positional, rest))
      break
    case 'monitor': {
      for (const [name, check] of Object.entries(config.monitor.checks ?? {})) {
        const spec = check as { kind?: string; path?: unknown }
        if (spec.kind === 'sqlite' && typeof spec.path === 'string' && isAbsolute(spec.path)) {
          needs.push({
            path: dirname(posix.normalize(spec.path)),
            why: `monitor check ${name} (SQLite writes its -shm file even to read)`,
            key: ['monitor', 'checks', name, 'path'],
          })
        }
      }
      const textfile = config.monitor.prometheus?.textfile
      if (textfile !== undefined)
        needs.push({ path: dirname(textfile), why: 'monitor.prometheus.textfile', key: ['monitor', 'prometheus', 'textfile'] })
      break
    }
    default:
      break
  }
  if (command === 'copy') needs.push(backupDir)
  // Copies off the box (backup, copy): local destinations, rclone's config directory.
  needs.push(...copyNeeds(config, args))
  return dedupe(needs.filter((n) => isAbsolute(n.path)))
}

/** Flags whose next argument is a value, not a name. */
const VALUE_FLAGS = new Set([
  '--to',
  '--at',
  '--only',
  '--tag',
  '--wait',
  '--in',
  '--reason',
  '--max-wait',
  '--pause',
  '--title',
  '--level',
  '--channel',
  '--attach-file',
])

function valueOf(args: readonly string[], flag: string): string | undefined {
  const i = args.indexOf(flag)
  if (i >= 0) return args[i + 1]
  const joined = args.find((a) => a.startsWith(`${flag}=`))
  return joined?.slice(flag.length + 1)
}

function sqliteNeeds(name: string, target: Target, what: string): PathNeed[] {
  if (target.type !== 'sqlite') return []
  const key = ['backup', 'targets', name, 'path']
  if (target.container !== undefined)
    return [{ path: DOCKER_VOLUMES, why: `${what} ${name} (SQLite in container ${target.container}, read through its volume)`, key }]
  return [{ path: dirname(posix.normalize(target.path)), why: `${what} ${name} (SQLite writes its -shm/-wal files even to read)`, key }]
}

/** Where a restore of the target puts its data (and the old data beside it). */
function dataNeeds(name: string, target: Target, what: string): PathNeed[] {
  const key = ['backup', 'targets', name]
  switch (target.type) {
    case 'sqlite':
      return sqliteNeeds(name, target, what)
    case 'directory':
      if (target.volume !== undefined || target.container !== undefined)
        return [{ path: DOCKER_VOLUMES, why: `${what} ${name} (data in a Docker volume)`, key }]
      if (target.path !== undefined && isAbsolute(target.path)) {
        const path = posix.normalize(target.path)
        return [
          { path, why: `${what} ${name} (${path})`, key: [...key, 'path'] },
          { path: dirname(path), why: `${what} ${name} (the old data is kept beside ${path})`, key: [...key, 'path'] },
        ]
      }
      return []
    default:
      return [] // databases in containers: through Docker
  }
}

/** Absolute paths among a hook's arguments: what it is told to write (a file's directory). */
function hookNeeds(name: string, target: Target): PathNeed[] {
  const needs: PathNeed[] = []
  for (const which of ['before', 'after', 'onError'] as const) {
    const hook: Hook = target[which]
    if (hook === undefined) continue
    const argv = Array.isArray(hook) ? hook : hook.run
    for (const word of argv.slice(1)) {
      const value = word.includes('=') ? word.slice(word.indexOf('=') + 1) : word
      if (!isAbsolute(value) || value === '/') continue
      const path = posix.normalize(value)
      // A file (it has an extension) is written into its directory; a directory is itself.
      needs.push({
        path: /\.[A-Za-z0-9]+$/.test(path) ? dirname(path) : path,
        why: `${which} hook of ${name} (${value})`,
        key: ['backup', 'targets', name, which],
      })
    }
  }
  return needs
}

function cleanupNeeds(config: Config, positional: readonly string[], args: readonly string[]): PathNeed[] {
  const needs: PathNeed[] = []
  const only = args
    .flatMap((a, i) => (args[i - 1] === '--only' ? a.split(',') : a.startsWith('--only=') ? a.slice(7).split(',') : []))
    .map((t) => t.trim())
  const selected = (name: string, type: string) =>
    (positional.length === 0 || positional.includes(name)) && (only.length === 0 || only.includes(type))
  if (config.cleanup.backups !== false && selected('backups', 'backups')) {
    needs.push({ path: posix.normalize(config.backup.dir), why: 'cleanup rule backups (backup.dir)', key: ['backup', 'dir'] })
    for (const [name, target] of Object.entries(config.backup.targets))
      needs.push(...dataNeeds(name, target, 'cleanup rule backups: data a restore replaced of'))
  }
  for (const [name, rule] of Object.entries(config.cleanup.rules)) {
    if (!selected(name, rule.type) || (positional.length === 0 && !rule.enabled)) continue
    const key = ['cleanup', 'rules', name]
    switch (rule.type) {
      case 'files':
        needs.push({ path: posix.normalize(rule.root), why: `cleanup rule ${name} (root ${rule.root})`, key: [...key, 'root'] })
        break
      case 'logs':
        for (const [i, glob] of (typeof rule.path === 'string' ? [rule.path] : rule.path).entries()) {
          needs.push({
            path: globBase(glob),
            why: `cleanup rule ${name} (logs ${glob})`,
            key: typeof rule.path === 'string' ? [...key, 'path'] : [...key, 'path', i],
          })
        }
        break
      case 'docker':
        if (rule.logs !== undefined)
          needs.push({ path: DOCKER_CONTAINERS, why: `cleanup rule ${name} (container logs)`, key: [...key, 'logs'] })
        break
      case 'sql': {
        const target = config.backup.targets[rule.target]
        if (target !== undefined) needs.push(...sqliteNeeds(rule.target, target, `cleanup rule ${name} on`))
        break
      }
      default:
        break
    }
  }
  return needs
}

/**
 * What a job reads without writing it: the data it backs up (a directory target's path, a
 * SQLite file), the programs of its hooks, key and config files of its destinations, what its
 * checks open (a CA file, a command). A private /tmp (PrivateTmp=) would hide these too.
 */
export function jobReads(config: Config, args: readonly string[]): string[] {
  const [command, ...rest] = args
  const positional = rest.filter((a, i) => !a.startsWith('-') && !VALUE_FLAGS.has(rest[i - 1] ?? ''))
  const reads: string[] = []
  const targets = Object.entries(config.backup.targets)
  const chosen = positional.length === 0 || command === 'copy' ? targets : targets.filter(([name]) => positional.includes(name))
  if (command === 'backup' || command === 'verify' || command === 'restore' || command === 'copy') {
    for (const [, t] of chosen) {
      if (
        (t.type === 'directory' && t.volume === undefined && t.container === undefined) ||
        (t.type === 'sqlite' && t.container === undefined)
      )
        if (t.path !== undefined) reads.push(t.path)
      for (const which of ['before', 'after', 'onError'] as const) {
        const hook: Hook = t[which]
        if (hook !== undefined) reads.push(...(Array.isArray(hook) ? hook : hook.run))
      }
    }
    for (const d of Object.values(config.backup.destinations)) {
      const dest = d as { config?: string; passwordFile?: string; age?: { recipientsFile?: string } }
      reads.push(...[dest.config, dest.passwordFile, dest.age?.recipientsFile].filter((p): p is string => p !== undefined))
    }
  }
  if (command === 'monitor') {
    for (const c of Object.values(config.monitor.checks ?? {})) {
      const check = c as { kind?: string; path?: unknown; tls?: { ca?: string }; command?: unknown }
      if (typeof check.path === 'string') reads.push(check.path)
      if (check.tls?.ca !== undefined) reads.push(check.tls.ca)
      if (check.kind === 'command' && Array.isArray(check.command))
        reads.push(...check.command.filter((w): w is string => typeof w === 'string'))
    }
  }
  return reads.filter((p) => isAbsolute(p)).map((p) => posix.normalize(p))
}

/** Under /tmp or /var/tmp: a private /tmp (PrivateTmp=) would hide it from the job. */
export function isTmpPath(path: string): boolean {
  return /^\/(var\/)?tmp(\/|$)/.test(path)
}

/** Paths no ReadWritePaths= can open: the kernel's and the devices' (ProtectKernelTunables=, PrivateDevices=). */
export function unwritableInSandbox(path: string): string | undefined {
  if (/^\/(proc|sys)(\/|$)/.test(path)) return "the kernel's file systems stay read-only (ProtectKernelTunables=)"
  if (/^\/dev(\/|$)/.test(path)) return 'the unit has private devices (PrivateDevices=)'
  return undefined
}

function dedupe(needs: PathNeed[]): PathNeed[] {
  const seen = new Set<string>()
  return needs.filter((n) => (seen.has(n.path) ? false : (seen.add(n.path), true)))
}
