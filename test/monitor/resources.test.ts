/**
 * The pure parts of per-container resources: memory in use as docker stats counts it
 * (cgroup v1 and v2), the growth fit, the bounded readings in the state, CPU between runs,
 * and the thresholds in the config.
 */
import { describe, expect, it } from 'vitest'
import { checkSchema } from '../../src/monitor/schema.js'
import {
  addSample,
  assessResources,
  growthOf,
  memoryInUse,
  parseGrowth,
  parseRate,
  SAMPLES_PER_WINDOW,
  type ResourceInput,
  type ResourceMemo,
} from '../../src/monitor/resources.js'
import type { ContainerStats } from '../../src/sys/docker.js'

const MiB = 1024 * 1024
const H = 3_600_000
const T0 = Date.parse('2026-03-01T00:00:00Z')

function stats(memory: number, cpu?: [number, number], extra: Partial<ContainerStats['memory_stats']> = {}): ContainerStats {
  return {
    memory_stats: { usage: memory, limit: 16 * 1024 * MiB, stats: { total_inactive_file: 0 }, ...extra },
    ...(cpu ? { cpu_stats: { cpu_usage: { total_usage: cpu[0] }, system_cpu_usage: cpu[1], online_cpus: 4 } } : {}),
  }
}

function spec(extra: Record<string, unknown> = {}) {
  const parsed = checkSchema.parse({ kind: 'container', name: 'app', ...extra }) as unknown as ResourceInput['spec']
  return parsed
}

function input(over: Partial<ResourceInput>): ResourceInput {
  return {
    name: 'app',
    stats: stats(100 * MiB),
    startedAt: '2026-02-28T00:00:00Z',
    memoryLimit: 0,
    nanoCpus: 0,
    memo: undefined,
    now: new Date(T0),
    spec: spec(),
    ...over,
  }
}

/** Runs every `stepMs` with memory `at(i)`; returns the last result. */
function runs(count: number, stepMs: number, at: (i: number) => number, over: Partial<ResourceInput> = {}) {
  let memo: ResourceMemo | undefined
  let result: ReturnType<typeof assessResources>
  for (let i = 0; i < count; i++) {
    result = assessResources(input({ ...over, stats: stats(at(i)), memo, now: new Date(T0 + i * stepMs) }))
    memo = result?.memo
  }
  if (result === undefined) throw new Error('no run')
  return result
}

describe('memory in use', () => {
  it('is the usage without the inactive page cache, as docker stats shows it (cgroup v1 and v2)', () => {
    expect(memoryInUse(stats(500, undefined, { stats: { total_inactive_file: 200 } }))).toBe(300) // v1
    expect(memoryInUse(stats(500, undefined, { stats: { inactive_file: 150 } }))).toBe(350) // v2
    expect(memoryInUse(stats(500, undefined, { stats: { inactive_file: 900 } }))).toBe(500) // never negative
    expect(memoryInUse({ memory_stats: {} })).toBeUndefined() // a stopped container
  })
})

describe('growth thresholds', () => {
  it('reads rates and windows as people write them', () => {
    expect(parseRate('50MB/h')).toBe(50e6)
    expect(parseRate('1GB/d')).toBeCloseTo(1e9 / 24)
    expect(parseRate('2MiB/min')).toBe(2 * MiB * 60)
    expect(parseRate('50MB')).toBeUndefined()
    expect(parseGrowth('50MB/h over 6h')).toEqual({ warnPerHour: 50e6, overMs: 6 * H, text: '50MB/h over 6h', source: '50MB/h over 6h' })
    expect(parseGrowth({ warn: '50MB/h', critical: '200MB/h', over: '1d' })).toMatchObject({
      warnPerHour: 50e6,
      criticalPerHour: 200e6,
      overMs: 24 * H,
    })
    expect(parseGrowth('50MB/h for 6h')).toBeUndefined()
  })

  it('a wrong threshold is a config error that says the form', () => {
    const bad = checkSchema.safeParse({ kind: 'container', name: 'app', memoryGrowth: '50MB per hour' })
    expect(bad.success).toBe(false)
    expect(JSON.stringify(bad.error?.issues)).toContain('\\"<size>/h over <window>\\", e.g. \\"50MB/h over 6h\\"')
    expect(checkSchema.safeParse({ kind: 'containers', memoryGrowth: { warn: '50MB/h', over: 'soon' } }).success).toBe(false)
  })
})

