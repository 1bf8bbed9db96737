/**
 * Cross-field rules of the `cleanup:` section (called from config/rules.ts): every problem
 * with its key path, so the loader can add file and line.
 */
import { isAbsolute } from 'node:path'
import type { ConfigProblem } from '../config/problems.js'
import type { Config } from '../config/schema.js'
import { didYouMean } from '../text.js'
import { globBase, refusedRoot, refusedRootOnDisk } from './roots.js'

type Problem = Omit<ConfigProblem, 'file' | 'line'>

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$/
const SQL_TYPES = new Set(['postgres', 'mysql', 'mariadb', 'sqlite'])

export function cleanupRules(config: Config): Problem[] {
  const problems: Problem[] = []
  for (const [name, rule] of Object.entries(config.cleanup.rules)) {
    const at = ['cleanup', 'rules', name]
    if (name === 'backups') {
      problems.push({
        severity: 'error',
        path: at,
        message: '"backups" is the built-in rule (cleanup.backups)',
        hint: 'choose another name',
      })
    }
    switch (rule.type) {
      case 'files': {
        const why = refusedRoot(rule.root, config.backup.dir)
        if (why !== undefined && (!rule.force || !isAbsolute(rule.root))) {
          problems.push({
            severity: 'error',
            path: [...at, 'root'],
            message: `refusing root ${rule.root}: ${why}`,
            hint: isAbsolute(rule.root)
              ? 'point root at the directory of the files themselves, e.g. /srv/jobs/results (or set force: true if you really mean it)'
              : 'e.g. /srv/jobs/tmp',
          })
        }
        for (const glob of [rule.match].flat()) {
          if (isAbsolute(glob) || glob.split('/').includes('..')) {
            problems.push({
              severity: 'error',
              path: [...at, 'match'],
              message: `"${glob}" must be relative to root and stay inside it`,
              hint: `e.g. root: ${isAbsolute(glob) ? globBase(glob) : rule.root} and match: "${glob.split('/').pop() ?? '*'}"`,
            })
          }
        }
        break
      }
      case 'logs': {
        for (const glob of [rule.path].flat()) {
          if (!isAbsolute(glob)) {
            problems.push({
              severity: 'error',
              path: [...at, 'path'],
              message: `"${glob}" must be an absolute glob`,
              hint: 'e.g. /srv/app/logs/*.log',
            })
            continue
          }
          const why = refusedRoot(globBase(glob), config.backup.dir)
          if (why !== undefined && !rule.force) {
            problems.push({
              severity: 'error',
              path: [...at, 'path'],
              message: `refusing ${glob}: ${why}`,
              hint: "point it at the service's own log directory (or set force: true)",
            })
          }
        }
        if (rule.compressAfter === undefined && rule.deleteAfter === undefined && rule.maxTotalSize === undefined) {
          problems.push({
            severity: 'error',
            path: at,
            message: 'a logs rule needs compressAfter, deleteAfter or maxTotalSize',
            hint: 'e.g. compressAfter: 7d, deleteAfter: 30d',
          })
        }
        if (rule.compressAfter !== undefined && rule.deleteAfter !== undefined && rule.deleteAfter <= rule.compressAfter) {
          problems.push({
            severity: 'warning',
            path: [...at, 'deleteAfter'],
            message: 'deleteAfter is not longer than compressAfter: files are deleted without ever being compressed',
          })
        }
        break
      }
      case 'docker':
        if (rule.containers !== undefined && (rule.containers.label ?? []).length === 0 && (rule.containers.name ?? []).length === 0) {
          problems.push({
            severity: 'error',
            path: [...at, 'containers'],
            message: 'removing stopped containers needs a label or name filter',
            hint: 'e.g. name: ["job-*"] or label: ["com.example.cleanup=true"]',
          })
        }
        if (
          rule.images === undefined &&
          rule.containers === undefined &&
          rule.buildCache === undefined &&
          rule.volumes === undefined &&
          rule.logs === undefined
        ) {
          problems.push({
            severity: 'error',
            path: at,
            message: 'a docker rule needs images, containers, buildCache, volumes or logs',
            hint: 'e.g. images: true',
          })
        }
        break
      case 'sql': {
        const target = config.backup.targets[rule.target]
        if (target === undefined) {
          const guess = didYouMean(rule.target, Object.keys(config.backup.targets))
          problems.push({
            severity: 'error',
            path: [...at, 'target'],
            message: `no backup target named "${rule.target}"${guess ? ` (did you mean "${guess}"?)` : ''}`,
            hint: 'the rule runs against a database target under backup.targets',
          })
        } else if (!SQL_TYPES.has(target.type)) {
          problems.push({
            severity: 'error',
            path: [...at, 'target'],
            message: `backup target ${rule.target} is a ${target.type} target, not a database`,
            hint: 'name a postgres, mysql, mariadb or sqlite target',
          })
        } else if (target.type === 'mysql' || target.type === 'mariadb') {
          if (target.database === undefined || (Array.isArray(target.database) && target.database.length !== 1)) {
            problems.push({
              severity: 'error',
              path: [...at, 'table'],
              message: `backup target ${rule.target} covers ${target.database === undefined ? 'all databases' : 'several databases'}: name the table with its database`,
              hint: 'e.g. table: camdb.frames',
            })
          }
        }
        if (!IDENTIFIER.test(rule.table)) {
          problems.push({
            severity: 'error',
            path: [...at, 'table'],
            message: `"${rule.table}" is not a plain table name`,
            hint: 'letters, digits and _, optionally schema.table',
          })
        }
        if (rule.key !== undefined && !/^[A-Za-z_][A-Za-z0-9_$]*$/.test(rule.key)) {
          problems.push({ severity: 'error', path: [...at, 'key'], message: `"${rule.key}" is not a plain column name` })
        }
        if (/;\s*\S/.test(rule.where)) {
          problems.push({
            severity: 'error',
            path: [...at, 'where'],
            message: 'the condition contains ";": one condition only, not statements',
            hint: 'e.g. where: "captured_at < now() - interval \'14 days\'"',
          })
        }
        break
      }
    }
  }
  problems.push(...scheduledRuleNames(config))
  return problems
}

