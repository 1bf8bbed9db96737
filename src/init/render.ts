/**
 * Findings → the text of a commented config and of its env file. Pure. Secrets appear in
 * the config only as ${VARIABLE}; their values only in the env file.
 */
import type { Finding, Secret, Section, Value } from './classify.js'

export interface RenderInput {
  findings: readonly Finding[]
  notes: readonly string[]
  envFile: string
  backupDir: string
  /** When the config was made, for its first comment (ISO date). */
  date: string
}

const PLAIN = /^[A-Za-z0-9_./@-][A-Za-z0-9_./@ -]*$/
const AMBIGUOUS = /^(true|false|yes|no|on|off|null|~|y|n)$/i

/** A YAML scalar: plain when that reads back as the same string, else double-quoted. */
export function scalar(value: string | number | boolean): string {
  if (typeof value !== 'string') return String(value)
  if (/^[0-9]+[A-Za-z]+$/.test(value) && !/^[0-9]+e[0-9]*$/i.test(value)) return value // 30d, 26h, 10GB
  if (PLAIN.test(value) && !AMBIGUOUS.test(value) && !/^[-+]?[0-9.]/.test(value) && !value.endsWith(' ')) return value
  return JSON.stringify(value)
}

function isMap(v: Value): v is { [key: string]: Value } {
  return typeof v === 'object' && !Array.isArray(v)
}

function flow(v: Value): string {
  if (Array.isArray(v)) return `[${v.map(flow).join(', ')}]`
  if (isMap(v))
    return `{ ${Object.entries(v)
      .map(([k, x]) => `${scalar(k)}: ${flow(x)}`)
      .join(', ')} }`
  return scalar(v)
}

/** Block lines of a map at an indent; lists and small maps of scalars in flow style. */
function block(map: { [key: string]: Value }, indent: number): string[] {
  const pad = ' '.repeat(indent)
  const lines: string[] = []
  for (const [key, v] of Object.entries(map)) {
    const small = isMap(v) && Object.values(v).every((x) => !isMap(x) && !Array.isArray(x)) && Object.keys(v).length <= 3
    if (isMap(v) && !small) lines.push(`${pad}${scalar(key)}:`, ...block(v, indent + 2))
    else lines.push(`${pad}${scalar(key)}: ${flow(v)}`)
  }
  return lines
}

function entry(f: Finding, indent: number): string[] {
  const pad = ' '.repeat(indent)
  return [...f.comment.map((c) => `${pad}# ${c}`), `${pad}${scalar(f.name)}:`, ...block(f.value, indent + 2)]
}

const of = (findings: readonly Finding[], section: Section) => findings.filter((f) => f.section === section)

export function renderConfig(input: RenderInput): string {
  const { findings } = input
  const backup = of(findings, 'backup')
  const monitor = of(findings, 'monitor').filter((f) => !f.needsBackupTargets || backup.length > 0)
  const restart = of(findings, 'restart')
  const cleanup = of(findings, 'cleanup')
  const boot = of(findings, 'boot')
  const out: string[] = [
    '# yaml-language-server: $schema=ownops.schema.json',
    '#',
    `# Written by \`ownops init\` on ${input.date} from what runs on this machine. Edit freely:`,
    '# `ownops config validate` checks it; `ownops config schema > ownops.schema.json` (beside this',
    '# file) gives editors completion. Secrets are not in this file: ${VAR} names a variable of the',
    '# env file below (mode 0600), which the systemd units load too.',
    ...input.notes.map((n) => `# - ${n}`),
    '',
    `envFile: ${scalar(input.envFile)}`,
    '',
    'backup:',
    `  dir: ${scalar(input.backupDir)}`,
    '  # The newest backup of each of the last 7 days, 4 weeks and 12 months (restic forget rules).',
    '  keep: { daily: 7, weekly: 4, monthly: 12 }',
  ]
  if (backup.length > 0) {
    out.push('  targets:')
    for (const f of backup) out.push(...entry(f, 4))
  } else out.push('  # No databases or volumes were found or chosen: add targets here (see `ownops backup --help`).', '  targets: {}')
  out.push('')
  out.push(
    '# The timers `sudo ownops schedule install` sets up: backup daily at 03:00, monitor every 5 minutes,',
    '# cleanup daily at 04:00 (built in: override one under schedule.jobs, or turn it off with false).',
  )
  if (boot.length > 0) {
    out.push('schedule:', '  boot:')
    for (const f of boot) out.push(...entry(f, 4))
  } else out.push('# schedule:', '#   jobs:', '#     backup: { schedule: "30 2 * * *" }')
  out.push('')
  out.push(
    '# `ownops monitor`: the built-in checks (filesystems, memory, load, swap, every container) run',
    '# without entries here; these add what was found. A check alerts after 2 failed runs in a row.',
    'monitor:',
    '  failuresBeforeAlert: 2',
    '  checks:',
  )
  for (const f of monitor) out.push(...entry(f, 4))
  if (monitor.length === 0) out.splice(out.length - 1, 1, '  checks: {}')
  if (restart.length > 0) {
    out.push(
      '',
      '# Safe restarts: `ownops restart NAME --safe --in 30m`. Other containers restart with the defaults.',
      'restart:',
      '  services:',
    )
    for (const f of restart) out.push(...entry(f, 4))
  }
  if (cleanup.length > 0) {
    out.push('', '# Clean-up: `ownops cleanup --dry-run` lists what would go and why.', 'cleanup:', '  rules:')
    for (const f of cleanup) out.push(...entry(f, 4))
  }
  out.push(
    '',
    '# Notifications: add a channel to hear about failures, its URL in the env file, e.g.',
    '# notify:',
    '#   channels:',
    '#     ntfy: { url: ${NTFY_URL} }',
    '',
  )
  return out.join('\n')
}

/** The secrets the accepted findings need, once each (a service and a target may share one). */
export function secretsOf(findings: readonly Finding[]): Secret[] {
  const seen = new Map<string, Secret>()
  for (const f of findings) for (const s of f.secrets) if (!seen.has(s.variable)) seen.set(s.variable, s)
  return [...seen.values()]
}

/** A value in systemd EnvironmentFile= double quotes: \ " ` $ escaped. */
export function envValue(value: string): string {
  return `"${value.replace(/[\\"`$]/g, (c) => `\\${c}`)}"`
}

export function renderEnvFile(secrets: readonly Secret[], date: string): string {
  const lines = [
    `# Secrets of the ownops config, written by \`ownops init\` on ${date}. Keep this file mode 0600.`,
    '# KEY=value lines as systemd reads them (EnvironmentFile=); the config names them as ${KEY}.',
  ]
  for (const s of secrets)
    lines.push('', `# ${s.about}${s.value === '' ? ' (fill in)' : ''}`, `${s.variable}=${s.value === '' ? '' : envValue(s.value)}`)
  return `${lines.join('\n')}\n`
}
