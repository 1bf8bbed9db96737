/**
 * TCP for checks: connect within a timeout, and a request/response exchange for small
 * binary protocols (Minecraft's Server List Ping). Errors say what happened in words.
 */
import { connect, type Socket } from 'node:net'

export class NetError extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message)
    this.name = 'NetError'
  }
}

export function describeSocketError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code
  if (code === 'ECONNREFUSED') return 'connection refused'
  if (code === 'ECONNRESET') return 'connection reset'
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return 'host unreachable'
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'host name not found'
  return code ?? (error as Error).message
}

function open(host: string, port: number, timeoutMs: number, signal?: AbortSignal): Promise<{ socket: Socket; connectMs: number }> {
  const started = performance.now()
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port })
    const timer = setTimeout(() => fail(new NetError(`no connection within ${timeoutMs} ms`, 'ETIMEDOUT')), timeoutMs)
    const onAbort = () => fail(new NetError('aborted', 'ABORT_ERR'))
    signal?.addEventListener('abort', onAbort, { once: true })
    function cleanup() {
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      socket.off('error', fail)
    }
    function fail(error: Error) {
      cleanup()
      socket.destroy()
      reject(error instanceof NetError ? error : new NetError(describeSocketError(error), (error as NodeJS.ErrnoException).code))
    }
    socket.once('error', fail)
    socket.once('connect', () => {
      cleanup()
      resolve({ socket, connectMs: performance.now() - started })
    })
  })
}

/** Connects and closes; resolves with the connect time in milliseconds. */
export async function tcpConnect(host: string, port: number, timeoutMs: number, signal?: AbortSignal): Promise<number> {
  const { socket, connectMs } = await open(host, port, timeoutMs, signal)
  socket.destroy()
  return connectMs
}

export interface Exchange {
  /** The bytes received up to the point `complete` accepted them. */
  data: Buffer
  connectMs: number
  /** From the start of the connection to the complete response. */
  totalMs: number
}

/**
 * Connects, sends `request`, and reads until `complete(buffer)` returns true, the peer
 * closes, or the timeout (counted from the start) passes.
 */
export async function tcpExchange(
  host: string,
  port: number,
  request: Buffer,
  complete: (received: Buffer) => boolean,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<Exchange> {
  const started = performance.now()
  const { socket, connectMs } = await open(host, port, timeoutMs, signal)
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const remaining = Math.max(1, timeoutMs - (performance.now() - started))
    const timer = setTimeout(() => finish(new NetError(`no complete answer within ${timeoutMs} ms`, 'ETIMEDOUT')), remaining)
    const onAbort = () => finish(new NetError('aborted', 'ABORT_ERR'))
    signal?.addEventListener('abort', onAbort, { once: true })
    function finish(error?: Error) {
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      socket.removeAllListeners('data')
      socket.destroy()
      if (error) reject(error instanceof NetError ? error : new NetError(describeSocketError(error), (error as NodeJS.ErrnoException).code))
      else resolve({ data: Buffer.concat(chunks), connectMs, totalMs: performance.now() - started })
    }
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk)
      size += chunk.length
      if (size > 1024 * 1024) return finish(new NetError('answer larger than 1 MiB'))
      if (complete(Buffer.concat(chunks))) finish()
    })
    socket.once('error', (error) => finish(error))
    socket.once('end', () =>
      finish(complete(Buffer.concat(chunks)) ? undefined : new NetError('the server closed the connection before answering', 'ECONNRESET')),
    )
    socket.write(request)
  })
}
