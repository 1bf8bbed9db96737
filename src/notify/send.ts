/**
 * Delivering one event to every channel it is routed to: a timeout on every attempt,
 * retries with exponential backoff and jitter for network errors and 5xx, the delay a 429
 * asks for, all within a total time budget; never a retry for other 4xx. What still
 * fails goes to the outbox and is retried by the next ownops run.
 */
import { hostname } from 'node:os'
import type { Logger } from 'pino'
import type { ChannelConfig, Config } from '../config/schema.js'
import { parseDuration } from '../duration.js'
import { ExitCode, OwnopsError } from '../errors.js'
import { createHttpClient, type HttpClient } from '../sys/http.js'
import { HostLock } from '../sys/lock.js'
import type { StateStore } from '../sys/state.js'
import { didYouMean } from '../text.js'
import { ownopsVersion } from '../version.js'
import { channelOptions, resolveChannel, type ResolvedChannel } from './channels/index.js'
export { channelOptions }
import { capOutbox, deserializeEvent, newEntry, OUTBOX_STATE, readOutbox, urlHash, type OutboxEntry } from './outbox.js'
import { DeliveryError, type Level, type NotifyEvent } from './types.js'

export const DEFAULT_LEVELS: readonly Level[] = ['warning', 'error', 'critical']

export interface ChannelDelivery {
  channel: string
  kind: string
  status: 'delivered' | 'failed' | 'queued'
  attempts: number
  ms: number
  error?: string
}

export interface NotifyReport {
  level: Level
  title: string
  deliveries: ChannelDelivery[]
  delivered: number
}

export interface NotifierDeps {
  config: Config
  log: Logger
  store: StateStore
  now: () => Date
  signal?: AbortSignal
  http?: HttpClient
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>
  random?: () => number
}

/** Builds an event with the host name and time filled in. */
export function makeEvent(config: Config, now: Date, fields: Omit<NotifyEvent, 'host' | 'time'> & { host?: string; time?: Date }): NotifyEvent {
  return { ...fields, host: fields.host ?? config.hostname ?? hostname(), time: fields.time ?? now }
}

const defaultSleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms)
    signal?.addEventListener('abort', () => {
      clearTimeout(timer)
      reject(signal.reason)
    }, { once: true })
  })

export class Notifier {
  private readonly http: HttpClient
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>
  private readonly random: () => number
  private readonly timeoutMs: number
  private readonly budgetMs: number
  /** Entries this run queued itself: retrying them at once in the same run would only fail again. */
  private readonly queuedHere = new Set<string>()

  constructor(private readonly deps: NotifierDeps) {
    const notify = deps.config.notify
    this.timeoutMs = parseDuration(notify.timeout) ?? 10_000
    this.budgetMs = parseDuration(notify.budget) ?? 60_000
    this.http = deps.http ?? createHttpClient({ timeoutMs: this.timeoutMs, userAgent: `ownops/${ownopsVersion()}` })
    this.sleep = deps.sleep ?? defaultSleep
    this.random = deps.random ?? Math.random
  }

  /** The channels an event goes to: named ones, or those whose levels include it (heartbeats: hc channels only). */
  route(event: NotifyEvent, names?: readonly string[]): Array<[string, ChannelConfig]> {
    const all = Object.entries(this.deps.config.notify.channels)
    if (names !== undefined && names.length > 0) {
      return names.map((name) => {
        const cfg = this.deps.config.notify.channels[name]
        if (cfg === undefined) {
          const suggestion = didYouMean(name, all.map(([n]) => n))
          throw new OwnopsError(`no channel named "${name}" in notify.channels`, {
            exitCode: ExitCode.usage,
            hint: suggestion ? `did you mean "${suggestion}"?` : `configured: ${all.map(([n]) => n).join(', ') || 'none'}`,
          })
        }
        return [name, cfg]
      })
    }
    return all.filter(([, cfg]) => {
      const isHeartbeat = isHeartbeatUrl(cfg.url)
      if (event.heartbeat !== undefined) return isHeartbeat
      return !isHeartbeat && (cfg.levels ?? DEFAULT_LEVELS).includes(event.level)
    })
  }

