/**
 * The config of each target type — its schema piece (its `type:` literal and its own keys)
 * and the problems across its fields — apart from the code that backs it up and restores it
 * (targets/<type>.ts): loading a config needs these, and none of that code.
 */
import { z } from 'zod'
import { timerDuration } from '../config/fields.js'
import { compression, targetCommon } from './common.js'
import type { TargetProblem } from './types.js'

export const postgresSchema = z.strictObject({
  type: z.literal('postgres'),
  container: z.string().optional().meta({ description: 'Run pg_dump inside this container (recommended).' }),
  url: z
    .string()
    .optional()
    .meta({ description: 'Or connect from the host: postgres://USER@HOST:5432/DB (password from $PGPASSWORD or .pgpass)' }),
  database: z.string().optional(),
  user: z.string().optional(),
  format: z.enum(['custom', 'plain']).default('custom'),
  globals: z.boolean().default(false).meta({ description: 'Also dump roles and tablespaces (pg_dumpall --globals-only).' }),
  ...targetCommon,
})

export type PostgresTarget = z.output<typeof postgresSchema>

export const mysqlSchema = z.strictObject({
  type: z.enum(['mysql', 'mariadb']),
  container: z.string(),
  database: z
    .union([z.string(), z.array(z.string())])
    .optional()
    .meta({ description: 'One database, several, or (left out) all of them.' }),
  user: z.string().default('root'),
  password: z.string().optional(),
  ...targetCommon,
})

export type MysqlTarget = z.output<typeof mysqlSchema>

export const sqliteSchema = z.strictObject({
  type: z.literal('sqlite'),
  path: z.string().meta({ description: 'The database file: a host path, or a path inside `container`.' }),
  container: z.string().optional(),
  compression: compression.default('gzip'),
  ...targetCommon,
})

export type SqliteTarget = z.output<typeof sqliteSchema>

const rcon = z.strictObject({
  host: z.string().default('127.0.0.1'),
  port: z.number().int().min(1).max(65535).default(25575),
  password: z.string(),
})

export const directorySchema = z.strictObject({
  type: z.literal('directory'),
  path: z.string().optional().meta({
    description: 'A host directory or a single file; with `container`, the path inside it; with `volume`, a sub-directory of the volume.',
  }),
  volume: z.string().optional(),
  container: z.string().optional(),
  exclude: z.array(z.string()).default([]),
  compression: compression.default('zstd'),
  level: z.number().int().min(1).max(19).optional(),
  minecraft: z
    .strictObject({
      rcon,
      retries: z.number().int().min(0).default(3).meta({ description: 'RCON connection retries before giving up.' }),
      onRconError: z
        .enum(['fail', 'proceed'])
        .default('fail')
        .meta({ description: 'When RCON cannot be reached: fail the backup (default) or archive without quiescing, with a warning.' }),
      saveTimeout: timerDuration.prefault('120s').meta({ description: 'How long `save-all flush` may take.' }),
    })
    .optional()
    .meta({ description: 'Quiesce a Minecraft server over RCON: save-off, save-all flush, archive, save-on (always).' }),
  ...targetCommon,
})

export type DirectoryTarget = z.output<typeof directorySchema>

export function postgresRules(target: PostgresTarget, at: string[]): TargetProblem[] {
  const problems: TargetProblem[] = []
  if (target.container === undefined && target.url === undefined) {
    problems.push({
      severity: 'error',
      path: at,
      message: 'a postgres target needs "container" (pg_dump runs inside it) or "url"',
      hint: 'add container: <name of the database container>',
    })
  }
  if (target.container !== undefined && target.url !== undefined) {
    problems.push({
      severity: 'error',
      path: [...at, 'url'],
      message: '"container" and "url" exclude each other',
      hint: 'keep one of them',
    })
  }
  return problems
}

export function directoryRules(target: DirectoryTarget, at: string[]): TargetProblem[] {
  const problems: TargetProblem[] = []
  const sources = [
    target.path !== undefined && target.container === undefined && target.volume === undefined,
    target.volume !== undefined,
    target.container !== undefined,
  ].filter(Boolean).length
  if (sources !== 1) {
    problems.push({
      severity: 'error',
      path: at,
      message: 'a directory target needs exactly one source: "path", "volume", or "container" with "path"',
      hint: 'e.g. volume: mc-data',
    })
  }
  if (target.container !== undefined && target.path === undefined) {
    problems.push({
      severity: 'error',
      path: [...at, 'path'],
      message: 'with "container", "path" names the directory inside the container',
      hint: 'e.g. path: /data/world',
    })
  }
  if (target.level !== undefined && target.compression === 'gzip' && target.level > 9) {
    problems.push({ severity: 'error', path: [...at, 'level'], message: `gzip levels are 1 to 9, got ${target.level}` })
  }
  return problems
}

/** Cross-field problems of one target's config; `at` is its key path. */
export function targetRules(target: PostgresTarget | MysqlTarget | SqliteTarget | DirectoryTarget, at: string[]): TargetProblem[] {
  switch (target.type) {
    case 'postgres':
      return postgresRules(target, at)
    case 'directory':
      return directoryRules(target, at)
    case 'mysql':
    case 'mariadb':
    case 'sqlite':
      return []
  }
}
