/**
 * Delivering one event to every channel it is routed to: a timeout on every attempt,
 * retries with exponential backoff and jitter for network errors and 5xx, the delay a 429
 * asks for, all within a total time budget; never a retry for other 4xx, and never a
 * repeat of a request that went out whole without an answer unless the channel recognises
 * repeats (an idempotency key). What still fails goes to the outbox, which the next
 * scheduled job (or `ownops notify`) retries. Everything sent or kept passes the redactor.
 */
import { randomUUID } from 'node:crypto'
import { hostname } from 'node:os'
import type { Logger } from 'pino'
import type { ChannelConfig, Config } from '../config/schema.js'
import { OwnopsError } from '../errors.js'
import { createHttpClient, type HttpClient } from '../sys/http.js'
import { HostLock } from '../sys/lock.js'
import type { StateStore } from '../sys/state.js'
import type { Redactor } from '../redact.js'
import { didYouMean } from '../text.js'
import { ownopsVersion } from '../version.js'
import { channelOptions, resolveChannel, type ResolvedChannel } from './channels/index.js'
export { channelOptions }
import { byQueuedAt, capOutbox, deserializeEvent, newEntry, OUTBOX_STATE, readOutbox, urlHash, type OutboxEntry } from './outbox.js'
import { DeliveryError, type Level, type NotifyEvent } from './types.js'
import { escalationSteps, matchRoutes, ownRule, type EscalationStep, type RouteRule } from './routes.js'

/** Every routing rule of a config: the own `notify:` of checks, targets and services first, then notify.routes. */
export function configRules(config: Config): RouteRule[] {
  const rules: RouteRule[] = []
  for (const [name, check] of Object.entries(config.monitor.checks)) {
    const own = (check as { notify?: Parameters<typeof ownRule>[0] }).notify
    if (own !== undefined) rules.push(ownRule(own, { checks: [name] }))
  }
  for (const [name, target] of Object.entries(config.backup.targets))
    if (target.notify !== undefined) rules.push(ownRule(target.notify, { targets: [name] }))
  for (const [name, svc] of Object.entries(config.restart.services))
    if (svc.notify !== undefined) rules.push(ownRule(svc.notify, { targets: [name], commands: ['restart'] }))
  return [...rules, ...config.notify.routes]
}

export const DEFAULT_LEVELS: readonly Level[] = ['warning', 'error', 'critical']

export interface ChannelDelivery {
  channel: string
  kind: string
  /**
   * unconfirmed: the request went out whole and no answer came; the channel has no way to
   * recognise a repeat, so it is not sent again (it may well have arrived).
   */
  status: 'delivered' | 'failed' | 'queued' | 'unconfirmed'
  attempts: number
  ms: number
  error?: string
  /** HTTP (or SMTP) status of the last failure. */
  statusCode?: number
  /** Parts of a split message (or chats) delivered, for a retry from the outbox. */
  parts?: string[]
}

export interface OutboxFlush {
  delivered: number
  /** Dropped: refused by the channel, past notify.outbox.maxAge, channel gone or changed, or unconfirmed. */
  dropped: number
  remaining: number
  /** The messages a channel refused (dropped), each with the reason. */
  refused: Array<{ channel: string; title: string; error: string }>
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
  /** Masks secrets in everything that is sent or kept in the outbox. */
  redactor?: Redactor
  /** Channels the config could not make usable (a ${VAR} not set…), with the problem: skipped, never sent to. */
  broken?: Record<string, string>
}

/**
 * Refusals that say the channel itself (its address or credentials) is wrong, not the
 * message: HTTP 401, 403, 404, 410; SMTP 530 and 535 (authentication).
 */
const CHANNEL_REFUSED = new Set([401, 403, 404, 410, 530, 535])

/** Builds an event with the host name and time filled in. */
export function makeEvent(
  config: Config,
  now: Date,
  fields: Omit<NotifyEvent, 'host' | 'time'> & { host?: string; time?: Date },
): NotifyEvent {
  return { id: randomUUID(), ...fields, host: fields.host ?? config.hostname ?? hostname(), time: fields.time ?? now }
}

