/** What every cleanup rule returns: the list of what it did (or, in a dry run, would do) and why. */
import type { Logger } from 'pino'
import type { Config } from '../config/schema.js'
import type { Docker } from '../sys/docker.js'
import type { StateStore } from '../sys/state.js'
import type { CleanupRuleType } from './schema.js'

export type ActionKind = 'remove' | 'compress' | 'drop-database' | 'delete-rows' | 'prune' | 'truncate'

export interface CleanupAction {
  action: ActionKind
  /** A path, a backup id, a container, a database. */
  what: string
  reason: string
  /** Bytes freed (or that would be freed); for compress: the original size minus the .gz size. */
  bytes: number
  /** compress: the file's size, and the size of its .gz (the table shows `size` and `→ compressedSize`). */
  size?: number
  compressedSize?: number
  rows?: number
  /** Set when the action was planned but not carried out, and why (changed since, in use). */
  skipped?: string
}

export interface RuleReport {
  rule: string
  type: CleanupRuleType
  ok: boolean
  actions: CleanupAction[]
  freed: number
  rows?: number
  /** docker: the bytes the engine says its prunes reclaimed. */
  engineReclaimed?: number
  /** backups: why each kept backup stays. */
  kept?: Array<{ target: string; id: string; reasons: string[] }>
  warnings: string[]
  error?: string
}

export interface RuleEnv {
  dryRun: boolean
  now: Date
  log: Logger
  signal: AbortSignal
  config: Config
  env: NodeJS.ProcessEnv
  docker(): Promise<Docker>
  state: StateStore
}

export function ruleReport(rule: string, type: CleanupRuleType): RuleReport {
  return { rule, type, ok: true, actions: [], freed: 0, warnings: [] }
}

/** Adds an action and its bytes to the report (skipped ones free nothing). */
export function record(report: RuleReport, action: CleanupAction): void {
  report.actions.push(action)
  if (action.skipped === undefined) report.freed += action.bytes
}
