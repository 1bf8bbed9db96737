/**
 * Field schemas shared by the config schema and the plugin files that contribute a piece
 * of it (monitor checks). Kept apart from schema.ts so that plugins can import them
 * without an import cycle.
 */
import { z } from 'zod'
import { DURATION_PATTERN } from '../duration.js'
import { BYTE_SIZE_PATTERN } from '../text.js'

export const duration = z
  .union([z.string().regex(DURATION_PATTERN, { error: 'expected a duration such as 30s, 10m, 2h, 7d or 1h30m' }), z.number().nonnegative()])
  .meta({ description: 'A duration: 30s, 10m, 2h, 7d, 1h30m; a bare number is seconds.' })

export const name = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, { error: 'use letters, digits, "-", "_" and "." only (it becomes part of file and unit names)' })

export const argv = z
  .array(z.string())
  .min(1)
  .meta({ description: 'A command as an argument list, e.g. ["systemctl", "reload", "nginx"]. No shell unless you write one: ["sh", "-c", "..."].' })

export const percent = z.number().min(0).max(100)

export const byteSize = z
  .union([z.string().regex(BYTE_SIZE_PATTERN, { error: 'expected a size such as 500MB, 1GB, 2GiB or a number of bytes' }), z.number().int().nonnegative()])
  .meta({ description: 'A size: 500MB, 1GB (powers of 1000), 512MiB, 2GiB, 1G (powers of 1024); a bare number is bytes.' })
