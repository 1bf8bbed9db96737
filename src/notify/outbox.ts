/**
 * The durable outbox: notifications that could not be delivered within their budget are
 * kept in the state directory and retried by the next scheduled job or `ownops notify`,
 * oldest first, up to a cap and an age limit. Entries name the channel, never its URL,
 * and hold the event as it was sent: redacted.
 */
import { createHash, randomBytes } from 'node:crypto'
import type { StateStore } from '../sys/state.js'
import type { AlertItem, Level, NotifyEvent } from './types.js'

export const OUTBOX_STATE = 'notify-outbox'

export interface OutboxEntry {
  id: string
  channel: string
  /** Fingerprint of the channel URL when queued: a changed URL is a new channel. */
  urlHash: string
  event: SerializedEvent
  queuedAt: string
  attempts: number
  lastError: string
  /** Parts (of a split message, or chats) already delivered: a retry sends the rest. */
  parts?: string[]
}

export interface SerializedEvent {
  /** The event's idempotency key (older entries have none: their entry id serves). */
  id?: string
  level: Level
  title: string
  body: string
  source?: { command: string; target?: string }
  alerts?: AlertItem[]
  host: string
  time: string
}

export function serializeEvent(event: NotifyEvent): SerializedEvent {
  return {
    ...(event.id === undefined ? {} : { id: event.id }),
    level: event.level,
    title: event.title,
    body: event.body,
    ...(event.source ? { source: event.source } : {}),
    ...(event.alerts ? { alerts: event.alerts } : {}),
    host: event.host,
    time: event.time.toISOString(),
  }
}

export function deserializeEvent(event: SerializedEvent): NotifyEvent {
  return { ...event, time: new Date(event.time) }
}

export function urlHash(url: string): string {
  return createHash('sha256').update(url).digest('hex').slice(0, 16)
}

export function newEntry(
  channel: string,
  url: string,
  event: NotifyEvent,
  attempts: number,
  lastError: string,
  now: Date,
  parts?: string[],
): OutboxEntry {
  return {
    id: randomBytes(6).toString('hex'),
    channel,
    urlHash: urlHash(url),
    event: serializeEvent(event),
    queuedAt: now.toISOString(),
    attempts,
    lastError,
    ...(parts && parts.length > 0 ? { parts } : {}),
  }
}

function isEntry(value: unknown): value is OutboxEntry {
  const v = value as OutboxEntry
  return (
    v !== null &&
    typeof v === 'object' &&
    typeof v.id === 'string' &&
    typeof v.channel === 'string' &&
    typeof v.queuedAt === 'string' &&
    typeof v.event?.title === 'string'
  )
}

export async function readOutbox(store: StateStore): Promise<OutboxEntry[]> {
  return store.read<OutboxEntry[]>(OUTBOX_STATE, [], (value) => (Array.isArray(value) ? value.filter(isEntry) : undefined))
}

/** Oldest first: queuedAt is an ISO timestamp, so code-point order is time order. */
export const byQueuedAt = (a: OutboxEntry, b: OutboxEntry): number => (a.queuedAt < b.queuedAt ? -1 : a.queuedAt > b.queuedAt ? 1 : 0)

/** Oldest first, capped (dropping the oldest beyond the cap); returns what was dropped. */
export function capOutbox(entries: OutboxEntry[], maxEntries: number): { kept: OutboxEntry[]; dropped: OutboxEntry[] } {
  const sorted = [...entries].sort(byQueuedAt)
  const excess = Math.max(0, sorted.length - maxEntries)
  return { kept: sorted.slice(excess), dropped: sorted.slice(0, excess) }
}
