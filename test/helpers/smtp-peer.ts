/**
 * A real SMTP server on 127.0.0.1 (port 0), built on the `smtp-server` package, that records
 * every message it accepts: the envelope, the raw data, and a minimal parse of it (headers,
 * decoded subject, the text/plain part and the attachments). No mailparser: the parser below
 * handles what nodemailer writes (multipart, base64, quoted-printable, RFC 2047 words).
 *
 * Options:
 *   auth              require AUTH with this user/password (535 otherwise); insecure auth allowed
 *   secure            implicit TLS with a throwaway self-signed certificate (CN=localhost)
 *   starttls          offer STARTTLS with that certificate (default: not offered)
 *   rejectRcpt        answer every RCPT TO (or only those in rejectRcptOnly) with this code
 *   closeAfterConnect accept the TCP connection and close it before any greeting
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { SMTPServer, type SMTPServerOptions } from 'smtp-server'

export interface SmtpPeerOptions {
  auth?: { user: string; pass: string }
  secure?: boolean
  starttls?: boolean
  rejectRcpt?: number
  /** With rejectRcpt: reject only these addresses, accept the others. */
  rejectRcptOnly?: string[]
  closeAfterConnect?: boolean
}

export interface MimePart {
  headers: Map<string, string[]>
  contentType: string
  filename: string | undefined
  content: Buffer
}

export interface RecordedMail {
  from: string
  to: string[]
  raw: string
  /** Top-level headers, lower-case names, unfolded; values as written (not decoded). */
  headers: Map<string, string[]>
  /** Decoded Subject header. */
  subject: string
  /** The first text/plain part, decoded. */
  text: string
  /** Leaf parts with a filename (attachments). */
  attachments: MimePart[]
  /** Whether the session was on TLS (implicit or after STARTTLS), from smtp-server's session.secure. */
  secure: boolean
  /** The user name the client authenticated as, if it did. */
  user: string | undefined
  /** The password the client presented, if it authenticated (to check URL decoding). */
  pass: string | undefined
}

export interface SmtpPeer {
  port: number
  messages: RecordedMail[]
  /** Every AUTH attempt: user and whether it succeeded. */
  authAttempts: Array<{ user: string; ok: boolean }>
  close(): Promise<void>
}

// ---- certificate ----------------------------------------------------------------------------

let certPromise: Promise<{ key: Buffer; cert: Buffer }> | undefined

/** One self-signed certificate per test process, removed at exit. */
function selfSignedCert(): Promise<{ key: Buffer; cert: Buffer }> {
  certPromise ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ownops-smtp-cert-'))
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }))
    const keyPath = join(dir, 'key.pem')
    const certPath = join(dir, 'cert.pem')
    await promisify(execFile)('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=localhost',
      '-keyout',
      keyPath,
      '-out',
      certPath,
    ])
    return { key: readFileSync(keyPath), cert: readFileSync(certPath) }
  })()
  return certPromise
}

// ---- server ---------------------------------------------------------------------------------

function smtpError(message: string, responseCode: number): Error {
  return Object.assign(new Error(message), { responseCode })
}

export async function startSmtpPeer(opts: SmtpPeerOptions = {}): Promise<SmtpPeer> {
  if (opts.closeAfterConnect) return startClosingPeer()
  const messages: RecordedMail[] = []
  const authAttempts: SmtpPeer['authAttempts'] = []
  const passwords = new Map<string, string>()
  const needsCert = opts.secure === true || opts.starttls === true
  const disabled: string[] = []
  if (!needsCert) disabled.push('STARTTLS')
  if (!opts.auth) disabled.push('AUTH')
  const options: SMTPServerOptions = {
    ...(needsCert ? await selfSignedCert() : {}),
    secure: opts.secure === true,
    name: 'smtp-peer.test',
    logger: false,
    disabledCommands: disabled,
    authOptional: !opts.auth,
    allowInsecureAuth: true,
    disableReverseLookup: true,
    closeTimeout: 200,
    onAuth(auth, session, callback) {
      const user = auth.username ?? ''
      const ok = opts.auth !== undefined && user === opts.auth.user && auth.password === opts.auth.pass
      authAttempts.push({ user, ok })
      if (!ok) return callback(smtpError('Authentication failed', 535))
      passwords.set(session.id, auth.password ?? '')
      callback(null, { user })
    },
    onRcptTo(address, _session, callback) {
      const code = opts.rejectRcpt
      if (code !== undefined && (!opts.rejectRcptOnly || opts.rejectRcptOnly.includes(address.address))) {
        return callback(smtpError(code < 500 ? 'Mailbox busy, try again later' : 'Mailbox unavailable', code))
      }
      callback()
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = []
      stream.on('data', (c: Buffer) => chunks.push(c))
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8')
        const parsed = parseMessage(raw)
        messages.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw,
          ...parsed,
          secure: session.secure,
          user: typeof session.user === 'string' ? session.user : undefined,
          pass: passwords.get(session.id),
        })
        callback()
      })
    },
  }
  const server = new SMTPServer(options)
  server.on('error', () => {
    // client resets and TLS failures are part of some tests
  })
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const port = (server.server.address() as AddressInfo).port
  let closing: Promise<void> | undefined
  return {
    port,
    messages,
    authAttempts,
    close() {
      closing ??= new Promise<void>((resolve) => server.close(() => resolve()))
      return closing
    },
  }
}

