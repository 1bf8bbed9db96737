/** `ownops backups [TARGET]`: the valid backups of each target, and anything odd in the backup directory. */
import type { CommandResult } from '../command.js'
import type { Ctx } from '../context.js'
import { formatDuration } from '../duration.js'
import { ExitCode } from '../errors.js'
import { formatBytes, renderTable } from '../text.js'
import { FUTURE_SLACK_MS, readCatalog, type Catalog } from './catalog.js'
import { selectTargets } from './select.js'

export async function listBackups(ctx: Ctx, target: string | undefined): Promise<CommandResult> {
  const config = ctx.config().config
  const names = target !== undefined ? selectTargets(config, [target]).map(([n]) => n) : Object.keys(config.backup.targets)
  const catalogs: Catalog[] = []
  for (const name of names) catalogs.push(await readCatalog(config.backup.dir, name))
  const now = ctx.clock().getTime()
  const rows: string[][] = []
  const copies = Object.keys(config.backup.destinations).length > 0 ? await import('../copies/holds.js') : undefined
  const copyState = copies ? await (await import('../copies/state.js')).readCopiesState(ctx.stateStore()) : undefined
  const notes = new Map<string, string>()
  for (const c of catalogs) {
    if (copies && copyState)
      for (const [id, note] of copies.copyNotes(config, c.target, c.backups, copyState)) notes.set(`${c.target}/${id}`, note)
    for (const b of c.backups) {
      const ahead = b.time.getTime() > now + FUTURE_SLACK_MS
      const note = [
        ahead ? 'dated in the future: retention is suspended' : '',
        b.tags.includes('pre-restore') ? 'pre-restore safety copy (not a scheduled backup)' : '',
        b.manifest.warnings.length > 0 ? `${b.manifest.warnings.length} warning(s)` : '',
        notes.get(`${c.target}/${b.manifest.id}`) ?? '',
      ]
        .filter(Boolean)
        .join('; ')
      rows.push([
        c.target,
        b.manifest.id,
        b.manifest.time.replace(/\.\d{3}Z$/, 'Z'),
        ahead ? 'in the future' : formatDuration(Math.max(0, now - b.time.getTime())),
        formatBytes(b.manifest.size),
        b.manifest.sha256.slice(0, 12),
        note,
      ])
    }
    for (const o of c.oddities) rows.push([c.target, '-', '-', '-', '-', '-', `${o.kind}: ${o.message} (${o.path})`])
    if (c.backups.length === 0 && c.oddities.length === 0) rows.push([c.target, '-', '-', '-', '-', '-', 'no backups yet'])
  }
  const report = {
    dir: config.backup.dir,
    targets: catalogs.map((c) => ({
      target: c.target,
      dir: c.dir,
      backups: c.backups.map((b) => ({
        ...b.manifest,
        path: b.path,
        ...(b.tags.includes('pre-restore') ? { safetyCopy: true } : {}),
        ...(notes.has(`${c.target}/${b.manifest.id}`) ? { copies: notes.get(`${c.target}/${b.manifest.id}`) } : {}),
      })),
      oddities: c.oddities,
    })),
  }
  return { exitCode: ExitCode.ok, report, text: `${renderTable(['TARGET', 'ID', 'TIME (UTC)', 'AGE', 'SIZE', 'SHA256', 'NOTE'], rows)}\n` }
}
