/**
 * E-mail over SMTP, apprise-style URLs:
 *
 *   mailto://user:pass@smtp.example.com[:587]?to=a@x.com,b@y.com[&from=ops@x.com][&name=ownops]
 *   mailtos://user:pass@smtp.example.com[:465]?to=...
 *
 * - `mailto://`: plain SMTP, port 587 by default, upgraded with STARTTLS when the server
 *   offers it. `?starttls=require` fails unless the upgrade happens; `?starttls=no` never
 *   upgrades (a LAN relay with a broken certificate). `?starttls=auto` is the default.
 * - `mailtos://`: implicit TLS from the first byte, port 465 by default.
 * - user and password are percent-decoded (`p%40ss%2Fw%3Ad` is `p@ss/w:d`); without them no
 *   AUTH is attempted (an open relay on the LAN).
 * - `to` (required), `cc`, `bcc`: comma-separated addresses, or the parameter repeated.
 *   A `+` in the query stays a `+` (so `me+alerts@x.com` works); write a space as `%20`.
 * - `from`: the sender address; default the user name if it is an address, else
 *   `ownops@<os.hostname()>`. `name`: the sender's display name (a `+` is a space here).
 * - `?tls_insecure=1` (same as `?verify=no`) accepts any server certificate: for a relay with
 *   a self-signed certificate. It removes the protection against a man in the middle, and the
 *   password is sent over that connection; prefer the relay's real certificate.
 * - Every wait (connect, greeting, each command) is bounded by `ctx.timeoutMs`, and so is the
 *   whole attempt.
 *
 * The message: Subject `[ownops] WARNING: <title> (<host>)` (the level in capitals); a text
 * body made of the event's body, a blank line, then `host: …`, `source: <command> <target>`
 * (when there is a source) and `time: <ISO 8601>`; the event's attachments; headers
 * `X-Ownops-Level: <level>` and `Auto-Submitted: auto-generated`, and high priority for
 * critical events.
 *
 * Errors: connection failures, timeouts and 4xx replies are retryable DeliveryErrors; 5xx
 * replies (535 authentication failed, 550 no such mailbox, …) and configuration problems are
 * not. `status` carries the SMTP reply code. No message ever holds the password or the URL.
 */
import { hostname } from 'node:os'
import { sendMail } from '../../sys/smtp.js'
import type { Channel, ChannelContext, ChannelOptions, NotifyEvent } from '../types.js'
import { DeliveryError } from '../types.js'

const INSPECT = Symbol.for('nodejs.util.inspect.custom')

/** A password that prints as [redacted] in logs, JSON and util.inspect; `reveal()` reads it. */
export class SmtpPassword {
  readonly #value: string
  constructor(value: string) {
    this.#value = value
  }
  reveal(): string {
    return this.#value
  }
  toString(): string {
    return '[redacted]'
  }
  toJSON(): string {
    return '[redacted]'
  }
  [INSPECT](): string {
    return '[redacted]'
  }
}

export interface MailTarget {
  host: string
  port: number
  /** Implicit TLS (mailtos://). */
  secure: boolean
  /** For mailto://: upgrade when offered (auto), demand the upgrade (require) or never upgrade (no). */
  starttls: 'auto' | 'require' | 'no'
  /** Accept any server certificate. */
  tlsInsecure: boolean
  auth: { user: string; pass: SmtpPassword } | undefined
  from: { name: string | undefined; address: string }
  to: string[]
  cc: string[]
  bcc: string[]
}

const KNOWN_OPTIONS = ['to', 'cc', 'bcc', 'from', 'name', 'starttls', 'tls_insecure', 'verify'] as const
type OptionName = (typeof KNOWN_OPTIONS)[number]

/** A loose check: one @, something on both sides, nothing that would break a header. */
const ADDRESS = /^[^\s@<>,;"]+@[^\s@<>,;"]+$/

function decode(part: string, what: string): string {
  try {
    return decodeURIComponent(part)
  } catch {
    throw new Error(`mailto URL: the ${what} has a malformed %-escape`)
  }
}

