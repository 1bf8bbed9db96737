/**
 * The restore sequence, for one target or several (`--all`): verify first, show one plan,
 * take a safety copy, restore into a staging place while the service runs, stop what uses
 * the data (the containers that mount it, those in `stop:` / `restore.stop:` or labelled
 * for it), swap by renames, start again and wait until healthy — rolling back to the kept
 * old data when anything after the swap fails, and on SIGINT/SIGTERM. `--to` restores side
 * by side without touching the live service; `--undo` swaps the kept old data back.
 *
 * Every state it can end in is one of: the old data in place, or the restored data in
 * place with an undo record. The swap and a rollback are shielded: a second signal does
 * not cut them. A refused or failed restore is always notified.
 */
import { rm } from 'node:fs/promises'
import { hostname } from 'node:os'
import { dirname, join } from 'node:path'
import type { Logger } from 'pino'
import type { CommandResult } from '../command.js'
import type { Ctx } from '../context.js'
import type { BackupTarget, Config } from '../config/schema.js'
import { readCatalog, type BackupEntry } from '../backup/catalog.js'
import { timestampId } from '../backup/artifact.js'
import { backupTarget, startContainers, type RunEnv } from '../backup/run.js'
import { formatDuration } from '../duration.js'
import { ExitCode, isOwnopsError, OwnopsError } from '../errors.js'
import { formatBytes } from '../text.js'
import { stopContainer, stopGraceSec } from '../sys/docker-exec.js'
import { StoppedContainers } from '../sys/stopped-containers.js'
import { faultPoint } from '../sys/fault.js'
import { waitContainersHealthy } from '../sys/health.js'
import { isDatabase, pluginFor } from '../targets/index.js'
import {
  DumpFailure,
  type DataUsers,
  type RestoreEnv,
  type RestorePlace,
  type Restorer,
  type Staged,
  type Swapped,
} from '../targets/types.js'
import { restoreEnv } from './env.js'
import { parseAt, selectBackup } from './select.js'
import { parseUndoRecord, readUndoRecord, type UndoRecord } from './undo-record.js'
import { recordVerified, verifyChecksum } from './verify.js'

export interface RestoreOptions {
  /** Target names; empty with `all` for every target. */
  targets: string[]
  all: boolean
  backup?: string | undefined
  at?: string | undefined
  to?: string | undefined
  dryRun: boolean
  yes: boolean
  undo: boolean
  safetyCopy: boolean
  rollback: boolean
  /** false: refuse, naming them, when containers or processes use the data, instead of stopping them. */
  stop: boolean
  allowOutsideLinks: boolean
  /** Read the backups from this catalog instead of backup.dir (copies fetched from a destination off the box). */
  backupDir?: string | undefined
}

/** Asks a yes/no question on the terminal (the command module supplies it). */
export type Confirm = (question: string) => Promise<boolean>

const STOP_LABELS = ['ownops.stop-during-backup', 'ownops.stop-during-restore']

interface TargetPlan {
  name: string
  target: BackupTarget
  restorer: Restorer
  env: RestoreEnv
  log: Logger
  entry: BackupEntry
  /** Newer backups passed over because they failed verification. */
  skipped: string[]
  place: RestorePlace
  users: DataUsers
  /** Running containers stopped for the swap, in order. */
  stops: string[]
  lines: string[]
  report: Record<string, unknown>
}

function runEnv(ctx: Ctx, config: Config): RunEnv {
  return {
    config,
    log: ctx.log,
    signal: ctx.signal,
    env: ctx.env,
    host: config.hostname ?? hostname(),
    now: ctx.clock,
    docker: () => ctx.docker(),
    ...(ctx.progress ? { progress: ctx.progress } : {}),
  }
}

/** Databases first, then the directories and services that use them; config order within each. */
export function restoreOrder(config: Config, names: string[]): string[] {
  const all = Object.keys(config.backup.targets).filter((n) => names.length === 0 || names.includes(n))
  const db = all.filter((n) => isDatabase(config.backup.targets[n] as BackupTarget))
  return [...db, ...all.filter((n) => !db.includes(n))]
}

