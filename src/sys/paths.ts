/**
 * ownops' default paths, in one place: where the config, the env file, the state, the lock
 * and the backups live when nothing says otherwise, and what the generated units run.
 */
import { homedir } from 'node:os'
import { join } from 'node:path'
import { existsSync } from 'node:fs'

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0

/** The config file units and cron entries use when no --config is passed. */
export const DEFAULT_CONFIG_FILE = '/etc/ownops/ownops.yml'
/** Where the config is looked for, after --config and $OWNOPS_CONFIG. */
export const DEFAULT_CONFIG_PATHS = ['./ownops.yml', DEFAULT_CONFIG_FILE] as const
/** KEY=value file read for ${VAR} interpolation when the config names none. */
export const DEFAULT_ENV_FILE = '/etc/ownops/ownops.env'
/** The state directory of root. */
export const ROOT_STATE_DIR = '/var/lib/ownops'
/** The default lock directory of root: in /run, which only root can write (unlike /run/lock). */
export const ROOT_LOCK_DIR = '/run/ownops'
/** backup.dir when the config sets none. */
export const DEFAULT_BACKUP_DIR = '/var/backups/ownops'
/** What units run when neither schedule.bin nor the running ownops says otherwise. */
export const DEFAULT_BIN = '/usr/local/bin/ownops'

/** $OWNOPS_STATE_DIR, config stateDir, /var/lib/ownops (root), or the XDG state home. */
export function defaultStateDir(env: NodeJS.ProcessEnv, configured?: string): string {
  if (env.OWNOPS_STATE_DIR) return env.OWNOPS_STATE_DIR
  if (configured) return configured
  if (isRoot()) return ROOT_STATE_DIR
  return join(stateHome(env), 'ownops')
}

/**
 * $OWNOPS_LOCK_DIR, config lock.dir, /run/ownops (root), or ~/.local/state/ownops/lock.
 * Only root (or, for the last, the user) can write these, so nobody else can hold or fake the
 * host lock. A user's lock directory does not depend on the session: a cron run and a run from
 * a login shell find the same one.
 */
export function defaultLockDir(env: NodeJS.ProcessEnv, configured?: string): string {
  if (env.OWNOPS_LOCK_DIR) return env.OWNOPS_LOCK_DIR
  if (configured) return configured
  if (isRoot() && existsSync('/run')) return ROOT_LOCK_DIR
  return join(stateHome(env), 'ownops', 'lock')
}

function stateHome(env: NodeJS.ProcessEnv): string {
  return env.XDG_STATE_HOME || join(env.HOME || homedir(), '.local', 'state')
}
