/**
 * Is a backup what its manifest says, and readable to the end? Size and sha256 of the
 * artifact against its manifest, then a read of the whole content with the tool that will
 * restore it (each target type's `readable`). `verify --drill` restores the newest backup of
 * each target into a throwaway place (the type's `drillPlace`), checks it, removes it, and
 * records the result for monitor. Verified backups are remembered (`verified.json`) for the
 * list `ownops restore` shows.
 */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { pipeline } from 'node:stream/promises'
import { Writable } from 'node:stream'
import type { CommandResult } from '../command.js'
import type { Ctx } from '../context.js'
import type { BackupTarget } from '../config/schema.js'
import { readCatalog, type BackupEntry } from '../backup/catalog.js'
import { timestampId } from '../backup/artifact.js'
import { ExitCode, OwnopsError } from '../errors.js'
import { statusPainter } from '../colour.js'
import { renderTable } from '../text.js'
import { pluginFor } from '../targets/index.js'
import { DumpFailure, type Staged } from '../targets/types.js'
import type { ReadMeter } from '../ui/progress.js'
import { restoreEnv } from './env.js'
import { selectBackup } from './select.js'

export interface VerifyResult {
  ok: boolean
  size: number
  sha256: string
  problem?: string
}

/** Re-reads the artifact: size and sha256 must equal the manifest's. */
export async function verifyChecksum(entry: BackupEntry, signal?: AbortSignal, meter?: ReadMeter): Promise<VerifyResult> {
  const hash = createHash('sha256')
  let size = 0
  meter?.(() => size)
  await pipeline(
    createReadStream(entry.path, { highWaterMark: 1 << 20 }),
    new Writable({
      write(chunk: Buffer, _e, callback) {
        hash.update(chunk)
        size += chunk.length
        callback()
      },
    }),
    ...(signal ? [{ signal }] : []),
  )
  const sha256 = hash.digest('hex')
  if (size !== entry.manifest.size)
    return { ok: false, size, sha256, problem: `size ${size} differs from the manifest's ${entry.manifest.size}` }
  if (sha256 !== entry.manifest.sha256)
    return {
      ok: false,
      size,
      sha256,
      problem: `sha256 ${sha256.slice(0, 12)}… differs from the manifest's ${entry.manifest.sha256.slice(0, 12)}… (the file is damaged)`,
    }
  return { ok: true, size, sha256 }
}

export interface Verified {
  time: string
  /** sha256: size and checksum; readable: read to the end; drill: restored and checked. */
  how: 'sha256' | 'readable' | 'drill'
}

/** `<target>/<id>` → the last successful verification. */
export type VerifiedState = Record<string, Verified>

const RANK = { sha256: 0, readable: 1, drill: 2 } as const

/** Remembers verified backups (best effort: a read-only state directory only costs the note). */
export async function recordVerified(ctx: Ctx, entries: BackupEntry[], how: Verified['how']): Promise<void> {
  try {
    const store = ctx.stateStore()
    const state = await store.read<VerifiedState>('verified', {}, (v) =>
      v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as VerifiedState) : undefined,
    )
    const now = ctx.clock().toISOString()
    for (const e of entries) {
      const key = `${e.manifest.target}/${e.manifest.id}`
      const before = state[key]
      // A later, lesser check does not hide that a backup was drilled.
      state[key] = before !== undefined && RANK[before.how] > RANK[how] ? { ...before } : { time: now, how }
    }
    await store.write('verified', state)
  } catch (error) {
    ctx.log.debug({ err: error }, 'could not remember the verification')
  }
}

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

interface VerifyRow {
  target: string
  backup: string
  ok: boolean
  checks: string[]
  problem?: string
  drill?: Record<string, unknown>
}