/** Whether a channel limited by `commands:` takes events of this command or job. */
function takesCommand(cfg: ChannelConfig, event: NotifyEvent): boolean {
  if (cfg.commands === undefined) return true
  const names = new Set<string>()
  if (event.source !== undefined) {
    names.add(event.source.command)
    if (event.source.target !== undefined) names.add(`${event.source.command}-${event.source.target}`)
  }
  if (event.heartbeat?.job !== undefined) names.add(event.heartbeat.job)
  return cfg.commands.some((name) => names.has(name))
}

const defaultSleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms)
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer)
        reject(signal.reason)
      },
      { once: true },
    )
  })

export class Notifier {
  private readonly http: HttpClient
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>
  private readonly random: () => number
  private readonly timeoutMs: number
  private readonly budgetMs: number
  /** Entries this run queued itself: retrying them at once in the same run would only fail again. */
  private readonly queuedHere = new Set<string>()
  private readonly rules: RouteRule[]

  constructor(private readonly deps: NotifierDeps) {
    const notify = deps.config.notify
    this.timeoutMs = notify.timeout
    this.budgetMs = notify.budget
    this.http = deps.http ?? createHttpClient({ timeoutMs: this.timeoutMs, userAgent: `ownops/${ownopsVersion()}` })
    this.sleep = deps.sleep ?? defaultSleep
    this.random = deps.random ?? Math.random
    this.rules = configRules(deps.config)
  }

  /** The escalation steps of the rules an event matches (an alert still open after each goes further). */
  escalation(event: Pick<NotifyEvent, 'source' | 'level'>): EscalationStep[] {
    return escalationSteps(this.rules, event)
  }

  /** The channels an event goes to: named ones, or those whose levels include it (heartbeats: hc channels only). */
  route(event: NotifyEvent, names?: readonly string[]): Array<[string, ChannelConfig]> {
    const broken = this.deps.broken ?? {}
    if (names === undefined || names.length === 0) return this.routeAll(event).filter(([name]) => broken[name] === undefined)
    return this.routeAll(event, names)
  }

  private routeAll(event: NotifyEvent, names?: readonly string[]): Array<[string, ChannelConfig]> {
    const all = Object.entries(this.deps.config.notify.channels)
    if (names !== undefined && names.length > 0) {
      return names.map((name) => {
        const cfg = this.deps.config.notify.channels[name]
        if (cfg === undefined) {
          const suggestion = didYouMean(
            name,
            all.map(([n]) => n),
          )
          throw new OwnopsError(`no channel named "${name}" in notify.channels`, {
            kind: 'usage',
            hint: suggestion ? `did you mean "${suggestion}"?` : `configured: ${all.map(([n]) => n).join(', ') || 'none'}`,
          })
        }
        return [name, cfg]
      })
    }
    const matched = event.heartbeat === undefined ? matchRoutes(this.rules, event) : undefined
    if (matched !== undefined) {
      // The channels the rules name take it, unless their own levels: or commands: say no.
      const named = new Set(matched.flatMap((r) => r.channels))
      return all.filter(
        ([name, cfg]) =>
          named.has(name) &&
          takesCommand(cfg, event) &&
          !isHeartbeatUrl(cfg.url) &&
          (cfg.levels === undefined || cfg.levels.includes(event.level)),
      )
    }
    return all.filter(([, cfg]) => {
      if (!takesCommand(cfg, event)) return false
      const isHeartbeat = isHeartbeatUrl(cfg.url)
      if (event.heartbeat !== undefined) return isHeartbeat
      return !isHeartbeat && (cfg.levels ?? defaultLevelsOf(cfg.url)).includes(event.level)
    })
  }

