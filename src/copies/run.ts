/**
 * Copies off the box:
 * - `ownops copy [TARGET] [--to DEST]` copies what the destinations lack (catching up after
 *   failures), applies their retention, and reports per destination;
 * - `ownops backups --from DEST` lists what a destination holds, and anything odd there;
 * - `ownops verify --from DEST` re-checks the copies there (and `restic check`);
 * - `ownops restore TARGET --from DEST` fetches a copy into a staging catalog, checks it,
 *   and restores it through the local restore path;
 * - `copyAfterBackup` runs the destinations without a schedule after `ownops backup`.
 */
import { hostname } from 'node:os'
import type { CommandResult } from '../command.js'
import type { Ctx } from '../context.js'
import { readCatalog } from '../backup/catalog.js'
import type { Config } from '../config/schema.js'
import { formatBytes } from '../text.js'
import {
  afterBackupDestinations,
  copyToDestination,
  destinationEnv,
  destinationPolicy,
  type CopyEnv,
  type DestinationReport,
} from './copy.js'
import { openDestination } from './destinations/index.js'
import { fetchCopy, selectCopy, stagingDir } from './fetch.js'
import { missingOddities, oddityId, planUploads } from './layout.js'
import { copyMetricsFile, renderCopyMetrics } from './metrics.js'
import { destinationTargets, readCopiesState } from './state.js'
import type { RemoteCopy, RemoteOddity } from './types.js'
import { formatDuration } from '../duration.js'
import { ExitCode, OwnopsError } from '../errors.js'
import { parseAt } from '../restore/select.js'
import { writeFileAtomic } from '../sys/atomic.js'
import { statusPainter } from '../colour.js'
import { didYouMean, renderTable } from '../text.js'
import { join } from 'node:path'
import { restoreOrder, type RestoreOptions } from '../restore/run.js'
import { selectTargets } from '../backup/select.js'

export function copyEnv(ctx: Ctx, config: Config, dryRun: boolean): CopyEnv {
  const store = ctx.stateStore()
  return {
    config,
    log: ctx.log,
    signal: ctx.signal,
    env: ctx.env,
    host: config.hostname ?? hostname(),
    stateDir: store.dir,
    store,
    now: ctx.clock,
    secret: (value) => ctx.redactor.add(value),
    redact: (text) => ctx.redactor.redact(text),
    dryRun,
    ...(ctx.progress ? { progress: ctx.progress } : {}),
  }
}

/** The destination named by --to / --from, or a usage error naming the configured ones. */
export function selectDestination(config: Config, name: string): string {
  const names = Object.keys(config.backup.destinations)
  if (names.length === 0) {
    throw new OwnopsError('no destinations configured', {
      kind: 'config',
      hint: 'add one under backup.destinations, e.g.  offsite: { type: rclone, remote: "gdrive:backups" }  (see the README, Copies off the box)',
    })
  }
  if (config.backup.destinations[name] === undefined) {
    const guess = didYouMean(name, names)
    throw new OwnopsError(`no destination named "${name}"${guess ? ` (did you mean "${guess}"?)` : ''}`, {
      kind: 'usage',
      hint: `configured destinations: ${names.join(', ')}`,
    })
  }
  return name
}

export interface CopyOptions {
  targets: string[]
  to?: string | undefined
  dryRun: boolean
}

export async function runCopy(ctx: Ctx, opts: CopyOptions): Promise<CommandResult> {
  const config = ctx.config().config
  const names = opts.to !== undefined ? [selectDestination(config, opts.to)] : Object.keys(config.backup.destinations)
  if (names.length === 0) selectDestination(config, '')
  const targets = opts.targets.length > 0 ? selectTargets(config, opts.targets).map(([n]) => n) : undefined
  if (!opts.dryRun) {
    // A job (`ownops status` shows its last result); copies have no heartbeat of their own.
    await ctx.beginJob({ name: opts.to !== undefined ? `copy-${opts.to}` : 'copy', command: 'copy', heartbeat: false })
    await ctx.lock(opts.to !== undefined ? `copy --to ${opts.to}` : 'copy', [])
  }
  const env = copyEnv(ctx, config, opts.dryRun)
  const reports: DestinationReport[] = []
  for (const name of names) reports.push(await copyToDestination(name, env, targets))
  if (!opts.dryRun) {
    await writeCopyMetrics(ctx, config)
    await notifyCopies(ctx, reports, true)
  }
  const ok = reports.every((r) => r.ok)
  return {
    exitCode: ok ? ExitCode.ok : exitCodeOf(reports),
    report: { ok, dryRun: opts.dryRun, destinations: reports },
    text: renderCopies(reports),
  }
}

