/**
 * `ownops restore TARGET [BACKUP_ID|latest]`: verify first, show the plan, take a safety
 * copy, restore into a staging place while the service runs, stop what uses the data,
 * swap by renames, start again and wait until healthy — rolling back to the kept old data
 * when anything after the swap fails (and on SIGINT/SIGTERM). `--to` restores side by side
 * without touching the live service; `--undo` swaps the kept old data back.
 *
 * `ownops verify [TARGET]`: checksums and a full read of each backup; `--drill` restores it
 * into a throwaway place, checks it, removes it, and records the result for monitor.
 */
import { hostname } from 'node:os'
import { createInterface } from 'node:readline/promises'
import type { CommandResult, Ctx } from '../context.js'
import { waitContainersHealthy } from '../sys/health.js'
import type { BackupTarget, Config } from '../config/schema.js'
import { readCatalog, type BackupEntry } from '../backup/catalog.js'
import { timestampId } from '../backup/artifact.js'
import { backupTarget, formatBytes, hasDocker, labelledContainers, startContainers, STOP_GRACE_SEC, type RunEnv } from '../backup/run.js'
import { DumpFailure } from '../targets/types.js'
import { formatDuration, parseDuration } from '../duration.js'
import { ExitCode, isOwnopsError, OwnopsError } from '../errors.js'
import { restorerFor, type RestoreEnv, type Staged, type Swapped } from '../restore/restorers.js'
import { parseAt, selectBackup } from '../restore/select.js'
import { verifyChecksum, verifyReadable } from '../restore/verify.js'
import { stopContainer } from '../sys/docker-exec.js'
import { renderTable } from '../text.js'
import { selectTargets } from './backup.js'

export interface RestoreOptions {
  target: string
  backup?: string | undefined
  at?: string | undefined
  to?: string | undefined
  dryRun: boolean
  yes: boolean
  undo: boolean
  safetyCopy: boolean
  rollback: boolean
  allowOutsideLinks: boolean
}

interface UndoRecord {
  target: string
  time: string
  backup: string
  live: string
  kept: string
}

function runEnv(ctx: Ctx, config: Config): RunEnv {
  return { config, log: ctx.log, signal: ctx.signal, env: ctx.env, host: config.hostname ?? hostname(), now: ctx.clock, docker: () => ctx.docker() }
}

async function containersFor(name: string, target: BackupTarget, ctx: Ctx): Promise<string[]> {
  const env = { docker: () => ctx.docker() }
  const wanted = [...(target.stop ?? [])]
  if (wanted.length > 0 || (await hasDocker(env))) for (const c of await labelledContainers(name, env)) if (!wanted.includes(c)) wanted.push(c)
  if (wanted.length === 0) return []
  const docker = await ctx.docker()
  const running: string[] = []
  for (const c of wanted) {
    const info = await docker.getContainer(c).inspect().catch(() => undefined)
    if (info?.State.Running) running.push(c)
  }
  return running
}

async function confirm(ctx: Ctx, question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr })
  try {
    const answer = await rl.question(question)
    return /^y(es)?$/i.test(answer.trim())
  } finally {
    rl.close()
  }
}

