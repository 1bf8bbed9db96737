/**
 * Slack incoming webhooks: `slack://A/B/C` (the three tokens of the webhook URL) or the
 * webhook's own URL, `https://hooks.slack.com/services/A/B/C`.
 *
 * The message is `text` (`[LEVEL] title`, the notification fallback) plus one attachment
 * coloured by level holding Block Kit blocks: a header (the title, at most 150
 * characters), a section (the body as mrkdwn with &, < and > escaped, at most 3,000
 * characters after escaping, cut with `… (truncated, N more characters)`) and a context
 * line (host and source).
 */
import type { Channel, Level, NotifyEvent } from '../types.js'
import { clip, fitText, urlParams } from './text.js'

export interface SlackTarget {
  path: string
  base: string
  /** Mentions for critical messages (`?ping=here`, `channel`, `U012AB3CD`, `S0123ABC` for a user group). */
  ping: string[]
}

const USAGE = 'slack URL must be slack://TOKEN_A/TOKEN_B/TOKEN_C or https://hooks.slack.com/services/TOKEN_A/TOKEN_B/TOKEN_C'
const TOKEN = /^[A-Za-z0-9]+$/

export const SLACK_LIMITS = { header: 150, section: 3000, context: 3000 } as const

const COLORS: Record<Level, string> = { info: '#3498db', warning: '#f1c40f', error: '#e74c3c', critical: '#992d22' }

export const slack: Channel<SlackTarget> = {
  schemes: ['slack'],

  matchesHttps(url) {
    return url.hostname.toLowerCase() === 'hooks.slack.com' && url.pathname.startsWith('/services/')
  },

  parse(url, options) {
    let tokens: string[]
    if (url.protocol === 'slack:') {
      tokens = [url.hostname, ...url.pathname.split('/').filter((s) => s !== '')]
    } else {
      if (!/^https?:$/.test(url.protocol) || !url.pathname.startsWith('/services/')) throw new Error(USAGE)
      tokens = url.pathname
        .slice('/services/'.length)
        .split('/')
        .filter((s) => s !== '')
    }
    if (tokens.length !== 3) throw new Error(`${USAGE} (found ${tokens.length} token${tokens.length === 1 ? '' : 's'}, expected 3)`)
    if (!tokens.every((t) => TOKEN.test(t))) throw new Error(`${USAGE} (the tokens are letters and digits only)`)
    const ping = (urlParams(url, 'slack', ['ping']).get('ping') ?? '')
      .split(/[\s,]+/)
      .filter((p) => p !== '')
      .map(slackMention)
    return { path: `/services/${tokens.join('/')}`, base: (options.baseUrl ?? 'https://hooks.slack.com').replace(/\/+$/, ''), ping }
  },

  async send(target, event, ctx) {
    await ctx.http.request({
      url: `${target.base}${target.path}`,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(buildSlackMessage(event, target.ping)),
      timeoutMs: ctx.timeoutMs,
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    })
  },
}

/** A mention as Slack writes it: <!here>, <!channel>, <@U…> for a user, <!subteam^S…> for a group. */
function slackMention(text: string): string {
  const t = text.replace(/^@/, '')
  if (t === 'here' || t === 'channel' || t === 'everyone') return `<!${t}>`
  if (/^[UW][A-Z0-9]{2,}$/.test(t)) return `<@${t}>`
  if (/^S[A-Z0-9]{2,}$/.test(t)) return `<!subteam^${t}>`
  throw new Error(`slack URL: ?ping= takes here, channel, everyone, user IDs (U…) or user group IDs (S…), not "${text}"`)
}

/** Blocks in one message: Slack takes 50. */
const MAX_BLOCKS = 50

/** The webhook payload for one event. */
export function buildSlackMessage(event: NotifyEvent, ping: readonly string[] = []): Record<string, unknown> {
  const mentions = event.level === 'critical' ? ping.join(' ') : ''
  const fallback = `${mentions ? `${mentions} ` : ''}[${event.level.toUpperCase()}] ${escape(event.title)}`
  const source = event.source ? ` · ${event.source.command}${event.source.target ? ` ${event.source.target}` : ''}` : ''
  const blocks: unknown[] = []
  if (event.title.trim() !== '') {
    blocks.push({ type: 'header', text: { type: 'plain_text', text: clip(event.title, SLACK_LIMITS.header), emoji: true } })
  }
  if (mentions) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: mentions } })
  const alerts = event.alerts ?? []
  if (alerts.length > 0) {
    // One section per problem: the label and the row in bold, the text beside, no padded columns.
    const room = MAX_BLOCKS - blocks.length - 2
    const shown = alerts.slice(0, alerts.length > room ? room - 1 : room)
    for (const a of shown)
      blocks.push({
        type: 'section',
        text: {
          type: 'mrkdwn',
          text: fitText(`*${escape(a.label)}* \`${escape(a.subject)}\`\n${escape(a.text)}`, SLACK_LIMITS.section, escapedLength),
        },
      })
    if (shown.length < alerts.length)
      blocks.push({
        type: 'section',
        text: { type: 'mrkdwn', text: `… and ${alerts.length - shown.length} more: \`ownops monitor\` shows every check` },
      })
  } else if (event.body.trim() !== '') {
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: escape(fitText(event.body, SLACK_LIMITS.section, escapedLength)) } })
  }
  blocks.push({
    type: 'context',
    elements: [{ type: 'mrkdwn', text: escape(fitText(`${event.host}${source}`, SLACK_LIMITS.context, escapedLength)) }],
  })
  return {
    text: fallback,
    attachments: [{ color: COLORS[event.level], fallback, blocks }],
  }
}

/** Slack's required escaping of control characters in text. */
function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

function escapedLength(ch: string): number {
  return ch === '&' ? 5 : ch === '<' || ch === '>' ? 4 : ch.length
}