  /** The event as it may leave the process: secrets masked in every text it carries. */
  private redactEvent(event: NotifyEvent): NotifyEvent {
    const redactor = this.deps.redactor
    if (redactor === undefined) return event
    const clean = (text: string) => redactor.redact(text)
    return {
      ...event,
      title: clean(event.title),
      body: clean(event.body),
      ...(event.source
        ? {
            source: { command: event.source.command, ...(event.source.target === undefined ? {} : { target: clean(event.source.target) }) },
          }
        : {}),
      ...(event.heartbeat
        ? {
            heartbeat: {
              ...event.heartbeat,
              ...(event.heartbeat.logTail === undefined ? {} : { logTail: clean(event.heartbeat.logTail) }),
            },
          }
        : {}),
      ...(event.attachments ? { attachments: event.attachments.map((a) => ({ ...a, content: redactText(a.content, clean) })) } : {}),
      ...(event.alerts ? { alerts: event.alerts.map((a) => ({ ...a, subject: clean(a.subject), text: clean(a.text) })) } : {}),
    }
  }

  /**
   * Sends to every routed channel at once; never throws for delivery failures.
   * `queue: false` (test messages) reports what failed instead of keeping it for later.
   */
  async send(event: NotifyEvent, names?: readonly string[], options: { queue?: boolean } = {}): Promise<NotifyReport> {
    const routes = this.route(event, names)
    const clean = this.redactEvent(event.id === undefined ? { ...event, id: randomUUID() } : event)
    const deliveries = await Promise.all(routes.map(([name, cfg]) => this.deliver(name, cfg, clean)))
    if (options.queue === false) for (const d of deliveries) if (d.status === 'queued') d.status = 'failed'
    const queued = deliveries.filter((d) => d.status === 'queued')
    if (queued.length > 0) {
      const now = this.deps.now()
      const entries = queued.map((d) =>
        newEntry(d.channel, this.deps.config.notify.channels[d.channel]!.url, clean, d.attempts, d.error ?? '', now, d.parts),
      )
      for (const entry of entries) this.queuedHere.add(entry.id)
      await this.enqueue(entries)
    }
    return { level: event.level, title: clean.title, deliveries, delivered: deliveries.filter((d) => d.status === 'delivered').length }
  }

