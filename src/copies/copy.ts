/**
 * One copy run to one destination: open it (a path destination checks its mount), list what
 * it holds, remove what interrupted uploads left, upload — newest first — the local backups
 * its retention wants and it lacks (each retried `retries` times), then apply its retention,
 * but only when every upload succeeded. A failure never touches the local backups; what is
 * missing is copied by the next run. The whole run is bounded by the destination's
 * `timeout`. The copy state is updated whatever happened.
 */
import type { Logger } from 'pino'
import { readCatalog } from '../backup/catalog.js'
import type { Config, DestinationConfig } from '../config/schema.js'
import { formatDurationSetting } from '../duration.js'
import { ExitCode, OwnopsError } from '../errors.js'
import type { StateStore } from '../sys/state.js'
import type { ProgressLine } from '../ui/progress.js'
import { openDestination } from './destinations/index.js'
import { planRemoteRetention, planUploads } from './layout.js'
import { destinationPolicy } from './holds.js'
import { destinationTargets, readCopiesState, writeCopiesState, type DestinationState } from './state.js'

export { destinationPolicy }
import type { Destination, DestinationEnv, RemoteCopy } from './types.js'

export interface CopyEnv {
  config: Config
  log: Logger
  signal: AbortSignal
  env: NodeJS.ProcessEnv
  host: string
  stateDir: string
  store: StateStore
  now: () => Date
  /** Registers a secret value with the redactor. */
  secret(value: string): void
  /** Masks secrets in a text before it is stored. */
  redact(text: string): string
  dryRun: boolean
  /** Waits between retries (tests pass one that does not). */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>
  /** The terminal's progress line: each upload's bytes. */
  progress?: ProgressLine
}

export interface TargetCopyReport {
  target: string
  /** Backups uploaded (or, in a dry run, that would be). */
  uploaded: Array<{ id: string; size: number; durationMs: number }>
  /** Copies removed by the destination's retention. */
  removed: string[]
  /** Copies the destination holds after the run. */
  holds: number
  error?: string
  hint?: string
}

export interface DestinationReport {
  destination: string
  type: string
  encryption?: string
  where?: string
  ok: boolean
  dryRun: boolean
  targets: TargetCopyReport[]
  unfinishedRemoved: number
  durationMs: number
  error?: string
  hint?: string
  /** Set when the failure is a missing tool (69) or a config problem (78). */
  exitCode?: number
}

const defaultSleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms)
    signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true })
  })

export function destinationEnv(name: string, env: CopyEnv, signal: AbortSignal): DestinationEnv {
  const config = env.config.backup.destinations[name] as DestinationConfig
  return {
    name,
    config,
    log: env.log.child({ destination: name }),
    signal,
    env: env.env,
    host: env.host,
    stateDir: env.stateDir,
    secret: env.secret,
  }
}

/** Copies the backups of `only` (default: every target the destination takes) to destination `name`. */
export async function copyToDestination(name: string, env: CopyEnv, only?: readonly string[]): Promise<DestinationReport> {
  const dest = env.config.backup.destinations[name] as DestinationConfig
  const t0 = performance.now()
  const report: DestinationReport = {
    destination: name,
    type: dest.type,
    ok: false,
    dryRun: env.dryRun,
    targets: [],
    unfinishedRemoved: 0,
    durationMs: 0,
  }
  const log = env.log.child({ destination: name })
  const timeoutMs = dest.timeout
  const deadline = new AbortController()
  const timer = setTimeout(
    () => deadline.abort(new OwnopsError(`copy to ${name} timed out after ${formatDurationSetting(dest.timeout)}`, { kind: 'failed' })),
    timeoutMs,
  )
  timer.unref()
  const signal = AbortSignal.any([env.signal, deadline.signal])
  const targets = destinationTargets(env.config, dest).filter((t) => only === undefined || only.includes(t))
  const state = await readCopiesState(env.store)
  const previous: DestinationState = state.destinations[name] ?? { targets: {} }
  const next: DestinationState = { ...previous, targets: { ...previous.targets } }
  try {
    const d = await openDestination(destinationEnv(name, env, signal))
    report.encryption = d.encryption
    report.where = d.where
    if (d.encryption === 'none')
      log.warn(`copies to ${name} are not encrypted (add age recipients, or use an rclone crypt remote or restic)`)
    const listing = await d.list(targets)
    if (!env.dryRun) {
      report.unfinishedRemoved = await d.removeUnfinished(listing.oddities)
      if (report.unfinishedRemoved > 0) log.info({ count: report.unfinishedRemoved }, 'removed what interrupted uploads left')
    }
    let failed = false
    for (const target of targets) {
      const t = await copyTarget(
        d,
        name,
        target,
        listing.copies.filter((c) => c.target === target),
        env,
        signal,
        log,
      )
      report.targets.push(t.report)
      if (t.report.error !== undefined) failed = true
      if (!env.dryRun) {
        const newest = t.holds[0]
        // What it received and removed by its own keep is remembered while the box still has it.
        const pruned = [...new Set([...(previous.targets[target]?.pruned ?? []), ...t.report.removed])].filter((id) => t.local.has(id))
        next.targets[target] = {
          received: t.holds.map((c) => c.id),
          ...(pruned.length > 0 ? { pruned } : {}),
          ...(newest ? { newest: { id: newest.id, time: newest.time.toISOString() } } : {}),
          ...(t.report.uploaded.length > 0
            ? { lastCopy: env.now().toISOString() }
            : previous.targets[target]?.lastCopy
              ? { lastCopy: previous.targets[target].lastCopy }
              : {}),
        }
      }
      if (signal.aborted) break
    }
    if (signal.aborted && !env.signal.aborted) throw deadline.signal.reason
    report.ok = !failed
    if (failed) {
      const first = report.targets.find((t) => t.error !== undefined)
      report.error = `${first?.target ?? ''}: ${first?.error ?? 'failed'}`
      report.hint = first?.hint ?? 'the local backups are kept; the next run copies what is missing'
    }
  } catch (error) {
    if (env.signal.aborted) {
      await recordRun(env, name, next, report, 'interrupted').catch(() => undefined)
      throw error
    }
    report.ok = false
    report.error = (error as Error).message
    if (error instanceof OwnopsError && error.hint) report.hint = error.hint
    if (error instanceof OwnopsError && (error.exitCode === ExitCode.unavailable || error.exitCode === ExitCode.config))
      report.exitCode = error.exitCode
    log.error(`copy to ${name} failed: ${report.error}`)
  } finally {
    clearTimeout(timer)
    report.durationMs = Math.round(performance.now() - t0)
  }
  // What the remote said may quote a URL or a key: it goes into notifications and state masked.
  if (report.error !== undefined) report.error = env.redact(report.error)
  for (const t of report.targets) if (t.error !== undefined) t.error = env.redact(t.error)
  if (!env.dryRun) await recordRun(env, name, next, report)
  return report
}

