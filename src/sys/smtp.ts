/**
 * Sending one e-mail over SMTP (nodemailer): implicit TLS or STARTTLS (demanded, offered or
 * never), optional AUTH, every wait bounded by `timeoutMs`, the whole attempt by `signal`.
 * Errors are nodemailer's own (with `responseCode` for SMTP replies); the mailto channel
 * turns them into delivery errors without the password or the URL.
 */

export interface SmtpServer {
  host: string
  port: number
  /** Implicit TLS from the first byte. */
  secure: boolean
  /** Without `secure`: upgrade when offered (auto), demand the upgrade (require) or never upgrade (no). */
  starttls: 'auto' | 'require' | 'no'
  /** Accept any server certificate. */
  tlsInsecure: boolean
  auth?: { user: string; pass: string }
  /** Bound of the connection, the greeting and each command. */
  timeoutMs: number
}

export interface MailMessage {
  from: string | { name: string; address: string }
  to: string[]
  cc: string[]
  bcc: string[]
  messageId?: string
  subject: string
  text: string
  headers: Record<string, string>
  highPriority: boolean
  attachments: Array<{ name: string; content: Buffer | string; contentType?: string }>
}

export interface MailSent {
  /** Recipients the server took. */
  accepted: number
  /** Recipients the server refused (the others took the message). */
  rejected: string[]
  messageId: string
}

export async function sendMail(server: SmtpServer, message: MailMessage, signal: AbortSignal): Promise<MailSent> {
  const { default: nodemailer } = await import('nodemailer')
  const transport = nodemailer.createTransport({
    host: server.host,
    port: server.port,
    secure: server.secure,
    requireTLS: !server.secure && server.starttls === 'require',
    ignoreTLS: !server.secure && server.starttls === 'no',
    ...(server.auth ? { auth: { user: server.auth.user, pass: server.auth.pass } } : {}),
    tls: { rejectUnauthorized: !server.tlsInsecure },
    connectionTimeout: server.timeoutMs,
    greetingTimeout: server.timeoutMs,
    socketTimeout: server.timeoutMs,
    logger: false,
  })
  try {
    const info = await transport.sendMail({
      from: message.from,
      to: message.to,
      ...(message.cc.length ? { cc: message.cc } : {}),
      ...(message.bcc.length ? { bcc: message.bcc } : {}),
      ...(message.messageId === undefined ? {} : { messageId: message.messageId }),
      subject: message.subject,
      text: message.text,
      headers: message.headers,
      ...(message.highPriority ? { priority: 'high' as const } : {}),
      attachments: message.attachments.map((a) => ({
        filename: a.name,
        content: a.content,
        ...(a.contentType ? { contentType: a.contentType } : {}),
      })),
      signal,
    })
    return {
      accepted: info.accepted?.length ?? 0,
      rejected: (info.rejected ?? []).map((r: unknown) => (typeof r === 'string' ? r : String((r as { address?: unknown }).address))),
      messageId: info.messageId,
    }
  } finally {
    transport.close()
  }
}
