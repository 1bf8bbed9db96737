/**
 * Quiet periods, decided purely from data: a `--pause`, configured maintenance windows
 * (cron start + duration), and what the holder of the host lock says it stops.
 */
import { formatDurationSetting } from '../duration.js'
import { previousRun } from '../schedule/cron.js'
import type { MaintenanceWindow } from './schema.js'

export interface Quiet {
  /** Why, for people: "paused until 04:30", "maintenance window 0 4 * * *", "ownops backup db stops it". */
  reason: string
  /** Names it applies to (check names or container names); undefined for every check. */
  names?: readonly string[]
}

/**
 * The start of the window occurrence that covers `now`, if one does: the last run of its
 * cron expression — read as ownops' schedules read cron (src/schedule/cron.ts) — less than
 * `duration` ago. Throws (CronError) for a bad expression or time zone.
 */
export function activeWindowStart(
  window: Pick<MaintenanceWindow, 'cron' | 'duration' | 'timezone'>,
  now: Date,
  defaultTimezone?: string,
): Date | undefined {
  const durationMs = window.duration
  const start = previousRun(window.cron, { at: now, timeZone: window.timezone ?? defaultTimezone })
  return start !== undefined && now.getTime() < start.getTime() + durationMs ? start : undefined
}

export interface QuietInputs {
  now: Date
  windows: readonly MaintenanceWindow[]
  pause?: { until: string; checks?: string[] | undefined } | undefined
  /** The current holder of the host lock, if any. */
  lockHolder?: { command: string; stops: readonly string[]; pid: number } | undefined
  timezone?: string
}

/** Every quiet period in force now. */
export function quietPeriods(inputs: QuietInputs): Quiet[] {
  const quiet: Quiet[] = []
  if (inputs.pause !== undefined && inputs.now.getTime() < Date.parse(inputs.pause.until)) {
    quiet.push({
      reason: `paused until ${inputs.pause.until}`,
      ...(inputs.pause.checks && inputs.pause.checks.length > 0 ? { names: inputs.pause.checks } : {}),
    })
  }
  for (const window of inputs.windows) {
    const start = activeWindowStart(window, inputs.now, inputs.timezone)
    if (start === undefined) continue
    quiet.push({
      reason: `maintenance window "${window.cron}" for ${formatDurationSetting(window.duration)} since ${start.toISOString()}`,
      ...(window.checks ? { names: window.checks } : {}),
    })
  }
  if (inputs.lockHolder !== undefined && inputs.lockHolder.stops.length > 0) {
    quiet.push({ reason: `ownops ${inputs.lockHolder.command} (pid ${inputs.lockHolder.pid}) stops it`, names: inputs.lockHolder.stops })
  }
  return quiet
}

/** The first quiet period that covers a row answering to `names`, if any. */
export function quietFor(periods: readonly Quiet[], names: readonly string[]): Quiet | undefined {
  return periods.find((q) => q.names === undefined || q.names.some((n) => names.includes(n)))
}
