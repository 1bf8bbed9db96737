/** The backup sources by config `type`. */
import type { BackupTargetType } from '../config/schema.js'
import { directory } from './directory.js'
import { mysql } from './mysql.js'
import { postgres } from './postgres.js'
import { sqlite } from './sqlite.js'
import type { Source } from './types.js'

// Each source has a target type of its own, hence Source<any> in the constraint.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const sources = { postgres, mysql, mariadb: mysql, sqlite, directory } satisfies Record<BackupTargetType, Source<any>>
