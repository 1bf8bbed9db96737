/**
 * Where the config comes from, in order: --config, $OWNOPS_CONFIG, ./ownops.yml,
 * /etc/ownops/ownops.yml. Apart from the loader, so that shell completion finds the file
 * without loading the schema.
 */
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { DEFAULT_CONFIG_PATHS } from '../sys/paths.js'

export interface LocateOptions {
  /** --config, if given. */
  path?: string | undefined
  env?: NodeJS.ProcessEnv
  cwd?: string
  /** Overrides the search list after --config and $OWNOPS_CONFIG (tests). */
  searchPaths?: readonly string[]
}

export function locateConfig(options: LocateOptions): { file: string | undefined; explicit: boolean } {
  const env = options.env ?? process.env
  const cwd = options.cwd ?? process.cwd()
  if (options.path !== undefined) return { file: resolve(cwd, options.path), explicit: true }
  if (env.OWNOPS_CONFIG !== undefined && env.OWNOPS_CONFIG !== '') return { file: resolve(cwd, env.OWNOPS_CONFIG), explicit: true }
  for (const candidate of options.searchPaths ?? DEFAULT_CONFIG_PATHS) {
    const file = resolve(cwd, candidate)
    if (existsSync(file)) return { file, explicit: false }
  }
  return { file: undefined, explicit: false }
}
