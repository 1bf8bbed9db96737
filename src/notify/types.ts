/**
 * The notification model shared by every channel: one event, many channels.
 * A channel parses its URL once (`parse`) and delivers an event in one attempt
 * (`send`); retries, routing and the outbox live in ../notify/send.ts.
 */
import type { Logger } from 'pino'
import type { HttpClient } from '../sys/http.js'

export { DeliveryError } from '../sys/delivery.js'

/** Severities of events, for routing and colour. */
export const levels = ['info', 'warning', 'error', 'critical'] as const
export type Level = (typeof levels)[number]

export const levelOrder: Record<Level, number> = { info: 0, warning: 1, error: 2, critical: 3 }

export interface Attachment {
  name: string
  content: Buffer
  contentType?: string
}

/** Heartbeat pings in the healthchecks.io style; only `hc` channels receive them. */
export interface Heartbeat {
  phase: 'start' | 'success' | 'fail' | 'exit'
  /** Unique per job run; sent as ?rid= so start and end pair up. */
  runId: string
  /**
   * The job that pings (backup, backup-world, monitor, cleanup, verify-drill, restart-mc,
   * lock-run…): a channel's `commands:` may name it, and `{job}` in an hc URL becomes it.
   */
  job?: string
  exitStatus?: number
  /** The tail of the run's log, sent as the ping body. */
  logTail?: string
}

/**
 * One problem of a message that reports several (the monitor's digest): channels with a
 * structure of their own show each as a field (Discord embed fields, Slack blocks), and
 * paging services open and close each on its own (PagerDuty's dedup key).
 */
export interface AlertItem {
  /** Stable for as long as the problem lasts: "monitor/disk:/srv". */
  key: string
  /** For people: CRITICAL, WARNING (reminder), RESOLVED, ACTION, GAVE UP, ESCALATED. */
  label: string
  level: Level
  /** open: a problem (opened or still there); closed: it is gone; note: an action taken. */
  state: 'open' | 'closed' | 'note'
  /** The check row or target: "disk:/srv". */
  subject: string
  text: string
}

export interface NotifyEvent {
  /**
   * Unique per event, the same on every attempt and in the outbox: the idempotency key of
   * channels that have one (JSON webhooks' Idempotency-Key, e-mail's Message-ID).
   */
  id?: string
  level: Level
  title: string
  body: string
  /** What produced it: the command and, where there is one, the target or service. */
  source?: { command: string; target?: string }
  host: string
  time: Date
  attachments?: Attachment[]
  heartbeat?: Heartbeat
  /** The problems of a digest, one by one (the body has them as text too). */
  alerts?: AlertItem[]
}

/** Per-channel options from the config, beside its URL. */
export interface ChannelOptions {
  /** Replaces the service's base URL (self-hosted ntfy/Gotify, a proxy, a test peer). */
  baseUrl?: string
  /** json: HTTP method (default POST). */
  method?: string
  /** json (and any HTTP channel): extra request headers. */
  headers?: Record<string, string>
  /** discord: what to do with text over Discord's limits. */
  overflow?: 'truncate' | 'split'
  /** hc: how many bytes of log tail go into a ping body (default 10,000). */
  tailBytes?: number
  /** json: the body: ownops' event (default) or apprise's {version, title, message, type}. */
  format?: 'ownops' | 'apprise'
}

export interface ChannelContext {
  http: HttpClient
  log: Logger
  signal?: AbortSignal
  /** Per-attempt timeout in milliseconds. */
  timeoutMs: number
  /**
   * Parts of this event already delivered by earlier attempts (a split Discord message, one
   * of several Telegram chats): a channel that sends in parts skips these and adds each part
   * it delivers, so a retry never repeats what a peer already accepted.
   */
  delivered?: Set<string>
}

export interface Channel<T = unknown> {
  /** URL schemes served, e.g. ['discord']; the https form is claimed through `matchesHttps`. */
  readonly schemes: readonly string[]
  /** Whether a plain https/http URL belongs to this service (e.g. discord.com/api/webhooks/…). */
  matchesHttps?(url: URL): boolean
  /**
   * Validates the URL and options; returns what `send` needs. Throws an Error whose
   * message names the problem without quoting secrets (no token, no password).
   */
  parse(url: URL, options: ChannelOptions): T
  /** One delivery attempt. Errors are DeliveryErrors (retryable or not). */
  send(target: T, event: NotifyEvent, ctx: ChannelContext): Promise<void>
  /**
   * Whether sending the same event twice is harmless because the peer recognises it (an
   * idempotency key, or pings that mean the same however often they arrive). Only such
   * channels are retried after a request went out whole but no answer came back.
   */
  readonly idempotent?: boolean
  /**
   * The levels a channel of this kind takes when its config says none (default: warning,
   * error, critical). A game chat takes none: only what is sent or routed to it by name.
   */
  readonly defaultLevels?: readonly Level[]
}
