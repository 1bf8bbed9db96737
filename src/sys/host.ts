/**
 * Reading the host: mounted filesystems, their usage, memory, load, CPUs. Linux /proc
 * files are read here and parsed by pure functions (tested on fixtures).
 */
import { availableParallelism } from 'node:os'
import { readFile, stat, statfs } from 'node:fs/promises'

export interface Mount {
  source: string
  mountPoint: string
  type: string
  options: string[]
}

/** /proc/self/mounts (octal escapes such as \040 for a space undone). */
export function parseMounts(text: string): Mount[] {
  const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)))
  const mounts: Mount[] = []
  for (const line of text.split('\n')) {
    const [source, mountPoint, type, options] = line.split(' ')
    if (source === undefined || mountPoint === undefined || type === undefined) continue
    mounts.push({ source: unescape(source), mountPoint: unescape(mountPoint), type, options: (options ?? '').split(',') })
  }
  return mounts
}

export async function readMounts(file = '/proc/self/mounts'): Promise<Mount[]> {
  return parseMounts(await readFile(file, 'utf8'))
}

export interface FsUsage {
  /** Bytes in use, and bytes available to unprivileged users (as df counts them). */
  usedBytes: number
  availBytes: number
  totalBytes: number
  /** df's Use%: used / (used + available), so reserved blocks count as full. */
  usedPercent: number
  /** Undefined when the filesystem has no inode limit (btrfs, some network filesystems). */
  inodesUsedPercent: number | undefined
  inodesFree: number | undefined
}

export function usageFromStatfs(s: {
  bsize: number
  blocks: number
  bfree: number
  bavail: number
  files: number
  ffree: number
}): FsUsage {
  const used = (s.blocks - s.bfree) * s.bsize
  const avail = s.bavail * s.bsize
  const usedPercent = used + avail === 0 ? 0 : (used / (used + avail)) * 100
  const inodesUsedPercent = s.files > 0 ? ((s.files - s.ffree) / s.files) * 100 : undefined
  return {
    usedBytes: used,
    availBytes: avail,
    totalBytes: s.blocks * s.bsize,
    usedPercent,
    inodesUsedPercent,
    inodesFree: s.files > 0 ? s.ffree : undefined,
  }
}

export async function filesystemUsage(path: string): Promise<FsUsage> {
  return usageFromStatfs(await statfs(path))
}

/** The device number of the filesystem a path is on (to tell bind mounts of one filesystem apart). */
export async function deviceOf(path: string): Promise<number> {
  return (await stat(path)).dev
}

export async function pathExists(path: string): Promise<boolean> {
  try {
    await stat(path)
    return true
  } catch {
    return false
  }
}

/** /proc/meminfo values in bytes. */
export function parseMeminfo(text: string): Record<string, number> {
  const values: Record<string, number> = {}
  for (const line of text.split('\n')) {
    const match = /^(\w+(?:\(\w+\))?):\s+(\d+)(?:\s+kB)?/.exec(line)
    if (match) values[match[1] as string] = Number(match[2]) * (line.includes('kB') ? 1024 : 1)
  }
  return values
}

export async function readMeminfo(file = '/proc/meminfo'): Promise<Record<string, number>> {
  return parseMeminfo(await readFile(file, 'utf8'))
}

/** /proc/loadavg: the 1, 5 and 15 minute load averages. */
export function parseLoadavg(text: string): [number, number, number] {
  const [one, five, fifteen] = text.trim().split(/\s+/).map(Number)
  if (![one, five, fifteen].every((n) => Number.isFinite(n))) throw new Error(`unexpected /proc/loadavg content: ${text.slice(0, 60)}`)
  return [one as number, five as number, fifteen as number]
}

export async function readLoadavg(file = '/proc/loadavg'): Promise<[number, number, number]> {
  return parseLoadavg(await readFile(file, 'utf8'))
}

export function cpuCount(): number {
  return availableParallelism()
}

/** Whether a process with this pid exists on this host (one of another user's counts too). */
export function processAlive(pid: number): boolean {
  if (pid <= 0) return false
  if (pid === process.pid) return true
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}
