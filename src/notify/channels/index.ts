/**
 * The channel registry: every channel by config scheme, and URL → channel resolution.
 * Secure variants (jsons, ntfys, gotifys, mailtos, hcs) are served by the same module.
 */
import type { ChannelConfig } from '../../config/schema.js'
import type { Channel, ChannelOptions } from '../types.js'
import { discord } from './discord.js'
import { gotify } from './gotify.js'
import { hc } from './hc.js'
import { json } from './json.js'
import { mailto } from './mailto.js'
import { ntfy } from './ntfy.js'
import { pagerduty } from './pagerduty.js'
import { rcon } from './rcon.js'
import { slack } from './slack.js'
import { encodeTelegramToken, tgram } from './tgram.js'

// Each channel has a target type of its own, hence Channel<any> in the constraint.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const channels = { discord, slack, json, mailto, ntfy, tgram, gotify, hc, pagerduty, rcon } satisfies Record<string, Channel<any>>
export type ChannelKind = keyof typeof channels

export interface ResolvedChannel {
  kind: ChannelKind
  channel: Channel<unknown>
  target: unknown
}

/** Parses a channel URL; throws an Error without secrets in its message when it cannot. */
export function resolveChannel(raw: string, options: ChannelOptions = {}): ResolvedChannel {
  let url: URL
  try {
    // A Telegram bot token holds a colon, which a URL host cannot: escape it first.
    url = new URL(encodeTelegramToken(raw))
  } catch {
    throw new Error('not a valid URL (expected e.g. discord://ID/TOKEN or https://…)')
  }
  const scheme = url.protocol.replace(/:$/, '').toLowerCase()
  const entries = Object.entries(channels) as Array<[ChannelKind, Channel<unknown>]>
  for (const [kind, channel] of entries) {
    if (channel.schemes.includes(scheme)) return { kind, channel, target: channel.parse(url, options) }
  }
  if (scheme === 'https' || scheme === 'http') {
    for (const [kind, channel] of entries) {
      if (channel.matchesHttps?.(url)) return { kind, channel, target: channel.parse(url, options) }
    }
    throw new Error(
      `unrecognised webhook host ${url.host}: for a generic JSON webhook write json${scheme === 'https' ? 's' : ''}://${url.host}/…`,
    )
  }
  const known = entries.flatMap(([, c]) => c.schemes)
  throw new Error(`unknown channel scheme "${scheme}://" (known: ${known.join(', ')})`)
}

/** The channel options of a channel's config entry. */
export function channelOptions(cfg: ChannelConfig): ChannelOptions {
  return {
    ...(cfg.baseUrl !== undefined ? { baseUrl: cfg.baseUrl } : {}),
    ...(cfg.method !== undefined ? { method: cfg.method } : {}),
    ...(cfg.headers !== undefined ? { headers: cfg.headers } : {}),
    ...(cfg.overflow !== undefined ? { overflow: cfg.overflow } : {}),
    ...(cfg.tailBytes !== undefined ? { tailBytes: cfg.tailBytes } : {}),
    ...(cfg.format !== undefined ? { format: cfg.format } : {}),
  }
}
