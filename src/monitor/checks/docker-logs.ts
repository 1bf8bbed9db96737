/**
 * `kind: docker-logs` — container logs that can fill the disk: a json-file log without
 * `max-size` (Docker's default) grows for as long as the container runs. One row per
 * container whose log has no size limit (or is over `size`), with its size and growth;
 * one row saying all is well otherwise.
 */
import { z } from 'zod'
import { byteSize } from '../../config/fields.js'
import { containerLogs } from '../../sys/container-logs.js'
import { formatBytes, formatByteSizeExact, globMatch } from '../../text.js'
import { formatDuration } from '../../duration.js'
import { addSample, DEFAULT_WINDOW_MS, growthOf, growthSchema } from '../resources.js'
import { commonFields } from '../spec.js'
import type { CheckKind, Finding } from '../types.js'
import { OPT_OUT_LABEL } from './containers.js'

export const schema = z.strictObject({
  kind: z.literal('docker-logs'),
  ...commonFields,
  ignore: z
    .array(z.string())
    .default([])
    .meta({ description: 'Container names to leave out (globs). A container labelled ownops.monitor=false is left out too.' }),
  unbounded: z
    .enum(['ok', 'warning', 'critical'])
    .default('warning')
    .meta({ description: 'The level of a log without a size limit (json-file without max-size; default warning; ok: only show it).' }),
  size: z
    .strictObject({ warn: byteSize.optional(), critical: byteSize.optional() })
    .optional()
    .meta({ description: 'A log (with its rotated files) bigger than this, e.g. { warn: 1GB, critical: 10GB }.' }),
  growth: growthSchema.optional().meta({ description: 'Log growth that alerts, e.g. "100MB/h over 6h" (as memoryGrowth).' }),
})
export type DockerLogsSpec = z.output<typeof schema>

const FIX =
  'set "log-opts": {"max-size": "10m", "max-file": "3"} in /etc/docker/daemon.json and recreate the container (or in compose: logging: { options: { max-size: 10m, max-file: "3" } })'

export const dockerLogs: CheckKind<DockerLogsSpec> = {
  usesDocker: true,
  recoverable: false,
  async run(spec, ctx) {
    const docker = await ctx.docker()
    const logs = (await containerLogs(docker, ctx.signal)).filter(
      (l) => l.labels[OPT_OUT_LABEL] !== 'false' && !spec.ignore.some((g) => globMatch(g, l.name)),
    )
    const warnBytes = spec.size?.warn
    const critBytes = spec.size?.critical
    const growth = spec.growth
    const windowMs = growth?.overMs ?? DEFAULT_WINDOW_MS
    const threshold = [
      spec.unbounded === 'ok' ? '' : 'a size limit',
      warnBytes !== undefined ? `warn ${formatByteSizeExact(warnBytes)}` : '',
      critBytes !== undefined ? `crit ${formatByteSizeExact(critBytes)}` : '',
      growth ? `growth ${growth.text}` : '',
    ]
      .filter(Boolean)
      .join(', ')
    const rows: Finding[] = []
    let bounded = 0
    for (const log of logs) {
      const over =
        log.bytes !== undefined &&
        ((critBytes !== undefined && log.bytes >= critBytes) || (warnBytes !== undefined && log.bytes >= warnBytes))
      if (log.policy.bounded && !over) {
        bounded++
        continue
      }
      const id = `${ctx.name}:${log.name}`
      const prev = ctx.memo(id) as { logId?: string; samples?: Array<[number, number]> } | undefined
      const samples =
        log.bytes === undefined
          ? []
          : addSample(prev?.logId === log.id ? (prev.samples ?? []) : [], [ctx.now.getTime(), log.bytes], windowMs)
      const fit = growthOf(samples)
      const complete = fit !== undefined && fit.spanMs >= windowMs
      const showGrowth = fit !== undefined && samples.length >= 3 && fit.spanMs >= windowMs * 0.1
      const size = log.bytes === undefined ? `size unknown: ${log.unreadable ?? 'no log file'}` : formatBytes(log.bytes)
      const growthText = showGrowth
        ? `, ${fit.perHour >= 0 ? '+' : '-'}${formatBytes(Math.abs(Math.round(fit.perHour)))}/h over ${formatDuration(complete ? windowMs : fit.spanMs)}${complete ? '' : ' so far'}`
        : ''
      let status: Finding['status'] = log.policy.bounded ? 'ok' : spec.unbounded
      const why: string[] = []
      if (!log.policy.bounded) why.push(`has no size limit (${log.policy.text})`)
      if (log.bytes !== undefined && critBytes !== undefined && log.bytes >= critBytes) {
        status = 'critical'
        why.push(`is ${formatBytes(log.bytes)} (critical at ${formatByteSizeExact(critBytes ?? 0)})`)
      } else if (log.bytes !== undefined && warnBytes !== undefined && log.bytes >= warnBytes) {
        if (status === 'ok') status = 'warning'
        why.push(`is ${formatBytes(log.bytes)} (warning at ${formatByteSizeExact(warnBytes ?? 0)})`)
      }
      if (growth !== undefined && complete && fit !== undefined) {
        const level =
          growth.criticalPerHour !== undefined && fit.perHour >= growth.criticalPerHour
            ? 'critical'
            : growth.warnPerHour !== undefined && fit.perHour >= growth.warnPerHour
              ? 'warning'
              : 'ok'
        if (level === 'critical') status = 'critical'
        else if (level === 'warning' && status === 'ok') status = 'warning'
        if (level !== 'ok') why.push(`grew ${formatBytes(Math.round(fit.perHour))}/h over the last ${formatDuration(windowMs)}`)
      }
      const metrics: Record<string, number> = { log_bounded: log.policy.bounded ? 1 : 0 }
      if (log.bytes !== undefined) metrics.log_size_bytes = log.bytes
      if (complete && fit !== undefined) metrics.log_growth_bytes_per_second = Math.round((fit.perHour / 3600) * 1000) / 1000
      rows.push({
        subject: log.name,
        names: [log.name],
        status,
        value: `${log.policy.text}: ${size}${growthText}`,
        threshold,
        message: `the log of ${log.name} ${why.join(' and ')}${log.bytes !== undefined && !why.some((w) => w.startsWith('is ')) ? `; it is ${formatBytes(log.bytes)}` : ''}${log.policy.bounded ? '' : `: ${FIX}`}`,
        metrics,
        memo: { logId: log.id, samples },
      })
    }
    if (rows.length === 0) {
      return [
        {
          status: 'ok',
          value: logs.length === 0 ? 'no containers' : `${bounded} container log${bounded === 1 ? '' : 's'}, all with a size limit`,
          message: 'every container log has a size limit',
          ...(threshold ? { threshold } : {}),
        },
      ]
    }
    return rows
  },
}
