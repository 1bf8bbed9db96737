import { createServer, type AddressInfo, type Socket } from 'node:net'
import { hostname } from 'node:os'
import { inspect } from 'node:util'
import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { mailSubject, mailText, mailto, type MailTarget } from '../../src/notify/channels/mailto.js'
import { DeliveryError, type ChannelContext, type NotifyEvent } from '../../src/notify/types.js'
import type { HttpClient } from '../../src/sys/http.js'
import { startSmtpPeer, type SmtpPeer, type SmtpPeerOptions } from '../helpers/smtp-peer.js'

const http: HttpClient = {
  request: async () => {
    throw new Error('unused')
  },
}

function ctx(timeoutMs = 5_000, signal?: AbortSignal): ChannelContext {
  return { http, log: pino({ level: 'silent' }), timeoutMs, ...(signal ? { signal } : {}) }
}

const event: NotifyEvent = {
  level: 'warning',
  title: 'disk 91% on /srv',
  body: 'The volume /srv is 91% full.\nLargest: /srv/backups',
  source: { command: 'check', target: 'disk' },
  host: 'nas01',
  time: new Date('2026-03-01T12:34:56.000Z'),
  attachments: [{ name: 'df.txt', content: Buffer.from('Filesystem  Use%\n/dev/sda1   91%\n'), contentType: 'text/plain' }],
}

const peers: SmtpPeer[] = []
async function peer(opts: SmtpPeerOptions = {}): Promise<SmtpPeer> {
  const p = await startSmtpPeer(opts)
  peers.push(p)
  return p
}
afterEach(async () => {
  await Promise.all(peers.splice(0).map((p) => p.close()))
})

function target(url: string): MailTarget {
  return mailto.parse(new URL(url), {})
}

async function deliveryError(promise: Promise<unknown>): Promise<DeliveryError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(DeliveryError)
  return error as DeliveryError
}

function parseError(url: string): Error {
  try {
    target(url)
  } catch (e) {
    return e as Error
  }
  throw new Error(`parse accepted ${url}`)
}

/** A port on 127.0.0.1 with nothing listening. */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

describe('mailto parse', () => {
  it('reads host, port, credentials, recipients and defaults', () => {
    const t = target(
      'mailto://ops%40example.com:p%40ss%2Fw%3Ad@smtp.example.com?to=a@x.com,me+alerts@y.com&cc=c@x.com&bcc=d@x.com&to=e@x.com',
    )
    expect(t).toMatchObject({
      host: 'smtp.example.com',
      port: 587,
      secure: false,
      starttls: 'auto',
      tlsInsecure: false,
      from: { name: undefined, address: 'ops@example.com' },
      to: ['a@x.com', 'me+alerts@y.com', 'e@x.com'],
      cc: ['c@x.com'],
      bcc: ['d@x.com'],
    })
    expect(t.auth?.user).toBe('ops@example.com')
    expect(t.auth?.pass.reveal()).toBe('p@ss/w:d')
  })

  it('mailtos defaults to 465 with implicit TLS; no userinfo means no auth; from defaults to ownops@hostname', () => {
    const t = target('mailtos://relay.lan?to=a@x.com&name=Own+Ops&verify=no')
    expect(t).toMatchObject({ host: 'relay.lan', port: 465, secure: true, auth: undefined, tlsInsecure: true })
    expect(t.from).toEqual({ name: 'Own Ops', address: `ownops@${hostname()}` })
    expect(target('mailto://bob:pw@relay.lan:2525?to=a@x.com&from=ops@x.com').from.address).toBe('ops@x.com')
    expect(target('mailto://relay.lan?to=a@x.com&starttls=require').starttls).toBe('require')
    expect(target('mailto://relay.lan?to=a@x.com&starttls=no').starttls).toBe('no')
    expect(target('mailto://relay.lan?to=a@x.com&tls_insecure=1').tlsInsecure).toBe(true)
    expect(target('mailto://[::1]:25?to=a@x.com')).toMatchObject({ host: '::1', port: 25 })
  })

  it('never prints the password of a parsed target', () => {
    const t = target('mailto://bob:hunter2secret@relay.lan?to=a@x.com')
    expect(JSON.stringify(t)).not.toContain('hunter2secret')
    expect(inspect(t, { depth: 10 })).not.toContain('hunter2secret')
    expect(`${t.auth?.pass}`).not.toContain('hunter2secret')
  })

  it('errors name the problem without quoting the password', () => {
    const secret = 'Sup3rS3cret'
    const cases: Array<[string, RegExp]> = [
      [`mailto://bob:${secret}@relay.lan`, /needs \?to=address/],
      [`mailto://bob:${secret}@relay.lan?cc=a@x.com`, /needs \?to=address/],
      [`mailto://bob:${secret}@relay.lan:0?to=a@x.com`, /invalid port/],
      [`mailto://bob:${secret}@relay.lan?to=not-an-address`, /not an e-mail address/],
      [`mailto://bob:${secret}@relay.lan?to=a@x.com&starttls=maybe`, /starttls/],
      [`mailtos://bob:${secret}@relay.lan?to=a@x.com&starttls=require`, /mailto:\/\/ only/],
      [`mailto://bob:${secret}@relay.lan?to=a@x.com&pass=${secret}`, /unknown option "pass"/],
      ['mailto://?to=a@x.com', /needs the SMTP server/],
      ['mailto:a@x.com', /needs the SMTP server/],
      [`mailto://bob:${secret}%zz@relay.lan?to=a@x.com`, /malformed/],
      [`mailto://bob:${secret}@relay.lan/a@x.com`, /\?to=/],
    ]
    for (const [url, pattern] of cases) {
      const error = parseError(url)
      expect(error.message, url).toMatch(pattern)
      expect(error.message).not.toContain(secret)
      expect(error.message).not.toContain('relay.lan?')
    }
  })
})