export async function runRestore(ctx: Ctx, opts: RestoreOptions): Promise<CommandResult> {
  const config = ctx.config().config
  const [[name, target]] = selectTargets(config, [opts.target]) as [[string, BackupTarget]]
  const stamp = timestampId(ctx.clock())
  const log = ctx.log.child({ cmd: 'restore', target: name })
  const env: RestoreEnv = { target: name, log, signal: ctx.signal, docker: () => ctx.docker(), env: ctx.env, stamp, allowOutsideLinks: opts.allowOutsideLinks }
  if (opts.undo) return undo(ctx, name, target, env, opts)

  const catalog = await readCatalog(config.backup.dir, name)
  const entry = selectBackup(catalog.backups, name, opts.backup, opts.at !== undefined ? parseAt(opts.at) : undefined)
  const restorer = await restorerFor(target, env)

  // 1. Verify before touching anything.
  const checked = await verifyChecksum(entry, ctx.signal)
  if (!checked.ok) {
    throw new OwnopsError(`refusing to restore ${entry.manifest.id}: ${checked.problem}`, { exitCode: ExitCode.failed, hint: `nothing was changed; pick another backup (ownops backups ${name})` })
  }
  const place = await restorer.place()
  const sideBySide = opts.to !== undefined
  const stops = sideBySide ? [] : await containersFor(name, target, ctx)
  const age = formatDuration(Math.max(0, ctx.clock().getTime() - entry.time.getTime()))
  const planLines = [
    `backup:   ${entry.manifest.id} (${entry.manifest.time}, ${age} ago, ${formatBytes(entry.manifest.size)}, sha256 ${entry.manifest.sha256.slice(0, 12)} verified)`,
    sideBySide ? `restore:  side by side into ${opts.to}; the live data and service are not touched` : `replaces: ${place.live}${place.exists ? `; the current data is kept as ${place.kept}` : ' (does not exist yet)'}`,
    ...(sideBySide ? [] : [`stops:    ${stops.length > 0 ? stops.join(', ') : 'nothing'} (started again afterwards)`]),
    ...(sideBySide || !place.exists ? [] : [`safety:   ${opts.safetyCopy ? 'a backup of the current data first (tagged pre-restore)' : 'no safety copy (--no-safety-copy)'}`]),
  ]
  const planReport = { target: name, backup: entry.manifest.id, time: entry.manifest.time, size: entry.manifest.size, live: place.live, kept: place.exists ? place.kept : null, stops, to: opts.to ?? null }
  if (opts.dryRun) {
    log.info('(dry run) nothing was changed')
    return { exitCode: ExitCode.ok, report: { dryRun: true, ...planReport }, text: `Restore plan (dry run):\n${planLines.map((l) => `  ${l}`).join('\n')}\n` }
  }
  if (!opts.yes) {
    if (!process.stdin.isTTY) {
      throw new OwnopsError('refusing to restore without confirmation', { exitCode: ExitCode.usage, hint: `review the plan with --dry-run, then add --yes: ownops restore ${name} ${opts.backup ?? 'latest'} --yes` })
    }
    process.stderr.write(`${planLines.join('\n')}\n`)
    if (!(await confirm(ctx, 'Restore now? [y/N] '))) return { exitCode: ExitCode.failed, report: { ...planReport, cancelled: true }, text: 'cancelled; nothing was changed\n' }
  }

  if (!sideBySide && place.exists && !opts.safetyCopy && (target.type === 'mysql' || target.type === 'mariadb')) {
    throw new OwnopsError(`a ${target.type} restore keeps the replaced data as its safety backup; --no-safety-copy would leave nothing to roll back to`, {
      exitCode: ExitCode.usage,
      hint: 'drop --no-safety-copy, or restore side by side with --to',
    })
  }
  await ctx.lock('restore', [name, ...stops])
  const started = performance.now()

  // 2. Safety copy of the current data.
  let safety: string | undefined
  let safetyEntry: BackupEntry | undefined
  if (!sideBySide && place.exists && opts.safetyCopy) {
    log.info('taking a safety copy of the current data')
    const report = await backupTarget(name, target, { ...runEnv(ctx, config), tags: ['pre-restore'] })
    if (!report.ok) {
      throw new OwnopsError(`the safety copy of the current data failed: ${report.error ?? ''}`, { exitCode: ExitCode.failed, hint: 'nothing was changed; fix that, or restore with --no-safety-copy if the current data does not matter' })
    }
    safety = report.manifest?.id
    if (report.manifest !== undefined && report.file !== undefined) safetyEntry = { manifest: report.manifest, path: report.file, manifestPath: '', time: new Date(report.manifest.time), tags: ['pre-restore'] }
  }

  // 3. Restore into the staging place while the service still runs.
  log.info({ backup: entry.manifest.id }, sideBySide ? `restoring into ${opts.to}` : 'restoring into a staging place')
  let staged: Staged
  try {
    staged = await restorer.stage(entry, opts.to)
  } catch (error) {
    if (ctx.signal.aborted) throw error
    const message = `restore of ${name} from ${entry.manifest.id} failed: ${(error as Error).message}; ${sideBySide ? 'nothing else was touched' : 'the live data was not touched'}`
    await ctx.notifySafely({ level: 'error', title: `restore of ${name} failed`, body: `${message}${error instanceof DumpFailure && error.stderrTail ? `\n${error.stderrTail}` : ''}`, source: { command: 'restore', target: name } })
    throw new OwnopsError(message, { exitCode: isOwnopsError(error) ? error.exitCode : ExitCode.failed, ...(error instanceof DumpFailure ? { details: error.stderrTail.split('\n') } : {}), ...(isOwnopsError(error) && error.hint ? { hint: error.hint } : {}) })
  }
  if (sideBySide) {
    const details = await restorer.check(staged, entry).catch((error: unknown) => ({ checkFailed: (error as Error).message }))
    await ctx.notifySafely({ level: 'info', title: `${name} restored side by side`, body: `${entry.manifest.id} restored into ${staged.where}`, source: { command: 'restore', target: name } })
    return { exitCode: ExitCode.ok, report: { ok: true, ...planReport, restoredInto: staged.where, details }, text: `restored ${entry.manifest.id} into ${staged.where}; the live data was not touched\n` }
  }

  // 4. Stop, swap, start, wait until healthy; roll back on any failure after the swap.
  const docker = stops.length > 0 ? await ctx.docker() : undefined
  const stopped: string[] = []
  let swapped: Swapped | undefined
  let downtimeStart = 0
  try {
    for (const c of stops) {
      log.info({ container: c }, 'stopping')
      if (docker) await stopContainer(docker, c, STOP_GRACE_SEC)
      stopped.push(c)
    }
    downtimeStart = performance.now()
    if (ctx.signal.aborted) throw ctx.signal.reason
    swapped = await restorer.swap(staged, safetyEntry)
    log.info({ live: swapped.live, kept: swapped.kept }, 'swapped in the restored data')
    await startContainers(stopped, { docker: () => ctx.docker() }, log)
    const unhealthy = stopped.length > 0 ? await waitContainersHealthy(await ctx.docker(), stopped, parseDuration(config.restore.healthTimeout) ?? 120_000) : undefined
    if (unhealthy !== undefined) throw new OwnopsError(`the service did not come up healthy after the restore: ${unhealthy}`, { exitCode: ExitCode.failed })
    if (ctx.signal.aborted) throw ctx.signal.reason
  } catch (error) {
    const state = await recover(ctx, restorer, staged, swapped, stopped, opts.rollback, log)
    const message = `restore of ${name} from ${entry.manifest.id} failed: ${(error as Error).message}; ${state}`
    await ctx.notifySafely({ level: 'error', title: `restore of ${name} failed`, body: `${message}${error instanceof DumpFailure && error.stderrTail ? `\n${error.stderrTail}` : ''}`, source: { command: 'restore', target: name } })
    if (ctx.signal.aborted) throw error
    throw new OwnopsError(message, { exitCode: isOwnopsError(error) && error.exitCode !== ExitCode.failed ? error.exitCode : ExitCode.failed, ...(error instanceof DumpFailure ? { details: error.stderrTail.split('\n') } : {}) })
  }
  const downtimeMs = Math.round(performance.now() - downtimeStart)
  if (swapped.kept !== undefined) {
    const record: UndoRecord = { target: name, time: ctx.clock().toISOString(), backup: entry.manifest.id, live: swapped.live, kept: swapped.kept }
    await ctx.stateStore().write(`restore-${name}`, record)
  }
  const summary = `restored ${name} from ${entry.manifest.id} in ${formatDuration(performance.now() - started)}; downtime ${formatDuration(downtimeMs)}${swapped.kept ? `; the old data is kept as ${swapped.kept} (ownops restore --undo ${name})` : ''}${safety ? `; safety copy ${safety}` : ''}`
  log.info(summary)
  await ctx.notifySafely({ level: 'info', title: `${name} restored`, body: summary, source: { command: 'restore', target: name } })
  return {
    exitCode: ExitCode.ok,
    report: { ok: true, ...planReport, kept: swapped.kept ?? null, safetyCopy: safety ?? null, downtimeMs },
    text: `${summary}\n`,
  }
}

