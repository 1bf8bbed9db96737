/**
 * Minecraft Java Edition's Server List Ping, what the multiplayer screen does: handshake
 * (next state: status), status request, and the JSON answer with the version, players
 * online/max and the message of the day. The encoding is pure and tested; the socket is
 * in ./net.ts.
 */
import { tcpExchange } from './net.js'

export function encodeVarInt(value: number): Buffer {
  const bytes: number[] = []
  let v = value >>> 0 // two's complement for negatives, as the protocol wants
  do {
    let byte = v & 0x7f
    v >>>= 7
    if (v !== 0) byte |= 0x80
    bytes.push(byte)
  } while (v !== 0)
  return Buffer.from(bytes)
}

/** Reads a VarInt at `offset`; undefined when the buffer ends before it does. */
export function decodeVarInt(buffer: Buffer, offset = 0): { value: number; size: number } | undefined {
  let value = 0
  for (let i = 0; i < 5; i++) {
    const byte = buffer[offset + i]
    if (byte === undefined) return undefined
    value |= (byte & 0x7f) << (7 * i)
    if ((byte & 0x80) === 0) return { value, size: i + 1 }
  }
  throw new Error('VarInt longer than 5 bytes')
}

function packet(id: number, payload: Buffer): Buffer {
  const body = Buffer.concat([encodeVarInt(id), payload])
  return Buffer.concat([encodeVarInt(body.length), body])
}

function mcString(text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8')
  return Buffer.concat([encodeVarInt(bytes.length), bytes])
}

/** Handshake (protocol -1, next state 1 = status) followed by the status request. */
export function statusRequest(host: string, port: number): Buffer {
  const portBytes = Buffer.alloc(2)
  portBytes.writeUInt16BE(port)
  const handshake = packet(0x00, Buffer.concat([encodeVarInt(-1), mcString(host), portBytes, encodeVarInt(1)]))
  return Buffer.concat([handshake, packet(0x00, Buffer.alloc(0))])
}

/** Whether `buffer` holds a whole packet. */
export function packetComplete(buffer: Buffer): boolean {
  const length = decodeVarInt(buffer)
  return length !== undefined && buffer.length >= length.size + length.value
}

export interface ServerStatus {
  version: string
  protocol: number | undefined
  online: number
  max: number
  motd: string
}

/** Parses the status response packet. Throws with a plain message on anything else. */
export function parseStatusResponse(buffer: Buffer): ServerStatus {
  const length = decodeVarInt(buffer)
  if (length === undefined || buffer.length < length.size + length.value) throw new Error('incomplete status response')
  let offset = length.size
  const id = decodeVarInt(buffer, offset)
  if (id === undefined || id.value !== 0x00) throw new Error(`unexpected packet 0x${id?.value.toString(16) ?? '?'} (not a status response)`)
  offset += id.size
  const textLength = decodeVarInt(buffer, offset)
  if (textLength === undefined) throw new Error('status response without JSON')
  offset += textLength.size
  const text = buffer.subarray(offset, offset + textLength.value).toString('utf8')
  let json: { version?: { name?: unknown; protocol?: unknown }; players?: { online?: unknown; max?: unknown }; description?: unknown }
  try {
    json = JSON.parse(text) as typeof json
  } catch {
    throw new Error('the status response is not JSON')
  }
  return {
    version: typeof json.version?.name === 'string' ? json.version.name : '?',
    protocol: typeof json.version?.protocol === 'number' ? json.version.protocol : undefined,
    online: typeof json.players?.online === 'number' ? json.players.online : 0,
    max: typeof json.players?.max === 'number' ? json.players.max : 0,
    motd: chatText(json.description).replace(/§./g, '').trim(),
  }
}

/** Flattens a chat component (string, { text, extra }) to plain text. */
function chatText(value: unknown): string {
  if (typeof value === 'string') return value
  if (Array.isArray(value)) return value.map(chatText).join('')
  if (value !== null && typeof value === 'object') {
    const c = value as { text?: unknown; extra?: unknown }
    return `${typeof c.text === 'string' ? c.text : ''}${c.extra === undefined ? '' : chatText(c.extra)}`
  }
  return ''
}

/** One Server List Ping: the server's status and how long the exchange took. */
export async function pingServer(
  host: string,
  port: number,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<ServerStatus & { ms: number }> {
  const exchange = await tcpExchange(host, port, statusRequest(host, port), packetComplete, timeoutMs, signal)
  return { ...parseStatusResponse(exchange.data), ms: exchange.totalMs }
}
