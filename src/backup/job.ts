/**
 * `ownops backup [TARGET...]`: runs the named targets (default: all) one after another; a
 * failing target does not stop the others. Holds the host lock (naming the containers it
 * stops, so monitor stays quiet), notifies the result (the CLI pings the job's heartbeat), prunes each
 * successful target by its retention, and writes the Prometheus textfile.
 * `ownops backups [TARGET]`: what is in the backup directory, and anything odd there.
 */
import type { CommandResult } from '../command.js'
import type { Ctx } from '../context.js'
import type { BackupTarget, Config } from '../config/schema.js'
import { readCatalog, type Catalog } from './catalog.js'
import { renderBackupMetrics, type BackupRunResult } from './metrics.js'
import { pruneTarget, type PruneReport } from './prune.js'
import { backupTarget, removeAllStalePartials, type TargetReport } from './run.js'
import { formatDuration } from '../duration.js'
import { ExitCode } from '../errors.js'
import { writeFileAtomic } from '../sys/atomic.js'
import { formatBytes, renderTable } from '../text.js'
import { pluginFor } from '../targets/index.js'
import { selectTargets } from './select.js'

export interface BackupOptions {
  targets: string[]
  dryRun: boolean
  /** Only targets without a schedule of their own (the default backup timer runs this). */
  unscheduled: boolean
  tags?: string[]
}

export interface BackupRunReport {
  ok: boolean
  runId: string
  targets: Array<TargetReport & { prune?: PruneReport }>
  /** Copies off the box made after this run. */
  copies?: import('../copies/copy.js').DestinationReport[]
}

export async function runBackup(ctx: Ctx, opts: BackupOptions): Promise<CommandResult> {
  const config = ctx.config().config
  const selected = selectTargets(config, opts.targets, opts.unscheduled)
  if (opts.dryRun) return plan(ctx, config, selected)
  const job = await ctx.beginJob({
    name: opts.targets.length > 0 ? `backup-${opts.targets.join('-')}` : 'backup',
    command: 'backup',
    ...(opts.targets.length === 1 ? { target: opts.targets[0] } : {}),
  })
  if (selected.length === 0) {
    // `backup --unscheduled` when every target has a schedule of its own: nothing to do,
    // and nothing to tell anyone (no lock, no "backup done (0 targets)" message).
    ctx.log.info('every backup target has a schedule of its own: nothing to back up in this run')
    const result: BackupRunReport = { ok: true, runId: '', targets: [] }
    return {
      exitCode: ExitCode.ok,
      report: result,
      text: 'nothing to back up: every target has a schedule of its own (backup-<target> jobs)\n',
    }
  }

  const stops = [...selected.map(([name]) => name), ...selected.flatMap(([, t]) => t.stop ?? [])]
  await ctx.lock('backup', stops)
  const runId = job.runId
  const log = ctx.log.child({ runId })

  await removeAllStalePartials(config.backup.dir, Object.keys(config.backup.targets), log)
  const reports: BackupRunReport['targets'] = []
  const { hostname } = await import('node:os')
  for (const [name, target] of selected) {
    log.info({ target: name, type: target.type }, `backing up ${name}`)
    let report: BackupRunReport['targets'][number]
    try {
      report = await backupTarget(name, target, {
        config,
        log,
        signal: ctx.signal,
        env: ctx.env,
        host: config.hostname ?? hostname(),
        now: ctx.clock,
        docker: () => ctx.docker(),
        ...(opts.tags ? { tags: opts.tags } : {}),
        ...(ctx.progress ? { progress: ctx.progress } : {}),
      })
    } catch (error) {
      // Interrupted (SIGINT/SIGTERM): what was put back is in the message; the targets not reached are named.
      if (ctx.signal.aborted) {
        const done = reports.map((r) => `${r.ok ? '✓' : '✗'} ${r.target}${r.ok ? '' : `: ${r.error ?? 'failed'}`}`)
        const left = selected.slice(reports.length + 1).map(([n]) => n)
        const body = [
          ctx.redactor.redact((error as Error).message),
          ...done,
          ...(left.length > 0 ? [`not backed up in this run: ${left.join(', ')}`] : []),
        ].join('\n')
        await ctx.notifySafely({
          level: 'error',
          title: `backup of ${name} interrupted`,
          body,
          source: { command: 'backup', target: name },
        })
      }
      throw error
    }
    // A tool's or hook's output may echo a password: the report (printed, notified) is masked.
    const clean = (text: string) => ctx.redactor.redact(text)
    report.warnings = report.warnings.map(clean)
    if (report.error !== undefined) report.error = clean(report.error)
    if (report.hint !== undefined) report.hint = clean(report.hint)
    if (report.stderr !== undefined) report.stderr = clean(report.stderr)
    if (report.ok) {
      log.info(
        { target: name, size: report.size, durationMs: report.durationMs, warnings: report.warnings.length },
        `backup of ${name} done: ${formatBytes(report.size ?? 0)} in ${formatDuration(report.durationMs)}`,
      )
      const pruned = await pruneTarget(name, target, report, { config, log, dryRun: false, now: ctx.clock(), state: ctx.stateStore() })
      report.prune = pruned
      if (pruned.sizeDrop !== undefined) report.warnings.push(pruned.sizeDrop)
      if (pruned.futureDated !== undefined) report.warnings.push(pruned.futureDated)
    }
    reports.push(report)
  }

  const ok = reports.every((r) => r.ok)
  // Copies off the box: destinations without a schedule of their own take what succeeded.
  const copy = Object.keys(config.backup.destinations).length > 0 ? await import('../copies/run.js') : undefined
  const copies = copy
    ? await copy.copyAfterBackup(
        ctx,
        config,
        reports.filter((r) => r.ok).map((r) => r.target),
      )
    : []
  const copiesOk = copies.every((c) => c.ok)
  await writeMetrics(ctx, config, reports)
  await notifyResult(ctx, reports, ok)
  const result: BackupRunReport = { ok: ok && copiesOk, runId, targets: reports, ...(copies.length > 0 ? { copies } : {}) }
  return {
    exitCode: ok && copiesOk ? ExitCode.ok : ExitCode.failed,
    report: result,
    text: renderRun(reports) + (copy && copies.length > 0 ? copy.renderCopies(copies) : ''),
  }
}