/** After a failure: roll a swap back (or drop the staged copy), and start what was stopped. */
async function recover(ctx: Ctx, restorer: Awaited<ReturnType<typeof restorerFor>>, staged: Staged, swapped: Swapped | undefined, stopped: string[], rollback: boolean, log: Ctx['log']): Promise<string> {
  let state: string
  try {
    if (swapped === undefined) {
      await restorer.discard(staged)
      state = 'the live data was not touched'
    } else if (rollback) {
      if (stopped.length > 0) {
        const docker = await ctx.docker()
        for (const c of stopped) await stopContainer(docker, c, STOP_GRACE_SEC).catch(() => undefined)
      }
      await restorer.rollback(swapped)
      state = 'rolled back: the data is as it was before the restore'
    } else {
      state = `the restored data is in place (--no-rollback); the old data is kept as ${swapped.kept ?? '(none)'}`
    }
  } catch (error) {
    log.error({ err: error }, 'rolling back failed')
    state = `ROLLING BACK FAILED (${(error as Error).message}); the old data is kept as ${swapped?.kept ?? '(none)'}`
  }
  try {
    await startContainers(stopped, { docker: () => ctx.docker() }, log)
    if (stopped.length > 0) state += `; started ${stopped.join(', ')} again`
  } catch (error) {
    state += `; could not start ${stopped.join(', ')}: ${(error as Error).message}`
  }
  return state
}

