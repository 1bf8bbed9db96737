/**
 * A Minecraft Java Edition server's status side on 127.0.0.1 (port 0): it speaks the real
 * Server List Ping — handshake, status request → JSON status, ping → pong — written
 * independently of src/sys/minecraft-ping.ts so that the two check each other.
 */
import { createServer, type Server, type Socket } from 'node:net'
import type { AddressInfo } from 'node:net'

export interface MinecraftPeer {
  port: number
  /** Handshakes received: the protocol version, address and port the client sent. */
  handshakes: Array<{ protocol: number; address: string; port: number; nextState: number }>
  status: { version: string; protocol: number; online: number; max: number; motd: string }
  close(): Promise<void>
}

function readVarInt(buf: Buffer, pos: number): [number, number] | undefined {
  let result = 0
  for (let i = 0; i < 5; i++) {
    if (pos + i >= buf.length) return undefined
    const b = buf[pos + i] as number
    result |= (b & 0x7f) << (7 * i)
    if ((b & 0x80) === 0) return [result, pos + i + 1]
  }
  throw new Error('VarInt too long')
}

function writeVarInt(value: number): Buffer {
  const out: number[] = []
  let v = value >>> 0
  for (;;) {
    if ((v & ~0x7f) === 0) {
      out.push(v)
      return Buffer.from(out)
    }
    out.push((v & 0x7f) | 0x80)
    v >>>= 7
  }
}

function frame(id: number, payload: Buffer): Buffer {
  const body = Buffer.concat([writeVarInt(id), payload])
  return Buffer.concat([writeVarInt(body.length), body])
}

export async function startMinecraftPeer(status: Partial<MinecraftPeer['status']> = {}): Promise<MinecraftPeer> {
  const sockets = new Set<Socket>()
  const peer: MinecraftPeer = {
    port: 0,
    handshakes: [],
    status: { version: '1.21.4', protocol: 769, online: 3, max: 20, motd: 'A test server', ...status },
    close: async () => undefined,
  }
  const server: Server = createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => undefined)
    let buffer = Buffer.alloc(0)
    let state = 0 // 0 handshaking, 1 status
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk])
      for (;;) {
        const len = readVarInt(buffer, 0)
        if (len === undefined || buffer.length < len[1] + len[0]) return
        const packet = buffer.subarray(len[1], len[1] + len[0])
        buffer = buffer.subarray(len[1] + len[0])
        const [id, at] = readVarInt(packet, 0) as [number, number]
        if (state === 0 && id === 0x00) {
          const [protocol, p1] = readVarInt(packet, at) as [number, number]
          const [strLen, p2] = readVarInt(packet, p1) as [number, number]
          const address = packet.subarray(p2, p2 + strLen).toString('utf8')
          const port = packet.readUInt16BE(p2 + strLen)
          const [nextState] = readVarInt(packet, p2 + strLen + 2) as [number, number]
          peer.handshakes.push({ protocol: protocol | 0, address, port, nextState })
          state = nextState
        } else if (state === 1 && id === 0x00) {
          const s = peer.status
          const json = Buffer.from(
            JSON.stringify({
              version: { name: s.version, protocol: s.protocol },
              players: { max: s.max, online: s.online, sample: [] },
              description: { text: s.motd },
            }),
          )
          socket.write(frame(0x00, Buffer.concat([writeVarInt(json.length), json])))
        } else if (state === 1 && id === 0x01) {
          socket.write(frame(0x01, packet.subarray(at, at + 8)))
          socket.end()
        } else {
          socket.destroy()
        }
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  peer.port = (server.address() as AddressInfo).port
  peer.close = async () => {
    for (const s of sockets) s.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
  return peer
}
