/** Default locations of ownops' state and lock directories. */
import { homedir } from 'node:os'
import { join } from 'node:path'
import { existsSync } from 'node:fs'

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0

/** $OWNOPS_STATE_DIR, config stateDir, /var/lib/ownops (root), or the XDG state home. */
export function defaultStateDir(env: NodeJS.ProcessEnv, configured?: string): string {
  if (env.OWNOPS_STATE_DIR) return env.OWNOPS_STATE_DIR
  if (configured) return configured
  if (isRoot()) return '/var/lib/ownops'
  return join(env.XDG_STATE_HOME || join(env.HOME || homedir(), '.local', 'state'), 'ownops')
}

/** $OWNOPS_LOCK_DIR, config lock.dir, /run/lock/ownops (root), $XDG_RUNTIME_DIR/ownops, or /tmp. */
export function defaultLockDir(env: NodeJS.ProcessEnv, configured?: string): string {
  if (env.OWNOPS_LOCK_DIR) return env.OWNOPS_LOCK_DIR
  if (configured) return configured
  if (isRoot() && existsSync('/run/lock')) return '/run/lock/ownops'
  if (env.XDG_RUNTIME_DIR) return join(env.XDG_RUNTIME_DIR, 'ownops')
  return join('/tmp', `ownops-${typeof process.getuid === 'function' ? process.getuid() : 'user'}`)
}
