/**
 * What a monitor run reports: the JSON report, the table for people, and the Prometheus
 * textfile (node_exporter's textfile collector format). Pure rendering; the command writes.
 */
import { formatDuration } from '../duration.js'
import { labelSet } from '../prometheus.js'
import { statusPainter } from '../colour.js'
import { renderTable } from '../text.js'
import type { Transition } from './state.js'
import type { MetricRow, RowStatus, Status } from './types.js'

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
  if (
    (row.status === 'warning' || row.status === 'critical') &&
    !row.alerting &&
    row.failures !== undefined &&
    row.failuresBeforeAlert !== undefined &&
    row.failures < row.failuresBeforeAlert
  ) {
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

/** The table of a run; `colour`: the STATUS column coloured (a terminal). */
export function renderReport(report: MonitorReport, now: Date, colour = false): string {
  const rows = report.checks.map((r) => [
    r.subject === undefined ? r.check : `${r.check} ${r.subject}`,
    statusCell(r),
    cut(r.status === 'maintenance' ? `${r.observed ?? ''}: ${r.value}` : r.value, 90),
    r.threshold ?? '',
    r.status === 'maintenance' ? (r.quiet ?? '') : sinceCell(r.since, now),
  ])
  const s = report.summary
  const counts = [
    `${s.ok} ok`,
    s.warning ? `${s.warning} warning` : '',
    s.critical ? `${s.critical} critical` : '',
    s.unknown ? `${s.unknown} not checked` : '',
    s.maintenance ? `${s.maintenance} in maintenance` : '',
  ]
  const alerting = report.checks.filter((r) => r.alerting).length
  const lines = [renderTable(['CHECK', 'STATUS', 'VALUE', 'THRESHOLD', 'SINCE'], rows, statusPainter(1, colour)).trimEnd(), '']
  lines.push(
    `${report.checks.length} checks: ${counts.filter(Boolean).join(', ')}${alerting ? `; ${alerting} alerting` : ''} (${formatDuration(report.durationMs)}${report.dryRun ? ', dry run' : ''})`,
  )
  for (const q of report.quiet) lines.push(`quiet: ${q}`)
  if (report.transitions.length > 0) {
    lines.push('')
    for (const t of report.transitions) lines.push(`${t.type.padEnd(8)} ${t.id}: ${t.what ? `${t.what}: ` : ''}${t.message}`)
  }
  if (report.notification !== undefined) {
    const sent = report.notification.channels.map((c) => `${c.channel} ${c.status}`).join(', ')
    lines.push(`notified (${report.notification.level}): ${sent || 'no channel takes this level'}`)
  }
  return `${lines.join('\n')}\n`
}

const STATUS_VALUE: Record<Status, number> = { ok: 0, warning: 1, critical: 2, unknown: -1 }

export function metricRows(report: MonitorReport): MetricRow[] {
  return report.checks.map((r) => ({
    id: r.id,
    check: r.check,
    kind: r.kind,
    ...(r.subject === undefined ? {} : { subject: r.subject }),
    status: r.status,
    ...(r.observed === undefined ? {} : { observed: r.observed }),
    alerting: r.alerting,
    ...(r.metrics === undefined ? {} : { metrics: r.metrics }),
    at: report.time,
  }))
}

interface Family {
  name: string
  help: string
  type?: 'gauge' | 'counter'
  /** Multiplies the value (percent → ratio). */
  scale?: number
  /** Extra labels of the sample. */
  labels?: Record<string, string>
}

const DURATION: Family = {
  name: 'ownops_monitor_probe_duration_seconds',
  help: "How long the check's probe took: an HTTP request, a TCP connect, a Server List Ping, a command, an integrity check.",
}
const AVAILABLE: Family = {
  name: 'ownops_monitor_available_bytes',
  help: 'Bytes available: the free space of a filesystem (for unprivileged users), the available memory (MemAvailable).',
}
const SIZE: Family = { name: 'ownops_monitor_size_bytes', help: 'Total size in bytes: of a filesystem, of the memory, of the swap space.' }
const USED: Family = {
  name: 'ownops_monitor_used_ratio',
  help: "Fraction in use, 0 to 1: of a filesystem's space, of the memory, of the swap space.",
  scale: 0.01,
}
const EXIT: Family = { name: 'ownops_monitor_exit_code', help: "Exit status: of a command check's command, of a container's last run." }

/**
 * Check metrics (by `kind.key`, or `key` for every kind) as Prometheus families: base
 * units, ratios 0–1, one name per quantity, timestamps instead of ages (the file is
 * scraped long after it was written), counters for what only grows. Keys not listed
 * here stay in the JSON report only.
 */
const FAMILIES: Record<string, Family> = {
  used_percent: USED,
  inodes_used_percent: { name: 'ownops_monitor_inodes_used_ratio', help: "Fraction of a filesystem's inodes in use, 0 to 1.", scale: 0.01 },
  avail_bytes: AVAILABLE,
  available_bytes: AVAILABLE,
  'filesystem.size_bytes': SIZE,
  total_bytes: SIZE,
  per_core: {
    name: 'ownops_monitor_load_per_core',
    help: 'The 5-minute load average divided by the CPU cores (what the load check compares).',
  },
  load1: { name: 'ownops_monitor_load_average', help: 'System load average over the window.', labels: { window: '1m' } },
  load5: { name: 'ownops_monitor_load_average', help: 'System load average over the window.', labels: { window: '5m' } },
  load15: { name: 'ownops_monitor_load_average', help: 'System load average over the window.', labels: { window: '15m' } },
  cores: { name: 'ownops_monitor_cpu_cores', help: 'CPU cores the load average is divided by.' },
  status_code: { name: 'ownops_monitor_http_status_code', help: 'HTTP status of the last answer (0: no answer).' },
  latency_seconds: DURATION,
  connect_seconds: DURATION,
  duration_seconds: DURATION,
  check_seconds: DURATION,
  cert_expiry_timestamp_seconds: {
    name: 'ownops_monitor_cert_expiry_timestamp_seconds',
    help: 'When the TLS certificate of an HTTPS check expires (Unix time).',
  },
  players_online: { name: 'ownops_monitor_players_online', help: 'Players online on a Minecraft server.' },
  players_max: { name: 'ownops_monitor_players_max', help: 'Player slots of a Minecraft server.' },
  exit_code: EXIT,
  running: { name: 'ownops_monitor_container_running', help: '1 while the container runs, else 0.' },
  memory_bytes: {
    name: 'ownops_monitor_container_memory_usage_bytes',
    help: 'Memory a container uses, without the reclaimable page cache (as docker stats counts it).',
  },
  memory_limit_bytes: {
    name: 'ownops_monitor_container_memory_limit_bytes',
    help: "A container's memory limit, or the host's memory when it has none.",
  },
  memory_growth_bytes_per_second: {
    name: 'ownops_monitor_container_memory_growth_bytes_per_second',
    help: "Growth of a container's memory: the least-squares slope of the monitor runs' readings over the growth window.",
  },
  cpu_seconds_total: {
    name: 'ownops_monitor_container_cpu_seconds_total',
    help: 'CPU time a container used since it started.',
    type: 'counter',
  },
  log_size_bytes: {
    name: 'ownops_monitor_container_log_size_bytes',
    help: "Size of a container's log on the Docker host, with its rotated files.",
  },
  log_bounded: {
    name: 'ownops_monitor_container_log_bounded',
    help: "1 when a container's log driver limits the log's size (json-file with max-size, local), 0 when it grows without limit.",
  },
  log_growth_bytes_per_second: {
    name: 'ownops_monitor_container_log_growth_bytes_per_second',
    help: "Growth of a container's log over the growth window.",
  },
  restart_count: {
    name: 'ownops_monitor_container_restarts_total',
    help: "Restarts of the container by its restart policy (Docker's RestartCount; starts again from 0 when the container is recreated).",
    type: 'counter',
  },
  'prometheus.value': {
    name: 'ownops_monitor_expression_value',
    help: "The value of a prometheus check's expression (a ratio as 0-1, a duration in seconds, a size in bytes).",
  },
  'backup.newest_timestamp_seconds': {
    name: 'ownops_monitor_backup_newest_timestamp_seconds',
    help: 'When the newest valid backup of a target was made (Unix time).',
  },
  'backup.size_bytes': { name: 'ownops_monitor_backup_newest_size_bytes', help: 'Size of the newest valid backup of a target.' },
  'backup.count': { name: 'ownops_monitor_backups', help: 'Valid backups of a target in the backup directory.' },
  'drill.last_success_timestamp_seconds': {
    name: 'ownops_monitor_drill_last_success_timestamp_seconds',
    help: 'When the last successful restore drill of a target ended (Unix time).',
  },
}

function familyOf(kind: string, key: string): Family | undefined {
  return FAMILIES[`${kind}.${key}`] ?? FAMILIES[key]
}

/** `{check="…",kind="…",subject="…"}` with secrets masked in the values. */
function labels(pairs: Record<string, string | undefined>, clean: (text: string) => string): string {
  return labelSet(Object.fromEntries(Object.entries(pairs).map(([k, v]) => [k, v === undefined ? undefined : clean(v)])))
}

/**
 * The Prometheus text exposition: every check's last result (this run's rows, and the rows
 * of checks a partial run did not touch, each with the time it was checked), then this
 * run. `clean` masks secrets in label values.
 */
export function renderPrometheus(
  report: MonitorReport,
  rows: readonly MetricRow[] = metricRows(report),
  clean: (text: string) => string = (t) => t,
): string {
  const families = new Map<string, { family: Family; samples: string[] }>()
  const add = (family: Family, sample: string) => {
    const entry = families.get(family.name) ?? { family, samples: [] }
    entry.samples.push(sample)
    families.set(family.name, entry)
  }
  const STATUS: Family = {
    name: 'ownops_monitor_status',
    help: 'Check status: 0 ok, 1 warning, 2 critical, -1 not checked (while in maintenance: the status observed).',
  }
  const ALERTING: Family = { name: 'ownops_monitor_alerting', help: '1 while an alert for the check is out, else 0.' }
  const QUIET: Family = {
    name: 'ownops_monitor_quiet',
    help: '1 while a pause, a maintenance window or a running backup keeps the check quiet, else 0.',
  }
  const CHECKED: Family = {
    name: 'ownops_monitor_check_timestamp_seconds',
    help: 'When the check last ran (Unix time); a partial run (ownops monitor api) leaves the other checks as they were.',
  }
  const sorted = [...rows].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  for (const r of sorted) {
    const base = { check: r.check, kind: r.kind, subject: r.subject }
    const l = labels(base, clean)
    add(STATUS, `${STATUS.name}${l} ${STATUS_VALUE[r.status === 'maintenance' ? (r.observed ?? 'unknown') : r.status]}`)
    add(ALERTING, `${ALERTING.name}${l} ${r.alerting ? 1 : 0}`)
    add(QUIET, `${QUIET.name}${l} ${r.status === 'maintenance' ? 1 : 0}`)
    add(CHECKED, `${CHECKED.name}${l} ${Math.round(Date.parse(r.at) / 1000)}`)
  }
  for (const r of sorted) {
    for (const [key, value] of Object.entries(r.metrics ?? {}).sort(([a], [b]) => (a < b ? -1 : 1))) {
      const family = familyOf(r.kind, key)
      if (family === undefined || !Number.isFinite(value)) continue
      const v = family.scale === undefined ? value : Math.round(value * family.scale * 1e6) / 1e6
      add(family, `${family.name}${labels({ check: r.check, kind: r.kind, subject: r.subject, ...family.labels }, clean)} ${v}`)
    }
  }
  const RUN: Family = {
    name: 'ownops_monitor_last_run_timestamp_seconds',
    help: 'When the last monitor run (full or partial) ran (Unix time).',
  }
  const DURATION_RUN: Family = { name: 'ownops_monitor_run_duration_seconds', help: 'How long the last monitor run took.' }
  const CHECKS: Family = { name: 'ownops_monitor_checks', help: 'Checks by their last status.' }
  add(RUN, `${RUN.name} ${Math.round(Date.parse(report.time) / 1000)}`)
  add(DURATION_RUN, `${DURATION_RUN.name} ${(report.durationMs / 1000).toFixed(3)}`)
  const byStatus: Record<RowStatus, number> = { ok: 0, warning: 0, critical: 0, unknown: 0, maintenance: 0 }
  for (const r of rows) byStatus[r.status]++
  for (const [status, n] of Object.entries(byStatus)) add(CHECKS, `${CHECKS.name}{status="${status}"} ${n}`)

  const out: string[] = []
  for (const { family, samples } of families.values())
    out.push(`# HELP ${family.name} ${family.help}`, `# TYPE ${family.name} ${family.type ?? 'gauge'}`, ...samples)
  return `${out.join('\n')}\n`
}
