/**
 * Prometheus text exposition for node_exporter's textfile collector: per target, the
 * newest valid backup's time, size and duration, the backups kept, and whether the last
 * attempt succeeded and when it ran — the last attempt of every target, not only of the
 * targets this run backed up (`backup world` leaves db's result as it was). Pure:
 * catalogs and results in, text out.
 */
import { labelSet } from '../prometheus.js'
import type { Catalog } from './catalog.js'

/** The last backup attempt of a target. */
export interface BackupRunResult {
  target: string
  ok: boolean
  /** When it ran (ISO); older results may lack it. */
  at?: string | undefined
}

const METRICS: Array<[string, string]> = [
  ['ownops_backup_last_success_timestamp_seconds', 'When the newest valid backup of the target was started (Unix time).'],
  ['ownops_backup_last_size_bytes', 'Size of the newest valid backup of the target.'],
  ['ownops_backup_last_duration_seconds', 'How long the newest valid backup of the target took.'],
  ['ownops_backup_kept', 'Valid backups of the target in the backup directory.'],
  ['ownops_backup_last_run_success', '1 if the last backup attempt of the target succeeded, 0 if it failed.'],
  ['ownops_backup_last_run_timestamp_seconds', 'When the last backup attempt of the target ran (Unix time).'],
]

export function renderBackupMetrics(catalogs: Catalog[], runs: readonly BackupRunResult[]): string {
  const values = new Map<string, Array<[string, number]>>(METRICS.map(([name]) => [name, []]))
  const push = (i: number, target: string, value: number) => values.get(METRICS[i]![0])!.push([target, value])
  for (const c of catalogs) {
    const newest = c.backups.find((b) => !b.tags.includes('pre-restore'))
    if (newest !== undefined) {
      push(0, c.target, newest.time.getTime() / 1000)
      push(1, c.target, newest.manifest.size)
      push(2, c.target, newest.manifest.durationMs / 1000)
    }
    push(3, c.target, c.backups.length)
  }
  for (const r of runs) {
    push(4, r.target, r.ok ? 1 : 0)
    if (r.at !== undefined && !Number.isNaN(Date.parse(r.at))) push(5, r.target, Math.round(Date.parse(r.at) / 1000))
  }
  const lines: string[] = []
  for (const [name, help] of METRICS) {
    const samples = values.get(name) ?? []
    if (samples.length === 0) continue
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`)
    for (const [target, value] of samples) lines.push(`${name}${labelSet({ target })} ${value}`)
  }
  return `${lines.join('\n')}\n`
}
