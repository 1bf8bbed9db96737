/**
 * What a running container uses, from one reading of the engine's stats and what earlier
 * runs kept in the monitor state: memory against the container's limit (or the host's
 * memory), CPU since the last run, and the memory's growth rate over a window — so a slow
 * leak alerts long before the OOM killer ends it. Pure: readings and the memo in, a finding
 * piece and the next memo out.
 */
import { z } from 'zod'
import { formatDuration, formatDurationSetting, parseDuration, parseDurationValue } from '../duration.js'
import { formatBytes, formatPercent, parseByteSize } from '../text.js'
import type { ContainerStats } from '../sys/docker.js'
import { levelOf } from './spec.js'
import type { Status } from './types.js'

/** `50MB/h over 6h`: a size per hour (or per day, per minute) over a window. */
export const GROWTH_PATTERN = /^\s*(\d+(?:\.\d+)?\s*(?:[kmgt]i?b?|b)?)\s*\/\s*(h|hour|d|day|m|min)\s+over\s+(\S+)\s*$/i
const RATE_PATTERN = /^\s*(\d+(?:\.\d+)?\s*(?:[kmgt]i?b?|b)?)\s*\/\s*(h|hour|d|day|m|min)\s*$/i

const PER_MS: Record<string, number> = { h: 3_600_000, hour: 3_600_000, d: 86_400_000, day: 86_400_000, m: 60_000, min: 60_000 }

/** Bytes per hour from `50MB/h`, `1GB/d`, `2MiB/min`; undefined when invalid. */
export function parseRate(text: string): number | undefined {
  const m = RATE_PATTERN.exec(text)
  if (m === null) return undefined
  const bytes = parseByteSize((m[1] ?? '').replace(/\s+/g, ''))
  const per = PER_MS[(m[2] ?? '').toLowerCase()]
  return bytes === undefined || per === undefined ? undefined : (bytes / per) * 3_600_000
}

const RATE_ERROR = 'expected a rate such as 50MB/h, 1GB/d or 2MiB/min'
const rate = z.string({ error: RATE_ERROR }).refine((t) => parseRate(t) !== undefined, { error: RATE_ERROR })

const growthText = z.union([
  z.string().refine((t) => parseGrowth(t) !== undefined, { error: 'expected "<size>/h over <window>", e.g. "50MB/h over 6h"' }),
  z.strictObject({
    warn: rate.optional().meta({ description: 'A warning at this growth, e.g. 50MB/h.' }),
    critical: rate.optional().meta({ description: 'Critical at this growth, e.g. 200MB/h.' }),
    over: z
      .union([z.string(), z.number()], { error: 'expected a window such as 6h or 1d (a bare number is seconds)' })
      .refine((t) => (parseDurationValue(t) ?? 0) > 0, { error: 'expected a window such as 6h or 1d (a bare number is seconds)' })
      .meta({ description: 'The window the growth is measured over, e.g. 6h (a bare number is seconds).' }),
  }),
])

/** A growth limit, parsed when the config loads (`config show` writes back what was given). */
export const growthSchema = z
  .codec(growthText, z.custom<Growth>(), {
    decode: (spec) => parseGrowth(spec) as Growth, // the input's own checks refuse what does not parse
    encode: (growth) => growth.source,
  })
  .meta({
    description:
      'Memory growth that alerts: "50MB/h over 6h" (a warning when memory grew at least 50 MB an hour over the last 6 hours, by a least-squares fit of the readings of the runs in that window), or { warn: 50MB/h, critical: 200MB/h, over: 6h }. Measured once the runs span the window; a restart starts it again.',
  })
export type GrowthSpec = string | { warn?: string | undefined; critical?: string | undefined; over: string | number }

export interface Growth {
  warnPerHour?: number
  criticalPerHour?: number
  overMs: number
  text: string
  /** As the config gave it. */
  source: GrowthSpec
}

