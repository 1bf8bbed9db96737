/**
 * The target types by config `type`: one plugin each, typed over the type names. Everything
 * that depends on a target's type — its config, backup, SQL client, restore, verification,
 * drill and leftovers — is found here, and nowhere else switches on `type`.
 */
import type { BackupTarget, BackupTargetType } from '../config/schema.js'
import { OwnopsError } from '../errors.js'
import { directory } from './directory.js'
import { mysql } from './mysql.js'
import { postgres } from './postgres.js'
import { sqlite } from './sqlite.js'
import type { DbClient, DbClientEnv, TargetPlugin } from './types.js'

// Each plugin has a target type of its own, hence TargetPlugin<any> in the constraint.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const targets = { postgres, mysql, mariadb: mysql, sqlite, directory } satisfies Record<BackupTargetType, TargetPlugin<any>>

/** The plugin of a configured target, typed for it. */
export function pluginFor(target: BackupTarget): TargetPlugin<BackupTarget> {
  return targets[target.type]
}

/** SQL against a database target (cleanup's sql rules, leftovers), through the database's own client. */
export async function openDbClient(targetName: string, target: BackupTarget, env: DbClientEnv): Promise<DbClient> {
  const plugin = pluginFor(target)
  if (plugin.client === undefined)
    throw new OwnopsError(`backup target ${targetName} is a ${target.type} target, not a database`, { kind: 'config' })
  return plugin.client(targetName, target, env)
}

/** Whether a target type is a database (has a SQL client). */
export function isDatabase(target: BackupTarget): boolean {
  return pluginFor(target).client !== undefined
}