function exitCodeOf(reports: DestinationReport[]): number {
  const failed = reports.filter((r) => !r.ok)
  const codes = new Set(failed.map((r) => r.exitCode ?? ExitCode.failed))
  return codes.size === 1 ? ([...codes][0] as number) : ExitCode.failed
}

/** After `ownops backup`: the destinations without a schedule get the targets that succeeded. */
export async function copyAfterBackup(ctx: Ctx, config: Config, succeeded: string[]): Promise<DestinationReport[]> {
  const names = afterBackupDestinations(config).filter((name) =>
    destinationTargets(config, config.backup.destinations[name]!).some((t) => succeeded.includes(t)),
  )
  if (names.length === 0) return []
  const env = copyEnv(ctx, config, false)
  const reports: DestinationReport[] = []
  for (const name of names) reports.push(await copyToDestination(name, env, succeeded))
  await writeCopyMetrics(ctx, config)
  await notifyCopies(ctx, reports, false)
  return reports
}

export function renderCopies(reports: DestinationReport[]): string {
  const rows: string[][] = []
  for (const r of reports) {
    if (r.targets.length === 0 || !r.ok) {
      rows.push([
        r.destination,
        r.targets.map((t) => t.target).join(', ') || '-',
        r.ok ? 'ok' : 'FAILED',
        '',
        '',
        r.error ? `${r.error}${r.hint ? ` — ${r.hint}` : ''}` : '',
      ])
    }
    if (!r.ok && r.targets.length === 0) continue
    for (const t of r.targets) {
      const bytes = t.uploaded.reduce((n, u) => n + u.size, 0)
      const what =
        t.uploaded.length === 0 ? 'up to date' : `${r.dryRun ? 'would copy' : 'copied'} ${t.uploaded.map((u) => u.id).join(', ')}`
      const removed = t.removed.length > 0 ? `; ${r.dryRun ? 'would remove' : 'removed'} ${t.removed.join(', ')}` : ''
      rows.push([
        r.destination,
        t.target,
        t.error ? 'FAILED' : 'ok',
        t.uploaded.length > 0 ? formatBytes(bytes) : '',
        String(t.holds),
        t.error ? t.error : `${what}${removed}`,
      ])
    }
  }
  const head = renderTable(['DESTINATION', 'TARGET', 'STATUS', 'SIZE', 'COPIES', 'WHAT'], rows).trimEnd()
  const enc = reports
    .filter((r) => r.encryption !== undefined)
    .map((r) => `${r.destination}: ${r.where ?? ''} (encryption: ${r.encryption})`)
  return `${[head, ...enc].join('\n')}\n`
}

async function notifyCopies(ctx: Ctx, reports: DestinationReport[], standalone: boolean): Promise<void> {
  const config = ctx.config().config
  const failed = reports.filter((r) => !r.ok)
  for (const r of failed) {
    await ctx.notifySafely({
      level: 'error',
      title: `copy to ${r.destination} failed`,
      body: `${r.error ?? 'failed'}${r.hint ? `\nhint: ${r.hint}` : ''}\nThe local backups are kept; the next run copies what is missing.`,
      source: { command: standalone ? 'copy' : 'backup', target: r.destination },
    })
  }
  const copied = reports.filter((r) => r.ok && r.targets.some((t) => t.uploaded.length > 0))
  if (standalone && failed.length === 0 && copied.length > 0 && config.backup.notifyOnSuccess) {
    const body = copied
      .flatMap((r) =>
        r.targets
          .filter((t) => t.uploaded.length > 0)
          .map(
            (t) =>
              `✓ ${t.target} → ${r.destination}: ${t.uploaded.length} backup(s), ${formatBytes(t.uploaded.reduce((n, u) => n + u.size, 0))}`,
          ),
      )
      .join('\n')
    await ctx.notifySafely({
      level: 'info',
      title: `copies done (${copied.map((r) => r.destination).join(', ')})`,
      body,
      source: { command: 'copy' },
    })
  }
}