const VALUE_OPTIONS = new Set(['--only', '--wait', '-c', '--config', '--log-level'])

/** A job that runs `cleanup NAME` must name a rule: a typo is found now, not at 4 a.m. */
function scheduledRuleNames(config: Config): Problem[] {
  const problems: Problem[] = []
  const names = [...(config.cleanup.backups !== false ? ['backups'] : []), ...Object.keys(config.cleanup.rules)]
  for (const [job, spec] of Object.entries(config.schedule.jobs)) {
    if (spec === false || spec.command === undefined) continue
    const argv = Array.isArray(spec.command) ? spec.command : spec.command.split(' ').filter(Boolean)
    if (argv[0] !== 'cleanup') continue
    for (let i = 1; i < argv.length; i++) {
      const arg = argv[i] ?? ''
      if (arg.startsWith('-')) {
        if (VALUE_OPTIONS.has(arg)) i++
        continue
      }
      if (!names.includes(arg)) {
        const guess = didYouMean(arg, names)
        problems.push({
          severity: 'error',
          path: ['schedule', 'jobs', job, 'command'],
          message: `job "${job}" runs cleanup rule "${arg}", which is not configured${guess ? ` (did you mean "${guess}"?)` : ''}`,
          hint: names.length > 0 ? `rules: ${names.join(', ')}` : 'add it under cleanup.rules',
        })
      }
    }
  }
  return problems
}

/**
 * What `config validate` adds on this machine: the roots with every symlink resolved, as the
 * run resolves them (a root that is a link to /etc is /etc; a backup directory reached through
 * a link into a root is in it). The run checks again, and refuses such a rule on its own.
 */
export function cleanupRootsOnDisk(config: Config): Problem[] {
  const problems: Problem[] = []
  for (const [name, rule] of Object.entries(config.cleanup.rules)) {
    const at = ['cleanup', 'rules', name]
    if (rule.type === 'files' && !rule.force && isAbsolute(rule.root) && refusedRoot(rule.root, config.backup.dir) === undefined) {
      const why = refusedRootOnDisk(rule.root, config.backup.dir)
      if (why !== undefined)
        problems.push({
          severity: 'error',
          path: [...at, 'root'],
          message: `refusing root ${rule.root}: ${why}`,
          hint: 'point root at the directory of the files themselves (or set force: true if you really mean it)',
        })
    }
    if (rule.type === 'logs' && !rule.force) {
      for (const [i, glob] of [rule.path].flat().entries()) {
        if (!isAbsolute(glob) || refusedRoot(globBase(glob), config.backup.dir) !== undefined) continue
        const why = refusedRootOnDisk(globBase(glob), config.backup.dir)
        if (why !== undefined)
          problems.push({
            severity: 'error',
            path: typeof rule.path === 'string' ? [...at, 'path'] : [...at, 'path', i],
            message: `refusing ${glob}: ${why}`,
            hint: "point it at the service's own log directory (or set force: true)",
          })
      }
    }
  }
  return problems
}
