/** `kind: load` — the load average per CPU core (1.0 per core: every core busy). */
import { z } from 'zod'
import { cpuCount, readLoadavg } from '../../sys/host.js'
import { commonFields, levelOf } from '../spec.js'
import type { CheckKind, Finding } from '../types.js'

export const schema = z.strictObject({
  kind: z.literal('load'),
  ...commonFields,
  warn: z.number().min(0).default(1.5).meta({ description: 'Warning at this load per core (default 1.5).' }),
  critical: z.number().min(0).default(3).meta({ description: 'Critical at this load per core (default 3).' }),
  period: z
    .union([z.literal(1), z.literal(5), z.literal(15)])
    .default(5)
    .meta({ description: 'Which load average: 1, 5 or 15 minutes (default 5).' }),
})
export type LoadSpec = z.output<typeof schema>

export function assessLoad(
  averages: [number, number, number],
  cores: number,
  spec: Pick<LoadSpec, 'warn' | 'critical' | 'period'>,
): Finding {
  const load = averages[spec.period === 1 ? 0 : spec.period === 5 ? 1 : 2]
  const perCore = load / Math.max(1, cores)
  const text = `${perCore.toFixed(2)} per core (${spec.period}-min load ${load.toFixed(2)} on ${cores} core${cores === 1 ? '' : 's'})`
  return {
    status: levelOf(perCore, spec.warn, spec.critical),
    value: text,
    threshold: `warn ${spec.warn}, crit ${spec.critical} per core`,
    message: `load ${text}`,
    metrics: { per_core: Math.round(perCore * 1000) / 1000, load1: averages[0], load5: averages[1], load15: averages[2], cores },
  }
}

export const load: CheckKind<LoadSpec> = {
  usesDocker: false,
  recoverable: false,
  async run(spec) {
    return [assessLoad(await readLoadavg(), cpuCount(), spec)]
  },
}
