/**
 * PagerDuty, Events API v2: `pagerduty://ROUTING_KEY`, or apprise's form
 * `pagerduty://ROUTING_KEY@API_KEY[/SOURCE[/COMPONENT]]` (the API key is sent as apprise
 * sends it, `Authorization: Token token=…`; the Events API does not need it).
 * Parameters: `region=us|eu` (events.eu.pagerduty.com), `source=`, `component=`, `group=`,
 * `class=`, `click=` (a link on the alert), `+name=value` (custom details).
 *
 * Every problem is an alert of its own with a dedup key that stays the same while the
 * problem lasts (`ownops/HOST/monitor/disk:/srv`): an alert opens it (`trigger`, severity
 * from the level), a reminder or an escalation triggers it again (PagerDuty folds it into
 * the open alert), its recovery resolves it (`resolve`). A monitor digest sends one event
 * per problem; actions taken (a restart) are not paged. Any other message (a failed backup)
 * is keyed by its command and target: `ownops/HOST/backup/db`, info resolving it.
 *
 * The answer is 202 `{"status":"success","dedup_key":…}`; 400 (`invalid event`) is not
 * retried; 429 and 5xx are.
 */
import type { AlertItem, Channel, Level, NotifyEvent } from '../types.js'
import { clip, decode } from './text.js'

export interface PagerDutyTarget {
  url: string
  routingKey: string
  apiKey?: string
  source?: string
  component?: string
  group?: string
  class?: string
  click?: string
  details: Record<string, string>
}

const USAGE = 'pagerduty URL must be pagerduty://ROUTING_KEY or pagerduty://ROUTING_KEY@API_KEY[/SOURCE[/COMPONENT]]'
const REGIONS: Record<string, string> = { us: 'https://events.pagerduty.com', eu: 'https://events.eu.pagerduty.com' }
const KNOWN = ['region', 'source', 'component', 'group', 'class', 'click']
const KEY = /^[A-Za-z0-9_-]{8,64}$/

export const PAGERDUTY_SEVERITY: Record<Level, string> = { info: 'info', warning: 'warning', error: 'error', critical: 'critical' }

export interface PagerDutyEvent {
  routing_key: string
  event_action: 'trigger' | 'resolve'
  dedup_key: string
  payload?: {
    summary: string
    source: string
    severity: string
    timestamp: string
    component?: string
    group?: string
    class?: string
    custom_details?: Record<string, unknown>
  }
  client?: string
  links?: Array<{ href: string; text?: string }>
}

export const pagerduty: Channel<PagerDutyTarget> = {
  schemes: ['pagerduty'],
  // A trigger or a resolve with the same dedup key means the same however often it arrives.
  idempotent: true,

  parse(url, options) {
    let routingKey = decode(url.hostname)
    let apiKey: string | undefined
    if (url.username !== '') {
      routingKey = decode(url.username)
      apiKey = decode(url.hostname)
    }
    if (url.password !== '') throw new Error(`${USAGE} (no password part)`)
    if (!KEY.test(routingKey))
      throw new Error(`${USAGE} (the routing key is the integration key of an Events API v2 integration: letters and digits)`)
    const path = url.pathname
      .split('/')
      .filter((s) => s !== '')
      .map(decode)
    if (path.length > 2) throw new Error(`${USAGE} (too many path parts)`)
    const details: Record<string, string> = {}
    const known = new Map<string, string>()
    for (const [key, value] of url.searchParams) {
      if (key.startsWith('+') && key.length > 1) details[key.slice(1)] = value
      else if (KNOWN.includes(key.toLowerCase())) known.set(key.toLowerCase(), value)
      else
        throw new Error(
          `pagerduty URL: unknown parameter "${key}" (known: ${KNOWN.join(', ')}, +NAME for custom details): ownops would ignore it`,
        )
    }
    const region = (known.get('region') ?? 'us').toLowerCase()
    const origin = REGIONS[region]
    if (origin === undefined) throw new Error(`pagerduty URL: ?region= must be us or eu, not "${region}"`)
    const source = known.get('source') ?? path[0]
    const component = known.get('component') ?? path[1]
    return {
      url: `${(options.baseUrl ?? origin).replace(/\/+$/, '')}/v2/enqueue`,
      routingKey,
      ...(apiKey !== undefined ? { apiKey } : {}),
      ...(source !== undefined ? { source } : {}),
      ...(component !== undefined ? { component } : {}),
      ...(known.has('group') ? { group: known.get('group') } : {}),
      ...(known.has('class') ? { class: known.get('class') } : {}),
      ...(known.has('click') ? { click: known.get('click') } : {}),
      details,
    }
  },

  async send(target, event, ctx) {
    for (const [index, body] of buildPagerDutyEvents(target, event).entries()) {
      // An event an earlier attempt got through is not sent again.
      const part = `event ${index + 1}`
      if (ctx.delivered?.has(part)) continue
      await ctx.http.request({
        url: target.url,
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(target.apiKey !== undefined ? { authorization: `Token token=${target.apiKey}` } : {}),
        },
        body: JSON.stringify(body),
        timeoutMs: ctx.timeoutMs,
        ...(ctx.signal ? { signal: ctx.signal } : {}),
      })
      ctx.delivered?.add(part)
    }
  },
}

/** The dedup key of a problem on a host: at most 255 characters. */
export function dedupKey(host: string, key: string): string {
  return clip(`ownops/${host}/${key}`, 255)
}

/** The Events API v2 requests for one event: one per problem of a digest, or one for a plain message. */
export function buildPagerDutyEvents(target: PagerDutyTarget, event: NotifyEvent): PagerDutyEvent[] {
  const items: Array<Pick<AlertItem, 'key' | 'level' | 'state' | 'subject' | 'text'>> =
    event.alerts !== undefined
      ? event.alerts.filter((a) => a.state !== 'note')
      : [
          {
            key: `${event.source?.command ?? 'notify'}/${event.source?.target ?? ''}`.replace(/\/$/, ''),
            level: event.level,
            state: event.level === 'info' ? 'closed' : 'open',
            subject: event.source?.target ?? event.title,
            text: event.body.trim() === '' ? event.title : `${event.title}: ${event.body}`,
          },
        ]
  return items.map((item) => {
    const dedup = dedupKey(event.host, item.key)
    if (item.state === 'closed') return { routing_key: target.routingKey, event_action: 'resolve', dedup_key: dedup }
    const summary = clip(event.alerts !== undefined ? `${item.subject} on ${event.host}: ${item.text}` : item.text, 1024)
    return {
      routing_key: target.routingKey,
      event_action: 'trigger',
      dedup_key: dedup,
      payload: {
        summary,
        source: target.source ?? event.host,
        severity: PAGERDUTY_SEVERITY[item.level],
        timestamp: event.time.toISOString(),
        component: target.component ?? item.subject,
        ...(target.group !== undefined ? { group: target.group } : {}),
        class: target.class ?? event.source?.command ?? 'ownops',
        custom_details: {
          ...target.details,
          host: event.host,
          ...(event.source ? { command: event.source.command } : {}),
          message: clip(item.text, 4000),
        },
      },
      client: 'ownops',
      ...(target.click !== undefined ? { links: [{ href: target.click, text: 'More' }] } : {}),
    }
  })
}
