/**
 * The check registry: every check kind by its `kind:` config value. Each file holds the
 * kind's schema piece and its implementation.

 */
import type { z } from 'zod'
import type { CheckKind } from '../types.js'
import { backup, schema as backupSchema } from './backup.js'
import { command, schema as commandSchema } from './command.js'
import { container, schema as containerSchema } from './container.js'
import { drill, schema as drillSchema } from './drill.js'
import { dockerLogs, schema as dockerLogsSchema } from './docker-logs.js'
import { containers, schema as containersSchema } from './containers.js'
import { filesystem, schema as filesystemSchema } from './filesystem.js'
import { http, schema as httpSchema } from './http.js'
import { load, schema as loadSchema } from './load.js'
import { memory, schema as memorySchema } from './memory.js'
import { minecraft, schema as minecraftSchema } from './minecraft.js'
import { prometheus, schema as prometheusSchema } from './prometheus.js'
import { sqlite, schema as sqliteSchema } from './sqlite.js'
import { swap, schema as swapSchema } from './swap.js'
import { schema as tcpSchema, tcp } from './tcp.js'

export const checkSchemas = [
  filesystemSchema,
  memorySchema,
  loadSchema,
  swapSchema,
  containersSchema,
  containerSchema,
  dockerLogsSchema,
  httpSchema,
  tcpSchema,
  minecraftSchema,
  sqliteSchema,
  commandSchema,
  prometheusSchema,
  backupSchema,
  drillSchema,
] as const

export type CheckSpec = z.output<(typeof checkSchemas)[number]>
export type CheckKindName = CheckSpec['kind']

// Each kind has a spec type of its own, hence CheckKind<any> in the constraint.
export const checkKinds = {
  filesystem,
  memory,
  load,
  swap,
  containers,
  container,
  'docker-logs': dockerLogs,
  http,
  tcp,
  minecraft,
  sqlite,
  command,
  prometheus,
  backup,
  drill,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
} satisfies Record<CheckKindName, CheckKind<any>>

export function kindOf(name: CheckKindName): CheckKind<CheckSpec> {
  return checkKinds[name]
}
