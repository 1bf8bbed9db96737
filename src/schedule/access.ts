/**
 * What a scheduled job needs that it would not get when it runs: paths its unit's sandbox
 * cannot make writable, and, for a job run as another user than root, what that user may not
 * read, write or run on this machine (by mode bits). `schedule install`, `schedule generate`
 * and `config validate` report these as warnings, so the surprise comes before 3 a.m.
 */
import { readFileSync, statSync } from 'node:fs'
import type { ConfigProblem } from '../config/problems.js'
import { allows, executeObstacle, lookupUser, userName, writeObstacle, type UserInfo } from '../sys/users.js'
import type { ScheduledJob, SchedulePlan } from './jobs.js'
import { unwritableInSandbox } from './needs.js'
import { userDirs } from './units.js'

type Problem = Omit<ConfigProblem, 'file' | 'line'>

/** Commands that talk to the Docker engine. */
const DOCKER_COMMANDS = new Set(['backup', 'restore', 'verify', 'cleanup', 'restart', 'monitor', 'doctor'])

export interface AccessOptions {
  backend: 'systemd' | 'cron'
  /** The Docker socket jobs use (undefined: not a local socket). */
  dockerSocket?: string | undefined
  /** Looks a user up (tests may pass their own); lookupUser by default. */
  lookup?: (name: string) => UserInfo | undefined
}

export function jobAccessProblems(plan: SchedulePlan, options: AccessOptions): Problem[] {
  const problems: Problem[] = []
  const lookup = options.lookup ?? lookupUser
  const users = new Map<string, UserInfo | undefined>()
  for (const job of plan.jobs) {
    const at = ['schedule', 'jobs', job.name]
    if (options.backend === 'systemd') {
      for (const need of job.needs) {
        const why = unwritableInSandbox(need.path)
        if (why !== undefined)
          problems.push({
            severity: 'warning',
            path: need.key,
            message: `job ${job.name} needs to write ${need.path} (${need.why}), which its unit cannot let it: ${why}`,
            hint: 'run this part outside the unit, or choose another path',
          })
      }
    }
    if (job.user === 'root') continue
    if (!users.has(job.user)) users.set(job.user, lookup(job.user))
    const user = users.get(job.user)
    const userKey = [...at, 'user']
    if (user === undefined) {
      problems.push({
        severity: 'warning',
        path: userKey,
        message: `job ${job.name} runs as ${job.user}, a user this machine does not know: it would fail to start`,
        hint: `create it (useradd --system ${job.user}), or change the user`,
      })
      continue
    }
    problems.push(...userProblems(job, user, plan, options, userKey))
  }
  return problems
}

function userProblems(
  job: ScheduledJob,
  user: UserInfo,
  plan: SchedulePlan,
  options: AccessOptions,
  userKey: Array<string | number>,
): Problem[] {
  const problems: Problem[] = []
  const runs = `job ${job.name} runs as ${user.name}`
  for (const file of plan.settings.exec) {
    const obstacle = executeObstacle(file, user)
    if (obstacle !== undefined) {
      problems.push({
        severity: 'warning',
        path: plan.settings.execKey ?? userKey,
        message: `${runs}, which cannot run ${file}: ${describe(obstacle.path, obstacle.stats)} is in the way`,
        hint: 'install Node and ownops where every user can run them (e.g. /usr/local), set schedule.bin, or run the job as root',
      })
    }
  }
  const config = plan.settings.configFile
  if (config !== undefined) {
    const blocked = readObstacle(config, user)
    if (blocked !== undefined)
      problems.push({
        severity: 'warning',
        path: userKey,
        message: `${runs}, which cannot read the config ${config}: ${blocked} is in the way`,
        hint: `let it read the file (chgrp ${user.name} ${config} && chmod 640 ${config}), or run the job as root`,
      })
  }
  const dirs = userDirs(user.name, plan.settings)
  // The directories it gets from its unit exist only under systemd; under cron, its own defaults.
  const shared = [
    ...(plan.settings.stateDirSet ? [{ path: dirs.stateDir, why: 'stateDir', key: ['stateDir'] }] : []),
    ...(plan.settings.lockDirSet ? [{ path: dirs.lockDir, why: 'lock.dir', key: ['lock', 'dir'] }] : []),
  ]
  for (const need of [...job.needs, ...shared]) {
    const obstacle = writeObstacle(need.path, user)
    if (obstacle === undefined) continue
    problems.push({
      severity: 'warning',
      path: need.key,
      message: `${runs}, which cannot write ${need.path} (${need.why}): ${describe(obstacle.path, obstacle.stats)}`,
      hint: `let ${user.name} write it (chown ${user.name}, or group write for a group it is in), or run the job as root`,
    })
  }
  if (options.dockerSocket !== undefined && DOCKER_COMMANDS.has(job.args[0] ?? '')) {
    const obstacle = writeObstacle(options.dockerSocket, user)
    if (obstacle !== undefined) {
      problems.push({
        severity: 'warning',
        path: userKey,
        message: `${runs}, which cannot use the Docker engine at ${options.dockerSocket}: ${describe(obstacle.path, obstacle.stats)}`,
        hint: `add it to the socket's group (usermod -aG docker ${user.name}), or run the job as root`,
      })
    }
  }
  return problems
}

function readObstacle(file: string, user: UserInfo): string | undefined {
  const blocked = executeObstacle(file, user)
  // executeObstacle checks x on the file; a config needs r instead: check the directories with it, then r.
  if (blocked !== undefined && blocked.path !== file) return describe(blocked.path, blocked.stats)
  try {
    const st = statSync(file)
    return allows(st, user, 0o4) ? undefined : describe(file, st)
  } catch {
    return undefined
  }
}

function describe(path: string, stats: { uid: number; gid: number; mode: number }): string {
  return `${path} (owner ${userName(stats.uid) ?? stats.uid}, group ${groupName(stats.gid) ?? stats.gid}, mode ${(stats.mode & 0o7777).toString(8)})`
}

function groupName(gid: number): string | undefined {
  try {
    for (const line of readFileSync('/etc/group', 'utf8').split('\n')) {
      const fields = line.split(':')
      if (fields.length >= 3 && Number(fields[2]) === gid) return fields[0]
    }
  } catch {
    // no /etc/group
  }
  return undefined
}