describe('readings kept between runs', () => {
  it('stay bounded: a run every minute for a day keeps about one window of readings, spread over it', () => {
    let samples: Array<[number, number]> = []
    for (let i = 0; i <= 24 * 60; i++) samples = addSample(samples, [T0 + i * 60_000, i], 6 * H)
    expect(samples.length).toBeLessThanOrEqual(SAMPLES_PER_WINDOW + 2)
    const first = samples[0] as [number, number]
    const last = samples[samples.length - 1] as [number, number]
    expect(last[0]).toBe(T0 + 24 * H)
    // They still span the window (one reading at or before its start).
    expect(first[0]).toBeLessThanOrEqual(last[0] - 6 * H)
    expect(first[0]).toBeGreaterThan(last[0] - 6 * H - (6 * H) / SAMPLES_PER_WINDOW - 60_000)
  })

  it('a reading from the past (a clock set back) replaces nothing after it', () => {
    const samples = addSample(
      [
        [T0, 1],
        [T0 + H, 2],
      ],
      [T0 + H / 2, 3],
      6 * H,
    )
    expect(samples).toEqual([
      [T0, 1],
      [T0 + H / 2, 3],
    ])
  })

  it('the slope is a least-squares fit, robust to one odd reading', () => {
    const line = Array.from({ length: 7 }, (_, i): [number, number] => [T0 + i * H, 100 * MiB + i * 10 * MiB])
    expect(growthOf(line)?.perHour).toBeCloseTo(10 * MiB)
    line[3] = [T0 + 3 * H, 100 * MiB] // a garbage collection
    expect(growthOf(line)?.perHour).toBeGreaterThan(8 * MiB)
    expect(growthOf(line.slice(0, 1))).toBeUndefined()
  })
})

describe('assessing resources', () => {
  it('a steady leak alerts once the runs span the window; before that it is shown, not judged', () => {
    const leak = spec({ memoryGrowth: '50MB/h over 6h', memory: { warn: 90, critical: 95 } })
    const early = runs(4, H, (i) => 200 * MiB + i * 100 * MiB, { spec: leak, memoryLimit: 2048 * MiB })
    expect(early.status).toBe('ok')
    expect(early.value).toMatch(/^mem 500 MiB of 2\.0 GiB limit \(24%\), \+100 MiB\/h over 3h so far$/)
    const late = runs(7, H, (i) => 200 * MiB + i * 100 * MiB, { spec: leak, memoryLimit: 2048 * MiB })
    expect(late.status).toBe('warning')
    expect(late.problem).toBe(
      "app's memory grew 100 MiB/h over the last 6h (now 800 MiB; its limit is reached in about 12h29m at this rate)",
    )
    expect(late.metrics.memory_growth_bytes_per_second).toBeCloseTo((100 * MiB) / 3600, 2)
    expect(late.threshold).toBe('mem warn 90%, crit 95%; growth 50MB/h over 6h')
  })

  it('a flat container does not alert, a critical rate is critical', () => {
    const flat = runs(8, H, (i) => 300 * MiB + (i % 2) * MiB, { spec: spec({ memoryGrowth: '50MB/h over 6h' }) })
    expect(flat.status).toBe('ok')
    const fast = runs(8, H, (i) => i * 300 * MiB, { spec: spec({ memoryGrowth: { warn: '50MB/h', critical: '200MB/h', over: '6h' } }) })
    expect(fast.status).toBe('critical')
  })

  it('a restart starts the series again', () => {
    const leak = spec({ memoryGrowth: '50MB/h over 2h' })
    let memo: ResourceMemo | undefined
    for (let i = 0; i < 4; i++)
      memo = assessResources(input({ spec: leak, stats: stats(i * 100 * MiB), memo, now: new Date(T0 + i * H) }))?.memo
    expect(memo?.samples).toHaveLength(3)
    const restarted = assessResources(
      input({ spec: leak, stats: stats(500 * MiB), memo, now: new Date(T0 + 4 * H), startedAt: '2026-03-01T03:59:00Z' }),
    )
    expect(restarted?.memo.samples).toEqual([[T0 + 4 * H, 500 * MiB]])
    expect(restarted?.status).toBe('ok')
  })

  it('memory against its limit, or against the host without one', () => {
    const limited = assessResources(input({ stats: stats(960 * MiB), memoryLimit: 1024 * MiB }))
    expect(limited).toMatchObject({ status: 'warning', problem: 'app uses 94% of its memory limit (960 MiB of 1.0 GiB)' })
    const host = assessResources(input({ stats: stats(15.5 * 1024 * MiB) }))
    expect(host).toMatchObject({
      status: 'critical',
      problem: "app uses 97% of the host's memory (15.5 GiB of 16.0 GiB, no limit of its own)",
    })
    expect(host?.metrics.memory_limit_bytes).toBe(16 * 1024 * MiB)
  })

  it("CPU since the last run from the engine's counters, against its limit or the host", () => {
    const first = assessResources(input({ stats: stats(MiB, [10e9, 1000e9]) }))
    expect(first?.value).toBe('mem 1.0 MiB of 16.0 GiB (<0.1%)') // no CPU yet: nothing to compare with
    // 2 s of container CPU in 10 s of host CPU time on 4 cores: 0.8 cores, 20% of the host.
    const second = assessResources(
      input({
        stats: stats(MiB, [12e9, 1010e9]),
        memo: first?.memo,
        now: new Date(T0 + 60_000),
        spec: spec({ cpu: { warn: 15, critical: 50 } }),
      }),
    )
    expect(second).toMatchObject({ status: 'warning', problem: "app used 20% of the host's 4 cores since the last run" })
    expect(second?.metrics).toMatchObject({ cpu_seconds_total: 12, cpu_percent: 20 })
    // With --cpus 1: 80% of its limit.
    const limited = assessResources(input({ stats: stats(MiB, [12e9, 1010e9]), memo: first?.memo, nanoCpus: 1e9 }))
    expect(limited?.value).toContain('cpu 80% of its 1 cores')
  })
})
