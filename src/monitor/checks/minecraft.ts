/**
 * `kind: minecraft` — Minecraft Java Edition's Server List Ping, what the multiplayer
 * screen does (src/sys/minecraft-ping.ts): the version, players online/max and the message
 * of the day; a slow answer is a warning.
 */
import { z } from 'zod'
import { duration } from '../../config/fields.js'
import { formatDurationSetting } from '../../duration.js'
import { pingServer, type ServerStatus } from '../../sys/minecraft-ping.js'
import { passFailFields } from '../spec.js'
import type { CheckKind, Finding } from '../types.js'

export const schema = z.strictObject({
  kind: z.literal('minecraft'),
  ...passFailFields,
  host: z.string().default('127.0.0.1'),
  port: z.number().int().min(1).max(65535).default(25565),
  maxLatency: duration.optional().meta({ description: 'A slower answer is a warning, e.g. 1s.' }),
})
export type MinecraftSpec = z.output<typeof schema>

export const minecraft: CheckKind<MinecraftSpec> = {
  usesDocker: false,
  recoverable: true,
  async run(spec, ctx) {
    const where = `${spec.host}:${spec.port}`
    const severity = spec.severity ?? 'critical'
    let status: ServerStatus
    let ms: number
    try {
      ;({ ms, ...status } = await pingServer(spec.host, spec.port, ctx.timeoutMs, ctx.signal))
    } catch (error) {
      if (ctx.signal.aborted) throw error
      const reason = (error as Error).message
      return [{ status: severity, value: reason, message: `Minecraft server at ${where}: ${reason}` }]
    }
    const value = `${status.online}/${status.max} players, ${status.version}, ${Math.round(ms)} ms`
    const metrics = { players_online: status.online, players_max: status.max, latency_seconds: ms / 1000 }
    const maxMs = spec.maxLatency
    const finding: Finding = {
      status: 'ok',
      value,
      message: `Minecraft server at ${where} is up: ${value}${status.motd ? ` ("${status.motd}")` : ''}`,
      metrics,
    }
    if (maxMs !== undefined && ms > maxMs)
      return [
        {
          ...finding,
          status: 'warning',
          threshold: `< ${formatDurationSetting(maxMs)}`,
          message: `Minecraft server at ${where} is slow: ${Math.round(ms)} ms`,
        },
      ]
    return [finding]
  },
}
