/**
 * Players as a channel: a game server's chat over RCON (Minecraft's, or any Source-RCON
 * server that understands `tellraw`/`say`). `rcon://:PASSWORD@HOST[:PORT]` (port 25575 by
 * default); `?style=tellraw` (a coloured line, the default) or `say`; `?prefix=` (default
 * `[Server]`). Such a channel takes nothing by level: it gets what is sent to it by name
 * (`ownops notify --channel mc-chat "Server maintenance at 04:00"`) or routed to it.
 *
 * The title is the line players read; the body's first lines follow (chat is no place for
 * a log). A refused login is not retried; a server that does not answer is.
 */
import { RconClient, RconError } from '../../sys/rcon.js'
import { chatCommand, type Tone } from '../../restart/plan.js'
import type { Channel, Level } from '../types.js'
import { DeliveryError } from '../types.js'
import { clip, decode, urlParams } from './text.js'

export interface RconTarget {
  host: string
  port: number
  password: string
  style: 'tellraw' | 'say'
  prefix: string
}

const USAGE = "rcon URL must be rcon://:PASSWORD@HOST[:PORT] (the game server's rcon.password and rcon.port)"
/** Body lines players read after the title. */
const MAX_LINES = 3
const TONE: Record<Level, Tone> = { info: 'cancelled', warning: 'warn', error: 'now', critical: 'now' }

export const rcon: Channel<RconTarget> = {
  schemes: ['rcon'],
  defaultLevels: [],

  parse(url) {
    if (url.hostname === '') throw new Error(`${USAGE} (the host is missing)`)
    const password = decode(url.password || url.username)
    if (password === '') throw new Error(`${USAGE} (the password is missing)`)
    const params = urlParams(url, 'rcon', ['style', 'prefix'])
    const style = params.get('style') ?? 'tellraw'
    if (style !== 'tellraw' && style !== 'say') throw new Error(`rcon URL: ?style= must be tellraw or say, not "${style}"`)
    return {
      host: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port === '' ? 25575 : Number(url.port),
      password,
      style,
      prefix: params.get('prefix') ?? '[Server]',
    }
  },

  async send(target, event, ctx) {
    const lines = [
      event.title,
      ...event.body
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l !== '')
        .slice(0, MAX_LINES),
    ].filter((l) => l.trim() !== '')
    let client: RconClient
    try {
      client = await RconClient.connect({ host: target.host, port: target.port, password: target.password, timeoutMs: ctx.timeoutMs })
    } catch (error) {
      const refused = error instanceof RconError && error.authFailed
      throw new DeliveryError(`rcon ${target.host}:${target.port}: ${(error as Error).message}`, { retryable: !refused, cause: error })
    }
    try {
      for (const [index, line] of lines.entries()) {
        const part = `line ${index + 1}`
        if (ctx.delivered?.has(part)) continue
        const text = clip(line, 250)
        const command =
          target.style === 'say'
            ? chatCommand('say', `${target.prefix} ${text}`.trim(), TONE[event.level])
            : tellraw(target.prefix, text, TONE[event.level])
        await client.command(command)
        ctx.delivered?.add(part)
      }
    } catch (error) {
      throw new DeliveryError(`rcon ${target.host}:${target.port}: ${(error as Error).message}`, { retryable: true, cause: error })
    } finally {
      client.close()
    }
  },
}

function tellraw(prefix: string, text: string, tone: Tone): string {
  const command = chatCommand('tellraw', text, tone)
  return prefix === '[Server]'
    ? command
    : command.replace('"text":"[Server] "', `"text":${JSON.stringify(prefix === '' ? '' : `${prefix} `)}`)
}
