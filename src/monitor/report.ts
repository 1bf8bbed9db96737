/**
 * What a monitor run reports: the JSON report, the table for people, and the Prometheus
 * textfile (node_exporter's textfile collector format). Pure rendering; the command writes.
 */
import { formatDuration } from '../duration.js'
import { renderTable } from '../text.js'
import type { Transition } from './state.js'
import type { Status } from './types.js'

export type RowStatus = Status | 'maintenance'

export interface ReportRow {
  id: string
  check: string
  kind: string
  subject?: string
  /** "maintenance" while a quiet period covers the row; `observed` then has what was seen. */
  status: RowStatus
  observed?: Status
  value: string
  threshold?: string
  message: string
  /** When the row's status began (from the state file). */
  since?: string
  /** An alert for this row is out (not yet resolved). */
  alerting: boolean
  /** Failed runs in a row, and how many make an alert. */
  failures?: number
  failuresBeforeAlert?: number
  /** Why it is quiet. */
  quiet?: string
  /** Failing within the grace period after a recovery action. */
  grace?: boolean
  metrics?: Record<string, number>
}

export interface MonitorReport {
  ok: boolean
  runId: string
  time: string
  durationMs: number
  dryRun: boolean
  summary: Record<RowStatus, number>
  checks: ReportRow[]
  transitions: Transition[]
  quiet: string[]
  notification?: { level: string; title: string; channels: Array<{ channel: string; status: string; error?: string }> }
  exitCode: number
}

export function summarize(rows: readonly ReportRow[]): Record<RowStatus, number> {
  const summary: Record<RowStatus, number> = { ok: 0, warning: 0, critical: 0, unknown: 0, maintenance: 0 }
  for (const row of rows) summary[row.status]++
  return summary
}

function statusCell(row: ReportRow): string {
  if (row.status === 'maintenance') return 'MAINT'
  const text = row.status.toUpperCase()
  if (row.grace) return `${text} (grace)`
  if ((row.status === 'warning' || row.status === 'critical') && !row.alerting && row.failures !== undefined && row.failuresBeforeAlert !== undefined && row.failures < row.failuresBeforeAlert) {
    return `${text} ${row.failures}/${row.failuresBeforeAlert}`
  }
  return text
}

/** Long values are cut in the table (the JSON report has them whole). */
function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text
}

function sinceCell(since: string | undefined, now: Date): string {
  if (since === undefined) return ''
  const ms = now.getTime() - Date.parse(since)
  if (Number.isNaN(ms) || ms < 60_000) return ms >= 0 ? 'new' : ''
  return formatDuration(Math.floor(ms / 60_000) * 60_000)
}

export function renderReport(report: MonitorReport, now: Date): string {
  const rows = report.checks.map((r) => [
    r.subject === undefined ? r.check : `${r.check} ${r.subject}`,
    statusCell(r),
    cut(r.status === 'maintenance' ? `${r.observed ?? ''}: ${r.value}` : r.value, 90),
    r.threshold ?? '',
    r.status === 'maintenance' ? (r.quiet ?? '') : sinceCell(r.since, now),
  ])
  const s = report.summary
  const counts = [`${s.ok} ok`, s.warning ? `${s.warning} warning` : '', s.critical ? `${s.critical} critical` : '', s.unknown ? `${s.unknown} not checked` : '', s.maintenance ? `${s.maintenance} in maintenance` : '']
  const alerting = report.checks.filter((r) => r.alerting).length
  const lines = [renderTable(['CHECK', 'STATUS', 'VALUE', 'THRESHOLD', 'SINCE'], rows).trimEnd(), '']
  lines.push(`${report.checks.length} checks: ${counts.filter(Boolean).join(', ')}${alerting ? `; ${alerting} alerting` : ''} (${formatDuration(report.durationMs)}${report.dryRun ? ', dry run' : ''})`)
  for (const q of report.quiet) lines.push(`quiet: ${q}`)
  if (report.transitions.length > 0) {
    lines.push('')
    for (const t of report.transitions) lines.push(`${t.type.padEnd(8)} ${t.id}: ${t.message}`)
  }
  if (report.notification !== undefined) {
    const sent = report.notification.channels.map((c) => `${c.channel} ${c.status}`).join(', ')
    lines.push(`notified (${report.notification.level}): ${sent || 'no channel takes this level'}`)
  }
  return `${lines.join('\n')}\n`
}

const STATUS_VALUE: Record<Status, number> = { ok: 0, warning: 1, critical: 2, unknown: -1 }

function label(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

function labels(row: ReportRow): string {
  return `check="${label(row.check)}",subject="${label(row.subject ?? '')}",kind="${label(row.kind)}"`
}

/** The Prometheus text exposition of a run. */
export function renderPrometheus(report: MonitorReport): string {
  const out: string[] = []
  const family = (name: string, help: string, samples: string[]) => {
    if (samples.length === 0) return
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, ...samples)
  }
  family(
    'ownops_monitor_status',
    'Check status: 0 ok, 1 warning, 2 critical, -1 not checked (the observed status while in maintenance).',
    report.checks.map((r) => `ownops_monitor_status{${labels(r)}} ${STATUS_VALUE[r.status === 'maintenance' ? (r.observed ?? 'unknown') : r.status]}`),
  )
  family('ownops_monitor_alerting', '1 while an alert for the check is out.', report.checks.map((r) => `ownops_monitor_alerting{${labels(r)}} ${r.alerting ? 1 : 0}`))
  family('ownops_monitor_quiet', '1 while a pause, maintenance window or running backup keeps the check quiet.', report.checks.map((r) => `ownops_monitor_quiet{${labels(r)}} ${r.status === 'maintenance' ? 1 : 0}`))
  const metricNames = [...new Set(report.checks.flatMap((r) => Object.keys(r.metrics ?? {})))].sort()
  for (const metric of metricNames) {
    const name = `ownops_monitor_${metric.replace(/[^a-zA-Z0-9_]/g, '_')}`
    family(
      name,
      `The ${metric.replace(/_/g, ' ')} a check measured.`,
      report.checks.filter((r) => r.metrics?.[metric] !== undefined && Number.isFinite(r.metrics[metric])).map((r) => `${name}{${labels(r)}} ${r.metrics?.[metric]}`),
    )
  }
  family('ownops_monitor_last_run_timestamp_seconds', 'When the last monitor run ended.', [`ownops_monitor_last_run_timestamp_seconds ${Math.round(Date.parse(report.time) / 1000)}`])
  family('ownops_monitor_run_duration_seconds', 'How long the last monitor run took.', [`ownops_monitor_run_duration_seconds ${(report.durationMs / 1000).toFixed(3)}`])
  family(
    'ownops_monitor_checks',
    'Checks by status in the last run.',
    Object.entries(report.summary).map(([status, n]) => `ownops_monitor_checks{status="${status}"} ${n}`),
  )
  return `${out.join('\n')}\n`
}