export function parseGrowth(spec: GrowthSpec): Growth | undefined {
  if (typeof spec === 'string') {
    const m = GROWTH_PATTERN.exec(spec)
    if (m === null) return undefined
    const perHour = parseRate(`${m[1]}/${m[2]}`)
    const overMs = parseDuration(m[3] ?? '')
    if (perHour === undefined || overMs === undefined || overMs <= 0) return undefined
    return { warnPerHour: perHour, overMs, text: spec.trim(), source: spec }
  }
  const overMs = parseDurationValue(spec.over)
  if (overMs === undefined || overMs <= 0) return undefined
  const warn = spec.warn === undefined ? undefined : parseRate(spec.warn)
  const critical = spec.critical === undefined ? undefined : parseRate(spec.critical)
  const text = [spec.warn ? `warn ${spec.warn}` : '', spec.critical ? `crit ${spec.critical}` : ''].filter(Boolean).join(', ')
  return {
    ...(warn === undefined ? {} : { warnPerHour: warn }),
    ...(critical === undefined ? {} : { criticalPerHour: critical }),
    overMs,
    text: `${text} over ${typeof spec.over === 'number' ? formatDurationSetting(overMs) : spec.over}`,
    source: spec,
  }
}

const threshold = (warn: number, critical: number) =>
  z.strictObject({
    warn: z
      .number()
      .min(0)
      .max(1000)
      .default(warn)
      .meta({ description: `Warning at this percentage (default ${warn}).` }),
    critical: z
      .number()
      .min(0)
      .max(1000)
      .default(critical)
      .meta({ description: `Critical at this percentage (default ${critical}).` }),
  })

/** Schema keys of `container` and `containers` checks about resources. */
export const resourceFields = {
  stats: z.boolean().default(true).meta({
    description: "Read the engine's stats of running containers: memory, CPU, memory growth (false: only running state and health).",
  }),
  memory: threshold(90, 95).prefault({}).meta({
    description:
      "Memory in use (without the reclaimable page cache), in percent of the container's memory limit, or of the host's memory when it has none.",
  }),
  cpu: threshold(90, 100).optional().meta({
    description:
      "CPU used since the previous run, in percent of the container's CPU limit (--cpus), or of all the host's cores when it has none. Default: shown, not judged.",
  }),
  memoryGrowth: growthSchema.optional(),
}

export interface ResourceSpec {
  stats: boolean
  memory: { warn: number; critical: number }
  cpu?: { warn: number; critical: number } | undefined
  memoryGrowth?: Growth | undefined
}

/** The window the table shows a growth over when no memoryGrowth is configured. */
export const DEFAULT_WINDOW_MS = 6 * 3_600_000
/** Readings kept per window, at most (plus the current one and one before the window). */
export const SAMPLES_PER_WINDOW = 48

/** What the state keeps between runs: readings in the window, the CPU counters of the last run. */
export interface ResourceMemo {
  /** The start the readings belong to: a restart begins a new series. */
  started: string
  /** [time (ms since the epoch), memory in use (bytes)], oldest first. */
  samples: Array<[number, number]>
  /** [container CPU time, host CPU time] in ns at the last run. */
  cpu?: [number, number]
}

export function parseResourceMemo(value: unknown): ResourceMemo | undefined {
  if (value === null || typeof value !== 'object') return undefined
  const v = value as Partial<ResourceMemo>
  if (typeof v.started !== 'string' || !Array.isArray(v.samples)) return undefined
  const samples = v.samples.filter(
    (s): s is [number, number] => Array.isArray(s) && s.length === 2 && Number.isFinite(s[0]) && Number.isFinite(s[1]),
  )
  const cpu = Array.isArray(v.cpu) && v.cpu.length === 2 && v.cpu.every(Number.isFinite) ? v.cpu : undefined
  return { started: v.started, samples, ...(cpu ? { cpu } : {}) }
}

/** Memory in use as `docker stats` counts it: the usage without the inactive page cache. */
export function memoryInUse(stats: ContainerStats): number | undefined {
  const m = stats.memory_stats
  if (m?.usage === undefined) return undefined
  const s = m.stats ?? {}
  // cgroup v1 reports total_inactive_file, cgroup v2 inactive_file.
  const inactive = s.total_inactive_file ?? s.inactive_file ?? 0
  return inactive < m.usage ? m.usage - inactive : m.usage
}