  private async deliver(
    name: string,
    cfg: ChannelConfig,
    event: NotifyEvent,
    options: { retries?: number; deadline?: number; parts?: readonly string[] } = {},
  ): Promise<ChannelDelivery> {
    const started = Date.now()
    const log = this.deps.log.child({ channel: name })
    const broken = this.deps.broken?.[name]
    if (broken !== undefined)
      return { channel: name, kind: 'unknown', status: 'failed', attempts: 0, ms: 0, error: `the channel is broken: ${broken}` }
    let resolved: ResolvedChannel
    try {
      resolved = resolveChannel(cfg.url, channelOptions(cfg))
    } catch (error) {
      return { channel: name, kind: 'unknown', status: 'failed', attempts: 0, ms: 0, error: (error as Error).message }
    }
    const retries = options.retries ?? this.deps.config.notify.retries
    const timeoutMs = cfg.timeout ?? this.timeoutMs
    const deadline = Math.min(started + this.budgetMs, options.deadline ?? Number.POSITIVE_INFINITY)
    const delivered = new Set(options.parts ?? [])
    const clean = (text: string) => this.deps.redactor?.redact(text) ?? text
    let attempts = 0
    for (;;) {
      attempts++
      try {
        await resolved.channel.send(resolved.target, event, {
          http: this.http,
          log,
          timeoutMs: Math.max(1000, Math.min(timeoutMs, deadline - Date.now())),
          delivered,
          ...(this.deps.signal ? { signal: this.deps.signal } : {}),
        })
        log.debug({ attempts }, 'notification delivered')
        return { channel: name, kind: resolved.kind, status: 'delivered', attempts, ms: Date.now() - started }
      } catch (error) {
        if (this.deps.signal?.aborted) throw error
        const failure =
          error instanceof DeliveryError ? error : new DeliveryError((error as Error).message, { retryable: false, cause: error })
        const base = {
          channel: name,
          kind: resolved.kind,
          attempts,
          ms: Date.now() - started,
          error: clean(failure.message),
          ...(failure.status === undefined ? {} : { statusCode: failure.status }),
          ...(delivered.size > 0 ? { parts: [...delivered] } : {}),
        }
        if (failure.maybeDelivered && resolved.channel.idempotent !== true) {
          // It may be there already, and this channel cannot tell a repeat: sending it again
          // risks the same message twice (or four times), which is worse than once unconfirmed.
          log.warn({ attempts, err: failure }, 'notification sent, but no answer came: it may have arrived; not sending it again')
          return { ...base, status: 'unconfirmed' }
        }
        if (!failure.retryable) {
          log.warn({ attempts, err: failure }, 'notification rejected; not retrying')
          return { ...base, status: 'failed' }
        }
        const delay = failure.retryAfterMs ?? this.backoff(attempts)
        // Heartbeats are not queued: a ping that arrives hours late would tell a lie.
        const queueable = event.heartbeat === undefined
        if (attempts > retries || Date.now() + delay > deadline) {
          log.warn(
            { attempts, err: failure },
            queueable ? 'notification not delivered; kept in the outbox for the next run' : 'heartbeat ping not delivered',
          )
          return { ...base, status: queueable ? 'queued' : 'failed' }
        }
        log.info({ attempts, retryInMs: delay, err: failure }, 'notification failed; retrying')
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
      for (const entry of dropped)
        this.deps.log.warn(
          { channel: entry.channel, title: entry.event.title, queuedAt: entry.queuedAt },
          'outbox full: dropped the oldest undelivered notification',
        )
      await this.deps.store.write(OUTBOX_STATE, kept)
      return true
    })
    if (done === undefined)
      this.deps.log.error({ count: entries.length }, 'could not write the notification outbox (locked); these notifications are lost')
  }

