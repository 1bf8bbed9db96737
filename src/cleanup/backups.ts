/**
 * The built-in `backups` rule: each target's keep policy (the same pruneTarget backup runs,
 * so the newest backup is never removed and pre-restore safety copies stay for
 * restore.keepSafetyCopy), partial files of interrupted runs, and what restores leave
 * behind: the replaced data (`<db>__pre_restore_<time>`, `<path>.pre-restore-<time>`,
 * `…undone…`) once restore.keepOld has passed, and staging leftovers of a restore that was
 * killed.
 */
import { lstat, rm } from 'node:fs/promises'
import { basename } from 'node:path'
import { readCatalog } from '../backup/catalog.js'
import { pruneTarget } from '../backup/prune.js'
import { formatDuration } from '../duration.js'
import { pluginFor } from '../targets/index.js'
import type { Leftover } from '../targets/types.js'
import { record, ruleReport, type RuleEnv, type RuleReport } from './types.js'

/** `<target>-<stamp>[-n].<ext>`: the name of an artifact ownops writes. */
const ARTIFACT_NAME = /^.+-\d{8}T\d{6}Z(-\d+)?\.[a-z0-9.]+$/

interface UndoRecord {
  kept: string
}

export async function runBackupsRule(settings: { partialsAfter: number }, env: RuleEnv, only?: readonly string[]): Promise<RuleReport> {
  const report = ruleReport('backups', 'backups')
  report.kept = []
  const config = env.config
  const now = env.now.getTime()
  const partialsAfter = settings.partialsAfter
  const keepOld = config.restore.keepOld
  const targets = Object.entries(config.backup.targets).filter(([name]) => only === undefined || only.includes(name))
  // Leftovers shared by targets (temporary directories) are handled once.
  const seen = new Set<string>()
  for (const [name, target] of targets) {
    const catalog = await readCatalog(config.backup.dir, name)
    const sizes = new Map(catalog.backups.map((b) => [b.manifest.id, b]))
    const prune = await pruneTarget(name, target, undefined, { config, log: env.log, dryRun: env.dryRun, now: env.now, state: env.state })
    for (const id of prune.removed) {
      const entry = sizes.get(id)
      record(report, {
        action: 'remove',
        what: `${name}/${entry?.manifest.file ?? id}`,
        reason: `not kept by ${prune.policy}`,
        bytes: entry?.manifest.size ?? 0,
      })
    }
    for (const k of prune.kept) report.kept.push({ target: name, id: k.id, reasons: k.reasons })
    if (prune.futureDated !== undefined) {
      // Retention cannot run for this target: a failure of the rule, so it is notified.
      report.ok = false
      report.error = [report.error, `${name}: ${prune.futureDated}`].filter(Boolean).join('; ')
    }

    for (const odd of catalog.oddities) {
      // Partial files of runs that are gone, and artifacts whose manifest was never written (a run killed between the two).
      if (!((odd.kind === 'partial' && odd.stale) || (odd.kind === 'no-manifest' && ARTIFACT_NAME.test(basename(odd.path))))) continue
      const stats = await lstat(odd.path).catch(() => undefined)
      if (stats === undefined || !stats.isFile() || now - stats.mtimeMs < partialsAfter) continue
      if (!env.dryRun) await rm(odd.path, { force: true })
      const what = odd.kind === 'partial' ? 'partial file of an interrupted backup' : 'artifact without a manifest (an interrupted backup)'
      record(report, { action: 'remove', what: odd.path, reason: `${what}, ${formatDuration(now - stats.mtimeMs)} old`, bytes: stats.size })
    }

    let leftovers: Leftover[]
    try {
      leftovers = (
        await pluginFor(target).leftovers(name, target, {
          docker: env.docker,
          env: env.env,
          signal: env.signal,
          log: env.log,
          backupDir: config.backup.dir,
        })
      ).filter((l) => !seen.has(l.what))
    } catch (error) {
      report.warnings.push(`${name}: could not look for data kept by restores: ${(error as Error).message}`)
      continue
    }
    for (const left of leftovers) seen.add(left.what)
    const undo = await env.state.read<UndoRecord | undefined>(`restore-${name}`, undefined)
    for (const left of leftovers) {
      const age = now - left.time.getTime()
      const limit = left.kind === 'kept' ? keepOld : partialsAfter
      if (age < limit) continue
      const reason =
        left.kind === 'kept'
          ? `data replaced by a restore ${formatDuration(age)} ago (restore.keepOld ${String(config.restore.keepOld)})`
          : `leftover of an interrupted restore, drill or backup, ${formatDuration(age)} old`
      if (!env.dryRun) {
        await left.remove()
        env.log.info({ target: name, what: left.what }, 'removed restore leftover')
        if (
          undo !== undefined &&
          (left.what === undo.kept || left.what.replace(/\/$/, '') === undo.kept || left.what.startsWith(`database ${undo.kept} `))
        )
          await env.state.remove(`restore-${name}`)
      }
      record(report, { action: left.what.startsWith('database ') ? 'drop-database' : 'remove', what: left.what, reason, bytes: left.bytes })
    }
  }
  return report
}