async function undo(ctx: Ctx, name: string, target: BackupTarget, env: RestoreEnv, opts: RestoreOptions): Promise<CommandResult> {
  const store = ctx.stateStore()
  const record = await store.read<UndoRecord | undefined>(`restore-${name}`, undefined)
  if (record === undefined) throw new OwnopsError(`no restore of ${name} to undo`, { exitCode: ExitCode.failed, hint: 'only the last in-place restore can be undone, while its old data is kept' })
  const restorer = await restorerFor(target, env)
  const stops = await containersFor(name, target, ctx)
  const text = `undo the restore of ${name} from ${record.backup} (${record.time}): ${record.kept} becomes the live data again; stops ${stops.join(', ') || 'nothing'}`
  if (opts.dryRun) return { exitCode: ExitCode.ok, report: { dryRun: true, ...record, stops }, text: `${text}\n` }
  if (!opts.yes) {
    if (!process.stdin.isTTY) throw new OwnopsError('refusing to undo without confirmation', { exitCode: ExitCode.usage, hint: `ownops restore --undo ${name} --yes` })
    process.stderr.write(`${text}\n`)
    if (!(await confirm(ctx, 'Undo now? [y/N] '))) return { exitCode: ExitCode.failed, report: { cancelled: true }, text: 'cancelled\n' }
  }
  await ctx.lock('restore', [name, ...stops])
  const docker = stops.length > 0 ? await ctx.docker() : undefined
  const stopped: string[] = []
  try {
    for (const c of stops) {
      if (docker) await stopContainer(docker, c, STOP_GRACE_SEC)
      stopped.push(c)
    }
    const swapped = await restorer.undo(record.kept)
    await store.remove(`restore-${name}`)
    const summary = `undid the restore of ${name}: ${record.kept} is live again; the restored data is kept as ${swapped.kept ?? '(none)'}`
    await ctx.notifySafely({ level: 'warning', title: `restore of ${name} undone`, body: summary, source: { command: 'restore', target: name } })
    return { exitCode: ExitCode.ok, report: { ok: true, undone: record, kept: swapped.kept ?? null }, text: `${summary}\n` }
  } finally {
    await startContainers(stopped, { docker: () => ctx.docker() }, ctx.log)
  }
}

// ---------------------------------------------------------------------------------------
// verify
// ---------------------------------------------------------------------------------------

export interface VerifyOptions {
  target?: string | undefined
  all: boolean
  drill: boolean
}

export interface DrillRecord {
  lastRun: string
  ok: boolean
  backup: string
  lastSuccess?: string
  problem?: string
}