/** The query, decoded without turning `+` into a space (addresses like me+ops@x.com). */
function readQuery(url: URL): Map<OptionName, string[]> {
  const query = new Map<OptionName, string[]>()
  for (const pair of url.search.replace(/^\?/, '').split('&')) {
    if (pair === '') continue
    const eq = pair.indexOf('=')
    const key = decode(eq === -1 ? pair : pair.slice(0, eq), 'query').toLowerCase()
    const value = eq === -1 ? '' : pair.slice(eq + 1)
    if (!(KNOWN_OPTIONS as readonly string[]).includes(key)) {
      throw new Error(`mailto URL: unknown option "${key}" (known: ${KNOWN_OPTIONS.join(', ')})`)
    }
    const name = key as OptionName
    const decoded = decode(name === 'name' ? value.replace(/\+/g, ' ') : value, `"${name}" option`)
    query.set(name, [...(query.get(name) ?? []), decoded])
  }
  return query
}

function addresses(query: Map<OptionName, string[]>, key: 'to' | 'cc' | 'bcc'): string[] {
  const list = (query.get(key) ?? [])
    .flatMap((v) => v.split(','))
    .map((a) => a.trim())
    .filter((a) => a !== '')
  for (const a of list) {
    if (!ADDRESS.test(a)) throw new Error(`mailto URL: "${a}" in ?${key}= is not an e-mail address`)
  }
  return list
}

function single(query: Map<OptionName, string[]>, key: OptionName): string | undefined {
  const values = query.get(key)
  if (values === undefined) return undefined
  if (values.length > 1) throw new Error(`mailto URL: ?${key}= is given more than once`)
  return values[0]
}

function flag(value: string, key: string): boolean {
  const v = value.toLowerCase()
  if (['1', 'true', 'yes', 'on', ''].includes(v)) return true
  if (['0', 'false', 'no', 'off'].includes(v)) return false
  throw new Error(`mailto URL: ?${key}= must be yes or no, not "${value}"`)
}

function parseTarget(url: URL): MailTarget {
  const scheme = url.protocol.replace(/:$/, '').toLowerCase()
  if (scheme !== 'mailto' && scheme !== 'mailtos') throw new Error(`mailto channel cannot serve ${scheme}: URLs`)
  const secure = scheme === 'mailtos'
  // new URL keeps IPv6 brackets and percent-escapes in the host of a non-special scheme
  const host = decode(url.hostname, 'host').replace(/^\[(.*)\]$/, '$1')
  if (host === '') throw new Error(`${scheme} URL needs the SMTP server: ${scheme}://user:pass@smtp.example.com?to=address`)
  let port = secure ? 465 : 587
  if (url.port !== '') {
    port = Number(url.port)
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`${scheme} URL has an invalid port (1-65535)`)
  }
  if (url.pathname !== '' && url.pathname !== '/') throw new Error(`${scheme} URL: put the recipients in ?to=, not in the path`)

  const query = readQuery(url)
  const to = addresses(query, 'to')
  if (to.length === 0) throw new Error(`${scheme} URL needs ?to=address`)

  const user = decode(url.username, 'user name')
  const pass = decode(url.password, 'password')
  const auth = user !== '' || pass !== '' ? { user, pass: new SmtpPassword(pass) } : undefined

  const fromOption = single(query, 'from')?.trim()
  if (fromOption !== undefined && !ADDRESS.test(fromOption))
    throw new Error(`${scheme} URL: ?from= "${fromOption}" is not an e-mail address`)
  const address = fromOption || (ADDRESS.test(user) ? user : `ownops@${hostname()}`)
  const name = single(query, 'name')?.trim() || undefined

  let starttls: MailTarget['starttls'] = 'auto'
  const starttlsOption = single(query, 'starttls')?.toLowerCase()
  if (starttlsOption !== undefined) {
    if (['require', 'required', 'yes', '1', 'true'].includes(starttlsOption)) starttls = 'require'
    else if (['no', 'never', 'off', '0', 'false'].includes(starttlsOption)) starttls = 'no'
    else if (starttlsOption !== 'auto') throw new Error(`${scheme} URL: ?starttls= must be auto, require or no`)
    if (secure && starttls !== 'auto') throw new Error('mailtos:// is TLS from the start; ?starttls= applies to mailto:// only')
  }

  const insecure = single(query, 'tls_insecure')
  const verify = single(query, 'verify')
  const tlsInsecure = (insecure !== undefined && flag(insecure, 'tls_insecure')) || (verify !== undefined && !flag(verify, 'verify'))

  return {
    host,
    port,
    secure,
    starttls,
    tlsInsecure,
    auth,
    from: { name, address },
    to,
    cc: addresses(query, 'cc'),
    bcc: addresses(query, 'bcc'),
  }
}

