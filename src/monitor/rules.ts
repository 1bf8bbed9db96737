/**
 * Cross-field rules of the `monitor:` section (called from config/rules.ts): every
 * problem with its key path, so the loader can add file and line.
 */
import type { ConfigProblem } from '../config/problems.js'
import { checkTimeZone, CronError, parseCron } from '../schedule/cron.js'
import { checkKinds } from './checks/index.js'
import { BUILTIN_CHECKS, ENGINE_CHECK } from './plan.js'
import type { MonitorConfig } from './schema.js'

type Problem = Omit<ConfigProblem, 'file' | 'line'>

function regexProblem(pattern: string, path: Array<string | number>): Problem | undefined {
  try {
    new RegExp(pattern)
    return undefined
  } catch (error) {
    return {
      severity: 'error',
      path,
      message: `not a valid regular expression: ${(error as Error).message.replace(/^Invalid regular expression: /, '')}`,
      hint: 'JavaScript syntax; escape special characters with \\',
    }
  }
}

/** A maintenance window's cron expression and zone, checked as ownops' schedules check theirs. */
function cronProblem(cron: string, timezone: string | undefined, path: Array<string | number>): Problem | undefined {
  try {
    const parsed = parseCron(cron)
    if (timezone !== undefined) checkTimeZone(timezone)
    if (parsed.reboot)
      return { severity: 'error', path, message: '@reboot has no calendar time: a maintenance window needs one', hint: 'e.g. "0 4 * * *"' }
    return undefined
  } catch (error) {
    if (error instanceof CronError)
      return {
        severity: 'error',
        path: error.message.startsWith('unknown time zone') ? [...path.slice(0, -1), 'timezone'] : path,
        message: error.message,
        ...(error.hint ? { hint: error.hint } : {}),
      }
    throw error
  }
}

export function monitorRules(monitor: MonitorConfig): Problem[] {
  const problems: Problem[] = []
  for (const [name, entry] of Object.entries(monitor.checks)) {
    const at = ['monitor', 'checks', name]
    if (!(entry.kind in checkKinds)) continue
    const spec = entry
    if (name === ENGINE_CHECK) {
      problems.push({
        severity: 'error',
        path: at,
        message: `"${ENGINE_CHECK}" is the name of the Docker engine row`,
        hint: 'choose another name for this check',
      })
    }
    const builtinKind = (BUILTIN_CHECKS as Record<string, string>)[name]
    if (builtinKind !== undefined && builtinKind !== spec.kind) {
      problems.push({
        severity: 'error',
        path: [...at, 'kind'],
        message: `"${name}" is the built-in ${builtinKind} check; it cannot be kind ${spec.kind}`,
        hint: `use kind: ${builtinKind} to change the built-in check, or another name for a new one`,
      })
    }
    if (spec.kind !== 'prometheus' && 'warn' in spec && 'critical' in spec && spec.warn > spec.critical) {
      problems.push({
        severity: 'error',
        path: [...at, 'warn'],
        message: `warn (${spec.warn}) is above critical (${spec.critical})`,
        hint: 'warn is the lower threshold',
      })
    }
    if (spec.kind === 'container' || spec.kind === 'containers') {
      for (const key of ['memory', 'cpu'] as const) {
        const t = spec[key]
        if (t !== undefined && t.warn > t.critical)
          problems.push({
            severity: 'error',
            path: [...at, key, 'warn'],
            message: `${key}.warn (${t.warn}) is above ${key}.critical (${t.critical})`,
            hint: 'warn is the lower threshold',
          })
      }
    }
    if (spec.kind === 'filesystem' && spec.inodesWarn > spec.inodesCritical) {
      problems.push({
        severity: 'error',
        path: [...at, 'inodesWarn'],
        message: `inodesWarn (${spec.inodesWarn}) is above inodesCritical (${spec.inodesCritical})`,
      })
    }
    if (spec.kind === 'http') {
      if (spec.match !== undefined) {
        const p = regexProblem(spec.match, [...at, 'match'])
        if (p) problems.push(p)
      }
      if (spec.certDays.critical > spec.certDays.warn)
        problems.push({
          severity: 'error',
          path: [...at, 'certDays', 'critical'],
          message: `certDays.critical (${spec.certDays.critical}) is above certDays.warn (${spec.certDays.warn})`,
        })
    }
    if (spec.kind === 'command' && spec.match !== undefined) {
      const p = regexProblem(spec.match, [...at, 'match'])
      if (p) problems.push(p)
    }
    if (spec.kind === 'container' && (spec.name === undefined) === (spec.label === undefined)) {
      problems.push({
        severity: 'error',
        path: at,
        message: 'a container check needs exactly one of "name" and "label"',
        hint: 'e.g. name: app, or label: com.docker.compose.service=app',
      })
    }
    if ('recover' in spec && spec.recover !== undefined) {
      const r = spec.recover
      if (r.action === 'exec' && r.command === undefined) {
        problems.push({
          severity: 'error',
          path: [...at, 'recover', 'command'],
          message: 'action exec needs a command',
          hint: 'e.g. command: ["systemctl", "restart", "jobs"]',
        })
      }
      if (r.on === 'critical' && 'severity' in spec && spec.severity === 'warning') {
        problems.push({
          severity: 'warning',
          path: [...at, 'recover'],
          message: 'this check fails as a warning (severity: warning), and recovery acts only on critical failures: it never acts',
          hint: 'recover.on: warning to act on its warnings, or remove severity: warning',
        })
      }
      if (r.action === 'restart' && r.container === undefined && spec.kind !== 'container') {
        problems.push({
          severity: 'error',
          path: [...at, 'recover', 'container'],
          message: `a ${spec.kind} check does not watch a container: say which one to restart`,
          hint: 'e.g. container: app, or action: exec with a command',
        })
      }
    }
    if (spec.flap !== undefined && spec.flap.failures > spec.flap.runs) {
      problems.push({
        severity: 'error',
        path: [...at, 'flap', 'failures'],
        message: `more failures (${spec.flap.failures}) than runs (${spec.flap.runs}) can never happen`,
      })
    }
  }
  if (monitor.flap !== undefined && monitor.flap.failures > monitor.flap.runs) {
    problems.push({
      severity: 'error',
      path: ['monitor', 'flap', 'failures'],
      message: `more failures (${monitor.flap.failures}) than runs (${monitor.flap.runs}) can never happen`,
    })
  }
  monitor.maintenance.forEach((window, i) => {
    const p = cronProblem(window.cron, window.timezone, ['monitor', 'maintenance', i, 'cron'])
    if (p) problems.push(p)
  })
  if (monitor.prometheus !== undefined && !monitor.prometheus.textfile.endsWith('.prom')) {
    problems.push({
      severity: 'warning',
      path: ['monitor', 'prometheus', 'textfile'],
      message: "node_exporter's textfile collector reads only files ending in .prom",
      hint: 'e.g. /var/lib/prometheus/node-exporter/ownops.prom',
    })
  }
  return problems
}
