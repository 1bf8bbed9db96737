/**
 * Field schemas shared by the config schema and the plugin files that contribute a piece
 * of it (monitor checks). Kept apart from schema.ts so that plugins can import them
 * without an import cycle.
 */
import { z } from 'zod'
import { DURATION_TEXT_PATTERN, formatDurationSetting, MAX_DURATION_MS, MAX_TIMER_MS, parseDurationValue } from '../duration.js'
import { BYTE_SIZE_PATTERN, formatByteSizeExact, parseByteSize } from '../text.js'

export { MAX_TIMER_MS }

/**
 * A bare number is seconds, as systemd reads `TimeoutSec=30` and as `--wait 600` is on the
 * command line; quoted too, as YAML and `${VAR}` (whose value is text) give it.
 */
export const durationText = z.union([
  z.string().regex(DURATION_TEXT_PATTERN, { error: 'expected a duration such as 30s, 10m, 2h, 7d or 1h30m (a bare number is seconds)' }),
  z.number().nonnegative({ error: 'a duration cannot be negative' }),
])

/**
 * A duration as people write it (`90s`, `1h30m`, a bare number of seconds), parsed at load
 * into milliseconds: the rest of ownops receives numbers. `ownops config show` writes them
 * back (`z.encode`) as durations again.
 */
const durationMs = (max: number, error: string) =>
  z
    .codec(durationText, z.number(), {
      decode: (text) => parseDurationValue(text) ?? Number.MAX_VALUE, // too long: the check below says so
      encode: (ms) => formatDurationSetting(ms),
    })
    .refine((ms) => ms <= max, { error })

export const duration = durationMs(MAX_DURATION_MS, 'expected at most 36500d (100 years)').meta({
  description: 'A duration: 30s, 10m, 2h, 7d, 1h30m; a bare number is seconds.',
})

/**
 * A duration ownops waits with a timer (a time limit, a pause): at most 24 days, which a
 * timer can hold — a longer one would fire at once.
 */
export const timerDuration = durationMs(
  MAX_TIMER_MS,
  'expected at most 24d: ownops waits this long with a timer, and a timer cannot wait longer than 24.8 days',
).meta({
  description: 'A duration of at most 24d: 30s, 10m, 2h, 1h30m; a bare number is seconds.',
})

export const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, {
  error: 'use letters, digits, "-", "_" and "." only, starting with a letter or digit (it becomes part of file and unit names)',
})

export const argv = z.array(z.string()).min(1).meta({
  description: 'A command as an argument list, e.g. ["systemctl", "reload", "nginx"]. No shell unless you write one: ["sh", "-c", "..."].',
})

export const percent = z.number().min(0).max(100)

/** A size as people write it, parsed at load into bytes (written back by `config show`). */
export const byteSize = z
  .codec(
    z.union([
      z.string().regex(BYTE_SIZE_PATTERN, { error: 'expected a size such as 500MB, 1GB, 2GiB or a number of bytes' }),
      z.number().int().nonnegative(),
    ]),
    z.number(),
    {
      decode: (text) => parseByteSize(text) ?? 0,
      encode: (bytes) => formatByteSizeExact(bytes),
    },
  )
  .meta({ description: 'A size: 500MB, 1GB (powers of 1000), 512MiB, 2GiB, 1G (powers of 1024); a bare number is bytes.' })
