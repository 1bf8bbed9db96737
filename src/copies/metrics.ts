/**
 * Prometheus text exposition of the copies off the box, for node_exporter's textfile
 * collector: per destination the last successful copy run and whether the last run
 * succeeded, per destination and target the time of the newest copy there. Pure: config
 * and copy state in, text out. Written beside `backup.prometheus` as `ownops_copy.prom`.
 */
import { dirname, join } from 'node:path'
import type { Config } from '../config/schema.js'
import { labelSet } from '../prometheus.js'
import type { CopiesState } from './state.js'
import { destinationTargets } from './state.js'

export function copyMetricsFile(config: Pick<Config, 'backup'>): string | undefined {
  const file = config.backup.prometheus
  if (file === undefined || Object.keys(config.backup.destinations).length === 0) return undefined
  return join(dirname(file), 'ownops_copy.prom')
}

export function renderCopyMetrics(config: Pick<Config, 'backup'>, state: CopiesState): string {
  const lines: string[] = []
  const metric = (name: string, help: string, rows: Array<[Record<string, string>, number]>) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`)
    for (const [labels, value] of rows) {
      lines.push(`${name}${labelSet(labels)} ${value}`)
    }
  }
  const dests = Object.entries(config.backup.destinations)
  const success: Array<[Record<string, string>, number]> = []
  const lastRun: Array<[Record<string, string>, number]> = []
  const newest: Array<[Record<string, string>, number]> = []
  for (const [name, dest] of dests) {
    const s = state.destinations[name]
    if (s?.lastSuccess !== undefined) success.push([{ destination: name }, Date.parse(s.lastSuccess) / 1000])
    if (s?.lastRun !== undefined) lastRun.push([{ destination: name }, s.lastOk === true ? 1 : 0])
    for (const target of destinationTargets(config, dest)) {
      const n = s?.targets[target]?.newest
      if (n !== undefined) newest.push([{ destination: name, target }, Date.parse(n.time) / 1000])
    }
  }
  metric('ownops_copy_last_success_timestamp_seconds', 'End of the last copy run to this destination that succeeded.', success)
  metric('ownops_copy_last_run_success', '1 if the last copy run to this destination succeeded, 0 if it failed.', lastRun)
  metric('ownops_copy_newest_backup_timestamp_seconds', 'Start time of the newest backup this destination holds.', newest)
  return `${lines.join('\n')}\n`
}