/** Running containers to stop: the configured lists, the labelled ones, and those found using the data. */
async function containersToStop(ctx: Ctx, name: string, target: BackupTarget, users: DataUsers, keepRunning: string[]): Promise<string[]> {
  const wanted = [...(target.stop ?? []), ...(target.restore?.stop ?? [])]
  const docker = await ctx.docker().catch(() => undefined)
  if (docker === undefined) {
    if (wanted.length > 0 || users.containers.length > 0) await ctx.docker() // says why the engine cannot be reached
    return []
  }
  for (const label of STOP_LABELS) {
    const list = await docker.listContainers({ all: true, filters: { label: [`${label}=${name}`] } })
    for (const c of list) wanted.push((c.Names[0] ?? c.Id).replace(/^\//, ''))
  }
  wanted.push(...users.containers)
  const running: string[] = []
  for (const c of wanted) {
    if (running.includes(c) || keepRunning.includes(c)) continue
    const info = await docker
      .getContainer(c)
      .inspect()
      .catch(() => undefined)
    if (info?.State.Running) running.push(info.Name.replace(/^\//, ''))
  }
  return [...new Set(running)]
}

/** The newest backup that passes verification (size, sha256), or the one asked for. */
async function chooseBackup(
  ctx: Ctx,
  name: string,
  backups: BackupEntry[],
  opts: RestoreOptions,
  restorer: Restorer,
): Promise<{ entry: BackupEntry; skipped: string[] }> {
  const explicit = opts.backup !== undefined && opts.backup !== 'latest'
  const first = selectBackup(backups, name, opts.backup, opts.at !== undefined ? parseAt(opts.at) : undefined)
  const candidates = explicit
    ? [first]
    : [first, ...backups.filter((b) => b.time.getTime() < first.time.getTime() && !b.tags.includes('pre-restore'))]
  const skipped: string[] = []
  for (const entry of candidates) {
    const task = ctx.progress?.track(`verify ${entry.manifest.id}`, { bytes: entry.manifest.size })
    const checked = await (
      restorer.verify !== undefined ? restorer.verify(entry) : verifyChecksum(entry, ctx.signal, ctx.progress?.attach)
    ).finally(() => task?.end())
    if (checked.ok) {
      await recordVerified(ctx, [entry], 'sha256')
      return { entry, skipped }
    }
    ctx.log.warn({ target: name, backup: entry.manifest.id }, `backup ${entry.manifest.id} fails verification: ${checked.problem ?? ''}`)
    skipped.push(`${entry.manifest.id}: ${checked.problem ?? 'damaged'}`)
    if (explicit) {
      throw new OwnopsError(`refusing to restore ${entry.manifest.id}: ${checked.problem ?? 'damaged'}`, {
        kind: 'failed',
        hint: `nothing was changed; pick another backup (ownops backups ${name})`,
      })
    }
  }
  throw new OwnopsError(`refusing to restore ${name}: no backup passes verification (${skipped.join('; ')})`, {
    kind: 'failed',
    hint: `nothing was changed; ownops backups ${name} lists them`,
  })
}

async function planTarget(ctx: Ctx, config: Config, name: string, opts: RestoreOptions, stamp: string): Promise<TargetPlan> {
  const target = config.backup.targets[name] as BackupTarget
  const log = ctx.log.child({ target: name })
  const env = restoreEnv(ctx, name, log, stamp, { allowOutsideLinks: opts.allowOutsideLinks, meter: ctx.progress?.attach })
  const catalog = await readCatalog(opts.backupDir ?? config.backup.dir, name)
  const restorer = await pluginFor(target).restorer(target, env)
  // 1. Verify before touching anything.
  const { entry, skipped } = await chooseBackup(ctx, name, catalog.backups, opts, restorer)
  await restorer.preflight(entry, opts.to)
  const place = await restorer.place()
  const sideBySide = opts.to !== undefined
  const users = sideBySide ? { containers: [], processes: [] } : await restorer.users()
  // A database server runs the restore's client: it keeps running. A SQLite file's container only mounts it: it stops for the swap.
  const keepRunning = restorer.runsIn !== undefined ? [restorer.runsIn] : []
  const stops = sideBySide ? [] : await containersToStop(ctx, name, target, users, keepRunning)
  if (users.processes.length > 0) {
    throw new OwnopsError(
      `refusing to restore ${name}: ${users.processes.length === 1 ? 'a process holds' : 'processes hold'} ${place.live} open and would keep the old data`,
      {
        kind: 'failed',
        details: users.processes.map((p) => `pid ${p.pid}: ${p.command}`),
        hint: 'nothing was changed; stop it (e.g. systemctl stop SERVICE), or run it in a container that ownops can stop, then restore again',
      },
    )
  }
  const inUse = stops.filter((c) => users.containers.includes(c))
  if (!opts.stop && inUse.length > 0) {
    throw new OwnopsError(
      `refusing to restore ${name}: ${inUse.join(', ')} ${inUse.length === 1 ? 'uses' : 'use'} ${place.live} and --no-stop was given`,
      {
        kind: 'failed',
        hint: `nothing was changed; stop ${inUse.join(', ')} first, or restore without --no-stop (ownops stops and starts them)`,
      },
    )
  }
  if (!sideBySide && place.exists && !opts.safetyCopy && restorer.needsSafetyCopy) {
    throw new OwnopsError(
      `a ${target.type} restore keeps the replaced data as its safety backup; --no-safety-copy would leave nothing to roll back to`,
      { kind: 'usage', hint: 'drop --no-safety-copy, or restore side by side with --to' },
    )
  }
  const age = formatDuration(Math.max(0, ctx.clock().getTime() - entry.time.getTime()))
  const lines = [
    `backup:   ${entry.manifest.id} (${entry.manifest.time}, ${age} ago, ${formatBytes(entry.manifest.size)}, sha256 ${entry.manifest.sha256.slice(0, 12)} verified)`,
    ...skipped.map((s) => `skipped:  ${s}`),
    sideBySide
      ? `restore:  side by side into ${opts.to}; the live data and service are not touched`
      : `replaces: ${place.live}${place.exists ? `; the current data is kept as ${place.kept}` : ' (does not exist yet)'}`,
    ...(sideBySide
      ? []
      : [
          `stops:    ${stops.length > 0 ? stops.map((c) => (users.containers.includes(c) ? `${c} (uses the data)` : c)).join(', ') : 'nothing'}${stops.length > 0 ? ' — started again afterwards' : ''}`,
        ]),
    ...(sideBySide || !place.exists
      ? []
      : [`safety:   ${opts.safetyCopy ? 'a backup of the current data first (tagged pre-restore)' : 'no safety copy (--no-safety-copy)'}`]),
  ]
  const report = {
    target: name,
    backup: entry.manifest.id,
    time: entry.manifest.time,
    size: entry.manifest.size,
    live: place.live,
    kept: place.exists ? place.kept : null,
    stops,
    to: opts.to ?? null,
    ...(skipped.length > 0 ? { skipped } : {}),
  }
  return { name, target, restorer, env, log, entry, skipped, place, users, stops, lines, report }
}

function planText(plans: TargetPlan[], dryRun: boolean): string {
  const head = dryRun ? 'Restore plan (dry run):' : 'Restore plan:'
  if (plans.length === 1) return `${head}\n${(plans[0] as TargetPlan).lines.map((l) => `  ${l}`).join('\n')}\n`
  return `${head} ${plans.length} targets, one after another; a failure stops the sequence\n${plans.map((p, i) => `${i + 1}. ${p.name} (${p.target.type})\n${p.lines.map((l) => `     ${l}`).join('\n')}`).join('\n')}\n`
}

export async function restore(ctx: Ctx, opts: RestoreOptions, confirm: Confirm): Promise<CommandResult> {
  const config = ctx.config().config
  const names = opts.all ? restoreOrder(config, []) : opts.targets
  const stamp = await freeStamp(ctx, names)
  let notified = false
  const fail = async (error: unknown, title: string): Promise<never> => {
    // A refusal or failure is always notified — not a usage error, nor an interruption already told.
    if (!notified && !(isOwnopsError(error) && error.kind === 'usage')) {
      notified = true
      const message = ctx.redactor.redact((error as Error).message)
      const details =
        error instanceof DumpFailure && error.stderrTail
          ? `\n${error.stderrTail}`
          : isOwnopsError(error) && error.details.length > 0
            ? `\n${error.details.join('\n')}`
            : ''
      await ctx.notifySafely({
        level: 'error',
        title,
        body: `${message}${details}`,
        source: { command: 'restore', ...(names.length === 1 ? { target: names[0] as string } : {}) },
      })
    }
    throw error
  }
  const title = names.length === 1 ? `restore of ${names[0] as string} failed` : 'restore --all failed'

  const plans: TargetPlan[] = []
  try {
    for (const name of names) plans.push(await planTarget(ctx, config, name, opts, stamp))
  } catch (error) {
    if (ctx.signal.aborted) throw error
    return fail(error, title.replace('failed', 'refused'))
  }
  const text = planText(plans, opts.dryRun)
  const single = plans.length === 1 ? (plans[0] as TargetPlan) : undefined
  if (opts.dryRun) {
    ctx.log.info('(dry run) nothing was changed')
    return {
      exitCode: ExitCode.ok,
      report: single ? { dryRun: true, ...single.report } : { dryRun: true, targets: plans.map((p) => p.report) },
      text,
    }
  }
  if (!opts.yes) {
    if (!ctx.stdinIsTTY) {
      throw new OwnopsError('refusing to restore without confirmation', {
        kind: 'usage',
        hint: `review the plan with --dry-run, then add --yes: ownops restore ${opts.all ? '--all' : `${names.join(' ')} ${opts.backup ?? ''}`.trim()} --yes`,
      })
    }
    process.stderr.write(text)
    if (!(await confirm('Restore now? [y/N] ')))
      return {
        exitCode: ExitCode.failed,
        report: {
          ok: false,
          cancelled: true,
          error: { message: 'cancelled; nothing was changed', exitCode: ExitCode.failed },
          ...(single ? single.report : { targets: plans.map((p) => p.report) }),
        },
        text: 'cancelled; nothing was changed\n',
      }
  }

  await ctx.lock('restore', [...new Set([...names, ...plans.flatMap((p) => p.stops)])])
  const done: Array<Record<string, unknown>> = []
  const summaries: string[] = []
  for (const plan of plans) {
    try {
      const result = await restoreOne(ctx, config, plan, opts)
      done.push(result.report)
      summaries.push(result.summary)
    } catch (error) {
      if (plans.length === 1) {
        if (ctx.signal.aborted) {
          notified = true // restoreOne told what state it left
          throw error
        }
        return fail(error, title)
      }
      const left = plans.slice(plans.indexOf(plan) + 1).map((p) => p.name)
      const restored = done.map((d) => String(d.target))
      const message = `restore --all stopped at ${plan.name}: ${(error as Error).message}; restored before it: ${restored.join(', ') || 'nothing'}; not restored: ${[plan.name, ...left].join(', ')}`
      const kind = isOwnopsError(error) ? error.kind : 'failed'
      const undo =
        restored.length > 0
          ? { hint: `each restored target can be undone: ${restored.map((r) => `ownops restore --undo ${r}`).join('; ')}` }
          : {}
      if (ctx.signal.aborted) {
        await ctx.notifySafely({ level: 'error', title, body: message, source: { command: 'restore' } })
        throw new OwnopsError(message, { kind, ...undo })
      }
      return fail(new OwnopsError(message, { kind: kind === 'usage' ? 'failed' : kind, ...undo }), title)
    }
  }
  if (single) return { exitCode: ExitCode.ok, report: done[0], text: `${summaries[0] ?? ''}\n` }
  const summary = `restored ${done.length} targets: ${done.map((d) => String(d.target)).join(', ')}`
  await ctx.notifySafely({ level: 'info', title: 'restore --all done', body: summaries.join('\n'), source: { command: 'restore' } })
  return { exitCode: ExitCode.ok, report: { ok: true, targets: done }, text: `${summaries.join('\n')}\n${summary}\n` }
}

/** One target, after the plan: safety copy, stage, stop, swap, start, health — or side by side. */
async function restoreOne(
  ctx: Ctx,
  config: Config,
  plan: TargetPlan,
  opts: RestoreOptions,
): Promise<{ report: Record<string, unknown>; summary: string }> {
  const { name, target, restorer, log, entry, place } = plan
  const sideBySide = opts.to !== undefined
  const started = performance.now()
  const fault = (point: string) => faultPoint(`restore:${point}`, ctx.env, log)
  const interrupted = () => {
    if (ctx.signal.aborted) throw ctx.signal.reason ?? new OwnopsError('interrupted', { kind: 'sigterm' })
  }

  // 2. Safety copy of the current data.
  let safety: string | undefined
  let safetyEntry: BackupEntry | undefined
  if (!sideBySide && place.exists && opts.safetyCopy) {
    log.info('taking a safety copy of the current data')
    await fault('safety-copy')
    interrupted()
    const report = await backupTarget(name, target, { ...runEnv(ctx, config), tags: ['pre-restore'], progressLabel: `safety copy ${name}` })
    if (!report.ok) {
      throw new OwnopsError(`the safety copy of the current data failed: ${report.error ?? ''}`, {
        kind: 'failed',
        ...(report.stderr ? { details: report.stderr.split('\n').slice(-5) } : {}),
        hint: 'nothing was changed; fix that, or restore with --no-safety-copy if the current data does not matter',
      })
    }
    safety = report.manifest?.id
    if (report.manifest !== undefined && report.file !== undefined)
      safetyEntry = {
        manifest: report.manifest,
        path: report.file,
        manifestPath: join(dirname(report.file), `${report.manifest.id}.json`),
        time: new Date(report.manifest.time),
        tags: ['pre-restore'],
      }
  }
  /**
   * A failed attempt that leaves the old data in place has no use for its safety copy: the
   * live data is the same. It goes (manifest first), so that trying again does not pile them up.
   */
  const dropSafety = async (): Promise<string> => {
    if (safetyEntry === undefined) return ''
    const gone = safetyEntry
    try {
      await rm(gone.manifestPath, { force: true })
      await rm(gone.path, { force: true })
      log.info({ backup: gone.manifest.id }, 'removed the safety copy of this attempt: the live data is unchanged')
      return `; the safety copy ${gone.manifest.id} of this attempt was removed`
    } catch (error) {
      log.warn({ backup: gone.manifest.id }, `could not remove the safety copy ${gone.manifest.id}: ${(error as Error).message}`)
      return `; the safety copy ${gone.manifest.id} is kept (${gone.path})`
    }
  }

  // 3. Restore into the staging place while the service still runs.
  log.info({ backup: entry.manifest.id }, sideBySide ? `restoring into ${opts.to}` : 'restoring into a staging place')
  await fault('stage')
  interrupted()
  let staged: Staged
  const staging = ctx.progress?.track(`restore ${entry.manifest.id}`, { bytes: entry.manifest.size })
  try {
    staged = await restorer.stage(entry, opts.to)
    staging?.end()
  } catch (error) {
    staging?.end()
    const dropped = await ctx.shield(dropSafety)
    if (ctx.signal.aborted) {
      log.warn(`interrupted while staging; the live data was not touched${dropped}`)
      throw error
    }
    throw describe(
      error,
      `restore of ${name} from ${entry.manifest.id} failed: ${(error as Error).message}; ${sideBySide ? 'nothing else was touched' : 'the live data was not touched'}${dropped}`,
    )
  }
  if (sideBySide) {
    const details = await restorer.check(staged, entry).catch((error: unknown) => ({ checkFailed: (error as Error).message }))
    await ctx.notifySafely({
      level: 'info',
      title: `${name} restored side by side`,
      body: `${entry.manifest.id} restored into ${staged.where}`,
      source: { command: 'restore', target: name },
    })
    return {
      report: { ok: true, ...plan.report, restoredInto: staged.where, details },
      summary: `restored ${entry.manifest.id} into ${staged.where}; the live data was not touched`,
    }
  }

  // 4. Stop, swap, start, wait until healthy; roll back on any failure after the swap.
  // Recorded in the host lock as they stop, and started again (retried) whatever happens.
  // A signal during a stop cuts it short (a few seconds, then the kill); the containers are started again.
  const stopper = new StoppedContainers({ docker: () => ctx.docker(), log, signal: ctx.signal })
  const stopped = stopper.names
  let swapped: Swapped | undefined
  /** The undo record of the restore before this one: back in force when this one is rolled back. */
  let previous: unknown
  let downtimeStart: number
  try {
    await fault('stop')
    for (const c of plan.stops) {
      interrupted()
      log.info({ container: c }, 'stopping')
      await stopper.stop(c)
    }
    downtimeStart = performance.now()
    interrupted()
    // Nobody may still hold the old data: a container started meanwhile, a process that opened the file.
    const still = await restorer.users()
    const running = await runningOf(ctx, still.containers)
    if (running.length > 0 || still.processes.length > 0) {
      throw new OwnopsError(
        `${[...running, ...still.processes.map((p) => `pid ${p.pid} (${p.command})`)].join(', ')} still ${running.length + still.processes.length === 1 ? 'uses' : 'use'} ${place.live}; not swapping`,
        { kind: 'failed' },
      )
    }
    await fault('swap')
    interrupted()
    previous = await ctx.stateStore().read<unknown>(`restore-${name}`, undefined)
    swapped = await ctx.shield(async () => {
      const result = await restorer.swap(staged, safetyEntry)
      // From here on the restored data is live: the undo record says how to get the old data back.
      if (result.kept !== undefined)
        await writeUndo(ctx, {
          target: name,
          time: ctx.clock().toISOString(),
          backup: entry.manifest.id,
          live: result.live,
          kept: result.kept,
        })
      return result
    })
    log.info({ live: swapped.live, kept: swapped.kept }, 'swapped in the restored data')
    await fault('start')
    await startContainers(stopped, { docker: () => ctx.docker(), signal: ctx.signal }, log)
    await fault('health')
    const unhealthy =
      stopped.length > 0 ? await waitContainersHealthy(await ctx.docker(), stopped, config.restore.healthTimeout, ctx.signal) : undefined
    if (unhealthy !== undefined)
      throw new OwnopsError(`the service did not come up healthy after the restore: ${unhealthy}`, { kind: 'failed' })
    interrupted()
  } catch (error) {
    const state = await ctx.shield(async () => {
      const { state, asBefore } = await recover(ctx, plan, staged, swapped, stopped, opts.rollback, previous)
      return asBefore ? `${state}${await dropSafety()}` : state
    })
    const message = `restore of ${name} from ${entry.manifest.id} ${ctx.signal.aborted ? 'interrupted' : 'failed'}: ${ctx.signal.aborted ? String((ctx.signal.reason as Error | undefined)?.message ?? 'signal') : (error as Error).message}; ${state}`
    log.error(message)
    if (ctx.signal.aborted) {
      await ctx.notifySafely({
        level: 'error',
        title: `restore of ${name} interrupted`,
        body: message,
        source: { command: 'restore', target: name },
      })
      throw new OwnopsError(message, { kind: isOwnopsError(ctx.signal.reason) ? ctx.signal.reason.kind : 'sigterm' })
    }
    throw describe(error, message)
  }
  const downtimeMs = Math.round(performance.now() - downtimeStart)
  const summary = `restored ${name} from ${entry.manifest.id} in ${formatDuration(performance.now() - started)}; ${stopped.length > 0 ? `${stopped.join(', ')} down for ${formatDuration(downtimeMs)}` : 'nothing was stopped'}${swapped.kept ? `; the old data is kept as ${swapped.kept} (ownops restore --undo ${name})` : ''}${safety ? `; safety copy ${safety}` : ''}`
  log.info(summary)
  await ctx.notifySafely({ level: 'info', title: `${name} restored`, body: summary, source: { command: 'restore', target: name } })
  return { report: { ok: true, ...plan.report, kept: swapped.kept ?? null, safetyCopy: safety ?? null, stopped, downtimeMs }, summary }
}

function describe(error: unknown, message: string): OwnopsError {
  return new OwnopsError(message, {
    kind: isOwnopsError(error) ? error.kind : 'failed',
    ...(error instanceof DumpFailure
      ? { details: error.stderrTail.split('\n') }
      : isOwnopsError(error) && error.details.length > 0
        ? { details: error.details }
        : {}),
    ...(isOwnopsError(error) && error.hint ? { hint: error.hint } : {}),
  })
}

/**
 * The stamp in the names of kept and staged copies: now, or a second later than the last
 * restore of these targets when that was within the same second (names never collide).
 */
async function freeStamp(ctx: Ctx, names: string[]): Promise<string> {
  let time = Math.floor(ctx.clock().getTime() / 1000) * 1000
  const used = new Set<string>()
  for (const name of names) {
    const record = parseUndoRecord(await ctx.stateStore().read<unknown>(`restore-${name}`, undefined), name)
    if (typeof record === 'object') for (const m of record.kept.matchAll(/(\d{8}T\d{6}Z)/gi)) used.add((m[1] ?? '').toUpperCase())
  }
  while (used.has(timestampId(new Date(time)))) time += 1000
  return timestampId(new Date(time))
}

async function runningOf(ctx: Ctx, containers: string[]): Promise<string[]> {
  if (containers.length === 0) return []
  const docker = await ctx.docker()
  const running: string[] = []
  for (const c of containers)
    if (
      (
        await docker
          .getContainer(c)
          .inspect()
          .catch(() => undefined)
      )?.State.Running
    )
      running.push(c)
  return running
}

async function writeUndo(ctx: Ctx, record: UndoRecord): Promise<void> {
  await ctx.stateStore().write(`restore-${record.target}`, record)
}

/** After a failure: roll a swap back (or drop the staged copy), and start what was stopped. */
async function recover(
  ctx: Ctx,
  plan: TargetPlan,
  staged: Staged,
  swapped: Swapped | undefined,
  stopped: string[],
  rollback: boolean,
  previous: unknown,
): Promise<{ state: string; asBefore: boolean }> {
  const { restorer, log, name } = plan
  let state: string
  /** Whether the live data is the data from before the restore (untouched, or rolled back). */
  let asBefore = false
  try {
    if (swapped === undefined) {
      asBefore = true
      await restorer.discard(staged)
      state = 'the live data was not touched'
    } else if (rollback) {
      log.warn('rolling back to the old data')
      await faultPoint('restore:rollback', ctx.env, log)
      if (stopped.length > 0) {
        const docker = await ctx.docker()
        for (const c of stopped)
          await stopContainer(docker, c, await stopGraceSec(docker, c), { signal: ctx.signal }).catch(() => undefined)
      }
      await restorer.rollback(swapped)
      if (typeof parseUndoRecord(previous, name) === 'object') await ctx.stateStore().write(`restore-${name}`, previous)
      else await ctx.stateStore().remove(`restore-${name}`)
      state = 'rolled back: the data is as it was before the restore'
      asBefore = true
    } else {
      state = `the restored data is in place (--no-rollback); the old data is kept as ${swapped.kept ?? '(none)'}${swapped.kept ? ` (ownops restore --undo ${name})` : ''}`
    }
  } catch (error) {
    log.error({ err: error }, 'rolling back failed')
    state = `ROLLING BACK FAILED (${(error as Error).message}); the old data is kept as ${swapped?.kept ?? '(none)'}${swapped?.kept ? ` (ownops restore --undo ${name} puts it back)` : ''}`
  }
  try {
    await startContainers(stopped, { docker: () => ctx.docker(), signal: ctx.signal }, log)
    if (stopped.length > 0) state += `; started ${stopped.join(', ')} again`
  } catch (error) {
    state += `; could not start ${stopped.join(', ')}: ${(error as Error).message}`
  }
  return { state, asBefore }
}

/** `restore --undo TARGET`: the data the last restore replaced becomes live again. */
export async function undoRestore(ctx: Ctx, name: string, opts: RestoreOptions, confirm: Confirm): Promise<CommandResult> {
  const config = ctx.config().config
  const target = config.backup.targets[name] as BackupTarget
  const log = ctx.log.child({ target: name })
  const env = restoreEnv(ctx, name, log, timestampId(ctx.clock()))
  try {
    // A damaged record is refused before anything is looked at, stopped or renamed.
    const record = await readUndoRecord(ctx.stateStore(), name)
    const restorer = await pluginFor(target).restorer(target, env)
    const users = await restorer.users()
    if (users.processes.length > 0) {
      throw new OwnopsError(
        `refusing to undo: ${users.processes.map((p) => `pid ${p.pid} (${p.command})`).join(', ')} ${users.processes.length === 1 ? 'holds' : 'hold'} the data open`,
        { kind: 'failed', hint: 'stop it first; nothing was changed' },
      )
    }
    const stops = await containersToStop(ctx, name, target, users, [])
    const text = `undo the restore of ${name} from ${record.backup} (${record.time}): ${record.kept} becomes the live data again; stops ${stops.join(', ') || 'nothing'}`
    if (opts.dryRun) return { exitCode: ExitCode.ok, report: { dryRun: true, ...record, stops }, text: `${text}\n` }
    if (!opts.yes) {
      if (!ctx.stdinIsTTY)
        throw new OwnopsError('refusing to undo without confirmation', { kind: 'usage', hint: `ownops restore --undo ${name} --yes` })
      process.stderr.write(`${text}\n`)
      if (!(await confirm('Undo now? [y/N] ')))
        return {
          exitCode: ExitCode.failed,
          report: { ok: false, cancelled: true, error: { message: 'cancelled; nothing was changed', exitCode: ExitCode.failed } },
          text: 'cancelled\n',
        }
    }
    await ctx.lock('restore', [name, ...stops])
    const stopper = new StoppedContainers({ docker: () => ctx.docker(), log: ctx.log, signal: ctx.signal })
    const stopped = stopper.names
    try {
      for (const c of stops) await stopper.stop(c)
      const swapped = await ctx.shield(async () => {
        const result = await restorer.undo(record.kept)
        await ctx.stateStore().remove(`restore-${name}`)
        return result
      })
      const summary = `undid the restore of ${name}: ${record.kept} is live again${swapped.kept ? `; the restored data is kept as ${swapped.kept}` : ''}`
      await ctx.notifySafely({
        level: 'warning',
        title: `restore of ${name} undone`,
        body: summary,
        source: { command: 'restore', target: name },
      })
      return { exitCode: ExitCode.ok, report: { ok: true, undone: record, kept: swapped.kept ?? null }, text: `${summary}\n` }
    } finally {
      await ctx.shield(() => startContainers(stopped, { docker: () => ctx.docker(), signal: ctx.signal }, ctx.log))
    }
  } catch (error) {
    if (!(isOwnopsError(error) && error.kind === 'usage') && !ctx.signal.aborted) {
      await ctx.notifySafely({
        level: 'error',
        title: `undo of the restore of ${name} failed`,
        body: ctx.redactor.redact((error as Error).message),
        source: { command: 'restore', target: name },
      })
    }
    throw error
  }
}