function renderRun(reports: BackupRunReport['targets']): string {
  const rows = reports.map((r) => [
    r.target,
    r.ok ? (r.warnings.length > 0 ? `ok (${r.warnings.length} warning${r.warnings.length > 1 ? 's' : ''})` : 'ok') : 'FAILED',
    r.ok ? formatBytes(r.size ?? 0) : '',
    formatDuration(r.durationMs),
    r.ok ? (r.file ?? '') : `${r.error ?? ''}${r.hint ? ` — ${r.hint}` : ''}`,
  ])
  const lines = [renderTable(['TARGET', 'STATUS', 'SIZE', 'TIME', 'FILE / ERROR'], rows).trimEnd()]
  for (const r of reports) {
    for (const w of r.warnings) lines.push(`warning: ${r.target}: ${w}`)
    if (r.prune && r.prune.removed.length > 0)
      lines.push(
        `${r.target}: pruned ${r.prune.removed.length} old backup${r.prune.removed.length > 1 ? 's' : ''} (keep: ${r.prune.policy})`,
      )
  }
  return `${lines.join('\n')}\n`
}

async function notifyResult(ctx: Ctx, reports: BackupRunReport['targets'], ok: boolean): Promise<void> {
  const config = ctx.config().config
  const failed = reports.filter((r) => !r.ok)
  const warned = reports.filter((r) => r.ok && r.warnings.length > 0)
  const summary = reports
    .map((r) =>
      r.ok ? `✓ ${r.target}: ${formatBytes(r.size ?? 0)} in ${formatDuration(r.durationMs)}` : `✗ ${r.target}: ${r.error ?? 'failed'}`,
    )
    .join('\n')
  // The summary has each error with the tool's reason; the details add the hint and the rest
  // of the tool's output, not the same line again.
  const details = failed
    .map((r) => ({ r, output: r.stderr !== undefined && !(r.error ?? '').includes(r.stderr.trim()) ? r.stderr : undefined }))
    .filter(({ r, output }) => r.hint !== undefined || output !== undefined)
    .map(({ r, output }) => `\n${r.target}:${r.hint ? `\nhint: ${r.hint}` : ''}${output ? `\n${output}` : ''}`)
    .concat(warned.map((r) => `\n${r.target} warnings:\n${r.warnings.map((w) => `- ${w}`).join('\n')}`))
    .join('\n')
  const body = `${summary}${details ? `\n${details}` : ''}`
  if (!ok) {
    const title =
      failed.length === 1 ? `backup of ${failed[0]?.target ?? ''} failed` : `${failed.length} of ${reports.length} backups failed`
    await ctx.notifySafely({
      level: 'error',
      title,
      body,
      source: { command: 'backup', ...(failed.length === 1 ? { target: failed[0]?.target ?? '' } : {}) },
    })
  } else if (warned.length > 0) {
    await ctx.notifySafely({
      level: 'warning',
      title: `backup done with warnings (${warned.map((r) => r.target).join(', ')})`,
      body,
      source: { command: 'backup' },
    })
  } else if (config.backup.notifyOnSuccess) {
    await ctx.notifySafely({
      level: 'info',
      title: `backup done (${reports.length} target${reports.length > 1 ? 's' : ''})`,
      body,
      source: { command: 'backup' },
    })
  }
}

