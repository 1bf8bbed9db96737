/**
 * What copies off the box add to scheduling and monitoring. Pure: config in.
 * - a destination with a `schedule:` is a job `copy-<name>` (ownops-copy-<name>.timer) that
 *   runs `copy --to <name>`;
 * - jobs that copy may write the local destinations (path, a local rclone path, a local
 *   restic repository) and the directory of rclone.conf (rclone saves refreshed OAuth tokens
 *   there); the backup directory, the state directory (restic's cache) and the network they
 *   already have;
 * - monitor's maxAge of a destination: its own, or the longest gap of its schedule plus 2h,
 *   or 26h when it copies after every backup.
 */
import { dirname, isAbsolute, posix } from 'node:path'
import type { Config, DestinationConfig } from '../config/schema.js'
import { nextRuns } from '../schedule/cron.js'
import { destinationTargets } from './state.js'

export interface CopyJob {
  name: string
  command: string[]
  schedule: string
  /** Milliseconds. */
  timeout: number
  description: string
  scheduleKey: string[]
}

/** The scheduled copy jobs. Their unit timeout leaves ownops time to stop the tools itself first. */
export function copyJobs(config: Pick<Config, 'backup'>): CopyJob[] {
  return Object.entries(config.backup.destinations)
    .filter(([, d]) => d.schedule !== undefined)
    .map(([name, d]) => ({
      name: `copy-${name}`,
      command: ['copy', '--to', name],
      schedule: d.schedule as string,
      timeout: d.timeout + 600_000,
      description: `copy backups to ${name} (${d.type})`,
      scheduleKey: ['backup', 'destinations', name, 'schedule'],
    }))
}

/**
 * Local paths a job writes when it copies: for `copy --to NAME` that destination's, for
 * `copy` every destination's, for `backup` those of the destinations without a schedule
 * (copied after every backup); none for other commands. With the reason and config key.
 */
export function copyNeeds(
  config: Pick<Config, 'backup' | 'schedule'>,
  args: readonly string[],
): Array<{ path: string; why: string; key: Array<string | number> }> {
  const all = Object.entries(config.backup.destinations)
  const to = args[0] === 'copy' ? args[args.indexOf('--to') + 1] : undefined
  const chosen =
    args[0] === 'copy'
      ? args.includes('--to')
        ? all.filter(([name]) => name === to)
        : all
      : args[0] === 'backup'
        ? all.filter(([, d]) => d.schedule === undefined)
        : []
  const needs: Array<{ path: string; why: string; key: Array<string | number> }> = []
  for (const [name, d] of chosen) {
    const key = ['backup', 'destinations', name]
    if (d.type === 'path' && isAbsolute(d.path))
      needs.push({ path: posix.normalize(d.path), why: `destination ${name}`, key: [...key, 'path'] })
    if (d.type === 'rclone') {
      if (isAbsolute(d.remote))
        needs.push({ path: posix.normalize(d.remote), why: `destination ${name} (a local path)`, key: [...key, 'remote'] })
      if (d.config !== undefined && isAbsolute(d.config))
        needs.push({
          path: dirname(posix.normalize(d.config)),
          why: `destination ${name} (rclone saves refreshed tokens in its config)`,
          key: [...key, 'config'],
        })
      else if (d.config === undefined && config.schedule.user === 'root')
        needs.push({ path: '/root/.config/rclone', why: `destination ${name} (rclone saves refreshed tokens in its config)`, key })
    }
    if (d.type === 'restic' && isAbsolute(d.repository))
      needs.push({ path: posix.normalize(d.repository), why: `destination ${name} (a local repository)`, key: [...key, 'repository'] })
  }
  if (args[0] === 'copy' && config.backup.prometheus !== undefined && chosen.length > 0)
    needs.push({ path: dirname(config.backup.prometheus), why: 'ownops_copy.prom beside backup.prometheus', key: ['backup', 'prometheus'] })
  return needs
}

/** The paths of copyNeeds. */
export function copyWritePaths(config: Pick<Config, 'backup' | 'schedule'>, args: readonly string[]): string[] {
  return [...new Set(copyNeeds(config, args).map((n) => n.path))].sort()
}

/** How old the newest copy at a destination may be before monitor says critical. */
export function destinationMaxAgeMs(dest: DestinationConfig, now: Date): number {
  if (dest.maxAge !== undefined) return dest.maxAge
  if (dest.schedule === undefined) return 26 * 3_600_000
  try {
    const runs = nextRuns(dest.schedule, 12, { from: now })
    let gap = 0
    for (let i = 1; i < runs.length; i++) gap = Math.max(gap, (runs[i] as Date).getTime() - (runs[i - 1] as Date).getTime())
    return gap + 2 * 3_600_000
  } catch {
    return 26 * 3_600_000
  }
}

export interface WatchedDestination {
  name: string
  targets: string[]
  maxAgeMs: number
}

/** The destinations monitor's backup check watches. */
export function watchedDestinations(config: Pick<Config, 'backup'>, now: Date): WatchedDestination[] {
  return Object.entries(config.backup.destinations).map(([name, d]) => ({
    name,
    targets: destinationTargets(config, d),
    maxAgeMs: destinationMaxAgeMs(d, now),
  }))
}
