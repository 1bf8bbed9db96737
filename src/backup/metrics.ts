/**
 * Prometheus text exposition for node_exporter's textfile collector: per target, the
 * newest valid backup's time, size and duration, the backup count, and whether this
 * run's attempt succeeded. Pure: catalogs and reports in, text out.
 */
import type { Catalog } from './catalog.js'
import type { TargetReport } from './run.js'

const METRICS: Array<[string, string]> = [
  ['ownops_backup_last_success_timestamp_seconds', 'Start time of the newest valid backup.'],
  ['ownops_backup_last_size_bytes', 'Size of the newest valid backup.'],
  ['ownops_backup_last_duration_seconds', 'Duration of the newest valid backup.'],
  ['ownops_backup_count', 'Valid backups kept.'],
  ['ownops_backup_last_run_success', '1 if the last attempt of this target succeeded, 0 if it failed.'],
]

function label(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

export function renderBackupMetrics(catalogs: Catalog[], reports: TargetReport[]): string {
  const values = new Map<string, Array<[string, number]>>(METRICS.map(([name]) => [name, []]))
  for (const c of catalogs) {
    const newest = c.backups.find((b) => !b.tags.includes('pre-restore'))
    if (newest !== undefined) {
      values.get(METRICS[0]![0])!.push([c.target, newest.time.getTime() / 1000])
      values.get(METRICS[1]![0])!.push([c.target, newest.manifest.size])
      values.get(METRICS[2]![0])!.push([c.target, newest.manifest.durationMs / 1000])
    }
    values.get(METRICS[3]![0])!.push([c.target, c.backups.length])
  }
  for (const r of reports) values.get(METRICS[4]![0])!.push([r.target, r.ok ? 1 : 0])
  const lines: string[] = []
  for (const [name, help] of METRICS) {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`)
    for (const [target, value] of values.get(name) ?? []) lines.push(`${name}{target="${label(target)}"} ${value}`)
  }
  return `${lines.join('\n')}\n`
}
