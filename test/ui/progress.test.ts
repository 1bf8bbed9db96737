import { describe, expect, it } from 'vitest'
import { metered, progressLine, ProgressLine, renderProgress, type ProgressIo } from '../../src/ui/progress.js'

const MiB = 2 ** 20

describe('renderProgress', () => {
  it('shows bytes, total, percent, rate and time left', () => {
    expect(renderProgress({ label: 'backup app', bytes: 50 * MiB, total: 200 * MiB, elapsedMs: 2000 })).toBe(
      'backup app  50.0 MiB / 200 MiB  25%  25.0 MiB/s  ETA 6s',
    )
  })

  it('marks an estimated total with ~', () => {
    expect(renderProgress({ label: 'backup app', bytes: 10 * MiB, total: 40 * MiB, estimated: true, elapsedMs: 1000 })).toBe(
      'backup app  10.0 MiB / ~40.0 MiB  25%  10.0 MiB/s  ETA 3s',
    )
  })

  it('drops percent and time left once the bytes pass an estimate, and shows the elapsed time', () => {
    expect(renderProgress({ label: 'backup app', bytes: 50 * MiB, total: 40 * MiB, estimated: true, elapsedMs: 5000 })).toBe(
      'backup app  50.0 MiB / ~40.0 MiB  10.0 MiB/s  5s',
    )
  })

  it('without a total: bytes, rate, elapsed', () => {
    expect(renderProgress({ label: 'backup app', bytes: 3 * MiB, elapsedMs: 3000 })).toBe('backup app  3.0 MiB  1.0 MiB/s  3s')
  })

  it('shows no rate in the first quarter second', () => {
    expect(renderProgress({ label: 'x', bytes: 1024, total: 4096, elapsedMs: 100 })).toBe('x  1.0 KiB / 4.0 KiB  25%  100ms')
  })

  it('without a byte count: the label, the total and the elapsed time', () => {
    expect(renderProgress({ label: 'copy a to offsite', total: 4 * MiB, elapsedMs: 61_000 })).toBe('copy a to offsite  4.0 MiB  1m1s')
  })

  it('cuts the line one column short of the width', () => {
    const line = renderProgress({ label: 'backup a-rather-long-name', bytes: MiB, total: 2 * MiB, elapsedMs: 1000 }, 20)
    expect(line).toBe('backup a-rather-lon')
  })
})

/** A terminal, a clock and a timer, all driven by the test. */
function fakeIo(columns?: number) {
  const io = {
    t: 0,
    out: '',
    timers: [] as Array<{ ms: number; fn: () => void; stopped: boolean }>,
    write(text: string) {
      io.out += text
    },
    now: () => io.t,
    every(ms: number, fn: () => void) {
      const timer = { ms, fn, stopped: false }
      io.timers.push(timer)
      return () => {
        timer.stopped = true
      }
    },
    columns: () => columns,
    /** Moves the clock on and fires the live timers once. */
    advance(ms: number) {
      io.t += ms
      for (const timer of io.timers) if (!timer.stopped) timer.fn()
    },
  }
  return io satisfies ProgressIo
}

describe('ProgressLine', () => {
  it('draws at once, then on each tick of its timer (every 100 ms: at most 10 redraws a second)', () => {
    const io = fakeIo()
    const line = new ProgressLine(io)
    let bytes = 0
    line.track('backup app', { bytes: 4 * MiB }, () => bytes)
    expect(io.timers.map((t) => t.ms)).toEqual([100])
    expect(io.out).toBe('\r\x1b[Kbackup app  0 B / 4.0 MiB  0%  0ms')
    io.out = ''
    bytes = MiB
    io.advance(1000)
    expect(io.out).toBe('\r\x1b[Kbackup app  1.0 MiB / 4.0 MiB  25%  1.0 MiB/s  ETA 3s')
  })

  it('clears its line for a log line and draws it again on the next tick', () => {
    const io = fakeIo()
    const line = new ProgressLine(io)
    line.track('restore app', undefined, () => 10)
    io.out = ''
    line.clear()
    expect(io.out).toBe('\r\x1b[K')
    line.clear() // nothing drawn since: nothing to erase
    expect(io.out).toBe('\r\x1b[K')
    io.advance(100)
    expect(io.out).toBe('\r\x1b[K\r\x1b[Krestore app  10 B  100ms')
  })

  it('takes the byte counter a byte path attaches later, for the current task only', () => {
    const io = fakeIo()
    const line = new ProgressLine(io)
    const task = line.track('restore app', { bytes: 100 })
    expect(io.out).toBe('\r\x1b[Krestore app  100 B  0ms')
    line.attach(() => 40)
    io.out = ''
    io.advance(500)
    expect(io.out).toBe('\r\x1b[Krestore app  40 B / 100 B  40%  80 B/s  ETA 1s')
    task.end()
    expect(io.timers[0]?.stopped).toBe(true)
    io.out = ''
    line.attach(() => 99) // no task: nothing to attach to
    io.advance(100)
    expect(io.out).toBe('')
  })

  it('ends a task by erasing its line; a new task replaces the old one and its timer', () => {
    const io = fakeIo()
    const line = new ProgressLine(io)
    const first = line.track('verify a', { bytes: 10 }, () => 5)
    line.track('restore a', { bytes: 10 }, () => 1)
    expect(io.timers.map((t) => t.stopped)).toEqual([true, false])
    io.out = ''
    first.end() // already replaced: does not end the second
    expect(io.timers[1]?.stopped).toBe(false)
    line.end()
    expect(io.out).toBe('\r\x1b[K')
    expect(io.timers[1]?.stopped).toBe(true)
  })

  it('cuts its line to the terminal width', () => {
    const io = fakeIo(12)
    new ProgressLine(io).track('backup something', undefined, () => 0)
    expect(io.out).toBe('\r\x1b[Kbackup some')
  })

  it('a counter that throws skips the redraw', () => {
    const io = fakeIo()
    new ProgressLine(io).track('x', undefined, () => {
      throw new Error('closed')
    })
    expect(io.out).toBe('')
  })
})

describe('progressLine', () => {
  const base = { write: () => undefined }
  it('exists only on a terminal, without --json and -q', () => {
    expect(progressLine({ ...base, isTTY: true, json: false, quiet: false })).toBeInstanceOf(ProgressLine)
    expect(progressLine({ ...base, isTTY: false, json: false, quiet: false })).toBeUndefined()
    expect(progressLine({ ...base, isTTY: true, json: true, quiet: false })).toBeUndefined()
    expect(progressLine({ ...base, isTTY: true, json: false, quiet: true })).toBeUndefined()
  })
})

describe('metered', () => {
  it('hands the stream back and tells the meter how to read its bytes', () => {
    const stream = { bytesRead: 7 }
    let read: (() => number) | undefined
    expect(metered(stream, (r) => (read = r))).toBe(stream)
    stream.bytesRead = 9
    expect(read?.()).toBe(9)
  })
})
