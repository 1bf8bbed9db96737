/** `kind: memory` — memory in use, from MemAvailable (what can be had without swapping). */
import { z } from 'zod'
import { readMeminfo } from '../../sys/host.js'
import { formatBytes, formatPercent } from '../../text.js'
import { commonFields, levelOf, percentThresholds } from '../spec.js'
import type { CheckKind, Finding } from '../types.js'

export const schema = z.strictObject({
  kind: z.literal('memory'),
  ...commonFields,
  ...percentThresholds(85, 95),
})
export type MemorySpec = z.output<typeof schema>

export function assessMemory(info: Record<string, number>, spec: Pick<MemorySpec, 'warn' | 'critical'>): Finding {
  const total = info.MemTotal ?? 0
  if (total <= 0) return { status: 'critical', value: 'unknown', message: '/proc/meminfo has no MemTotal' }
  const available = info.MemAvailable ?? (info.MemFree ?? 0) + (info.Buffers ?? 0) + (info.Cached ?? 0)
  const usedPercent = (1 - available / total) * 100
  const used = total - available
  return {
    status: levelOf(usedPercent, spec.warn, spec.critical),
    value: `${formatPercent(usedPercent)} used (${formatBytes(used)} of ${formatBytes(total)})`,
    threshold: `warn ${spec.warn}%, crit ${spec.critical}%`,
    message: `memory ${formatPercent(usedPercent)} used, ${formatBytes(available)} available`,
    metrics: { used_percent: Math.round(usedPercent * 100) / 100, available_bytes: available, total_bytes: total },
  }
}

export const memory: CheckKind<MemorySpec> = {
  usesDocker: false,
  recoverable: false,
  async run(spec) {
    return [assessMemory(await readMeminfo(), spec)]
  },
}
