/**
 * A Minecraft-style RCON server on 127.0.0.1 that speaks the real protocol: login (type 3,
 * answered with type 2 and the request id, or -1 for a wrong password), commands (type 2,
 * answered with type 0, cut into packets of 4,096 characters), other types answered with
 * "Unknown request". It records every command and can be told to fail some.
 */
import { createServer, type Server, type Socket } from 'node:net'
import type { AddressInfo } from 'node:net'
import { decodePackets, encodePacket } from '../../src/sys/rcon.js'

export interface RconPeer {
  port: number
  password: string
  commands: string[]
  /** Replies per command; a command answering `undefined` drops the connection. */
  respond: (command: string) => string | undefined
  close(): Promise<void>
}

export async function startRconPeer(password = 'hunter2-rcon'): Promise<RconPeer> {
  const sockets = new Set<Socket>()
  const peer: RconPeer = {
    port: 0,
    password,
    commands: [],
    respond: (command) =>
      command === 'save-all flush'
        ? 'Saved the game'
        : command === 'save-off'
          ? 'Automatic saving is now disabled'
          : command === 'save-on'
            ? 'Automatic saving is now enabled'
            : '',
    close: async () => undefined,
  }
  const server: Server = createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => undefined)
    let buffer: Buffer = Buffer.alloc(0)
    let authed = false
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk])
      const { packets, rest } = decodePackets(buffer)
      buffer = rest
      for (const p of packets) {
        if (p.type === 3) {
          authed = p.body === password
          socket.write(encodePacket(0, 0, '')) // some servers send an empty response first
          socket.write(encodePacket(authed ? p.id : -1, 2, ''))
          continue
        }
        if (!authed) {
          socket.destroy()
          return
        }
        if (p.type !== 2) {
          // As Minecraft answers a packet of another type (the client's end-of-reply marker).
          socket.write(encodePacket(p.id, 0, `Unknown request ${p.type.toString(16)}`))
          continue
        }
        peer.commands.push(p.body)
        const reply = peer.respond(p.body)
        if (reply === undefined) {
          socket.destroy()
          return
        }
        // Minecraft cuts a reply into packets of at most 4,096 characters.
        for (let at = 0; at === 0 || at < reply.length; at += 4096) socket.write(encodePacket(p.id, 0, reply.slice(at, at + 4096)))
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  peer.port = (server.address() as AddressInfo).port
  peer.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy()
      server.close(() => resolve())
    })
  return peer
}