/**
 * Adds a reading and drops what the window no longer needs: readings older than the window
 * except the newest of them (so the kept ones span it), and readings closer together than
 * window / SAMPLES_PER_WINDOW (the newest of them is replaced instead).
 */
export function addSample(samples: ReadonlyArray<[number, number]>, reading: [number, number], windowMs: number): Array<[number, number]> {
  const spacing = windowMs / SAMPLES_PER_WINDOW
  const next = samples.filter((s) => s[0] < reading[0])
  const before = next[next.length - 2]
  const last = next[next.length - 1]
  // The last reading stays only once it is far enough from the one before it.
  if (before !== undefined && last !== undefined && last[0] - before[0] < spacing) next[next.length - 1] = reading
  else next.push(reading)
  const edge = reading[0] - windowMs
  let first = 0
  for (let i = 0; i < next.length; i++) if ((next[i] as [number, number])[0] <= edge) first = i
  return next.slice(first)
}

/** Least-squares slope in bytes per hour (as Prometheus' deriv()), and the time the readings span. */
export function growthOf(samples: ReadonlyArray<[number, number]>): { perHour: number; spanMs: number } | undefined {
  if (samples.length < 2) return undefined
  const t0 = (samples[0] as [number, number])[0]
  const n = samples.length
  let sx = 0
  let sy = 0
  for (const [t, y] of samples) {
    sx += t - t0
    sy += y
  }
  const mx = sx / n
  const my = sy / n
  let num = 0
  let den = 0
  for (const [t, y] of samples) {
    num += (t - t0 - mx) * (y - my)
    den += (t - t0 - mx) ** 2
  }
  if (den === 0) return undefined
  return { perHour: (num / den) * 3_600_000, spanMs: (samples[n - 1] as [number, number])[0] - t0 }
}

export interface ResourceInput {
  name: string
  stats: ContainerStats
  /** State.StartedAt of the container. */
  startedAt: string
  /** HostConfig.Memory (0: no limit). */
  memoryLimit: number
  /** HostConfig.NanoCpus, or CpuQuota/CpuPeriod in cores × 1e9 (0: no limit). */
  nanoCpus: number
  memo: ResourceMemo | undefined
  now: Date
  spec: ResourceSpec
}

export interface ResourceResult {
  status: Exclude<Status, 'unknown'>
  /** "mem 412 MiB of 1 GiB limit (40%), +52 MiB/h over 6h, cpu 3% of 2 cores". */
  value: string
  threshold: string
  /** What is wrong, when something is. */
  problem?: string
  metrics: Record<string, number>
  memo: ResourceMemo
}

/** A percentage for the table: small ones do not read as 0. */
const pct = (value: number) => (value > 0 && value < 0.1 ? '<0.1%' : formatPercent(value))

const worse = (a: ResourceResult['status'], b: ResourceResult['status']) =>
  a === 'critical' || b === 'critical' ? 'critical' : a === 'warning' || b === 'warning' ? 'warning' : 'ok'

