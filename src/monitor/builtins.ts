/** The names of the built-in checks (apart from the check code, so shell completion can list them without loading it). */
import type { CheckKindName } from './checks/index.js'

/** Built-in checks by name, and their kind. */
export const BUILTIN_CHECKS = {
  filesystems: 'filesystem',
  memory: 'memory',
  load: 'load',
  swap: 'swap',
  containers: 'containers',
} as const satisfies Record<string, CheckKindName>

/** The row that stands for the Docker engine itself; checks that use Docker roll up under it. */
export const ENGINE_CHECK = 'docker'

export const RESERVED_NAMES = [...Object.keys(BUILTIN_CHECKS), ENGINE_CHECK]
