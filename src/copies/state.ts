/**
 * What ownops remembers about each destination between runs (`copies.json` in the state
 * directory): the last run and its error, the last success, and per target the backups the
 * destination holds. Monitor, the Prometheus textfile, `backups` and local retention read
 * it; none of them reaches out to a remote. Errors are stored redacted.
 */
import type { BackupEntry } from '../backup/catalog.js'
import type { Config, DestinationConfig } from '../config/schema.js'
import type { StateStore } from '../sys/state.js'
import { planUploads } from './layout.js'

export const COPIES_STATE = 'copies'

export interface TargetCopyState {
  /** Backup ids the destination held after the last run. */
  received: string[]
  /**
   * Backup ids the destination received and its own retention removed since (those still on
   * the box): local retention does not hold them as "not yet copied".
   */
  pruned?: string[]
  /** The newest of them. */
  newest?: { id: string; time: string }
  /** When a backup of this target was last copied there. */
  lastCopy?: string
}

export interface DestinationState {
  lastRun?: string
  lastOk?: boolean
  lastSuccess?: string
  error?: string
  targets: Record<string, TargetCopyState>
}

export interface CopiesState {
  version: 1
  destinations: Record<string, DestinationState>
}

export function emptyCopiesState(): CopiesState {
  return { version: 1, destinations: {} }
}

export async function readCopiesState(store: StateStore): Promise<CopiesState> {
  return store.read<CopiesState>(COPIES_STATE, emptyCopiesState(), (v) => {
    const s = v as CopiesState
    return s !== null && typeof s === 'object' && s.version === 1 && typeof s.destinations === 'object' && s.destinations !== null ? s : undefined
  })
}

export async function writeCopiesState(store: StateStore, state: CopiesState): Promise<void> {
  await store.write(COPIES_STATE, state)
}

/** The targets a destination takes: its `targets:` filter among the configured ones. */
export function destinationTargets(config: Pick<Config, 'backup'>, dest: DestinationConfig): string[] {
  const all = Object.keys(config.backup.targets)
  return dest.targets === undefined ? all : all.filter((t) => dest.targets?.includes(t))
}

/** The destinations that take a target. */
export function destinationsOf(config: Pick<Config, 'backup'>, target: string): string[] {
  return Object.entries(config.backup.destinations)
    .filter(([, d]) => destinationTargets(config, d).includes(target))
    .map(([name]) => name)
}

/**
 * Local backups retention must keep because a destination has not received them yet: per
 * destination, the newest backup (not a pre-restore safety copy) it never received — not
 * one its own retention removed — and that its retention wants, as the next copy run would
 * upload it. `backups` is newest first, as the catalog gives it.
 */
export function copyHolds(config: Pick<Config, 'backup'>, target: string, backups: readonly BackupEntry[], state: CopiesState): Map<BackupEntry, string[]> {
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
    const pending = planUploads(backups.filter((b) => !pruned.has(b.manifest.id)), remote, policy)[0]
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

/** Which destinations hold a backup, by the state. */
export function holders(state: CopiesState, target: string, id: string): string[] {
  return Object.entries(state.destinations)
    .filter(([, d]) => d.targets[target]?.received.includes(id) === true)
    .map(([name]) => name)
}

/** Per backup id, what `ownops backups` says about its copies: where it is, or which destination still lacks it. */
export function copyNotes(config: Pick<Config, 'backup'>, target: string, backups: readonly BackupEntry[], state: CopiesState): Map<string, string> {
  const notes = new Map<string, string>()
  const holds = copyHolds(config, target, backups, state)
  for (const b of backups) {
    const at = holders(state, target, b.manifest.id)
    const pending = holds.get(b)
    const parts = [...(at.length > 0 ? [`at ${at.join(', ')}`] : []), ...(pending ? [`not yet at ${pending.join(', ')} (kept until copied)`] : [])]
    if (parts.length > 0) notes.set(b.manifest.id, parts.join('; '))
  }
  return notes
}