  /**
   * Sends to every routed channel at once; never throws for delivery failures.
   * `queue: false` (test messages) reports what failed instead of keeping it for later.
   */
  async send(event: NotifyEvent, names?: readonly string[], options: { queue?: boolean } = {}): Promise<NotifyReport> {
    const routes = this.route(event, names)
    const deliveries = await Promise.all(routes.map(([name, cfg]) => this.deliver(name, cfg, event)))
    if (options.queue === false) for (const d of deliveries) if (d.status === 'queued') d.status = 'failed'
    const queued = deliveries.filter((d) => d.status === 'queued')
    if (queued.length > 0) {
      const now = this.deps.now()
      const entries = queued.map((d) => newEntry(d.channel, this.deps.config.notify.channels[d.channel]!.url, event, d.attempts, d.error ?? '', now))
      for (const entry of entries) this.queuedHere.add(entry.id)
      await this.enqueue(entries)
    }
    return { level: event.level, title: event.title, deliveries, delivered: deliveries.filter((d) => d.status === 'delivered').length }
  }

  private async deliver(name: string, cfg: ChannelConfig, event: NotifyEvent, options: { retries?: number } = {}): Promise<ChannelDelivery> {
    const started = Date.now()
    const log = this.deps.log.child({ channel: name })
    let resolved: ResolvedChannel
    try {
      resolved = resolveChannel(cfg.url, channelOptions(cfg))
    } catch (error) {
      return { channel: name, kind: 'unknown', status: 'failed', attempts: 0, ms: 0, error: (error as Error).message }
    }
    const retries = options.retries ?? this.deps.config.notify.retries
    const timeoutMs = cfg.timeout !== undefined ? (parseDuration(cfg.timeout) ?? this.timeoutMs) : this.timeoutMs
    const deadline = started + this.budgetMs
    let attempts = 0
    for (;;) {
      attempts++
      try {
        await resolved.channel.send(resolved.target, event, { http: this.http, log, timeoutMs: Math.max(1000, Math.min(timeoutMs, deadline - Date.now())), ...(this.deps.signal ? { signal: this.deps.signal } : {}) })
        log.debug({ attempts }, 'notification delivered')
        return { channel: name, kind: resolved.kind, status: 'delivered', attempts, ms: Date.now() - started }
      } catch (error) {
        if (this.deps.signal?.aborted) throw error
        const failure = error instanceof DeliveryError ? error : new DeliveryError((error as Error).message, { retryable: false, cause: error })
        const base = { channel: name, kind: resolved.kind, attempts, ms: Date.now() - started, error: failure.message }
        if (!failure.retryable) {
          log.warn({ attempts, err: failure.message }, 'notification rejected; not retrying')
          return { ...base, status: 'failed' }
        }
        const delay = failure.retryAfterMs ?? this.backoff(attempts)
        // Heartbeats are not queued: a ping that arrives hours late would tell a lie.
        const queueable = event.heartbeat === undefined
        if (attempts > retries || Date.now() + delay > deadline) {
          log.warn({ attempts, err: failure.message }, queueable ? 'notification not delivered; kept in the outbox for the next run' : 'heartbeat ping not delivered')
          return { ...base, status: queueable ? 'queued' : 'failed' }
        }
        log.info({ attempts, retryInMs: delay, err: failure.message }, 'notification failed; retrying')
        await this.sleep(delay, this.deps.signal)
      }
    }
  }

  /** Exponential backoff with jitter: 1 s, 2 s, 4 s … (each between half and all of it), capped at 30 s. */
  private backoff(attempt: number): number {
    const ceiling = Math.min(30_000, 1000 * 2 ** (attempt - 1))
    return Math.round(ceiling / 2 + (this.random() * ceiling) / 2)
  }

