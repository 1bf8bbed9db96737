/**
 * Where cleanup may work. A rule's root must be a directory of the service's own, never a
 * system directory that a typo in a glob would empty: those need `force: true`.
 */
import { realpathSync } from 'node:fs'
import { realpath } from 'node:fs/promises'
import { basename, dirname, isAbsolute, join, normalize, relative, sep } from 'node:path'
import picomatch from 'picomatch'

const SYSTEM_DIRS = new Set([
  '/',
  '/bin',
  '/boot',
  '/dev',
  '/etc',
  '/home',
  '/lib',
  '/lib32',
  '/lib64',
  '/libx32',
  '/media',
  '/mnt',
  '/opt',
  '/proc',
  '/root',
  '/run',
  '/sbin',
  '/snap',
  '/srv',
  '/sys',
  '/usr',
  '/var',
  '/usr/bin',
  '/usr/lib',
  '/usr/lib64',
  '/usr/local',
  '/usr/sbin',
  '/usr/share',
  '/usr/local/bin',
  '/usr/local/lib',
  '/var/lib',
  '/var/lib/docker',
  '/var/lib/docker/volumes',
  '/var/cache',
  '/var/spool',
  '/var/mail',
  '/var/backups',
  '/var/opt',
])

/** Why a root is refused without `force: true`, or undefined when it is fine. */
export function refusedRoot(root: string, backupDir?: string): string | undefined {
  const dir = normalize(root).replace(/(.)\/+$/, '$1')
  if (!isAbsolute(dir)) return 'must be an absolute path'
  if (SYSTEM_DIRS.has(dir)) return `${dir} is a system directory`
  if (backupDir !== undefined && isAbsolute(backupDir)) {
    const rel = relative(dir, normalize(backupDir))
    if (rel === '' || (!rel.startsWith('..') && !isAbsolute(rel)))
      return `${dir} holds the backup directory ${backupDir} (backups have their own retention)`
  }
  return undefined
}

/**
 * A path with every symlink in it resolved, also when it does not exist (yet): the real
 * path of its deepest existing ancestor, with the rest appended.
 */
export async function resolveExisting(path: string): Promise<string> {
  const missing: string[] = []
  for (let current = normalize(path); ; current = dirname(current)) {
    try {
      return join(await realpath(current), ...missing.reverse())
    } catch {
      if (current === dirname(current)) return normalize(path)
      missing.push(basename(current))
    }
  }
}

/** `resolveExisting` for `config validate`'s rules, which are synchronous. */
export function resolveExistingSync(path: string): string {
  const missing: string[] = []
  for (let current = normalize(path); ; current = dirname(current)) {
    try {
      return join(realpathSync(current), ...missing.reverse())
    } catch {
      if (current === dirname(current)) return normalize(path)
      missing.push(basename(current))
    }
  }
}

/**
 * `refusedRoot` with every symlink resolved on both sides, as the run will see them: a root
 * that is a symlink to /etc, or a backup directory reached through a symlink into the root.
 * Names the real path it found.
 */
export function refusedRootOnDisk(configured: string, backupDir?: string): string | undefined {
  if (!isAbsolute(configured)) return undefined
  const realRoot = resolveExistingSync(configured)
  const realBackup = backupDir !== undefined && isAbsolute(backupDir) ? resolveExistingSync(backupDir) : undefined
  for (const root of [realRoot, configured]) {
    for (const backup of [backupDir, realBackup]) {
      const why = refusedRoot(root, backup)
      if (why === undefined) continue
      const rootNote = root !== normalize(configured) ? `${configured} resolves to ${root}: ` : ''
      return `${rootNote}${backup === realBackup && backup !== backupDir && backupDir !== undefined ? why.replace(` ${backup} `, ` ${backupDir} (${backup}) `) : why}`
    }
  }
  return undefined
}

/**
 * `refusedRoot` at run time, on real paths: the root as configured and as resolved, and
 * the backup directory as configured and as resolved — a backup directory reached through
 * a symlink inside the root (or a root reached through one) is still the backup directory.
 */
export async function refusedRootResolved(configured: string, realRoot: string, backupDir?: string): Promise<string | undefined> {
  const realBackup = backupDir !== undefined && isAbsolute(backupDir) ? await resolveExisting(backupDir) : undefined
  for (const root of [realRoot, configured]) {
    for (const backup of [backupDir, realBackup]) {
      const why = refusedRoot(root, backup)
      if (why === undefined) continue
      return backup === realBackup && backup !== backupDir && backupDir !== undefined
        ? why.replace(` ${backup} `, ` ${backupDir} (${backup}) `)
        : why
    }
  }
  return undefined
}

/** The fixed directory part of an absolute glob: /srv/app/logs/*.log → /srv/app/logs. */
export function globBase(glob: string): string {
  const scanned = picomatch.scan(glob)
  const base = scanned.isGlob ? scanned.base : glob.slice(0, glob.lastIndexOf('/'))
  return base === '' ? '/' : base
}

/** True when `path` is `root` itself or inside it (both absolute and normalized). */
export function isInside(root: string, path: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep)
}
