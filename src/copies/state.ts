/**
 * What ownops remembers about each destination between runs (`copies.json` in the state
 * directory): the last run and its error, the last success, and per target the backups the
 * destination holds. Monitor, the Prometheus textfile, `backups` and local retention read
 * it; none of them reaches out to a remote. Errors are stored redacted.
 */
import type { StateStore } from '../sys/state.js'

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
    return s !== null && typeof s === 'object' && s.version === 1 && typeof s.destinations === 'object' && s.destinations !== null
      ? s
      : undefined
  })
}

export async function writeCopiesState(store: StateStore, state: CopiesState): Promise<void> {
  await store.write(COPIES_STATE, state)
}

/** What the copy rules read of the config: the targets, and the destinations with their `targets:` filters. */
export interface CopiesConfig {
  backup: { targets: Record<string, unknown>; destinations: Record<string, { targets?: string[] | undefined }> }
}

/** The targets a destination takes: its `targets:` filter among the configured ones. */
export function destinationTargets(config: CopiesConfig, dest: { targets?: string[] | undefined }): string[] {
  const all = Object.keys(config.backup.targets)
  return dest.targets === undefined ? all : all.filter((t) => dest.targets?.includes(t))
}

/** The destinations that take a target. */
export function destinationsOf(config: CopiesConfig, target: string): string[] {
  return Object.entries(config.backup.destinations)
    .filter(([, d]) => destinationTargets(config, d).includes(target))
    .map(([name]) => name)
}

/** Which destinations hold a backup, by the state. */
export function holders(state: CopiesState, target: string, id: string): string[] {
  return Object.entries(state.destinations)
    .filter(([, d]) => d.targets[target]?.received.includes(id) === true)
    .map(([name]) => name)
}
