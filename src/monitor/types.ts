/**
 * The monitor's vocabulary: what a check observes, and what a check kind is.
 * A check kind (checks/<kind>.ts) turns its config into observations; cycle.ts runs
 * them with timeouts, state.ts turns observations into alert transitions.
 */
import type { Logger } from 'pino'
import type { Docker } from '../sys/docker.js'

/** What a check saw. `unknown`: it could not look (its dependency is down); not a failure of its own. */
export type Status = 'ok' | 'warning' | 'critical' | 'unknown'
export type FailureLevel = 'warning' | 'critical'

/** A row of the table: what a check observed, or that it is in a quiet period. */
export type RowStatus = Status | 'maintenance'

/** A check row's last result, as the textfile keeps it between runs. */
export interface MetricRow {
  id: string
  check: string
  kind: string
  subject?: string
  status: RowStatus
  observed?: Status
  alerting: boolean
  metrics?: Record<string, number>
  /** When the row was checked (ISO). */
  at: string
}

export const statusOrder: Record<Status, number> = { ok: 0, unknown: 1, warning: 2, critical: 3 }

/** A container a check looked at: what recovery acts on. */
export interface ContainerRef {
  id: string
  name: string
  /** Docker's state: running, exited, restarting, paused, created, dead. */
  state: string
  /** For a container that is not running: who stopped it, as far as the engine can tell. */
  stoppedBy?: 'admin' | 'crash' | 'unknown'
}

/** One row of the result: a check, or one subject of a check (a filesystem, a container). */
export interface Observation {
  /** The check's name in the config (or a built-in name). */
  check: string
  kind: string
  /** The filesystem, container, … this row is about, when a check has several. */
  subject?: string
  /** Key of the alert state: `check` or `check:subject`. */
  id: string
  status: Status
  /** The measured value, for people: "91% used (2.1 GiB free)". */
  value: string
  /** The limits, for people: "warn 80%, crit 90%". */
  threshold?: string
  /** One line saying what is wrong (or right); used in alerts. */
  message: string
  /** Numbers for the Prometheus textfile, e.g. { used_percent: 91.2 }. */
  metrics?: Record<string, number>
  /** Other names this row answers to (container names), for quiet periods and dependencies. */
  names?: string[]
  container?: ContainerRef
  /** Small per-row memory kept in the state file for the next run (e.g. a restart count). */
  memo?: Record<string, unknown>
  /** Set when the row stands for a dependency's failure (the Docker engine is down). */
  cause?: string
}

/** What a check kind gets to do its work. */
export interface CheckContext {
  /** The check's name in the config. */
  name: string
  signal: AbortSignal
  now: Date
  timeoutMs: number
  log: Logger
  env: NodeJS.ProcessEnv
  /** A Docker client whose engine answered this run (only for kinds with usesDocker). */
  docker: () => Promise<Docker>
  /** The memo an observation with this id left in the previous run. */
  memo: (id: string) => Record<string, unknown> | undefined
  /** Where backups and state live, for the backup and drill checks. */
  paths: MonitorPaths
}

export interface MonitorPaths {
  backupDir: string
  /** Configured backup target names. */
  backupTargets: string[]
  stateDir: string
  /** Destinations off the box: their targets and how old their newest copy may be. */
  destinations?: Array<{ name: string; targets: string[]; maxAgeMs: number }>
}

/** Partial rows a kind returns; the cycle fills in check, kind and id. */
export type Finding = Omit<Observation, 'check' | 'kind' | 'id'>

export interface CheckKind<Spec> {
  /** Whether the check talks to the Docker engine (it is skipped, rolled up, when the engine is down). */
  readonly usesDocker: boolean
  /** Whether a check with this kind may carry `recover:`. */
  readonly recoverable: boolean
  run(spec: Spec, ctx: CheckContext): Promise<Finding[]>
}
