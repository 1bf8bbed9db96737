/**
 * A real HTTP server on 127.0.0.1 (port 0) that records every request and answers from a
 * script: fixed statuses, sequences (500, 500, 200), delays, never answering, or answering
 * the headers and never finishing the body.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { onTestFinished } from 'vitest'

export interface RecordedRequest {
  method: string
  path: string
  headers: IncomingMessage['headers']
  body: Buffer
  text: string
  json: unknown
  at: number
}

export interface PeerReply {
  status?: number
  headers?: Record<string, string>
  body?: string
  delayMs?: number
  /** Accept the request and never answer (the client's timeout must fire). */
  hang?: boolean
  /** Send the status line and headers (and `body` so far), then never finish the body. */
  hangBody?: boolean
}

export type Responder = (req: RecordedRequest, index: number) => PeerReply

export interface HttpPeer {
  url: string
  port: number
  requests: RecordedRequest[]
  /** Replies used in order, one per request; the last one repeats. */
  reply(...replies: Array<PeerReply | Responder>): void
  close(): Promise<void>
}

export async function startHttpPeer(): Promise<HttpPeer> {
  const requests: RecordedRequest[] = []
  let script: Array<PeerReply | Responder> = [{ status: 200, body: '' }]
  const hanging = new Set<ServerResponse>()
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks)
      const text = body.toString('utf8')
      let json: unknown
      try {
        json = JSON.parse(text)
      } catch {
        json = undefined
      }
      const recorded: RecordedRequest = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body,
        text,
        json,
        at: Date.now(),
      }
      const index = requests.length
      requests.push(recorded)
      const entry = script[Math.min(index, script.length - 1)] ?? { status: 200 }
      const reply = typeof entry === 'function' ? entry(recorded, index) : entry
      if (reply.hang) {
        hanging.add(res)
        return
      }
      if (reply.hangBody) {
        hanging.add(res)
        res.writeHead(reply.status ?? 200, { 'content-type': 'application/json', ...reply.headers })
        res.write(reply.body ?? '{"ok":')
        return
      }
      const send = () => {
        res.writeHead(reply.status ?? 200, reply.headers ?? {})
        res.end(reply.body ?? '')
      }
      if (reply.delayMs) setTimeout(send, reply.delayMs)
      else send()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    reply(...replies) {
      script = replies
    },
    async close() {
      for (const res of hanging) res.destroy()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/** A peer for the running test, closed when the test ends. */
export async function peer(): Promise<HttpPeer> {
  const p = await startHttpPeer()
  onTestFinished(() => p.close())
  return p
}