describe('mailto message format', () => {
  it('subject carries the level, title and host; text ends with host, source and time', () => {
    expect(mailSubject(event)).toBe('[ownops] WARNING: disk 91% on /srv (nas01)')
    expect(mailText(event)).toBe(
      'The volume /srv is 91% full.\nLargest: /srv/backups\n\nhost: nas01\nsource: check disk\ntime: 2026-03-01T12:34:56.000Z\n',
    )
    expect(mailText({ ...event, body: '', source: undefined })).toBe('host: nas01\ntime: 2026-03-01T12:34:56.000Z\n')
    expect(mailSubject({ ...event, level: 'critical', title: 'two\r\nlines' })).toBe('[ownops] CRITICAL: two lines (nas01)')
  })
})

describe('mailto send over real SMTP', () => {
  it('plain SMTP with auth: subject, recipients, from, body lines, header and attachment arrive', async () => {
    const smtp = await peer({ auth: { user: 'bob', pass: 'hunter2' } })
    const t = target(
      `mailto://bob:hunter2@127.0.0.1:${smtp.port}?to=a@x.test,b@x.test&cc=c@x.test&bcc=d@x.test&from=ops@x.test&name=ownops`,
    )
    await mailto.send(t, { ...event, title: 'disk 91% — über voll' }, ctx())
    expect(smtp.messages).toHaveLength(1)
    const mail = smtp.messages[0]!
    expect(mail.user).toBe('bob')
    expect(mail.secure).toBe(false)
    expect(mail.from).toBe('ops@x.test')
    expect(mail.to).toEqual(['a@x.test', 'b@x.test', 'c@x.test', 'd@x.test'])
    expect(mail.subject).toBe('[ownops] WARNING: disk 91% — über voll (nas01)')
    expect(mail.headers.get('from')).toEqual(['ownops <ops@x.test>'])
    expect(mail.headers.get('to')).toEqual(['a@x.test, b@x.test'])
    expect(mail.headers.get('cc')).toEqual(['c@x.test'])
    expect(mail.headers.has('bcc')).toBe(false)
    expect(mail.headers.get('x-ownops-level')).toEqual(['warning'])
    expect(mail.headers.get('auto-submitted')).toEqual(['auto-generated'])
    expect(mail.text.split('\n')).toEqual([
      'The volume /srv is 91% full.',
      'Largest: /srv/backups',
      '',
      'host: nas01',
      'source: check disk',
      'time: 2026-03-01T12:34:56.000Z',
      '',
    ])
    expect(mail.attachments).toHaveLength(1)
    expect(mail.attachments[0]).toMatchObject({ filename: 'df.txt', contentType: 'text/plain' })
    expect(mail.attachments[0]!.content.toString()).toBe('Filesystem  Use%\n/dev/sda1   91%\n')
  })

  it('a wrong password is a non-retryable DeliveryError that does not quote the password', async () => {
    const smtp = await peer({ auth: { user: 'bob', pass: 'right-one' } })
    const t = target(`mailto://bob:Wr0ngPassw0rd@127.0.0.1:${smtp.port}?to=a@x.test`)
    const error = await deliveryError(mailto.send(t, event, ctx()))
    expect(error.retryable).toBe(false)
    expect(error.status).toBe(535)
    expect(error.message).toMatch(/^SMTP 535: authentication failed/)
    expect(error.message).not.toContain('Wr0ngPassw0rd')
    expect(error.message).not.toContain('mailto:')
    expect(inspect(error, { depth: 10 })).not.toContain('Wr0ngPassw0rd')
    expect(inspect(error, { depth: 10 })).not.toContain(Buffer.from('\0bob\0Wr0ngPassw0rd').toString('base64'))
    expect(smtp.authAttempts).toEqual([{ user: 'bob', ok: false }])
    expect(smtp.messages).toHaveLength(0)
  })

  it('a password with @, / and : percent-encoded in the URL is sent decoded', async () => {
    const pass = 'p@ss/w:rd%40'
    const smtp = await peer({ auth: { user: 'ops@x.test', pass } })
    const t = target(`mailto://${encodeURIComponent('ops@x.test')}:${encodeURIComponent(pass)}@127.0.0.1:${smtp.port}?to=a@x.test`)
    await mailto.send(t, event, ctx())
    expect(smtp.messages[0]).toMatchObject({ user: 'ops@x.test', pass, from: 'ops@x.test' })
  })

  it('mailtos:// with a self-signed certificate and tls_insecure=1 is delivered over TLS', async () => {
    const smtp = await peer({ secure: true, auth: { user: 'bob', pass: 'pw' } })
    await mailto.send(target(`mailtos://bob:pw@127.0.0.1:${smtp.port}?to=a@x.test&tls_insecure=1`), event, ctx())
    expect(smtp.messages).toHaveLength(1)
    expect(smtp.messages[0]!.secure).toBe(true)
  })

  it('mailtos:// with a self-signed certificate and verification on fails without retrying', async () => {
    const smtp = await peer({ secure: true })
    const error = await deliveryError(mailto.send(target(`mailtos://127.0.0.1:${smtp.port}?to=a@x.test`), event, ctx()))
    expect(error.retryable).toBe(false)
    expect(error.message).toMatch(/certificate/)
    expect(error.message).toContain('tls_insecure=1')
    expect(smtp.messages).toHaveLength(0)
  })

  it('STARTTLS offered + starttls=require: delivered over TLS', async () => {
    const smtp = await peer({ starttls: true, auth: { user: 'bob', pass: 'pw' } })
    await mailto.send(target(`mailto://bob:pw@127.0.0.1:${smtp.port}?to=a@x.test&starttls=require&tls_insecure=1`), event, ctx())
    expect(smtp.messages).toHaveLength(1)
    expect(smtp.messages[0]!.secure).toBe(true)
  })

  it('STARTTLS offered: used by default, skipped with starttls=no', async () => {
    const smtp = await peer({ starttls: true })
    await mailto.send(target(`mailto://127.0.0.1:${smtp.port}?to=a@x.test&verify=no`), event, ctx())
    await mailto.send(target(`mailto://127.0.0.1:${smtp.port}?to=a@x.test&starttls=no`), event, ctx())
    expect(smtp.messages.map((m) => m.secure)).toEqual([true, false])
    // offered STARTTLS is verified like any TLS: a self-signed relay needs tls_insecure=1 (or starttls=no)
    const error = await deliveryError(mailto.send(target(`mailto://127.0.0.1:${smtp.port}?to=a@x.test`), event, ctx()))
    expect(error.retryable).toBe(false)
    expect(error.message).toContain('tls_insecure=1')
    expect(smtp.messages).toHaveLength(2)
  })

  it('starttls=require against a server without STARTTLS fails without retrying and sends nothing', async () => {
    const smtp = await peer()
    const error = await deliveryError(mailto.send(target(`mailto://127.0.0.1:${smtp.port}?to=a@x.test&starttls=require`), event, ctx()))
    expect(error.retryable).toBe(false)
    expect(smtp.messages).toHaveLength(0)
  })

  it('a port with nothing listening is a retryable DeliveryError', async () => {
    const port = await closedPort()
    const error = await deliveryError(mailto.send(target(`mailto://bob:S3cretPw@127.0.0.1:${port}?to=a@x.test`), event, ctx()))
    expect(error.retryable).toBe(true)
    expect(error.message).toContain(`127.0.0.1:${port}`)
    expect(error.message).toContain('ECONNREFUSED')
    expect(error.message).not.toContain('S3cretPw')
  })

  it('a server that hangs up before the greeting is retryable', async () => {
    const smtp = await peer({ closeAfterConnect: true })
    const error = await deliveryError(mailto.send(target(`mailto://127.0.0.1:${smtp.port}?to=a@x.test`), event, ctx()))
    expect(error.retryable).toBe(true)
  })

  it('a server that never greets runs into the timeout, retryable', async () => {
    const sockets: Socket[] = []
    const server = createServer((socket) => sockets.push(socket))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      const { port } = server.address() as AddressInfo
      const started = Date.now()
      const error = await deliveryError(mailto.send(target(`mailto://127.0.0.1:${port}?to=a@x.test`), event, ctx(300)))
      expect(error.retryable).toBe(true)
      expect(error.message).toMatch(/timed out/)
      expect(Date.now() - started).toBeLessThan(3_000)
    } finally {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  })

  it('RCPT rejected with 450 is retryable, with 550 is not', async () => {
    const busy = await peer({ rejectRcpt: 450 })
    const soft = await deliveryError(mailto.send(target(`mailto://127.0.0.1:${busy.port}?to=a@x.test`), event, ctx()))
    expect(soft).toMatchObject({ retryable: true, status: 450 })
    expect(soft.message).toMatch(/^SMTP 450: refused a@x\.test/)

    const gone = await peer({ rejectRcpt: 550 })
    const hard = await deliveryError(mailto.send(target(`mailto://127.0.0.1:${gone.port}?to=a@x.test`), event, ctx()))
    expect(hard).toMatchObject({ retryable: false, status: 550 })
    expect(hard.message).toMatch(/^SMTP 550: refused a@x\.test: Mailbox unavailable/)
    expect(busy.messages).toHaveLength(0)
    expect(gone.messages).toHaveLength(0)
  })

  it('some recipients refused: delivered to the others, no error', async () => {
    const smtp = await peer({ rejectRcpt: 550, rejectRcptOnly: ['gone@x.test'] })
    await mailto.send(target(`mailto://127.0.0.1:${smtp.port}?to=a@x.test,gone@x.test`), event, ctx())
    expect(smtp.messages).toHaveLength(1)
    expect(smtp.messages[0]!.to).toEqual(['a@x.test'])
  })

  it("an aborted caller signal rethrows the signal's reason", async () => {
    const smtp = await peer()
    const controller = new AbortController()
    const reason = new Error('shutting down')
    controller.abort(reason)
    await expect(mailto.send(target(`mailto://127.0.0.1:${smtp.port}?to=a@x.test`), event, ctx(5_000, controller.signal))).rejects.toBe(
      reason,
    )
  })
})