export async function writeCopyMetrics(ctx: Ctx, config: Config): Promise<void> {
  const file = copyMetricsFile(config)
  if (file === undefined) return
  try {
    const state = await readCopiesState(ctx.stateStore())
    await writeFileAtomic(file, renderCopyMetrics(config, state), { mode: 0o644, dirMode: 0o755 })
  } catch (error) {
    ctx.log.warn({ err: error, file }, 'could not write the Prometheus textfile of the copies')
  }
}

async function open(ctx: Ctx, config: Config, name: string) {
  const env = copyEnv(ctx, config, false)
  return openDestination(destinationEnv(name, env, ctx.signal))
}

// ---------------------------------------------------------------------------------------
// backups --from
// ---------------------------------------------------------------------------------------

export async function runBackupsFrom(ctx: Ctx, from: string, target: string | undefined): Promise<CommandResult> {
  const config = ctx.config().config
  const name = selectDestination(config, from)
  const dest = config.backup.destinations[name]!
  const targets = target !== undefined ? selectTargets(config, [target]).map(([n]) => n) : destinationTargets(config, dest)
  const d = await open(ctx, config, name)
  const listing = await d.list(targets, { hashes: true })
  const state = await readCopiesState(ctx.stateStore())
  const received = Object.fromEntries(targets.map((t) => [t, state.destinations[name]?.targets[t]?.received ?? []]))
  const oddities: RemoteOddity[] = [...listing.oddities, ...missingOddities(received, listing)]
  const now = ctx.clock().getTime()
  const rows: string[][] = []
  const pending: Array<{ target: string; id: string; time: string; size: number }> = []
  for (const t of targets) {
    for (const c of listing.copies.filter((x) => x.target === t)) {
      rows.push([
        t,
        c.id,
        c.time.toISOString().replace(/\.\d{3}Z$/, 'Z'),
        formatDuration(Math.max(0, now - c.time.getTime())),
        formatBytes(c.size),
        c.sha256.slice(0, 12),
        c.stored?.encryption === 'age' ? 'age' : '',
      ])
    }
    const catalog = await readCatalog(config.backup.dir, t)
    const odd = oddities.filter((x) => x.target === t)
    const again = new Set<string>()
    for (const [i, b] of planUploads(
      catalog.backups,
      listing.copies.filter((x) => x.target === t),
      destinationPolicy(config, dest, t),
    ).entries()) {
      pending.push({ target: t, id: b.manifest.id, time: b.manifest.time, size: b.manifest.size })
      // A damaged or unfinished copy of it is one problem, said once: on the oddity's line.
      if (odd.some((o) => oddityId(o) === b.manifest.id)) {
        again.add(b.manifest.id)
        continue
      }
      // The newest one is kept on the box until it is copied (local retention passes it over).
      rows.push([
        t,
        b.manifest.id,
        b.manifest.time.replace(/\.\d{3}Z$/, 'Z'),
        formatDuration(Math.max(0, now - b.time.getTime())),
        formatBytes(b.manifest.size),
        b.manifest.sha256.slice(0, 12),
        i === 0 ? 'not copied yet (only on the box, kept there until copied)' : 'not copied yet (only on the box)',
      ])
    }
    for (const o of odd) {
      const id = oddityId(o)
      rows.push([
        t,
        '-',
        '-',
        '-',
        '-',
        '-',
        `${o.kind}: ${o.message} (${o.path})${id !== undefined && again.has(id) ? `; the next copy run copies ${id} again` : ''}`,
      ])
    }
  }
  for (const o of oddities.filter((x) => x.target === undefined))
    rows.push(['-', '-', '-', '-', '-', '-', `${o.kind}: ${o.message} (${o.path})`])
  if (rows.length === 0) rows.push(['-', '-', '-', '-', '-', '-', 'nothing here yet'])
  const s = state.destinations[name]
  // What this listing can say about content, and what it cannot.
  const checked =
    listing.compared === undefined
      ? `checked here: the repository's snapshots; ownops verify --from ${name} checks the content`
      : listing.compared.hash !== undefined
        ? `checked here: size and ${listing.compared.hash} of each copy (the hash the backend keeps); ownops verify --from ${name} reads them`
        : `checked here: the size of each copy (this destination keeps no hashes); ownops verify --from ${name} reads the content`
  const footer = [
    `${name}: ${d.where} (encryption: ${d.encryption})`,
    checked,
    s?.lastRun ? `last copy run ${s.lastRun}: ${s.lastOk ? 'ok' : `failed: ${s.error ?? ''}`}` : 'no copy run recorded on this machine',
  ]
  return {
    exitCode: ExitCode.ok,
    report: {
      destination: name,
      type: dest.type,
      where: d.where,
      encryption: d.encryption,
      compared: listing.compared ?? null,
      copies: listing.copies.map(copyJson),
      pending,
      oddities,
      lastRun: s ?? null,
    },
    text: `${renderTable(['TARGET', 'ID', 'TIME (UTC)', 'AGE', 'SIZE', 'SHA256', 'NOTE'], rows).trimEnd()}\n${footer.join('\n')}\n`,
  }
}

