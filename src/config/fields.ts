/**
 * Field schemas shared by the config schema and the plugin files that contribute a piece
 * of it (monitor checks). Kept apart from schema.ts so that plugins can import them
 * without an import cycle.
 */
import { z } from 'zod'
import { DURATION_PATTERN, MAX_DURATION_MS, MAX_TIMER_MS, parseDuration } from '../duration.js'
import { BYTE_SIZE_PATTERN } from '../text.js'

export { MAX_TIMER_MS }


const durationText = z.union([z.string().regex(DURATION_PATTERN, { error: 'expected a duration such as 30s, 10m, 2h, 7d or 1h30m' }), z.number().nonnegative()])
/** True unless `value` is a well-formed duration longer than `max` (a malformed one has its own error). */
const atMost = (max: number) => (value: string | number) => {
  if (typeof value === 'string' && !DURATION_PATTERN.test(value.trim().toLowerCase().replace(/\s+/g, '')) && !/^\d+(\.\d+)?$/.test(value.trim())) return true
  const ms = parseDuration(value)
  return ms !== undefined && ms <= max
}

export const duration = durationText
  .refine(atMost(MAX_DURATION_MS), { error: 'expected at most 36500d (100 years)' })
  .meta({ description: 'A duration: 30s, 10m, 2h, 7d, 1h30m; a bare number is seconds.' })

/**
 * A duration ownops waits with a timer (a time limit, a pause): at most 24 days, which a
 * timer can hold — a longer one would fire at once.
 */
export const timerDuration = durationText
  .refine(atMost(MAX_TIMER_MS), { error: 'expected at most 24d: ownops waits this long with a timer, and a timer cannot wait longer than 24.8 days' })
  .meta({ description: 'A duration of at most 24d: 30s, 10m, 2h, 1h30m; a bare number is seconds.' })

export const name = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, { error: 'use letters, digits, "-", "_" and "." only, starting with a letter or digit (it becomes part of file and unit names)' })

export const argv = z
  .array(z.string())
  .min(1)
  .meta({ description: 'A command as an argument list, e.g. ["systemctl", "reload", "nginx"]. No shell unless you write one: ["sh", "-c", "..."].' })

export const percent = z.number().min(0).max(100)

export const byteSize = z
  .union([z.string().regex(BYTE_SIZE_PATTERN, { error: 'expected a size such as 500MB, 1GB, 2GiB or a number of bytes' }), z.number().int().nonnegative()])
  .meta({ description: 'A size: 500MB, 1GB (powers of 1000), 512MiB, 2GiB, 1G (powers of 1024); a bare number is bytes.' })