export async function verifyTargets(ctx: Ctx, targets: Array<[string, BackupTarget]>, opts: VerifyOptions): Promise<CommandResult> {
  const config = ctx.config().config
  const results: VerifyRow[] = []
  const store = ctx.stateStore()
  // A drill pings its heartbeat; a plain verify is a job too (its last result for `ownops status`), without one.
  await ctx.beginJob({
    name: `verify${opts.drill ? '-drill' : ''}${opts.target !== undefined ? `-${opts.target}` : ''}`,
    command: 'verify',
    ...(opts.target !== undefined ? { target: opts.target } : {}),
    heartbeat: opts.drill,
  })
  const drills = opts.drill ? await store.read<Record<string, DrillRecord>>('drills', {}) : {}
  for (const [name, target] of targets) {
    const catalog = await readCatalog(config.backup.dir, name)
    if (catalog.backups.filter((b) => !b.tags.includes('pre-restore')).length === 0) {
      results.push({ target: name, backup: '-', ok: false, checks: [], problem: 'no valid backup' })
      continue
    }
    const entries: BackupEntry[] = opts.all && !opts.drill ? catalog.backups : [selectBackup(catalog.backups, name, 'latest')]
    for (const entry of entries) {
      const result = await verifyOne(ctx, name, target, entry, opts.drill)
      if (result.problem !== undefined) result.problem = ctx.redactor.redact(result.problem) // printed, notified, kept in drills.json
      results.push(result)
      if (result.ok) await recordVerified(ctx, [entry], opts.drill ? 'drill' : 'readable')
      if (opts.drill) {
        const now = ctx.clock().toISOString()
        const previous = drills[name]
        drills[name] = {
          lastRun: now,
          ok: result.ok,
          backup: entry.manifest.id,
          ...(result.ok ? { lastSuccess: now } : previous?.lastSuccess ? { lastSuccess: previous.lastSuccess } : {}),
          ...(result.problem ? { problem: result.problem } : {}),
        }
      }
    }
  }
  const failed = results.filter((r) => !r.ok)
  if (failed.length > 0) {
    await ctx.notifySafely({
      level: 'error',
      title: opts.drill
        ? `restore drill failed (${failed.map((f) => f.target).join(', ')})`
        : `backup verification failed (${failed.map((f) => f.target).join(', ')})`,
      body: failed.map((f) => `${f.target} ${f.backup}: ${f.problem ?? 'failed'}`).join('\n'),
      source: { command: 'verify' },
    })
  } else if (opts.drill) {
    await ctx.notifySafely({
      level: 'info',
      title: 'restore drill succeeded',
      body: results.map((r) => `${r.target} ${r.backup}: ${JSON.stringify(r.drill ?? {})}`).join('\n'),
      source: { command: 'verify' },
    })
  }
  if (opts.drill) {
    try {
      await store.write('drills', drills)
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      throw new OwnopsError(
        `the drill ${failed.length > 0 ? 'failed' : 'succeeded'}, but its result cannot be recorded for monitor: ${store.path('drills')}: ${code === 'EROFS' ? 'read-only file system' : (error as Error).message}`,
        {
          kind: code === 'EROFS' || code === 'EACCES' || code === 'EPERM' ? 'permission' : 'failed',
          hint: 'make the state directory writable (stateDir:, $OWNOPS_STATE_DIR; under systemd, ReadWritePaths=)',
        },
      )
    }
  }
  const rows = results.map((r) => [r.target, r.backup, r.ok ? 'ok' : 'FAILED', r.ok ? r.checks.join(', ') : (r.problem ?? '')])
  return {
    exitCode: failed.length > 0 ? ExitCode.failed : ExitCode.ok,
    report: { ok: failed.length === 0, drill: opts.drill, results },
    text: `${renderTable(['TARGET', 'BACKUP', 'STATUS', opts.drill ? 'DRILL' : 'CHECKS'], rows, statusPainter(2, ctx.colour)).trimEnd()}\n`,
  }
}

async function verifyOne(ctx: Ctx, name: string, target: BackupTarget, entry: BackupEntry, drill: boolean): Promise<VerifyRow> {
  const base = { target: name, backup: entry.manifest.id }
  const size = { bytes: entry.manifest.size }
  /** The progress line of one read of the backup, until it ends. */
  const reading = async <T>(label: string, work: () => Promise<T>): Promise<T> => {
    const task = ctx.progress?.track(label, size)
    try {
      return await work()
    } finally {
      task?.end()
    }
  }
  const meter = ctx.progress?.attach
  const checksum = await reading(`checksum ${entry.manifest.id}`, () => verifyChecksum(entry, ctx.signal, meter))
  if (!checksum.ok) return { ...base, ok: false, checks: [], ...(checksum.problem ? { problem: checksum.problem } : {}) }
  const log = ctx.log.child({ target: name })
  const plugin = pluginFor(target)
  const unreadable = await reading(`read ${entry.manifest.id}`, () =>
    plugin
      .readable(entry, target, { log, signal: ctx.signal, docker: () => ctx.docker(), ...(meter ? { meter } : {}) })
      .catch((error: unknown) => (error as Error).message),
  )
  if (unreadable !== undefined) return { ...base, ok: false, checks: ['sha256'], problem: unreadable }
  if (!drill) return { ...base, ok: true, checks: ['size', 'sha256', 'readable'] }
  const stamp = timestampId(ctx.clock())
  const env = restoreEnv(ctx, name, log, stamp, { allowOutsideLinks: true, meter })
  let staged: Staged | undefined
  try {
    const restorer = await plugin.restorer(target, env)
    const place = plugin.drillPlace(name, target, { stamp, backupDir: ctx.config().config.backup.dir })
    staged = await reading(`drill ${entry.manifest.id}`, () => restorer.stage(entry, place))
    const details = await restorer.check(staged, entry)
    await restorer.discard(staged).catch((error: unknown) => log.warn({ err: error }, 'could not remove the drill copy'))
    staged = undefined
    return { ...base, ok: true, checks: ['size', 'sha256', 'readable', 'restored'], drill: details }
  } catch (error) {
    if (ctx.signal.aborted) throw error
    const problem =
      error instanceof DumpFailure
        ? `${error.message}${error.stderrTail ? `: ${error.stderrTail.split('\n').slice(-2).join(' / ')}` : ''}`
        : (error as Error).message
    return { ...base, ok: false, checks: ['size', 'sha256', 'readable'], problem }
  } finally {
    if (staged !== undefined) {
      const left = staged
      await pluginFor(target)
        .restorer(target, env)
        .then((r) => r.discard(left))
        .catch((error: unknown) => log.warn({ err: error }, 'could not remove the drill copy'))
    }
  }
}