  /**
   * Retries what earlier runs could not deliver, within `budgetMs` (every attempt's timeout
   * is cut to what is left of it): one attempt per entry, oldest first within a channel,
   * channels side by side, so one hanging channel does not hold up the others. A channel
   * that fails is not tried again in this run. A message the channel refuses (400, 413,
   * 422…) is dropped alone and reported; when the channel refuses its own address or
   * credentials (401, 403, 404, 410) its messages are kept for when it is fixed. Entries
   * past `outbox.maxAge` or for channels removed or changed are dropped with a log line.
   */
  async flushOutbox(budgetMs = 15_000): Promise<OutboxFlush> {
    const nothing: OutboxFlush = { delivered: 0, dropped: 0, remaining: 0, refused: [] }
    if (!this.deps.store.exists(OUTBOX_STATE)) return nothing
    const result = await this.withOutboxLock(2000, async () => {
      const entries = await readOutbox(this.deps.store)
      if (entries.length === 0) {
        await this.deps.store.remove(OUTBOX_STATE)
        return nothing
      }
      const now = this.deps.now().getTime()
      const maxAge = this.deps.config.notify.outbox.maxAge
      const deadline = Date.now() + budgetMs
      const outcome: OutboxFlush = { delivered: 0, dropped: 0, remaining: 0, refused: [] }
      const byChannel = new Map<string, OutboxEntry[]>()
      const untouched: OutboxEntry[] = []
      for (const entry of capOutbox(entries, Number.MAX_SAFE_INTEGER).kept) {
        const cfg = this.deps.config.notify.channels[entry.channel]
        const age = now - Date.parse(entry.queuedAt)
        const fields = { channel: entry.channel, title: entry.event.title, queuedAt: entry.queuedAt, attempts: entry.attempts }
        if (age > maxAge) {
          this.deps.log.warn(
            { ...fields, lastError: entry.lastError },
            'dropped an undelivered notification: older than notify.outbox.maxAge',
          )
          outcome.dropped++
        } else if (this.deps.broken?.[entry.channel] !== undefined) {
          // Its URL cannot be made in this run (a variable not set): kept for a run that can.
          untouched.push(entry)
        } else if (cfg === undefined || urlHash(cfg.url) !== entry.urlHash) {
          this.deps.log.warn(fields, 'dropped an undelivered notification: its channel was removed or changed')
          outcome.dropped++
        } else {
          byChannel.set(entry.channel, [...(byChannel.get(entry.channel) ?? []), entry])
        }
      }
      const kept = await Promise.all(
        [...byChannel].map(async ([channel, queue]) => {
          const cfg = this.deps.config.notify.channels[channel] as ChannelConfig
          const remaining: OutboxEntry[] = []
          let stop = false
          for (const entry of queue) {
            const fields = { channel, title: entry.event.title, queuedAt: entry.queuedAt, attempts: entry.attempts }
            if (stop || Date.now() >= deadline || this.deps.signal?.aborted || this.queuedHere.has(entry.id)) {
              remaining.push(entry)
              continue
            }
            const event = deserializeEvent(entry.event)
            const result = await this.deliver(channel, cfg, event.id === undefined ? { ...event, id: entry.id } : event, {
              retries: 0,
              deadline,
              parts: entry.parts ?? [],
            })
            if (result.status === 'delivered') {
              this.deps.log.info(fields, 'delivered a notification from the outbox')
              outcome.delivered++
            } else if (result.status === 'unconfirmed') {
              this.deps.log.warn(
                { ...fields, err: result.error },
                'dropped a notification from the outbox: sent, but no answer came; it may have arrived, and is not sent again',
              )
              outcome.dropped++
            } else if (result.status === 'failed' && result.statusCode !== undefined && CHANNEL_REFUSED.has(result.statusCode)) {
              this.deps.log.error(
                { ...fields, err: result.error },
                `channel ${channel} refuses every message (its URL or credentials?): its undelivered notifications are kept until they are older than notify.outbox.maxAge`,
              )
              remaining.push({ ...entry, attempts: entry.attempts + result.attempts, lastError: result.error ?? entry.lastError })
              stop = true
            } else if (result.status === 'failed') {
              this.deps.log.error({ ...fields, err: result.error }, 'dropped a notification from the outbox: the channel refused it')
              outcome.refused.push({ channel, title: entry.event.title, error: result.error ?? '' })
              outcome.dropped++
            } else {
              remaining.push({
                ...entry,
                attempts: entry.attempts + result.attempts,
                lastError: result.error ?? entry.lastError,
                ...(result.parts ? { parts: result.parts } : {}),
              })
              stop = true // the channel is down: the rest waits for the next run
            }
          }
          return remaining
        }),
      )
      const remaining = [...kept.flat(), ...untouched].sort(byQueuedAt)
      outcome.remaining = remaining.length
      if (remaining.length === 0) await this.deps.store.remove(OUTBOX_STATE)
      else await this.deps.store.write(OUTBOX_STATE, remaining)
      return outcome
    })
    return result ?? { ...nothing, remaining: -1 }
  }
}

/** A text attachment with secrets masked; anything that is not UTF-8 text is left as it is. */
function redactText(content: Buffer, clean: (text: string) => string): Buffer {
  const text = content.toString('utf8')
  if (!Buffer.from(text, 'utf8').equals(content)) return content
  return Buffer.from(clean(text), 'utf8')
}

/** The levels a channel takes without `levels:`: its kind's default (a game chat: none), else warning and above. */
export function defaultLevelsOf(url: string): readonly Level[] {
  try {
    return resolveChannel(url).channel.defaultLevels ?? DEFAULT_LEVELS
  } catch {
    return DEFAULT_LEVELS
  }
}

function isHeartbeatUrl(url: string): boolean {
  try {
    return resolveChannel(url).kind === 'hc'
  } catch {
    return false
  }
}
