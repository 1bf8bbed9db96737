/**
 * Paths on the host must be absolute: timers and cron run ownops from /, so a relative path
 * that works from a shell in the config's directory means something else at 3 a.m.
 * (`data/jobs.db` is /data/jobs.db), and a relative lock.dir would be created in the root
 * filesystem. One rule over every key that names a host path, each reported with its key.
 */
import { isAbsolute, posix } from 'node:path'
import type { Config } from './schema.js'
import type { ConfigProblem } from './problems.js'

type Problem = Omit<ConfigProblem, 'file' | 'line'>
type Key = Array<string | number>

/** Every host path of the config, with its key. */
function hostPaths(config: Config): Array<[Key, string | undefined]> {
  const out: Array<[Key, string | undefined]> = [
    [['stateDir'], config.stateDir],
    [['lock', 'dir'], config.lock.dir],
    [['backup', 'dir'], config.backup.dir],
    [['backup', 'prometheus'], config.backup.prometheus],
    [['monitor', 'prometheus', 'textfile'], config.monitor.prometheus?.textfile],
  ]
  for (const [name, t] of Object.entries(config.backup.targets)) {
    // A directory target's path inside a volume is relative to the volume.
    if (t.type === 'sqlite' || (t.type === 'directory' && t.volume === undefined)) out.push([['backup', 'targets', name, 'path'], t.path])
  }
  for (const [name, d] of Object.entries(config.backup.destinations)) {
    const at = ['backup', 'destinations', name]
    const dest = d as { config?: string; passwordFile?: string; age?: { recipientsFile?: string } }
    out.push(
      [[...at, 'config'], dest.config],
      [[...at, 'passwordFile'], dest.passwordFile],
      [[...at, 'age', 'recipientsFile'], dest.age?.recipientsFile],
    )
  }
  for (const [name, c] of Object.entries(config.monitor.checks)) {
    const check = c as { kind?: string; path?: unknown; tls?: { ca?: string } }
    if (check.kind === 'sqlite' && typeof check.path === 'string') out.push([['monitor', 'checks', name, 'path'], check.path])
    out.push([['monitor', 'checks', name, 'tls', 'ca'], check.tls?.ca])
  }
  // schedule.jobs.*.readWritePaths and schedule.boot.* are checked with the rest of the schedule.
  return out
}

export function hostPathProblems(config: Config): Problem[] {
  const problems: Problem[] = []
  for (const [path, value] of hostPaths(config)) {
    if (value === undefined || isAbsolute(value)) continue
    problems.push({
      severity: 'error',
      path,
      message: `"${value}" is a relative path: scheduled runs (systemd timers, cron) start in /, where it means ${posix.resolve('/', value)}`,
      hint: 'write the absolute path',
    })
  }
  return problems
}
