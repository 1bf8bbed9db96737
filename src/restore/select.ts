/** Which backup a restore uses: an id, `latest`, or the newest at or before a time. Pure. */
import { OwnopsError } from '../errors.js'
import type { BackupEntry } from '../backup/catalog.js'

/** "2026-06-15 18:00" (host local time), "2026-06-15", or ISO 8601 with a zone. */
export function parseAt(text: string): Date {
  const trimmed = text.trim()
  const local = /^\d{4}-\d\d-\d\d( \d\d:\d\d(:\d\d)?)?$/.test(trimmed)
    ? `${trimmed.replace(' ', 'T')}${trimmed.length === 10 ? 'T23:59:59' : ''}`
    : trimmed
  const date = new Date(local)
  if (Number.isNaN(date.getTime())) {
    throw new OwnopsError(`--at: not a time: ${text}`, {
      kind: 'usage',
      hint: 'e.g. --at "2026-06-15 18:00" (local time) or --at 2026-06-15T18:00:00Z',
    })
  }
  return date
}

/** `backups` is newest first, as the catalog gives it. */
export function selectBackup(backups: readonly BackupEntry[], target: string, spec: string | undefined, at?: Date): BackupEntry {
  if (backups.length === 0) {
    throw new OwnopsError(`no valid backup of ${target}`, { kind: 'failed', hint: `ownops backups ${target} shows what is there` })
  }
  if (at !== undefined) {
    const found = backups.find((b) => b.time.getTime() <= at.getTime() && !b.tags.includes('pre-restore'))
    if (found === undefined) {
      const oldest = backups[backups.length - 1]
      throw new OwnopsError(`no backup of ${target} at or before ${at.toISOString()}`, {
        kind: 'failed',
        hint: `the oldest is ${oldest?.manifest.id ?? '?'} (${oldest?.manifest.time ?? '?'})`,
      })
    }
    return found
  }
  if (spec === undefined || spec === 'latest') {
    // A safety copy taken before a restore is chosen only by its id (or by --undo).
    return backups.find((b) => !b.tags.includes('pre-restore')) ?? (backups[0] as BackupEntry)
  }
  const found = backups.find((b) => b.manifest.id === spec || b.manifest.file === spec)
  if (found === undefined) {
    throw new OwnopsError(`no backup ${spec} of ${target}`, { kind: 'failed', hint: `ownops backups ${target} lists the ids` })
  }
  return found
}
