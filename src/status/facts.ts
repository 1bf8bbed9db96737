/** What `ownops status` reads of this machine, as plain data: gather.ts collects it, assess.ts judges it. */
import type { Manifest } from '../backup/artifact.js'
import type { JobRecord } from '../context.js'
import type { CopiesState } from '../copies/state.js'
import type { WatchedDestination } from '../copies/units.js'
import type { MonitorState } from '../monitor/state.js'
import type { DrillRecord, VerifiedState } from '../restore/verify.js'
import type { Backend } from '../schedule/warnings.js'
import type { LockInfo } from '../sys/lock.js'

export interface TargetFacts {
  name: string
  type: string
  /** The newest valid backup that is not a pre-restore safety copy nor dated in the future. */
  newest?: Pick<Manifest, 'id' | 'time' | 'size' | 'warnings'>
  /** Valid backups, safety copies included. */
  count: number
  /** Partial files of runs that were killed. */
  leftovers: number
  /** Backups dated in the future (the clock was wrong). */
  ahead: number
  /** The backup directory could not be read. */
  problem?: string
}

export interface JobFacts {
  name: string
  /** ownops arguments: ["backup", "--unscheduled"]. */
  args: string[]
  /** Cron expression from the config, and its zone (undefined: the host's). */
  schedule: string
  timeZone: string | undefined
  randomDelaySec: number | undefined
  /** Where it is installed. */
  installed: Backend[]
  /** Its next run, and where that came from. */
  next?: Date
  nextFrom?: 'systemctl' | 'timer unit' | 'cron.d' | 'crontab' | 'config'
  /** Runs at boot (@reboot), no calendar. */
  atBoot: boolean
  /** Its last run's record. */
  last?: JobRecord
}

export interface PendingRestart {
  service: string
  when: string
  phase: string
  pid: number
  reason?: string
  detached?: { unit: string }
}

export interface StatusFacts {
  now: Date
  /** The config file, or undefined on the built-in defaults. */
  configFile: string | undefined
  hostZone: string
  backupDir: string
  stateDir: string
  lockDir: string
  targets: TargetFacts[]
  destinations: WatchedDestination[]
  copies: CopiesState
  verified: VerifiedState
  drills: Record<string, DrillRecord>
  /** kind: drill checks of the config: the targets they watch (undefined: all) and their maxAge. */
  drillChecks: Array<{ targets: string[] | undefined; maxAgeMs: number }>
  monitor: MonitorState | undefined
  restarts: PendingRestart[]
  jobs: JobFacts[]
  /** Whether systemd runs this machine (next runs from systemctl), or the files were read. */
  systemd: boolean
  /** --root: the files were read under this directory. */
  root: string | undefined
  lock: { holder?: LockInfo; abandoned?: LockInfo; problem?: string }
  /** State files that could not be read (corrupt, permission). */
  problems: string[]
}
