/** What the schedule commands report (--json) and render. */
import type { Backend } from './warnings.js'

export interface GenerateReport {
  backend: Backend
  files: Array<{ name: string; content: string }>
  out?: string
  changes?: Array<{ action: string; name: string }>
  warnings: string[]
}

export interface InstallReport {
  backend: Backend
  dir: string
  dryRun: boolean
  changes: Array<{ action: string; name: string }>
  createdDirs: string[]
  commands: Array<{ command: string; ok: boolean; output?: string }>
  notes: string[]
  warnings: string[]
  diff?: string
}

export interface ListedJob {
  name: string
  command: string
  schedule: string
  timezone: string | null
  nextRuns: string[]
  dstWarning?: string
  installed: Backend[]
  systemd: {
    timer: string
    active: string
    enabled: string
    lastTrigger: string | null
    lastResult: string | null
    nextElapse: string | null
  } | null
}

export interface ListReport {
  jobs: ListedJob[]
  /** Generated units or cron entries of jobs that are no longer configured. */
  stale: string[]
  systemd: 'live' | 'not running'
}
