/** Users and their access to paths: names of uids for messages, what a job's user may write. */
import { readFileSync, statSync, type Stats } from 'node:fs'
import { dirname } from 'node:path'
import { runSync } from './exec.js'

export interface UserInfo {
  name: string
  uid: number
  gid: number
  /** Every group the user is in (primary and supplementary). */
  groups: number[]
  home: string
}

/** The user name of a uid (from the passwd database), or undefined. */
export function userName(uid: number): string | undefined {
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const fields = line.split(':')
      if (fields.length >= 7 && Number(fields[2]) === uid) return fields[0]
    }
  } catch {
    // no /etc/passwd
  }
  const result = runSync(['getent', 'passwd', String(uid)], { timeoutMs: 5000 })
  return result.status === 0 ? result.stdout.split(':')[0] || undefined : undefined
}

/** "alice (uid 1000)", or "uid 1000" for a uid without a name. */
export function describeUid(uid: number): string {
  const name = userName(uid)
  return name === undefined ? `uid ${uid}` : `${name} (uid ${uid})`
}

/** A user by name, with its groups (through NSS: getent and id), or undefined when unknown. */
export function lookupUser(name: string): UserInfo | undefined {
  const passwd = runSync(['getent', 'passwd', name], { timeoutMs: 5000 })
  if (passwd.status !== 0) return undefined
  const fields = passwd.stdout.trim().split(':')
  const uid = Number(fields[2])
  const gid = Number(fields[3])
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) return undefined
  const ids = runSync(['id', '-G', name], { timeoutMs: 5000 })
  const groups = ids.status === 0 ? ids.stdout.trim().split(/\s+/).map(Number).filter(Number.isInteger) : [gid]
  return { name, uid, gid, groups: [...new Set([gid, ...groups])], home: fields[5] ?? '/' }
}

/**
 * Whether `user` may write `path` by its mode bits (ACLs aside): the path, or for a path that
 * does not exist yet its nearest existing ancestor, must be writable, and every directory above
 * it searchable. Root may write anything. Returns the first obstacle, or undefined.
 */
export function writeObstacle(path: string, user: UserInfo): { path: string; stats: Stats } | undefined {
  if (user.uid === 0) return undefined
  let target = path
  let stats: Stats | undefined
  for (;;) {
    try {
      stats = statSync(target)
      break
    } catch {
      if (dirname(target) === target) return undefined
      target = dirname(target)
    }
  }
  if (!allows(stats, user, 0o2)) return { path: target, stats }
  for (let dir = dirname(target); ; dir = dirname(dir)) {
    let st: Stats
    try {
      st = statSync(dir)
    } catch {
      return undefined
    }
    if (!allows(st, user, 0o1)) return { path: dir, stats: st }
    if (dirname(dir) === dir) return undefined
  }
}

/** Whether the mode bits grant `bit` (4 read, 2 write, 1 execute/search) to the user. */
export function allows(stats: Stats, user: UserInfo, bit: number): boolean {
  if (user.uid === 0) return true
  if (stats.uid === user.uid) return (stats.mode & (bit << 6)) !== 0
  if (user.groups.includes(stats.gid)) return (stats.mode & (bit << 3)) !== 0
  return (stats.mode & bit) !== 0
}

/** Whether the user may read and execute a program (the file, and every directory above it). */
export function executeObstacle(path: string, user: UserInfo): { path: string; stats: Stats } | undefined {
  if (user.uid === 0) return undefined
  let stats: Stats
  try {
    stats = statSync(path)
  } catch {
    return undefined
  }
  if (!allows(stats, user, 0o1)) return { path, stats }
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    let st: Stats
    try {
      st = statSync(dir)
    } catch {
      return undefined
    }
    if (!allows(st, user, 0o1)) return { path: dir, stats: st }
    if (dirname(dir) === dir) return undefined
  }
}