function copyJson(c: RemoteCopy): Record<string, unknown> {
  return {
    target: c.target,
    id: c.id,
    time: c.time.toISOString(),
    size: c.size,
    sha256: c.sha256,
    tags: c.tags,
    location: c.location,
    ...(c.stored ? { stored: c.stored } : {}),
  }
}

// ---------------------------------------------------------------------------------------
// verify --from
// ---------------------------------------------------------------------------------------

export interface VerifyFromOptions {
  from: string
  target?: string | undefined
  all: boolean
  download: boolean
}

export async function runVerifyFrom(ctx: Ctx, opts: VerifyFromOptions): Promise<CommandResult> {
  const config = ctx.config().config
  const name = selectDestination(config, opts.from)
  const dest = config.backup.destinations[name]!
  const targets = opts.target !== undefined ? selectTargets(config, [opts.target]).map(([n]) => n) : destinationTargets(config, dest)
  await ctx.lock(`verify --from ${name}`, [])
  const d = await open(ctx, config, name)
  const results: Array<{ target: string; backup: string; ok: boolean; checks: string[]; problem?: string }> = []
  if (d.check !== undefined) {
    const c = await d.check()
    results.push({ target: '-', backup: 'repository', ok: c.ok, checks: c.checks, ...(c.problem ? { problem: c.problem } : {}) })
  }
  const listing = await d.list(targets, { hashes: true })
  for (const o of listing.oddities) {
    if (o.kind === 'hash-mismatch' || o.kind === 'size-mismatch' || o.kind === 'no-artifact' || o.kind === 'bad-manifest')
      results.push({ target: o.target ?? '-', backup: o.path, ok: false, checks: ['listing'], problem: `${o.kind}: ${o.message}` })
  }
  for (const t of targets) {
    const copies = listing.copies.filter((c) => c.target === t)
    if (copies.length === 0) {
      results.push({ target: t, backup: '-', ok: false, checks: [], problem: `${name} holds no copy of ${t}` })
      continue
    }
    for (const c of opts.all ? copies : copies.slice(0, 1)) {
      const v = await d
        .verify(c, { download: opts.download })
        .catch((error: unknown) => ({ ok: false, checks: [], problem: (error as Error).message }))
      results.push({ target: t, backup: c.id, ok: v.ok, checks: v.checks, ...(v.problem ? { problem: v.problem } : {}) })
    }
  }
  const failed = results.filter((r) => !r.ok)
  if (failed.length > 0) {
    await ctx.notifySafely({
      level: 'error',
      title: `copies at ${name} failed verification`,
      body: failed.map((f) => `${f.target} ${f.backup}: ${f.problem ?? 'failed'}`).join('\n'),
      source: { command: 'verify', target: name },
    })
  }
  const rows = results.map((r) => [r.target, r.backup, r.ok ? 'ok' : 'FAILED', r.ok ? r.checks.join(', ') : (r.problem ?? '')])
  return {
    exitCode: failed.length > 0 ? ExitCode.failed : ExitCode.ok,
    report: { ok: failed.length === 0, destination: name, results },
    text: `${renderTable(['TARGET', 'BACKUP', 'STATUS', 'CHECKS'], rows, statusPainter(2, ctx.colour)).trimEnd()}\n`,
  }
}

// ---------------------------------------------------------------------------------------
// restore --from
// ---------------------------------------------------------------------------------------

export interface RestoreFromOptions extends RestoreOptions {
  from: string
  identity: string[]
}

