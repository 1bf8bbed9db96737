/**
 * Finding what restores and drills leave beside the live data: `<live>.pre-restore-<stamp>`
 * (the replaced data), `…undone-…`, and the staging copies of interrupted runs
 * (`<live>.ownops-restore-<stamp>`, `.<name>.ownops-restore-<stamp>`, `…failed-restore-…`).
 */
import { lstat, readdir, rm } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { scanTree } from '../sys/beneath.js'
import type { Leftover } from './types.js'

export const STAMP = '(\\d{8}T\\d{6}Z)'

/** `20261124T030000Z` → a Date (also lower-cased, as PostgreSQL names keep it). */
export function parseStamp(stamp: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})t(\d{2})(\d{2})(\d{2})z$/i.exec(stamp)
  if (!m) return undefined
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number]
  return new Date(Date.UTC(y, mo - 1, d, h, mi, s))
}

export function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

async function bytesOf(path: string): Promise<number> {
  const stats = await lstat(path).catch(() => undefined)
  if (stats === undefined) return 0
  if (!stats.isDirectory()) return stats.size
  return (await scanTree(path, stats)).bytes
}

/** Copies of `live` (a file or directory) that restores left beside it. */
export async function fileLeftovers(live: string, suffixes: readonly string[] = ['']): Promise<Leftover[]> {
  const dir = dirname(live)
  const base = basename(live)
  const pattern = new RegExp(
    `^(\\.?)${escapeRegex(base)}\\.(pre-restore|undone|ownops-restore|failed-restore)-${STAMP}(${suffixes.map(escapeRegex).join('|')})$`,
  )
  let names: string[]
  try {
    names = await readdir(dir)
  } catch {
    return []
  }
  const found: Leftover[] = []
  for (const name of names.sort()) {
    const m = pattern.exec(name)
    const time = m ? parseStamp(m[3] ?? '') : undefined
    if (!m || time === undefined) continue
    // The kept copy never has a leading dot; a staging copy may.
    if (m[1] === '.' && (m[2] === 'pre-restore' || m[2] === 'undone')) continue
    const path = join(dir, name)
    const stats = await lstat(path).catch(() => undefined)
    if (stats === undefined) continue
    const staging = m[2] === 'ownops-restore' || m[2] === 'failed-restore'
    found.push({
      what: stats.isDirectory() ? `${path}/` : path,
      kind: staging ? 'staging' : 'kept',
      time,
      bytes: await bytesOf(path),
      remove: () => rm(path, { recursive: true, force: true }),
    })
  }
  return found
}

/** Entries of `dir` named `<prefix><stamp><rest>`: drill copies and temporary files. */
export async function stampedLeftovers(dir: string, prefix: string, rest = '.*'): Promise<Leftover[]> {
  const pattern = new RegExp(`^${escapeRegex(prefix)}${STAMP}${rest}$`)
  const names = await readdir(dir).catch(() => [] as string[])
  const found: Leftover[] = []
  for (const name of names.sort()) {
    const m = pattern.exec(name)
    const time = m ? parseStamp(m[1] ?? '') : undefined
    if (time === undefined) continue
    const path = join(dir, name)
    const stats = await lstat(path).catch(() => undefined)
    if (stats === undefined) continue
    found.push({
      what: stats.isDirectory() ? `${path}/` : path,
      kind: 'staging',
      time,
      bytes: await bytesOf(path),
      remove: () => rm(path, { recursive: true, force: true }),
    })
  }
  return found
}
