/**
 * The schedule on this host: the plan of the config in use, run by this Node and this
 * ownops, and where the generated files live (under --root when given).
 */
import { join, resolve } from 'node:path'
import type { Ctx } from '../context.js'
import { ownopsRuntime } from '../sys/runtime.js'
import { CROND_FILE } from './crond.js'
import { planSchedule, type SchedulePlan } from './jobs.js'

export const SYSTEMD_DIR = '/etc/systemd/system'
export const CROND_DIR = '/etc/cron.d'

/** The files of each backend that ownops may own. */
export const isSystemdFile = (name: string) => /^ownops-[A-Za-z0-9_.@-]*\.(service|timer)$/.test(name)
export const isCronFile = (name: string) => name === CROND_FILE

/** The jobs and boot units of the config in use. */
export function planFor(ctx: Ctx, configPath?: string, bin?: string): SchedulePlan {
  const loaded = ctx.config()
  return planSchedule(loaded.config, {
    configFile: configPath === undefined ? loaded.file : resolve(ctx.cwd, configPath),
    runtime: ownopsRuntime(),
    bin,
  })
}

/** --root, resolved against the working directory. */
export function rootDir(ctx: Ctx, root: string | undefined): string | undefined {
  return root === undefined ? undefined : resolve(ctx.cwd, root)
}

/** A path under --root (or as it is). */
export const under = (root: string | undefined, path: string) => (root === undefined ? path : join(root, path))