export async function runVerify(ctx: Ctx, opts: VerifyOptions): Promise<CommandResult> {
  const config = ctx.config().config
  const targets = selectTargets(config, opts.target !== undefined ? [opts.target] : [])
  if (opts.drill) await ctx.beginJob({ name: opts.target !== undefined ? `verify-drill-${opts.target}` : 'verify-drill', command: 'verify', ...(opts.target !== undefined ? { target: opts.target } : {}) })
  const results: Array<{ target: string; backup: string; ok: boolean; checks: string[]; problem?: string; drill?: Record<string, unknown> }> = []
  const drills = opts.drill ? await ctx.stateStore().read<Record<string, DrillRecord>>('drills', {}) : {}
  for (const [name, target] of targets) {
    const catalog = await readCatalog(config.backup.dir, name)
    if (catalog.backups.length === 0) {
      results.push({ target: name, backup: '-', ok: false, checks: [], problem: 'no valid backup' })
      continue
    }
    const entries: BackupEntry[] = opts.all && !opts.drill ? catalog.backups : [selectBackup(catalog.backups, name, 'latest')]
    for (const entry of entries) {
      const result = await verifyOne(ctx, name, target, entry, opts.drill)
      if (result.problem !== undefined) result.problem = ctx.redactor.redact(result.problem) // printed, notified, kept in drills.json
      results.push(result)
      if (opts.drill) {
        const now = ctx.clock().toISOString()
        const previous = drills[name]
        drills[name] = { lastRun: now, ok: result.ok, backup: entry.manifest.id, ...(result.ok ? { lastSuccess: now } : previous?.lastSuccess ? { lastSuccess: previous.lastSuccess } : {}), ...(result.problem ? { problem: result.problem } : {}) }
      }
    }
  }
  if (opts.drill) await ctx.stateStore().write('drills', drills)
  const failed = results.filter((r) => !r.ok)
  if (failed.length > 0) {
    await ctx.notifySafely({
      level: 'error',
      title: opts.drill ? `restore drill failed (${failed.map((f) => f.target).join(', ')})` : `backup verification failed (${failed.map((f) => f.target).join(', ')})`,
      body: failed.map((f) => `${f.target} ${f.backup}: ${f.problem ?? 'failed'}`).join('\n'),
      source: { command: 'verify' },
    })
  } else if (opts.drill) {
    await ctx.notifySafely({ level: 'info', title: 'restore drill succeeded', body: results.map((r) => `${r.target} ${r.backup}: ${JSON.stringify(r.drill ?? {})}`).join('\n'), source: { command: 'verify' } })
  }
  const rows = results.map((r) => [r.target, r.backup, r.ok ? 'ok' : 'FAILED', r.ok ? r.checks.join(', ') : (r.problem ?? '')])
  return {
    exitCode: failed.length > 0 ? ExitCode.failed : ExitCode.ok,
    report: { ok: failed.length === 0, drill: opts.drill, results },
    text: `${renderTable(['TARGET', 'BACKUP', 'STATUS', opts.drill ? 'DRILL' : 'CHECKS'], rows).trimEnd()}\n`,
  }
}

async function verifyOne(ctx: Ctx, name: string, target: BackupTarget, entry: BackupEntry, drill: boolean): Promise<{ target: string; backup: string; ok: boolean; checks: string[]; problem?: string; drill?: Record<string, unknown> }> {
  const base = { target: name, backup: entry.manifest.id }
  const checksum = await verifyChecksum(entry, ctx.signal)
  if (!checksum.ok) return { ...base, ok: false, checks: [], ...(checksum.problem ? { problem: checksum.problem } : {}) }
  const log = ctx.log.child({ cmd: 'verify', target: name })
  const unreadable = await verifyReadable(entry, target, { log, signal: ctx.signal, docker: () => ctx.docker() }).catch((error: unknown) => (error as Error).message)
  if (unreadable !== undefined) return { ...base, ok: false, checks: ['sha256'], problem: unreadable }
  if (!drill) return { ...base, ok: true, checks: ['size', 'sha256', 'readable'] }
  const stamp = timestampId(ctx.clock())
  const env: RestoreEnv = { target: name, log, signal: ctx.signal, docker: () => ctx.docker(), env: ctx.env, stamp, allowOutsideLinks: true }
  let staged: Staged | undefined
  const restorer = await restorerFor(target, env)
  try {
    const { tmpdir } = await import('node:os')
    const { join } = await import('node:path')
    const where =
      target.type === 'postgres'
        ? `${(target.database ?? 'db').slice(0, 30)}__ownops_drill_${stamp}`.toLowerCase()
        : target.type === 'sqlite'
          ? join(tmpdir(), `ownops-drill-${name}-${stamp}.sqlite`)
          : join(ctx.config().config.backup.dir, `.drill-${name}-${stamp}`)
    staged = await restorer.stage(entry, where)
    const details = await restorer.check(staged, entry)
    return { ...base, ok: true, checks: ['size', 'sha256', 'readable', 'restored'], drill: details }
  } catch (error) {
    const problem = error instanceof DumpFailure ? `${error.message}${error.stderrTail ? `: ${error.stderrTail.split('\n').slice(-2).join(' / ')}` : ''}` : (error as Error).message
    return { ...base, ok: false, checks: ['size', 'sha256', 'readable'], problem }
  } finally {
    if (staged !== undefined) await restorer.discard(staged).catch((error: unknown) => log.warn({ err: error }, 'could not remove the drill copy'))
  }
}