/** A TCP listener that drops every connection before saying anything. */
async function startClosingPeer(): Promise<SmtpPeer> {
  const sockets = new Set<Socket>()
  const server: Server = createServer((socket) => {
    sockets.add(socket)
    socket.on('error', () => {})
    socket.destroy()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    port,
    messages: [],
    authAttempts: [],
    async close() {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

// ---- minimal MIME parsing -------------------------------------------------------------------

function splitHeaderBlock(raw: string): { headers: Map<string, string[]>; body: string } {
  const normalized = raw.replace(/\r\n/g, '\n')
  const end = normalized.indexOf('\n\n')
  const head = end === -1 ? normalized : normalized.slice(0, end)
  const body = end === -1 ? '' : normalized.slice(end + 2)
  const headers = new Map<string, string[]>()
  // unfold: a line starting with white space continues the previous one
  for (const line of head.replace(/\n[ \t]+/g, ' ').split('\n')) {
    const colon = line.indexOf(':')
    if (colon <= 0) continue
    const name = line.slice(0, colon).trim().toLowerCase()
    const value = line.slice(colon + 1).trim()
    headers.set(name, [...(headers.get(name) ?? []), value])
  }
  return { headers, body }
}

/** Decodes RFC 2047 encoded words (=?charset?B|Q?...?=); white space between two words is dropped. */
export function decodeWords(value: string): string {
  return value
    .replace(/(=\?[^?]+\?[BbQq]\?[^?]*\?=)\s+(?==\?[^?]+\?[BbQq]\?[^?]*\?=)/g, '$1')
    .replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g, (_m, charset: string, enc: string, text: string) => {
      const bytes =
        enc.toUpperCase() === 'B'
          ? Buffer.from(text, 'base64')
          : Buffer.from(
              text.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_x, h: string) => String.fromCharCode(parseInt(h, 16))),
              'latin1',
            )
      return new TextDecoder(charset.toLowerCase() === 'utf-8' ? 'utf-8' : charset).decode(bytes)
    })
}

/** `type/subtype; a=b; c="d"` → the lower-case type and the parameters (RFC 2231 `x*=utf-8''…` too). */
function parseParams(value: string): { value: string; params: Record<string, string> } {
  const [first = '', ...rest] = value.split(';')
  const params: Record<string, string> = {}
  for (const piece of rest) {
    const m = /^\s*([^=\s]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|(\S*))\s*$/.exec(piece)
    if (!m) continue
    const key = (m[1] ?? '').toLowerCase()
    const val = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : (m[3] ?? '')
    if (key.endsWith('*')) {
      const ext = /^[^']*'[^']*'(.*)$/.exec(val)
      params[key.slice(0, -1)] = decodeURIComponent(ext?.[1] ?? val)
    } else {
      params[key] = decodeWords(val)
    }
  }
  return { value: first.trim().toLowerCase(), params }
}

function decodeBody(body: string, encoding: string): Buffer {
  switch (encoding.toLowerCase()) {
    case 'base64':
      return Buffer.from(body.replace(/\s+/g, ''), 'base64')
    case 'quoted-printable': {
      const soft = body.replace(/=\n/g, '')
      const bytes: number[] = []
      for (let i = 0; i < soft.length; i++) {
        const hex = soft[i] === '=' ? /^[0-9A-Fa-f]{2}/.exec(soft.slice(i + 1, i + 3)) : null
        if (hex) {
          bytes.push(parseInt(hex[0], 16))
          i += 2
        } else {
          bytes.push(...Buffer.from(soft[i] ?? '', 'utf8'))
        }
      }
      return Buffer.from(bytes)
    }
    default:
      return Buffer.from(body, 'utf8')
  }
}

function leafParts(raw: string): MimePart[] {
  const { headers, body } = splitHeaderBlock(raw)
  const type = parseParams(headers.get('content-type')?.[0] ?? 'text/plain')
  const boundary = type.params.boundary
  if (type.value.startsWith('multipart/') && boundary) {
    const sections = body.split(`--${boundary}`)
    // sections[0] is the preamble; the one starting with "--" is after the closing delimiter
    return sections
      .slice(1)
      .filter((s) => !s.startsWith('--'))
      .flatMap((s) => leafParts(s.replace(/^[ \t]*\n/, '').replace(/\n$/, '')))
  }
  const disposition = parseParams(headers.get('content-disposition')?.[0] ?? '')
  const filename = disposition.params.filename ?? type.params.name
  const content = decodeBody(body, headers.get('content-transfer-encoding')?.[0] ?? '7bit')
  return [{ headers, contentType: type.value, filename, content }]
}

function parseMessage(raw: string): Pick<RecordedMail, 'headers' | 'subject' | 'text' | 'attachments'> {
  const { headers } = splitHeaderBlock(raw)
  const parts = leafParts(raw)
  const textPart = parts.find((p) => p.contentType === 'text/plain' && p.filename === undefined)
  return {
    headers,
    subject: decodeWords(headers.get('subject')?.[0] ?? ''),
    text: textPart ? textPart.content.toString('utf8').replace(/\r\n/g, '\n') : '',
    attachments: parts.filter((p) => p.filename !== undefined),
  }
}