export function assessResources(input: ResourceInput): ResourceResult | undefined {
  const { stats, spec, now } = input
  const used = memoryInUse(stats)
  if (used === undefined) return undefined
  const own = input.memoryLimit > 0
  const limit = own ? input.memoryLimit : (stats.memory_stats?.limit ?? 0)
  const metrics: Record<string, number> = { memory_bytes: used }
  if (limit > 0) metrics.memory_limit_bytes = limit
  const growth = spec.memoryGrowth
  const windowMs = growth?.overMs ?? DEFAULT_WINDOW_MS
  const sameRun = input.memo !== undefined && input.memo.started === input.startedAt
  const samples = addSample(sameRun ? (input.memo as ResourceMemo).samples : [], [now.getTime(), used], windowMs)
  const memo: ResourceMemo = { started: input.startedAt, samples }

  let status: ResourceResult['status'] = 'ok'
  const problems: string[] = []
  const parts: string[] = []
  const thresholds: string[] = []

  // Memory against the limit (or the host).
  const percent = limit > 0 ? (used / limit) * 100 : undefined
  parts.push(`mem ${formatBytes(used)}${limit > 0 ? ` of ${formatBytes(limit)}${own ? ' limit' : ''} (${pct(percent as number)})` : ''}`)
  thresholds.push(`mem warn ${spec.memory.warn}%, crit ${spec.memory.critical}%${own ? '' : ' of the host'}`)
  if (percent !== undefined) {
    const level = levelOf(percent, spec.memory.warn, spec.memory.critical)
    if (level !== 'ok') {
      status = worse(status, level)
      problems.push(
        `${input.name} uses ${formatPercent(percent)} of ${own ? `its memory limit (${formatBytes(used)} of ${formatBytes(limit)})` : `the host's memory (${formatBytes(used)} of ${formatBytes(limit)}, no limit of its own)`}`,
      )
    }
  }

  // Growth over the window.
  const fit = growthOf(samples)
  if (fit !== undefined && fit.spanMs >= windowMs * 0.1 && samples.length >= 3) {
    const complete = fit.spanMs >= windowMs
    const over = formatDuration(complete ? windowMs : fit.spanMs)
    metrics.memory_growth_bytes_per_second = Math.round((fit.perHour / 3600) * 1000) / 1000
    parts.push(
      `${fit.perHour >= 0 ? '+' : '-'}${formatBytes(Math.abs(Math.round(fit.perHour)))}/h over ${over}${complete ? '' : ' so far'}`,
    )
    if (growth !== undefined && complete) {
      const level =
        growth.criticalPerHour !== undefined && fit.perHour >= growth.criticalPerHour
          ? 'critical'
          : growth.warnPerHour !== undefined && fit.perHour >= growth.warnPerHour
            ? 'warning'
            : 'ok'
      if (level !== 'ok') {
        status = worse(status, level)
        const eta =
          limit > 0 && fit.perHour > 0
            ? `; ${own ? 'its limit' : "the host's memory"} is reached in about ${formatDuration(Math.round((((limit - used) / fit.perHour) * 3_600_000) / 60_000) * 60_000)} at this rate`
            : ''
        problems.push(
          `${input.name}'s memory grew ${formatBytes(Math.round(fit.perHour))}/h over the last ${formatDuration(windowMs)} (now ${formatBytes(used)}${eta})`,
        )
      }
    }
  }
  if (growth !== undefined) thresholds.push(`growth ${growth.text}`)

  // CPU since the previous run (the engine's counters; independent of the clock).
  const total = stats.cpu_stats?.cpu_usage?.total_usage
  const system = stats.cpu_stats?.system_cpu_usage
  if (total !== undefined) metrics.cpu_seconds_total = total / 1e9
  if (total !== undefined && system !== undefined) {
    memo.cpu = [total, system]
    const prev = sameRun ? input.memo?.cpu : undefined
    const cores = stats.cpu_stats?.online_cpus ?? 1
    if (prev !== undefined && system > prev[1] && total >= prev[0]) {
      const usedCores = ((total - prev[0]) / (system - prev[1])) * cores
      const limitCores = input.nanoCpus > 0 ? input.nanoCpus / 1e9 : cores
      const cpuPercent = (usedCores / limitCores) * 100
      metrics.cpu_percent = Math.round(cpuPercent * 100) / 100
      parts.push(`cpu ${pct(cpuPercent)} of ${input.nanoCpus > 0 ? `its ${limitCores} cores` : `${cores} cores`}`)
      if (spec.cpu !== undefined) {
        thresholds.push(`cpu warn ${spec.cpu.warn}%, crit ${spec.cpu.critical}%`)
        const level = levelOf(cpuPercent, spec.cpu.warn, spec.cpu.critical)
        if (level !== 'ok') {
          status = worse(status, level)
          problems.push(
            `${input.name} used ${formatPercent(cpuPercent)} of ${input.nanoCpus > 0 ? `its CPU limit (${limitCores} cores)` : `the host's ${cores} cores`} since the last run`,
          )
        }
      }
    }
  }

  return {
    status,
    value: parts.join(', '),
    threshold: thresholds.join('; '),
    ...(problems.length > 0 ? { problem: problems.join('; ') } : {}),
    metrics,
    memo,
  }
}
