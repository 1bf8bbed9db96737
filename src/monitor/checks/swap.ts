/** `kind: swap` — swap in use. A machine without swap is fine. */
import { z } from 'zod'
import { readMeminfo } from '../../sys/host.js'
import { formatBytes, formatPercent } from '../../text.js'
import { commonFields, levelOf, percentThresholds } from '../spec.js'
import type { CheckKind, Finding } from '../types.js'

export const schema = z.strictObject({
  kind: z.literal('swap'),
  ...commonFields,
  ...percentThresholds(80, 95),
})
export type SwapSpec = z.output<typeof schema>

export function assessSwap(info: Record<string, number>, spec: Pick<SwapSpec, 'warn' | 'critical'>): Finding {
  const total = info.SwapTotal ?? 0
  if (total <= 0) return { status: 'ok', value: 'no swap', message: 'no swap configured', metrics: { used_percent: 0, total_bytes: 0 } }
  const used = total - (info.SwapFree ?? 0)
  const usedPercent = (used / total) * 100
  return {
    status: levelOf(usedPercent, spec.warn, spec.critical),
    value: `${formatPercent(usedPercent)} used (${formatBytes(used)} of ${formatBytes(total)})`,
    threshold: `warn ${spec.warn}%, crit ${spec.critical}%`,
    message: `swap ${formatPercent(usedPercent)} used (${formatBytes(used)} of ${formatBytes(total)})`,
    metrics: { used_percent: Math.round(usedPercent * 100) / 100, total_bytes: total },
  }
}

export const swap: CheckKind<SwapSpec> = {
  usesDocker: false,
  recoverable: false,
  async run(spec) {
    return [assessSwap(await readMeminfo(), spec)]
  },
}