  private async withOutboxLock<T>(waitMs: number, fn: () => Promise<T>): Promise<T | undefined> {
    let lock: HostLock
    try {
      lock = await HostLock.acquire({ dir: this.deps.store.dir, name: 'notify-outbox.lock', command: 'notify outbox', waitMs, pollMs: 50 })
    } catch {
      return undefined
    }
    try {
      return await fn()
    } finally {
      await lock.release()
    }
  }

  private async enqueue(entries: OutboxEntry[]): Promise<void> {
    const done = await this.withOutboxLock(10_000, async () => {
      const current = await readOutbox(this.deps.store)
      const { kept, dropped } = capOutbox([...current, ...entries], this.deps.config.notify.outbox.maxEntries)
      for (const entry of dropped) this.deps.log.warn({ channel: entry.channel, title: entry.event.title, queuedAt: entry.queuedAt }, 'outbox full: dropped the oldest undelivered notification')
      await this.deps.store.write(OUTBOX_STATE, kept)
      return true
    })
    if (done === undefined) this.deps.log.error({ count: entries.length }, 'could not write the notification outbox (locked); these notifications are lost')
  }

  /**
   * Retries what earlier runs could not deliver: oldest first, one attempt each, within
   * `budgetMs`; drops entries past the age limit or for channels that no longer exist.
   */
  async flushOutbox(budgetMs = 15_000): Promise<{ delivered: number; dropped: number; remaining: number }> {
    if (!this.deps.store.exists(OUTBOX_STATE)) return { delivered: 0, dropped: 0, remaining: 0 }
    const result = await this.withOutboxLock(2000, async () => {
      const entries = await readOutbox(this.deps.store)
      if (entries.length === 0) return { delivered: 0, dropped: 0, remaining: 0 }
      const now = this.deps.now().getTime()
      const maxAge = parseDuration(this.deps.config.notify.outbox.maxAge) ?? 86_400_000
      const deadline = Date.now() + budgetMs
      const remaining: OutboxEntry[] = []
      let delivered = 0
      let dropped = 0
      for (const entry of capOutbox(entries, Number.MAX_SAFE_INTEGER).kept) {
        const cfg = this.deps.config.notify.channels[entry.channel]
        const age = now - Date.parse(entry.queuedAt)
        const fields = { channel: entry.channel, title: entry.event.title, queuedAt: entry.queuedAt, attempts: entry.attempts }
        if (age > maxAge) {
          this.deps.log.warn({ ...fields, lastError: entry.lastError }, 'dropped an undelivered notification: older than notify.outbox.maxAge')
          dropped++
          continue
        }
        if (cfg === undefined || urlHash(cfg.url) !== entry.urlHash) {
          this.deps.log.warn(fields, 'dropped an undelivered notification: its channel was removed or changed')
          dropped++
          continue
        }
        if (Date.now() >= deadline || this.deps.signal?.aborted || this.queuedHere.has(entry.id)) {
          remaining.push(entry)
          continue
        }
        const result = await this.deliver(entry.channel, cfg, deserializeEvent(entry.event), { retries: 0 })
        if (result.status === 'delivered') {
          this.deps.log.info(fields, 'delivered a notification from the outbox')
          delivered++
        } else if (result.status === 'failed') {
          this.deps.log.warn({ ...fields, err: result.error }, 'dropped an undelivered notification: the channel rejected it')
          dropped++
        } else {
          remaining.push({ ...entry, attempts: entry.attempts + result.attempts, lastError: result.error ?? entry.lastError })
        }
      }
      if (remaining.length === 0) await this.deps.store.remove(OUTBOX_STATE)
      else await this.deps.store.write(OUTBOX_STATE, remaining)
      return { delivered, dropped, remaining: remaining.length }
    })
    return result ?? { delivered: 0, dropped: 0, remaining: -1 }
  }
}

function isHeartbeatUrl(url: string): boolean {
  try {
    return resolveChannel(url).kind === 'hc'
  } catch {
    return false
  }
}