/**
 * `ownops restore TARGET --from DEST` and `ownops restore --all --from DEST`: the copies are
 * chosen and fetched first (all of them, before anything changes), then restored by the
 * local restore sequence from the staging catalog, databases first.
 */
export async function runRestoreFrom(ctx: Ctx, opts: RestoreFromOptions): Promise<CommandResult> {
  const config = ctx.config().config
  const name = selectDestination(config, opts.from)
  const dest = config.backup.destinations[name]!
  if (opts.undo)
    throw new OwnopsError('--undo and --from exclude each other', {
      kind: 'usage',
      hint: 'ownops restore --undo TARGET --yes undoes the last restore, wherever it came from',
    })
  if (opts.all && (opts.targets.length > 0 || opts.to !== undefined || (opts.backup !== undefined && opts.backup !== 'latest'))) {
    throw new OwnopsError('--all restores the newest copy of every target the destination takes; it takes no target, backup id or --to', {
      kind: 'usage',
      hint: `ownops restore --all --from ${name} --dry-run`,
    })
  }
  if (!opts.all && opts.targets.length === 0)
    throw new OwnopsError('which target?', {
      kind: 'usage',
      hint: `ownops backups --from ${name} lists what it holds; ownops restore TARGET --from ${name}, or --all`,
    })
  const names = opts.all ? restoreOrder(config, destinationTargets(config, dest)) : selectTargets(config, opts.targets).map(([n]) => n)
  if (!opts.dryRun && !opts.yes && !ctx.stdinIsTTY) {
    throw new OwnopsError('refusing to restore without confirmation', {
      kind: 'usage',
      hint: `review the plan with --dry-run, then add --yes: ownops restore ${opts.all ? '--all' : names.join(' ')} --from ${name} --yes`,
    })
  }
  const log = ctx.log.child({ destination: name })
  const d = await open(ctx, config, name)
  const listing = await d.list(names)
  const at = opts.at !== undefined ? parseAt(opts.at) : undefined
  const chosen = names.map((t) => selectCopy(listing.copies, t, name, opts.all ? undefined : opts.backup, at))
  if (opts.dryRun) {
    const now = ctx.clock().getTime()
    const lines = chosen.map(
      (c) =>
        `  fetch:    ${c.target}: ${c.id} (${c.time.toISOString()}, ${formatDuration(Math.max(0, now - c.time.getTime()))} ago, ${formatBytes(c.size)}${c.stored?.encryption === 'age' ? ', age-encrypted' : ''})`,
    )
    return {
      exitCode: ExitCode.ok,
      report: {
        dryRun: true,
        destination: name,
        where: d.where,
        encryption: d.encryption,
        targets: chosen.map((c) => ({
          target: c.target,
          backup: c.id,
          time: c.time.toISOString(),
          size: c.size,
          encrypted: c.stored?.encryption === 'age',
        })),
      },
      text: `Restore plan (dry run), from ${name} (${d.where}, encryption: ${d.encryption}):
${lines.join('\n')}
  verify:   each copy's sha256 against its manifest, before anything changes
  then:     the same restore as from a local backup, ${names.length > 1 ? 'databases first, ' : ''}with its plan and confirmation (ownops restore ${names.length > 1 ? '--all' : names[0]} --dry-run shows what it replaces)
`,
    }
  }
  let staging = stagingDir(config.backup.dir, name)
  try {
    for (const copy of chosen) {
      log.info({ target: copy.target, backup: copy.id, size: copy.size }, `fetching ${copy.id} from ${name}`)
      const task = ctx.progress?.track(`fetch ${copy.id} from ${name}`, { bytes: copy.size })
      staging = await fetchCopy(d, copy, config.backup.dir, name, opts.identity).finally(() => task?.end())
    }
    const { runRestore } = await import('../restore/entry.js')
    const result = await runRestore(ctx, {
      ...opts,
      all: false,
      targets: names,
      backup: names.length === 1 ? chosen[0]?.id : undefined,
      at: undefined,
      backupDir: staging,
    })
    return { ...result, report: { ...(result.report as Record<string, unknown>), from: name } }
  } finally {
    const { rm } = await import('node:fs/promises')
    for (const t of names) await rm(join(stagingDir(config.backup.dir, name), t), { recursive: true, force: true })
  }
}
