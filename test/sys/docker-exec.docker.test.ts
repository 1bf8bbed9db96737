/**
 * The exec stream of a dump into a slow artifact: every byte arrives in order, at the pace
 * the writer takes it, and waiting for the writer leaves nothing behind on it — no listener
 * per pause (a dump of gigabytes pauses thousands of times).
 */
import { createHash } from 'node:crypto'
import { Writable } from 'node:stream'
import { afterAll, expect, it } from 'vitest'
import { execToStream } from '../../src/sys/docker-exec.js'
import { cleanupAll, describeDocker, getDocker, runContainer } from '../helpers/docker.js'

describeDocker('docker exec streams', () => {
  afterAll(cleanupAll)

  it('a dump into a slow writer: all bytes in order, and no listeners left from its pauses', async () => {
    const c = await runContainer({ cmd: ['sleep', '300'] })
    const hash = createHash('sha256')
    let bytes = 0
    let pauses = 0
    const out = new Writable({
      highWaterMark: 16 * 1024,
      write(chunk: Buffer, _encoding, callback) {
        hash.update(chunk)
        bytes += chunk.length
        pauses++
        setImmediate(callback)
      },
    })
    const before = { error: out.listenerCount('error'), close: out.listenerCount('close'), drain: out.listenerCount('drain') }
    // 8 MB of a known pattern: seq's lines.
    const r = await execToStream(getDocker(), c.name, ['sh', '-c', 'seq 1 1000000; seq 1 100000 >&2'], out)
    expect(r.exitCode).toBe(0)
    const expected = createHash('sha256')
      .update(Array.from({ length: 1_000_000 }, (_, i) => `${i + 1}\n`).join(''))
      .digest('hex')
    await new Promise<void>((resolve) => out.end(resolve))
    expect(hash.digest('hex')).toBe(expected)
    expect(bytes).toBe(6_888_896)
    expect(pauses).toBeGreaterThan(50)
    expect({ error: out.listenerCount('error'), close: out.listenerCount('close'), drain: out.listenerCount('drain') }).toEqual(before)
  }, 60_000)
})