async function recordRun(
  env: CopyEnv,
  name: string,
  next: DestinationState,
  report: DestinationReport,
  interrupted?: string,
): Promise<void> {
  const state = await readCopiesState(env.store)
  const now = env.now().toISOString()
  const error = interrupted ?? report.error
  state.destinations[name] = {
    ...next,
    lastRun: now,
    lastOk: interrupted === undefined && report.ok,
    ...(interrupted === undefined && report.ok ? { lastSuccess: now } : {}),
    ...(error !== undefined ? { error: env.redact(error) } : {}),
  }
  if (error === undefined) delete state.destinations[name].error
  await writeCopiesState(env.store, state)
}

async function copyTarget(
  d: Destination,
  name: string,
  target: string,
  present: RemoteCopy[],
  env: CopyEnv,
  signal: AbortSignal,
  log: Logger,
): Promise<{ report: TargetCopyReport; holds: RemoteCopy[]; local: Set<string> }> {
  const report: TargetCopyReport = { target, uploaded: [], removed: [], holds: present.length }
  const dest = env.config.backup.destinations[name] as DestinationConfig
  const policy = destinationPolicy(env.config, dest, target)
  const catalog = await readCatalog(env.config.backup.dir, target)
  const local = new Set(catalog.backups.map((b) => b.manifest.id))
  const wanted = planUploads(catalog.backups, present, policy)
  const holds = [...present]
  if (env.dryRun) {
    report.uploaded = wanted.map((b) => ({ id: b.manifest.id, size: b.manifest.size, durationMs: 0 }))
    const after = planRemoteRetention([...present, ...wanted.map((b) => ({ id: b.manifest.id, time: b.time, tags: b.tags }))], policy)
    report.removed = after.remove.map((c) => c.id)
    return { report, holds, local }
  }
  const sleep = env.sleep ?? defaultSleep
  for (const entry of wanted) {
    const attempts = 1 + dest.retries
    for (let attempt = 1; ; attempt++) {
      const t0 = performance.now()
      try {
        log.info({ target, backup: entry.manifest.id, size: entry.manifest.size }, `copying ${entry.manifest.id} to ${name}`)
        const task = env.progress?.track(`copy ${entry.manifest.id} to ${name}`, { bytes: entry.manifest.size })
        const copy = await d.upload(entry, env.progress?.attach).finally(() => task?.end())
        holds.push(copy)
        report.uploaded.push({ id: copy.id, size: copy.size, durationMs: Math.round(performance.now() - t0) })
        break
      } catch (error) {
        if (signal.aborted) {
          report.error = env.signal.aborted ? 'interrupted' : ((signal.reason as Error)?.message ?? 'timed out')
          throw signal.reason
        }
        const message = (error as Error).message
        const retryable = !(
          error instanceof OwnopsError &&
          (error.exitCode === ExitCode.unavailable || error.exitCode === ExitCode.config || error.exitCode === ExitCode.usage)
        )
        if (attempt >= attempts || !retryable) {
          report.error = message
          if (error instanceof OwnopsError && error.hint) report.hint = error.hint
          log.error({ target, backup: entry.manifest.id }, `copy of ${entry.manifest.id} to ${name} failed: ${message}`)
          holds.sort((a, b) => b.time.getTime() - a.time.getTime())
          report.holds = holds.length
          return { report, holds, local }
        }
        const delay = 2000 * 2 ** (attempt - 1)
        log.warn(
          { target, backup: entry.manifest.id, attempt },
          `copy of ${entry.manifest.id} to ${name} failed: ${message}; retrying in ${delay / 1000}s`,
        )
        await sleep(delay, signal)
      }
    }
  }
  holds.sort((a, b) => b.time.getTime() - a.time.getTime())
  // Retention at the destination, only after every upload succeeded (never the newest copy).
  const plan = planRemoteRetention(holds, policy)
  if (plan.remove.length > 0) {
    await d.remove(plan.remove)
    for (const c of plan.remove) log.info({ target, backup: c.id }, `removed from ${name} by its retention`)
    report.removed = plan.remove.map((c) => c.id)
  }
  const removed = new Set(plan.remove)
  const after = holds.filter((c) => !removed.has(c))
  report.holds = after.length
  return { report, holds: after, local }
}

/** Destinations that copy after every successful backup (no schedule of their own). */
export function afterBackupDestinations(config: Config): string[] {
  return Object.entries(config.backup.destinations)
    .filter(([, d]) => d.schedule === undefined)
    .map(([name]) => name)
}