/** One line of header text: no line breaks, no runaway length. */
function oneLine(text: string, max = 200): string {
  const flat = text.replace(/\s+/g, ' ').trim()
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat
}

/** `[ownops] WARNING: disk 91% full (nas01)` */
export function mailSubject(event: NotifyEvent): string {
  return `[ownops] ${event.level.toUpperCase()}: ${oneLine(event.title)} (${oneLine(event.host, 100)})`
}

/** The event's body, a blank line, then host, source and time. */
export function mailText(event: NotifyEvent): string {
  const meta = [`host: ${event.host}`]
  if (event.source) meta.push(`source: ${event.source.command}${event.source.target ? ` ${event.source.target}` : ''}`)
  meta.push(`time: ${event.time.toISOString()}`)
  const body = event.body.replace(/\s+$/, '')
  return `${body === '' ? '' : `${body}\n\n`}${meta.join('\n')}\n`
}

interface SmtpError {
  code?: string
  responseCode?: number
  response?: string
  command?: string
  originalCode?: string
  timeoutType?: string
  rejected?: string[]
  message?: string
}

const NETWORK_ERRORS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'DNS lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ECONNECTION: 'connection closed unexpectedly',
}

const CONFIG_CODES = new Set(['EAUTH', 'ENOAUTH', 'ECONFIG', 'EENVELOPE', 'EREQUIRETLS', 'EMAXRECIPIENTS', 'EOAUTH2'])

