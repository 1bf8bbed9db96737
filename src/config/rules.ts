/**
 * Cross-field rules the schema cannot express. Each returns every problem it finds,
 * so `ownops config validate` can report them all at once.
 */
import type { Config, KeepPolicy } from './schema.js'
import type { ConfigProblem } from './problems.js'
import { isEmptyRetentionPolicy } from '../backup/retention.js'
import { channelOptions, resolveChannel } from '../notify/channels/index.js'
import { isSingleCheck, type HcTarget } from '../notify/channels/hc.js'
import { scheduleProblems } from '../schedule/jobs.js'
import { monitorRules } from '../monitor/rules.js'
import { cleanupRules } from '../cleanup/rules.js'
import { targetRules } from '../targets/schema.js'
import { didYouMean } from '../text.js'
import { destinationRules } from '../copies/rules.js'
import { hostPathProblems } from './host-paths.js'

type Problem = Omit<ConfigProblem, 'file' | 'line'>

export function checkRules(config: Config): Problem[] {
  const problems: Problem[] = []
  for (const [name, target] of Object.entries(config.backup.targets)) {
    const at = ['backup', 'targets', name]
    problems.push(...targetRules(target, at))
    if (target.keep !== undefined) emptyKeepWarning(problems, target.keep, [...at, 'keep'])
  }
  if (config.backup.keep !== undefined) emptyKeepWarning(problems, config.backup.keep, ['backup', 'keep'])
  for (const [name, channel] of Object.entries(config.notify.channels)) {
    try {
      const resolved = resolveChannel(channel.url, channelOptions(channel))
      if (resolved.kind === 'hc' && channel.commands === undefined && isSingleCheck(resolved.target as HcTarget)) {
        problems.push({
          severity: 'warning',
          path: ['notify', 'channels', name],
          message: 'every job pings this one check: a failed backup is hidden by the next successful monitor run',
          hint: 'give each job its own check: commands: [backup] here and another channel per job, or a slug URL with {job} (hc://PING_KEY/{job}?create=1)',
        })
      }
    } catch (error) {
      // Channel parsers never quote secrets in their messages.
      problems.push({
        severity: 'error',
        path: ['notify', 'channels', name, 'url'],
        message: (error as Error).message,
        hint: 'see the channel URL forms in the README (Notifications)',
      })
    }
  }
  // Every channel a route, a check, a target or a service names must exist.
  const channelNames = Object.keys(config.notify.channels)
  const named = (list: readonly string[], path: Array<string | number>) => {
    for (const [i, name] of list.entries()) {
      if (config.notify.channels[name] !== undefined) continue
      const guess = didYouMean(name, channelNames)
      problems.push({
        severity: 'error',
        path: [...path, i],
        message: `no channel named "${name}" in notify.channels${guess ? ` (did you mean "${guess}"?)` : ''}`,
        hint: channelNames.length > 0 ? `channels: ${channelNames.join(', ')}` : 'add it under notify.channels',
      })
    }
  }
  const own = (value: unknown, path: Array<string | number>) => {
    if (value === undefined) return
    if (Array.isArray(value)) return named(value as string[], path)
    const v = value as { channels: string[]; escalate?: Array<{ channels: string[] }> }
    named(v.channels, [...path, 'channels'])
    v.escalate?.forEach((step, i) => named(step.channels, [...path, 'escalate', i, 'channels']))
  }
  config.notify.routes.forEach((rule, r) => {
    named(rule.channels, ['notify', 'routes', r, 'channels'])
    rule.escalate?.forEach((step, i) => named(step.channels, ['notify', 'routes', r, 'escalate', i, 'channels']))
    if (rule.checks === undefined && rule.targets === undefined && rule.commands === undefined && rule.levels === undefined) {
      problems.push({
        severity: 'warning',
        path: ['notify', 'routes', r],
        message: 'this rule matches every event: the rules after it are never reached',
        hint: 'say which: checks:, targets:, commands: or levels:',
      })
    }
  })
  for (const [name, check] of Object.entries(config.monitor.checks))
    own((check as { notify?: unknown }).notify, ['monitor', 'checks', name, 'notify'])
  for (const [name, target] of Object.entries(config.backup.targets)) own(target.notify, ['backup', 'targets', name, 'notify'])
  for (const [name, svc] of Object.entries(config.restart.services)) own(svc.notify, ['restart', 'services', name, 'notify'])
  problems.push(...scheduleProblems(config))
  problems.push(...monitorRules(config.monitor))
  problems.push(...cleanupRules(config))
  const restartDefault = config.restart.default
  if (restartDefault !== undefined && config.restart.services[restartDefault] === undefined) {
    const names = Object.keys(config.restart.services)
    const guess = didYouMean(restartDefault, names)
    problems.push({
      severity: 'error',
      path: ['restart', 'default'],
      message: `no service "${restartDefault}" in restart.services${guess ? ` (did you mean "${guess}"?)` : ''}`,
      hint: names.length > 0 ? `configured services: ${names.join(', ')}` : 'add the service under restart.services',
    })
  }
  problems.push(...destinationRules(config))
  problems.push(...hostPathProblems(config))
  for (const [name, svc] of Object.entries(config.restart.services)) {
    const at = ['restart', 'services', name]
    if ((svc.announce === 'tellraw' || svc.announce === 'say') && svc.rcon === undefined) {
      problems.push({
        severity: 'error',
        path: [...at, 'announce'],
        message: `announce: ${svc.announce} speaks over RCON, and this service has no rcon`,
        hint: 'add rcon: { port: 25575, password: ${RCON_PASSWORD} }, or announce: { exec: [...] }',
      })
    }
    if (svc.save === 'rcon' && svc.rcon === undefined) {
      problems.push({
        severity: 'error',
        path: [...at, 'save'],
        message: 'save: rcon needs rcon',
        hint: 'add rcon: { port: 25575, password: ${RCON_PASSWORD} }',
      })
    }
  }
  return problems
}

/** A keep policy without any rule (no key, or only zeros) keeps every backup: say so. */
function emptyKeepWarning(problems: Problem[], keep: KeepPolicy, path: string[]): void {
  let empty: boolean
  try {
    empty = isEmptyRetentionPolicy(keep)
  } catch {
    return // the schema reports malformed values
  }
  if (empty) {
    problems.push({
      severity: 'warning',
      path,
      message: 'this keep policy has no rule, so every backup is kept forever',
      hint: 'e.g. keep: { daily: 7, weekly: 4, monthly: 12 }',
    })
  }
}
