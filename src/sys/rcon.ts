/**
 * A Source RCON client (the protocol Minecraft servers speak on port 25575): little-endian
 * packets `length, request id, type, body, NUL, NUL`; type 3 logs in, type 2 runs a
 * command, type 0 is a response; a login answered with id -1 means a wrong password.
 *
 * A long reply comes in several packets (Minecraft cuts at 4,096 characters). After each
 * command the client sends an empty type-0 packet with the next id: the server answers it
 * only after the whole reply (Minecraft with "Unknown request 0", Source servers with an
 * empty packet), so its id marks the end. A server that ignores it is covered too: a last
 * packet shorter than 4,096 characters followed by a quiet moment ends the reply.
 */
import { connect, type Socket } from 'node:net'

export class RconError extends Error {
  constructor(
    message: string,
    readonly authFailed = false,
  ) {
    super(message)
    this.name = 'RconError'
  }
}

export interface RconOptions {
  host: string
  port: number
  password: string
  timeoutMs?: number
}

const TYPE_AUTH = 3
const TYPE_COMMAND = 2
const TYPE_RESPONSE = 0
/** Minecraft's largest response body per packet, in characters. */
export const MAX_RESPONSE_BODY = 4096
const QUIET_MS = 300

export function encodePacket(id: number, type: number, body: string): Buffer {
  const payload = Buffer.from(body, 'utf8')
  const packet = Buffer.alloc(14 + payload.length)
  packet.writeInt32LE(10 + payload.length, 0)
  packet.writeInt32LE(id, 4)
  packet.writeInt32LE(type, 8)
  payload.copy(packet, 12)
  return packet
}

export interface RconPacket {
  id: number
  type: number
  body: string
}

/** Splits complete packets off the front of `buffer`. */
export function decodePackets(buffer: Buffer): { packets: RconPacket[]; rest: Buffer } {
  const packets: RconPacket[] = []
  let offset = 0
  while (buffer.length - offset >= 4) {
    const length = buffer.readInt32LE(offset)
    if (length < 10 || length > 1 << 20) throw new RconError(`malformed RCON packet (length ${length})`)
    if (buffer.length - offset - 4 < length) break
    packets.push({
      id: buffer.readInt32LE(offset + 4),
      type: buffer.readInt32LE(offset + 8),
      body: buffer.toString('utf8', offset + 12, offset + 4 + length - 2),
    })
    offset += 4 + length
  }
  return { packets, rest: buffer.subarray(offset) }
}

export class RconClient {
  private buffer: Buffer = Buffer.alloc(0)
  private nextId = 1
  private waiting:
    | {
        id: number
        type: number
        end?: number
        parts: string[]
        quiet?: NodeJS.Timeout
        resolve: (p: RconPacket) => void
        reject: (e: Error) => void
      }
    | undefined

  private constructor(
    private readonly socket: Socket,
    private readonly timeoutMs: number,
  ) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk))
    socket.on('error', (error) => this.fail(new RconError(`RCON connection failed: ${error.message}`)))
    socket.on('close', () => this.fail(new RconError('RCON connection closed')))
  }

  static async connect(options: RconOptions): Promise<RconClient> {
    const timeoutMs = options.timeoutMs ?? 10_000
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect({ host: options.host, port: options.port })
      const timer = setTimeout(() => {
        s.destroy()
        reject(new RconError(`RCON ${options.host}:${options.port} did not answer within ${timeoutMs} ms`))
      }, timeoutMs)
      s.once('connect', () => {
        clearTimeout(timer)
        resolve(s)
      })
      s.once('error', (error) => {
        clearTimeout(timer)
        reject(
          new RconError(`cannot reach RCON at ${options.host}:${options.port}: ${(error as NodeJS.ErrnoException).code ?? error.message}`),
        )
      })
    })
    const client = new RconClient(socket, timeoutMs)
    const reply = await client.request(TYPE_AUTH, options.password)
    if (reply.id === -1) {
      client.close()
      throw new RconError('RCON login refused: wrong password (rcon.password in server.properties)', true)
    }
    return client
  }

  /** Runs a command and returns the server's reply text. */
  async command(text: string): Promise<string> {
    return (await this.request(TYPE_COMMAND, text)).body
  }

  close(): void {
    this.socket.destroy()
  }

  private request(type: number, body: string): Promise<RconPacket> {
    if (this.waiting !== undefined) return Promise.reject(new RconError('one RCON request at a time'))
    const id = this.nextId++
    const end = type === TYPE_COMMAND ? this.nextId++ : undefined
    return new Promise<RconPacket>((resolve, reject) => {
      const timer = setTimeout(() => this.fail(new RconError(`RCON request timed out after ${this.timeoutMs} ms`)), this.timeoutMs)
      this.waiting = {
        id,
        type,
        ...(end !== undefined ? { end } : {}),
        parts: [],
        resolve: (p) => {
          clearTimeout(timer)
          resolve(p)
        },
        reject: (e) => {
          clearTimeout(timer)
          reject(e)
        },
      }
      this.socket.write(encodePacket(id, type, body))
      if (end !== undefined) this.socket.write(encodePacket(end, TYPE_RESPONSE, ''))
    })
  }

  private finish(): void {
    const waiting = this.waiting
    if (waiting === undefined) return
    clearTimeout(waiting.quiet)
    this.waiting = undefined
    waiting.resolve({ id: waiting.id, type: TYPE_RESPONSE, body: waiting.parts.join('') })
  }

  private onData(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk])
    let decoded
    try {
      decoded = decodePackets(this.buffer)
    } catch (error) {
      this.fail(error as Error)
      return
    }
    this.buffer = decoded.rest
    for (const packet of decoded.packets) {
      const waiting = this.waiting
      if (waiting === undefined) continue
      if (waiting.type === TYPE_AUTH) {
        // Some servers send an empty type-0 packet first; the auth reply is type 2.
        if (packet.type !== 2) continue
        if (packet.id === waiting.id || packet.id === -1) {
          this.waiting = undefined
          waiting.resolve(packet)
        }
        continue
      }
      if (packet.id === waiting.end) {
        this.finish()
      } else if (packet.id === waiting.id) {
        waiting.parts.push(packet.body)
        clearTimeout(waiting.quiet)
        if (packet.body.length < MAX_RESPONSE_BODY) waiting.quiet = setTimeout(() => this.finish(), QUIET_MS)
      }
    }
  }

  private fail(error: Error): void {
    const waiting = this.waiting
    clearTimeout(waiting?.quiet)
    this.waiting = undefined
    waiting?.reject(error)
    this.socket.destroy()
  }
}
