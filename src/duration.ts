/** Durations as people write them in configs and flags: `90s`, `30m`, `2h`, `1h30m`, `7d`, `2w`. */

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
}

export const DURATION_PATTERN = /^(\d+(\.\d+)?(ms|s|m|h|d|w))+$/

/** Node's timers hold at most 2^31-1 ms (24.8 days): a longer one fires after 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1

/** 100 years: a longer duration is a typo, and would take dates out of range. */
export const MAX_DURATION_MS = 36_500 * 86_400_000

/**
 * A duration given on the command line (--wait 10m, --in 1h30m) in milliseconds; a bare
 * number is seconds. Undefined when invalid, or longer than MAX_DURATION_MS (100 years).
 * Durations in the config are parsed when it is loaded (src/config/fields.ts).
 */
export function parseDuration(text: string): number | undefined {
  return parseDurationValue(text)
}

/** A duration as the config writes it: `90s`, `1h30m`, or a bare number of seconds (`30`, as `${VAR}` gives it). */
export const DURATION_TEXT_PATTERN = /^(\d+(\.\d+)?|(\d+(\.\d+)?(ms|s|m|h|d|w))+)$/

/** A duration as YAML gives it: a string (a bare number in it is seconds), or a number of seconds. */
export function parseDurationValue(input: string | number): number | undefined {
  let total: number
  if (typeof input === 'number') {
    total = input * 1000
  } else {
    const text = input.trim().toLowerCase().replace(/\s+/g, '')
    if (/^\d+(\.\d+)?$/.test(text)) total = Number(text) * 1000
    else if (!DURATION_PATTERN.test(text)) return undefined
    else {
      total = 0
      for (const match of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/g)) {
        total += Number(match[1]) * (UNIT_MS[match[2] ?? 's'] ?? 0)
      }
    }
  }
  return Number.isFinite(total) && total >= 0 && total <= MAX_DURATION_MS ? Math.round(total) : undefined
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`
  let seconds = Math.round(ms / 1000)
  const parts: string[] = []
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3600],
    ['m', 60],
  ] as const) {
    if (seconds >= size) {
      parts.push(`${Math.floor(seconds / size)}${unit}`)
      seconds %= size
    }
  }
  if (seconds > 0 || parts.length === 0) parts.push(`${seconds}s`)
  return parts.join('')
}

/**
 * A duration from the config, for messages and `config show`: in the largest unit it is a
 * whole number of, as people write them — 26h, 7d, 90s, 1500ms — and exactly what the
 * config would read back.
 */
export function formatDurationSetting(ms: number): string {
  if (!Number.isFinite(ms) || ms <= 0) return '0s'
  const whole = Math.round(ms)
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    if (whole % size === 0) return `${whole / size}${unit}`
  }
  return `${whole}ms`
}
