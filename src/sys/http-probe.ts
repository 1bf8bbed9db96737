/**
 * HTTP(S) probes for monitor checks, over undici: any status is an answer (the check
 * decides what is good), the latency is measured, at most `maxBodyBytes` of the body is
 * read, and for https the server certificate's expiry is captured from the TLS socket.
 */
import { readFile } from 'node:fs/promises'
import type { TLSSocket } from 'node:tls'

export interface ProbeRequest {
  url: string
  method: string
  headers: Record<string, string>
  body?: string
  timeoutMs: number
  signal?: AbortSignal
  /** Verify the server certificate (default true). */
  verify?: boolean
  /** A PEM file with the CA (or the self-signed certificate) to trust. */
  caFile?: string
  maxBodyBytes?: number
}

export interface ProbeCertificate {
  subject: string
  issuer: string
  validTo: Date
}

export interface ProbeResponse {
  status: number
  latencyMs: number
  body: string
  headers: Record<string, string | string[] | undefined>
  certificate?: ProbeCertificate
}

export class ProbeError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message)
    this.name = 'ProbeError'
  }
}

export async function probeHttp(req: ProbeRequest): Promise<ProbeResponse> {
  // CommonJS: from its default (module.exports), as in sys/http.ts.
  const { Agent, buildConnector, request } = (await import('undici')).default
  let ca: Buffer | undefined
  if (req.caFile !== undefined) {
    try {
      ca = await readFile(req.caFile)
    } catch (error) {
      throw new ProbeError(
        `cannot read the CA file ${req.caFile}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
        'CA_FILE',
      )
    }
  }
  let certificate: ProbeCertificate | undefined
  const connector = buildConnector({ rejectUnauthorized: req.verify !== false, ...(ca ? { ca } : {}), timeout: req.timeoutMs })
  const agent = new Agent({
    connections: 1,
    pipelining: 0,
    connect(options, callback) {
      connector(options, (error, socket) => {
        if (error === null && socket !== null && typeof (socket as TLSSocket).getPeerCertificate === 'function') {
          const peer = (socket as TLSSocket).getPeerCertificate()
          if (peer && peer.valid_to) {
            certificate = {
              subject: String(peer.subject?.CN ?? ''),
              issuer: String(peer.issuer?.CN ?? ''),
              validTo: new Date(peer.valid_to),
            }
          }
        }
        if (error === null) callback(null, socket)
        else callback(error, null)
      })
    },
  })
  const timeout = AbortSignal.timeout(req.timeoutMs)
  const signal = req.signal ? AbortSignal.any([req.signal, timeout]) : timeout
  const started = performance.now()
  try {
    const res = await request(req.url, {
      method: req.method as 'GET',
      headers: { 'user-agent': 'ownops-monitor', ...req.headers },
      ...(req.body === undefined ? {} : { body: req.body }),
      signal,
      dispatcher: agent,
      headersTimeout: req.timeoutMs,
      bodyTimeout: req.timeoutMs,
    })
    const max = req.maxBodyBytes ?? 1024 * 1024
    const chunks: Buffer[] = []
    let size = 0
    for await (const chunk of res.body) {
      const buffer = chunk as Buffer
      if (size + buffer.length > max) {
        chunks.push(buffer.subarray(0, max - size))
        size = max
        res.body.destroy()
        break
      }
      chunks.push(buffer)
      size += buffer.length
    }
    const latencyMs = performance.now() - started
    return {
      status: res.statusCode,
      latencyMs,
      body: Buffer.concat(chunks).toString('utf8'),
      headers: res.headers,
      ...(certificate ? { certificate } : {}),
    }
  } catch (error) {
    if (req.signal?.aborted && !timeout.aborted) throw req.signal.reason ?? error
    if (timeout.aborted) throw new ProbeError(`no answer within ${req.timeoutMs} ms`, 'TIMEOUT')
    throw new ProbeError(describeProbeError(error), errorCode(error))
  } finally {
    agent.destroy().catch(() => undefined)
  }
}

function errorCode(error: unknown): string {
  const cause = (error as { cause?: NodeJS.ErrnoException }).cause
  return cause?.code ?? (error as NodeJS.ErrnoException).code ?? 'ERROR'
}

function describeProbeError(error: unknown): string {
  const code = errorCode(error)
  const cause = (error as { cause?: Error }).cause
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused'
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host name not found'
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
      return 'connection reset'
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
      return 'TLS: the certificate is self-signed and not trusted (set tls.ca to it, or tls.verify: false)'
    case 'CERT_HAS_EXPIRED':
      return 'TLS: the certificate has expired'
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return 'TLS: the certificate is not for this host name'
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
      return 'TLS: the certificate chain is incomplete or its issuer is not trusted'
    case 'UND_ERR_CONNECT_TIMEOUT':
      return 'connect timed out'
    default:
      return `${code === 'ERROR' ? '' : `${code}: `}${(cause ?? (error as Error)).message}`
  }
}