/** State of the textfile: the last attempt of every target, so that `backup world` keeps db's. */
const BACKUP_RUNS_STATE = 'backup-runs'

async function writeMetrics(ctx: Ctx, config: Config, reports: TargetReport[]): Promise<void> {
  const file = config.backup.prometheus
  if (file === undefined) return
  try {
    const catalogs: Catalog[] = []
    for (const name of Object.keys(config.backup.targets)) catalogs.push(await readCatalog(config.backup.dir, name))
    const store = ctx.stateStore()
    const previous = await store.read<Record<string, BackupRunResult>>(BACKUP_RUNS_STATE, {}, (v) =>
      v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, BackupRunResult>) : undefined,
    )
    const at = ctx.clock().toISOString()
    const runs: Record<string, BackupRunResult> = {}
    for (const name of Object.keys(config.backup.targets))
      if (previous[name] !== undefined) runs[name] = { target: name, ok: previous[name].ok === true, at: previous[name].at }
    for (const r of reports) runs[r.target] = { target: r.target, ok: r.ok, at }
    await store.write(BACKUP_RUNS_STATE, runs)
    await writeFileAtomic(file, renderBackupMetrics(catalogs, Object.values(runs)), { mode: 0o644, dirMode: 0o755 })
  } catch (error) {
    ctx.log.warn({ err: error, file }, 'could not write the Prometheus textfile')
  }
}

async function plan(ctx: Ctx, config: Config, selected: Array<[string, BackupTarget]>): Promise<CommandResult> {
  const rows: string[][] = []
  const targets = []
  for (const [name, target] of selected) {
    const catalog = await readCatalog(config.backup.dir, name)
    const what = describeSource(target)
    const keep = target.keep ?? config.backup.keep
    rows.push([
      name,
      target.type,
      what,
      (target.stop ?? []).join(', ') || '-',
      keep ? JSON.stringify(keep) : 'all',
      String(catalog.backups.length),
    ])
    targets.push({
      target: name,
      type: target.type,
      source: what,
      stop: target.stop ?? [],
      keep: keep ?? null,
      existing: catalog.backups.length,
      dir: catalog.dir,
    })
  }
  ctx.log.info('(dry run) nothing was backed up, stopped or pruned')
  return {
    exitCode: ExitCode.ok,
    report: { dryRun: true, dir: config.backup.dir, targets },
    text: `Backup plan (dry run) into ${config.backup.dir}:\n${renderTable(['TARGET', 'TYPE', 'SOURCE', 'STOPS', 'KEEP', 'BACKUPS'], rows)}\n`,
  }
}

function describeSource(target: BackupTarget): string {
  return pluginFor(target).describe(target)
}
