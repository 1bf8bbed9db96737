/** `kind: tcp` — a port accepts a connection within the timeout. */
import { z } from 'zod'
import { duration } from '../../config/fields.js'
import { formatDurationSetting } from '../../duration.js'
import { tcpConnect } from '../../sys/net.js'
import { passFailFields } from '../spec.js'
import type { CheckKind } from '../types.js'

export const schema = z.strictObject({
  kind: z.literal('tcp'),
  ...passFailFields,
  host: z.string().default('127.0.0.1'),
  port: z.number().int().min(1).max(65535),
  maxLatency: duration.optional().meta({ description: 'A slower connect is a warning.' }),
})
export type TcpSpec = z.output<typeof schema>

export const tcp: CheckKind<TcpSpec> = {
  usesDocker: false,
  recoverable: true,
  async run(spec, ctx) {
    const where = `${spec.host}:${spec.port}`
    try {
      const ms = await tcpConnect(spec.host, spec.port, ctx.timeoutMs, ctx.signal)
      const value = `connected in ${Math.round(ms)} ms`
      const maxMs = spec.maxLatency
      const metrics = { connect_seconds: ms / 1000 }
      if (maxMs !== undefined && ms > maxMs)
        return [
          {
            status: 'warning',
            value,
            threshold: `< ${formatDurationSetting(maxMs)}`,
            message: `${where} is slow to connect: ${Math.round(ms)} ms`,
            metrics,
          },
        ]
      return [{ status: 'ok', value, message: `${where} accepts connections`, metrics }]
    } catch (error) {
      if (ctx.signal.aborted) throw error
      const reason = (error as Error).message
      return [{ status: spec.severity ?? 'critical', value: reason, message: `${where}: ${reason}` }]
    }
  },
}
