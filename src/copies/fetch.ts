/**
 * Fetching a copy back for a restore: the copy is chosen (latest, an id, or the newest at or
 * before a time), downloaded into a private staging catalog `<backup.dir>/.fetched/<dest>/`
 * (decrypted, its sha256 checked against the manifest), and from there restored by the same
 * path as a local backup.
 */
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { OwnopsError } from '../errors.js'
import type { Destination, RemoteCopy } from './types.js'

/** `copies` newest first. */
export function selectCopy(copies: readonly RemoteCopy[], target: string, dest: string, spec: string | undefined, at?: Date): RemoteCopy {
  const mine = copies.filter((c) => c.target === target)
  if (mine.length === 0)
    throw new OwnopsError(`${dest} holds no copy of ${target}`, {
      kind: 'failed',
      hint: `ownops backups --from ${dest} shows what it holds`,
    })
  if (at !== undefined) {
    const found = mine.find((c) => c.time.getTime() <= at.getTime() && !c.tags.includes('pre-restore'))
    if (found === undefined)
      throw new OwnopsError(`${dest} holds no copy of ${target} at or before ${at.toISOString()}`, {
        kind: 'failed',
        hint: `the oldest is ${mine[mine.length - 1]?.id ?? '?'}`,
      })
    return found
  }
  if (spec === undefined || spec === 'latest') return mine.find((c) => !c.tags.includes('pre-restore')) ?? (mine[0] as RemoteCopy)
  const found = mine.find((c) => c.id === spec || c.manifest?.file === spec)
  if (found === undefined)
    throw new OwnopsError(`${dest} holds no copy ${spec} of ${target}`, {
      kind: 'failed',
      hint: `ownops backups ${target} --from ${dest} lists the ids`,
    })
  return found
}

export function stagingDir(backupDir: string, dest: string): string {
  return join(backupDir, '.fetched', dest)
}

/** Downloads and checks one copy into the staging catalog; returns the catalog's directory. */
export async function fetchCopy(
  d: Destination,
  copy: RemoteCopy,
  backupDir: string,
  dest: string,
  identities: readonly string[],
): Promise<string> {
  const root = stagingDir(backupDir, dest)
  const dir = join(root, copy.target)
  // What an earlier fetch left there is not trusted: start clean.
  await rm(dir, { recursive: true, force: true })
  await d.fetch(copy, dir, identities)
  return root
}
