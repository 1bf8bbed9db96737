/**
 * What is in a target's backup directory: the valid backups (a manifest whose artifact
 * exists with the recorded size) and everything odd — leftover partial files, artifacts
 * without a manifest, manifests without an artifact, size mismatches, unreadable manifests.
 */
import { readdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { OwnopsError } from '../errors.js'
import { processAlive } from '../sys/host.js'
import { MANIFEST_VERSION, parsePartialName, type Manifest } from './artifact.js'

export interface BackupEntry {
  manifest: Manifest
  /** Artifact path. */
  path: string
  manifestPath: string
  time: Date
  tags: string[]
}

export type OddityKind = 'partial' | 'no-manifest' | 'no-artifact' | 'size-mismatch' | 'bad-manifest'

export interface Oddity {
  kind: OddityKind
  path: string
  message: string
  /** partial: the process that wrote it is gone, so it can be removed. */
  stale?: boolean
}

export interface Catalog {
  target: string
  dir: string
  /** Newest first. */
  backups: BackupEntry[]
  oddities: Oddity[]
}

/** How far ahead of the clock a backup's time may be before it counts as dated in the future. */
export const FUTURE_SLACK_MS = 5 * 60_000

/**
 * Backups dated after `now` (beyond the slack): taken while the clock was wrong. Retention
 * counts back from the newest backup, so one of these would make every real backup look old.
 */
export function futureDated(backups: readonly BackupEntry[], now: Date): BackupEntry[] {
  return backups.filter((b) => b.time.getTime() > now.getTime() + FUTURE_SLACK_MS)
}

export function targetDir(backupDir: string, target: string): string {
  return join(backupDir, target)
}

export async function readCatalog(backupDir: string, target: string): Promise<Catalog> {
  const dir = targetDir(backupDir, target)
  const catalog: Catalog = { target, dir, backups: [], oddities: [] }
  let names: string[]
  try {
    names = await readdir(dir)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return catalog
    throw unreadable(dir, error)
  }
  const claimed = new Set<string>()
  for (const name of names) {
    if (name.startsWith('.')) {
      const partial = parsePartialName(name)
      if (partial !== undefined) {
        const stale = !processAlive(partial.pid)
        catalog.oddities.push({
          kind: 'partial',
          path: join(dir, name),
          stale,
          message: stale
            ? `leftover partial file of an interrupted run (pid ${partial.pid} is gone); not a backup`
            : `backup in progress (pid ${partial.pid})`,
        })
      }
      continue
    }
    if (!name.endsWith('.json')) continue
    const manifestPath = join(dir, name)
    claimed.add(name)
    const manifest = await readManifest(manifestPath)
    if (manifest === undefined) {
      catalog.oddities.push({ kind: 'bad-manifest', path: manifestPath, message: 'manifest is unreadable or not an ownops manifest' })
      continue
    }
    const path = join(dir, manifest.file)
    claimed.add(manifest.file)
    let size: number
    try {
      size = (await stat(path)).size
    } catch {
      catalog.oddities.push({ kind: 'no-artifact', path: manifestPath, message: `manifest without its artifact ${manifest.file}` })
      continue
    }
    if (size !== manifest.size) {
      catalog.oddities.push({ kind: 'size-mismatch', path, message: `artifact is ${size} bytes, its manifest says ${manifest.size}` })
      continue
    }
    catalog.backups.push({
      manifest,
      path,
      manifestPath,
      time: new Date(manifest.time),
      tags: Array.isArray(manifest.tags) ? manifest.tags : [],
    })
  }
  for (const name of names) {
    if (name.startsWith('.') || claimed.has(name)) continue
    if (name.startsWith(`${target}-`)) {
      catalog.oddities.push({ kind: 'no-manifest', path: join(dir, name), message: 'file without a manifest: not a valid backup' })
    }
  }
  catalog.backups.sort((a, b) => b.time.getTime() - a.time.getTime())
  return catalog
}

/** A backup directory that cannot be read: the environment's doing (exit 77 or 78), never a bug. */
function unreadable(dir: string, error: unknown): OwnopsError {
  const code = (error as NodeJS.ErrnoException).code
  if (code === 'EACCES' || code === 'EPERM') {
    return new OwnopsError(`cannot read the backup directory ${dir}: permission denied`, {
      kind: 'permission',
      hint: 'run as root, or give this user read access to backup.dir',
      cause: error,
    })
  }
  if (code === 'ENOTDIR') {
    return new OwnopsError(`${dir} is not a directory (backup.dir, or a file where a target's directory belongs)`, {
      kind: 'config',
      hint: 'point backup.dir at a directory of its own',
      cause: error,
    })
  }
  return new OwnopsError(`cannot read the backup directory ${dir}: ${(error as Error).message}`, { kind: 'failed', cause: error })
}

export async function readManifest(path: string): Promise<Manifest | undefined> {
  try {
    return parseManifest(JSON.parse(await readFile(path, 'utf8')))
  } catch {
    return undefined
  }
}

/** A manifest's content, if it is one ownops wrote (also for the copies of it off the box). */
export function parseManifest(value: unknown): Manifest | undefined {
  const m = value as Partial<Manifest> | null
  if (
    m === null ||
    typeof m !== 'object' ||
    m.manifestVersion !== MANIFEST_VERSION ||
    typeof m.file !== 'string' ||
    m.file.includes('/') ||
    typeof m.time !== 'string' ||
    Number.isNaN(Date.parse(m.time)) ||
    typeof m.size !== 'number' ||
    typeof m.sha256 !== 'string' ||
    typeof m.target !== 'string'
  ) {
    return undefined
  }
  return m as Manifest
}

/**
 * A warning when `newSize` is under `ratio` of the median size of the (up to) five backups
 * before the newest one: a dump that silently lost its data.
 */
export function sizeDropWarning(backups: BackupEntry[], newSize: number, ratio: number): string | undefined {
  const previous = backups
    .slice(1, 6)
    .map((b) => b.manifest.size)
    .sort((a, b) => a - b)
  if (previous.length === 0 || ratio <= 0) return undefined
  const mid = Math.floor(previous.length / 2)
  const median = previous.length % 2 === 1 ? (previous[mid] ?? 0) : ((previous[mid - 1] ?? 0) + (previous[mid] ?? 0)) / 2
  if (newSize >= median * ratio) return undefined
  return `the new backup is ${newSize} bytes, under ${Math.round(ratio * 100)}% of the median of the previous ${previous.length} (${Math.round(median)} bytes): check the source; old backups were not pruned this run`
}
