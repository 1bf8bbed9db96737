/**
 * What local retention holds back for the copies off the box, and what `ownops backups`
 * says about each backup's copies: the newest backup a destination never received and its
 * own retention wants is kept on the box until it is copied.
 */
import type { BackupEntry } from '../backup/catalog.js'
import type { Config, DestinationConfig } from '../config/schema.js'
import { planUploads } from './layout.js'
import { destinationsOf, holders, type CopiesState } from './state.js'

/**
 * Local backups retention must keep because a destination has not received them yet: per
 * destination, the newest backup (not a pre-restore safety copy) it never received — not
 * one its own retention removed — and that its retention wants, as the next copy run would
 * upload it. `backups` is newest first, as the catalog gives it.
 */
export function copyHolds(
  config: Pick<Config, 'backup'>,
  target: string,
  backups: readonly BackupEntry[],
  state: CopiesState,
): Map<BackupEntry, string[]> {
  const holds = new Map<BackupEntry, string[]>()
  const local = new Map(backups.map((b) => [b.manifest.id, b]))
  for (const dest of destinationsOf(config, target)) {
    const known = state.destinations[dest]?.targets[target]
    const received = known?.received ?? []
    const pruned = new Set(known?.pruned ?? [])
    const remote = received.flatMap((id) => {
      const time = local.get(id)?.time ?? timeOfId(id)
      return time !== undefined ? [{ id, time, tags: [] as string[] }] : []
    })
    const policy = destinationPolicy(config, config.backup.destinations[dest] as DestinationConfig, target)
    const pending = planUploads(
      backups.filter((b) => !pruned.has(b.manifest.id)),
      remote,
      policy,
    )[0]
    if (pending === undefined) continue
    holds.set(pending, [...(holds.get(pending) ?? []), dest])
  }
  return holds
}

/** The retention a destination applies to a target's copies: its own keep, else the target's, else backup.keep. */
export function destinationPolicy(config: Pick<Config, 'backup'>, dest: DestinationConfig, target: string) {
  return dest.keep ?? config.backup.targets[target]?.keep ?? config.backup.keep
}

/** The time in a backup id (`<target>-20261124T030000Z`). */
function timeOfId(id: string): Date | undefined {
  const m = /-(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(id)
  return m ? new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]))) : undefined
}

/** Per backup id, what `ownops backups` says about its copies: where it is, or which destination still lacks it. */
export function copyNotes(
  config: Pick<Config, 'backup'>,
  target: string,
  backups: readonly BackupEntry[],
  state: CopiesState,
): Map<string, string> {
  const notes = new Map<string, string>()
  const holds = copyHolds(config, target, backups, state)
  for (const b of backups) {
    const at = holders(state, target, b.manifest.id)
    const pending = holds.get(b)
    const parts = [
      ...(at.length > 0 ? [`at ${at.join(', ')}`] : []),
      ...(pending ? [`not yet at ${pending.join(', ')} (kept until copied)`] : []),
    ]
    if (parts.length > 0) notes.set(b.manifest.id, parts.join('; '))
  }
  return notes
}