/** Turns a nodemailer error into a DeliveryError whose message holds neither the password nor the URL. */
function toDeliveryError(error: unknown, target: MailTarget, elapsedTimeout: number | undefined): DeliveryError {
  const err = (typeof error === 'object' && error !== null ? error : {}) as SmtpError
  const where = `${target.host}:${target.port}`
  const secret = target.auth?.pass.reveal() ?? ''
  const clean = (text: string) => {
    let out = oneLine(text, 300)
    if (secret !== '') out = out.split(secret).join('***')
    return out
  }
  let message: string
  let retryable: boolean
  const code = typeof err.responseCode === 'number' ? err.responseCode : undefined
  if (elapsedTimeout !== undefined) {
    message = `SMTP ${where}: timed out after ${elapsedTimeout} ms`
    retryable = true
  } else if (code !== undefined && code >= 400 && code < 600) {
    // "535 5.7.8 Authentication failed" → "5.7.8 Authentication failed"
    const text = clean((err.response ?? '').replace(/^\d{3}[ -]?/, '')) || 'no reply text'
    const verb = (err.command ?? '')
      .split(' ')
      .slice(0, 2)
      .join(' ')
      .replace(/[^A-Z ]/g, '')
    let what =
      err.code === 'EAUTH'
        ? 'authentication failed'
        : err.code === 'EENVELOPE' && err.rejected?.length
          ? `refused ${err.rejected.join(', ')}`
          : verb
            ? `${verb} refused`
            : 'refused'
    if (verb === 'STARTTLS') what += ' (the server does not do STARTTLS: drop ?starttls=require, or use mailtos://)'
    message = `SMTP ${code}: ${what}${text.toLowerCase() === what.toLowerCase() ? '' : `: ${text}`}`
    retryable = code < 500
  } else if (err.code === 'ETIMEDOUT') {
    const phase = err.timeoutType ? ` (${err.timeoutType.toLowerCase().replace(/_/g, ' ')})` : ''
    message = `SMTP ${where}: timed out${phase}`
    retryable = true
  } else if (err.code === 'ETLS' || /certificate|self[- ]signed|CERT_|ALTNAME/i.test(`${err.originalCode ?? ''} ${err.message ?? ''}`)) {
    const reason = clean(err.message ?? 'TLS failed')
    const certProblem = /certificate|self[- ]signed|CERT_|ALTNAME/i.test(`${err.originalCode ?? ''} ${reason}`)
    message = `SMTP ${where}: TLS failed: ${reason}${certProblem ? ' (a relay with a self-signed certificate needs ?tls_insecure=1)' : ''}`
    retryable = !certProblem
  } else if (err.code !== undefined && CONFIG_CODES.has(err.code)) {
    message = `SMTP ${where}: ${clean(err.message ?? err.code)}`
    retryable = false
  } else {
    const sys = err.originalCode ?? err.code
    const known = sys === undefined ? undefined : NETWORK_ERRORS[sys]
    const reason = known ?? clean(err.message ?? String(error))
    message = `SMTP ${where}: ${reason}${sys && !reason.includes(sys) ? ` (${sys})` : ''}`
    retryable = true
  }
  return new DeliveryError(message, { retryable, ...(code === undefined ? {} : { status: code }), cause: error })
}

export const mailto: Channel<MailTarget> = {
  schemes: ['mailto', 'mailtos'],
  // Every attempt carries the same Message-ID (from the event id): e-mail's own key for
  // recognising a message that arrives twice.
  idempotent: true,

  parse(url: URL, _options: ChannelOptions): MailTarget {
    return parseTarget(url)
  },

  async send(target: MailTarget, event: NotifyEvent, ctx: ChannelContext): Promise<void> {
    const timeoutMs = ctx.timeoutMs
    const deadline = AbortSignal.timeout(timeoutMs)
    const signal = ctx.signal ? AbortSignal.any([ctx.signal, deadline]) : deadline
    try {
      const info = await sendMail(
        {
          host: target.host,
          port: target.port,
          secure: target.secure,
          starttls: target.starttls,
          tlsInsecure: target.tlsInsecure,
          ...(target.auth ? { auth: { user: target.auth.user, pass: target.auth.pass.reveal() } } : {}),
          timeoutMs,
        },
        {
          from: target.from.name ? { name: target.from.name, address: target.from.address } : target.from.address,
          to: target.to,
          cc: target.cc,
          bcc: target.bcc,
          ...(event.id === undefined ? {} : { messageId: `<${event.id}@${target.from.address.split('@')[1] ?? 'ownops'}>` }),
          subject: mailSubject(event),
          text: mailText(event),
          headers: { 'X-Ownops-Level': event.level, 'Auto-Submitted': 'auto-generated' },
          highPriority: event.level === 'critical',
          attachments: (event.attachments ?? []).map((a) => ({
            name: a.name,
            content: a.content,
            ...(a.contentType ? { contentType: a.contentType } : {}),
          })),
        },
        signal,
      )
      if (info.rejected.length > 0) {
        // some recipients took it; a retry would send it to them twice
        ctx.log.warn({ channel: 'mailto', rejected: info.rejected }, 'the SMTP server refused some recipients')
      }
      ctx.log.debug(
        { channel: 'mailto', server: `${target.host}:${target.port}`, accepted: info.accepted, messageId: info.messageId },
        'mail sent',
      )
    } catch (error) {
      if (ctx.signal?.aborted) throw ctx.signal.reason ?? error
      throw toDeliveryError(error, target, deadline.aborted ? timeoutMs : undefined)
    }
  },
}
