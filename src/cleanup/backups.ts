/**
 * The built-in `backups` rule: each target's keep policy (the same pruneTarget backup runs,
 * so the newest backup is never removed and pre-restore safety copies stay for
 * restore.keepSafetyCopy), partial files of interrupted runs, and what restores leave
 * behind: the replaced data (`<db>__pre_restore_<time>`, `<path>.pre-restore-<time>`,
 * `…undone…`) once restore.keepOld has passed, and staging leftovers of a restore that was
 * killed.
 */
import { lstat, readdir, rm } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { readCatalog } from '../backup/catalog.js'
import { pruneTarget } from '../backup/prune.js'
import { resolveRoot } from '../targets/directory.js'
import { resolveSqlitePath } from '../targets/sqlite.js'
import type { BackupTarget } from '../config/schema.js'
import { formatDuration, parseDuration } from '../duration.js'
import { openDbClient } from '../sys/db-client.js'
import { scanTree } from './files.js'
import { record, ruleReport, type RuleEnv, type RuleReport } from './types.js'

const STAMP = '(\\d{8}T\\d{6}Z)'

export function parseStamp(stamp: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(stamp)
  if (!m) return undefined
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number]
  return new Date(Date.UTC(y, mo - 1, d, h, mi, s))
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/** Something a restore left behind. */
export interface Leftover {
  what: string
  kind: 'kept' | 'staging'
  time: Date
  bytes: number
  remove(): Promise<void>
}

interface UndoRecord {
  kept: string
}

async function fileLeftovers(live: string, suffixes: readonly string[]): Promise<Leftover[]> {
  const dir = dirname(live)
  const base = basename(live)
  const pattern = new RegExp(`^${escapeRegex(base)}\\.(pre-restore|undone|ownops-restore|failed-restore)-${STAMP}(${suffixes.map(escapeRegex).join('|')})$`)
  let names: string[]
  try {
    names = await readdir(dir)
  } catch {
    return []
  }
  const found: Leftover[] = []
  for (const name of names.sort()) {
    const m = pattern.exec(name)
    const time = m ? parseStamp(m[2] ?? '') : undefined
    if (!m || time === undefined) continue
    const path = join(dir, name)
    const stats = await lstat(path).catch(() => undefined)
    if (stats === undefined) continue
    const tree = await scanTree(path, stats)
    const staging = m[1] === 'ownops-restore' || m[1] === 'failed-restore'
    found.push({ what: stats.isDirectory() ? `${path}/` : path, kind: staging ? 'staging' : 'kept', time, bytes: tree.bytes, remove: () => rm(path, { recursive: true, force: true }) })
  }
  return found
}

async function restoreLeftovers(name: string, target: BackupTarget, env: RuleEnv): Promise<Leftover[]> {
  switch (target.type) {
    case 'sqlite': {
      const { path } = await resolveSqlitePath(target, env)
      return fileLeftovers(path, ['', '-wal', '-shm', '-journal'])
    }
    case 'directory': {
      const { root } = await resolveRoot(target, { docker: env.docker, target: name } as unknown as Parameters<typeof resolveRoot>[1])
      return fileLeftovers(root.replace(/\/+$/, ''), [''])
    }
    case 'postgres': {
      if (target.container === undefined) return []
      const client = await openDbClient(name, target, env)
      const rows = await client.query(`SELECT datname, pg_database_size(datname) FROM pg_database WHERE datname ~ '__(pre_restore|undone)_\\d{8}T\\d{6}Z$'`)
      const found: Leftover[] = []
      for (const line of rows.split('\n').filter(Boolean)) {
        const [db = '', size = '0'] = line.split('\t')
        const m = new RegExp(`^(.*)__(?:pre_restore|undone)_${STAMP}$`).exec(db)
        const time = m ? parseStamp(m[2] ?? '') : undefined
        // Only copies of this target's database (its name may be cut short to fit 63 bytes).
        if (!m || time === undefined || m[1] === '' || !client.database.startsWith(m[1] ?? '')) continue
        const quoted = `"${db.replace(/"/g, '""')}"`
        found.push({
          what: `database ${db} in ${target.container}`,
          kind: 'kept',
          time,
          bytes: Number(size) || 0,
          remove: async () => {
            await client.query(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '${db.replace(/'/g, "''")}'`, { database: 'postgres' })
            await client.query(`DROP DATABASE IF EXISTS ${quoted}`, { database: 'postgres' })
          },
        })
      }
      return found
    }
    default:
      return [] // MariaDB/MySQL: the replaced data is the pre-restore safety backup, kept by retention
  }
}

export async function runBackupsRule(settings: { partialsAfter: string | number }, env: RuleEnv, only?: readonly string[]): Promise<RuleReport> {
  const report = ruleReport('backups', 'backups')
  report.kept = []
  const config = env.config
  const now = env.now.getTime()
  const partialsAfter = parseDuration(settings.partialsAfter) ?? 86_400_000
  const keepOld = parseDuration(config.restore.keepOld) ?? 7 * 86_400_000
  const targets = Object.entries(config.backup.targets).filter(([name]) => only === undefined || only.includes(name))
  for (const [name, target] of targets) {
    const catalog = await readCatalog(config.backup.dir, name)
    const sizes = new Map(catalog.backups.map((b) => [b.manifest.id, b]))
    const prune = await pruneTarget(name, target, undefined, { config, log: env.log, dryRun: env.dryRun, now: env.now })
    for (const id of prune.removed) {
      const entry = sizes.get(id)
      record(report, { action: 'remove', what: `${name}/${entry?.manifest.file ?? id}`, reason: `not kept by ${prune.policy}`, bytes: entry?.manifest.size ?? 0 })
    }
    for (const k of prune.kept) report.kept.push({ target: name, id: k.id, reasons: k.reasons })

    for (const odd of catalog.oddities) {
      if (odd.kind !== 'partial' || !odd.stale) continue
      const stats = await lstat(odd.path).catch(() => undefined)
      if (stats === undefined || now - stats.mtimeMs < partialsAfter) continue
      if (!env.dryRun) await rm(odd.path, { force: true })
      record(report, { action: 'remove', what: odd.path, reason: `partial file of an interrupted backup, ${formatDuration(now - stats.mtimeMs)} old`, bytes: stats.size })
    }

    let leftovers: Leftover[]
    try {
      leftovers = await restoreLeftovers(name, target, env)
    } catch (error) {
      report.warnings.push(`${name}: could not look for data kept by restores: ${(error as Error).message}`)
      continue
    }
    const undo = await env.state.read<UndoRecord | undefined>(`restore-${name}`, undefined)
    for (const left of leftovers) {
      const age = now - left.time.getTime()
      const limit = left.kind === 'kept' ? keepOld : partialsAfter
      if (age < limit) continue
      const reason = left.kind === 'kept' ? `data replaced by a restore ${formatDuration(age)} ago (restore.keepOld ${String(config.restore.keepOld)})` : `leftover of an interrupted restore, ${formatDuration(age)} old`
      if (!env.dryRun) {
        await left.remove()
        env.log.info({ target: name, what: left.what }, 'removed restore leftover')
        if (undo !== undefined && (left.what === undo.kept || left.what.replace(/\/$/, '') === undo.kept || left.what.startsWith(`database ${undo.kept} `))) await env.state.remove(`restore-${name}`)
      }
      record(report, { action: left.what.startsWith('database ') ? 'drop-database' : 'remove', what: left.what, reason, bytes: left.bytes })
    }
  }
  return report
}
