/** What `schedule install | remove` and `schedule list` print. */
import { wallClock } from '../time-zone.js'
import { renderTable } from '../text.js'
import { join } from 'node:path'
import type { SchedulePlan } from './jobs.js'
import type { InstallReport, ListReport } from './reports.js'

export function dryRunText(report: InstallReport): string {
  const lines = [
    report.diff === '' || report.diff === undefined ? `${report.dir}: no changes` : (report.diff ?? '').replace(/\n$/, ''),
    ...report.notes,
    ...report.warnings.map((w) => `warning: ${w}`),
    '(dry run: nothing was changed)',
  ]
  return `${lines.join('\n')}\n`
}

export function resultText(report: InstallReport): string {
  const rows = report.changes.map((c) => [c.action, join(report.dir, c.name)])
  const lines = [rows.length === 0 ? `${report.dir}: nothing to do` : renderTable(['ACTION', 'FILE'], rows).trimEnd()]
  for (const dir of report.createdDirs) lines.push(`created ${dir}`)
  for (const c of report.commands)
    lines.push(`${c.ok ? 'ran' : 'FAILED'}: ${c.command}${!c.ok && c.output ? `\n  ${c.output.replace(/\n/g, '\n  ')}` : ''}`)
  lines.push(...report.notes)
  return `${lines.join('\n')}\n`
}

export function renderList(report: ListReport, p: SchedulePlan, hostZone: string): string {
  const rows = report.jobs.map((job) => {
    const zone = job.timezone ?? hostZone
    const runs = job.schedule === '@reboot' ? 'at boot' : job.nextRuns.map((iso) => shortTime(new Date(iso), zone)).join(', ')
    const state =
      job.systemd === null
        ? job.installed.length === 0
          ? 'not installed'
          : job.installed.join('+')
        : job.systemd.timer === 'not-found'
          ? job.installed.some((b) => b !== 'systemd')
            ? job.installed.filter((b) => b !== 'systemd').join('+')
            : 'not installed'
          : `${job.systemd.active}${job.systemd.lastResult ? `, last: ${job.systemd.lastResult}` : ''}`
    return [job.name, job.command, job.schedule, job.timezone ?? 'local', runs, state]
  })
  const lines = [renderTable(['JOB', 'COMMAND', 'SCHEDULE', 'ZONE', 'NEXT RUNS', 'STATE'], rows).trimEnd()]
  if (report.systemd === 'not running') lines.push('(systemd is not running here: timer states unknown)')
  for (const stale of report.stale) lines.push(`stale: ${stale} is installed but not configured (ownops schedule install removes it)`)
  for (const job of report.jobs) if (job.dstWarning) lines.push(`warning: job ${job.name}: ${job.dstWarning}`)
  if (p.boot.length > 0) lines.push(`boot units: ${p.boot.map((b) => `${b.unit}.service`).join(', ')}`)
  return `${lines.join('\n')}\n`
}

const pad = (n: number) => String(n).padStart(2, '0')

function shortTime(date: Date, zone: string): string {
  const w = wallClock(date.getTime(), zone)
  return `${w.year}-${pad(w.month)}-${pad(w.day)} ${pad(w.hour)}:${pad(w.minute)}`
}
