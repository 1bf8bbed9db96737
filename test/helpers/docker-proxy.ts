/**
 * A unix-socket proxy in front of the Docker engine's socket that a test can cut: point
 * ownops at it with DOCKER_HOST=unix://<socket>, let it pass requests through, and drop
 * the connection when a given request goes by — the request still reaches the engine (as
 * it would when the network or a restarting dockerd drops it half-way), the client only
 * loses the answer — then refuse the next connections for a while.
 */
import { rmSync } from 'node:fs'
import { createServer, connect, type Server, type Socket } from 'node:net'
import { join } from 'node:path'

export interface DockerProxy {
  /** DOCKER_HOST value for clients. */
  host: string
  /** Request lines seen, e.g. "POST /v1.41/containers/app/stop?t=30". */
  requests: string[]
  /**
   * Cuts the connection carrying the next request whose line matches, once it was sent
   * on to the engine, and then refuses the next `refuse` connections. Resolves when the cut
   * happened.
   */
  cutAt(match: RegExp, refuse: number): Promise<string>
  /** Connections refused so far. */
  refused(): number
  close(): Promise<void>
}

const REQUEST_LINE = /^(GET|POST|PUT|DELETE|HEAD) (\S+) HTTP\/1\.[01]\r$/gm

export async function startDockerProxy(dir: string, engine = '/var/run/docker.sock'): Promise<DockerProxy> {
  const path = join(dir, `docker-proxy-${process.pid}.sock`)
  rmSync(path, { force: true })
  const requests: string[] = []
  const sockets = new Set<Socket>()
  let refuse = 0
  let refusedCount = 0
  let armed: { match: RegExp; refuse: number; resolve: (line: string) => void } | undefined

  const server: Server = createServer((client) => {
    sockets.add(client)
    client.on('close', () => sockets.delete(client))
    client.on('error', () => undefined)
    if (refuse > 0) {
      refuse--
      refusedCount++
      client.destroy()
      return
    }
    const upstream = connect(engine)
    sockets.add(upstream)
    upstream.on('close', () => sockets.delete(upstream))
    upstream.on('error', () => client.destroy())
    upstream.on('data', (chunk: Buffer) => {
      if (!client.destroyed) client.write(chunk)
    })
    upstream.on('end', () => client.end())
    client.on('end', () => upstream.end())
    client.on('data', (chunk: Buffer) => {
      upstream.write(chunk)
      for (const m of chunk.toString('latin1').matchAll(REQUEST_LINE)) {
        const line = `${m[1]} ${m[2]}`
        requests.push(line)
        if (armed !== undefined && armed.match.test(line)) {
          const { resolve } = armed
          refuse = armed.refuse
          armed = undefined
          // The engine got the request and goes on with it; the client never hears back.
          client.destroy()
          resolve(line)
        }
      }
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(path, resolve)
  })
  return {
    host: `unix://${path}`,
    requests,
    cutAt(match, n) {
      return new Promise((resolve) => {
        armed = { match, refuse: n, resolve }
      })
    },
    refused: () => refusedCount,
    async close() {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      rmSync(path, { force: true })
    },
  }
}
