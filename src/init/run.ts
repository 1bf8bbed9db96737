/**
 * `ownops init`: look at the machine, ask about each finding (or take them all with --yes),
 * write the config and its env file (never over an existing file), validate the config with
 * ownops' own loader, and show what `schedule install --dry-run` would do with it.
 */
import { existsSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { dirname, extname, join, resolve } from 'node:path'
import type { CommandResult } from '../command.js'
import type { InstallReport } from '../schedule/reports.js'
import { renderTable } from '../text.js'
import { checkConfig } from '../config/load.js'
import type { Ctx } from '../context.js'
import { ExitCode, OwnopsError } from '../errors.js'
import { writeFileExclusive } from '../sys/atomic.js'
import { closeDockerConnections, createDocker, dockerEndpoint, pingDocker } from '../sys/docker.js'
import { DEFAULT_BACKUP_DIR, DEFAULT_CONFIG_FILE, DEFAULT_ENV_FILE } from '../sys/paths.js'
import { classify, type Finding } from './classify.js'
import { gatherFacts } from './facts.js'
import { renderConfig, renderEnvFile, secretsOf } from './render.js'

export interface InitOptions {
  /** Where the config goes (the global --config); default $OWNOPS_CONFIG, else /etc/ownops/ownops.yml. */
  configPath?: string | undefined
  envFile?: string | undefined
  backupDir?: string | undefined
  /** Container name globs (--container): only these. */
  only?: readonly string[]
  /** Accept every finding without asking. */
  yes: boolean
  /** Print the config instead of writing anything. */
  print: boolean
  /** Asks about one finding (a terminal); absent: every finding is taken. */
  confirm?: ((finding: Finding) => Promise<boolean>) | undefined
}

export interface InitReport {
  ok: boolean
  config: string
  envFile: string
  written: boolean
  findings: Array<{ id: string; summary: string; accepted: boolean }>
  /** The variables the env file holds (names only). */
  secrets: string[]
  todo: string[]
  problems: Array<{ severity: string; message: string; line?: number; key?: string; hint?: string }>
  schedule?: unknown
  scheduleText?: string
  /** The config text, with --print. */
  configText?: string
}

/** The config path init writes, and the env file beside it. */
export function initPaths(ctx: Ctx, opts: Pick<InitOptions, 'configPath' | 'envFile'>): { config: string; envFile: string } {
  const config = resolve(ctx.cwd, opts.configPath ?? (ctx.env.OWNOPS_CONFIG || DEFAULT_CONFIG_FILE))
  const envFile =
    opts.envFile !== undefined
      ? resolve(ctx.cwd, opts.envFile)
      : config === DEFAULT_CONFIG_FILE
        ? DEFAULT_ENV_FILE
        : join(dirname(config), `${config.slice(dirname(config).length + 1, config.length - extname(config).length)}.env`)
  return { config, envFile }
}

function existsError(file: string, flag: string): OwnopsError {
  return new OwnopsError(`${file} exists already: ownops init never overwrites a file`, {
    kind: 'failed',
    hint: `keep it (ownops config validate checks it), move it away, or write elsewhere with ${flag} PATH`,
  })
}

export async function runInit(ctx: Ctx, opts: InitOptions): Promise<CommandResult> {
  const { config, envFile } = initPaths(ctx, opts)
  if (config === envFile)
    throw new OwnopsError('the config and the env file would be the same file', { kind: 'usage', hint: '--env-file PATH' })
  if (!opts.print) {
    if (existsSync(config)) throw existsError(config, '--config')
    if (existsSync(envFile)) throw existsError(envFile, '--env-file')
  }
  const backupDir = resolve(ctx.cwd, opts.backupDir ?? DEFAULT_BACKUP_DIR)

  const endpoint = dockerEndpoint(ctx.env)
  const docker = await createDocker(endpoint)
  ctx.defer(() => closeDockerConnections())
  await pingDocker(docker, endpoint)
  const facts = await gatherFacts(docker, { backupDir, only: opts.only ?? [] })
  const { findings, notes } = classify(facts, { backupDir })
  for (const f of findings) for (const s of f.secrets) if (s.value !== '') ctx.redactor.add(s.value)

  const accepted: Finding[] = []
  const decided: InitReport['findings'] = []
  for (const f of findings) {
    if (f.needsBackupTargets && !accepted.some((a) => a.section === 'backup')) continue
    const take = opts.confirm === undefined ? true : await opts.confirm(f)
    if (take) accepted.push(f)
    decided.push({ id: f.id, summary: f.summary, accepted: take })
  }
  const date = ctx.clock().toISOString().slice(0, 10)
  const configText = renderConfig({ findings: accepted, notes, envFile, backupDir, date })
  const secrets = secretsOf(accepted)
  const report: InitReport = {
    ok: true,
    config,
    envFile,
    written: false,
    findings: decided,
    secrets: secrets.map((s) => s.variable),
    todo: accepted.flatMap((f) => (f.todo ? [f.todo] : [])),
    problems: [],
  }
  if (opts.print) return { exitCode: ExitCode.ok, report: { ...report, configText }, text: configText }

  await writeNew(envFile, renderEnvFile(secrets, date), 0o600, '--env-file')
  try {
    await writeNew(config, configText, 0o644, '--config')
  } catch (error) {
    await rm(envFile, { force: true })
    throw error
  }
  report.written = true

  const check = checkConfig({ path: config, env: ctx.env, cwd: ctx.cwd })
  report.problems = check.problems.map((p) => ({
    severity: p.severity,
    message: p.message,
    ...(p.line !== undefined ? { line: p.line } : {}),
    ...(p.path.length > 0 ? { key: p.path.join('.') } : {}),
    ...(p.hint !== undefined ? { hint: p.hint } : {}),
  }))
  const invalid = check.problems.some((p) => p.severity === 'error')
  if (!invalid) {
    try {
      ctx.useConfig(config)
      const { installSchedule } = await import('../schedule/install.js')
      const preview = await installSchedule(ctx, { backend: 'systemd', dryRun: true })
      const planned = preview.report as InstallReport
      report.schedule = planned
      report.scheduleText = scheduleSummary(planned)
    } catch (error) {
      ctx.log.warn({ err: error }, `could not preview the schedule: ${(error as Error).message}`)
    }
  }
  report.ok = !invalid
  return { exitCode: invalid ? ExitCode.config : ExitCode.ok, report, text: summaryText(report) }
}

async function writeNew(file: string, text: string, mode: number, flag: string): Promise<void> {
  try {
    await writeFileExclusive(file, text, { mode, dirMode: 0o755 })
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'EEXIST') throw existsError(file, flag)
    if (code === 'EACCES' || code === 'EPERM')
      throw new OwnopsError(`cannot write ${file}: permission denied`, {
        kind: 'permission',
        hint: `run it as root (sudo ownops init), or write elsewhere with ${flag} PATH`,
        cause: error,
      })
    throw error
  }
}

function summaryText(r: InitReport): string {
  const lines: string[] = []
  const taken = r.findings.filter((f) => f.accepted)
  lines.push(`Found ${r.findings.length}, kept ${taken.length}:`)
  for (const f of r.findings) lines.push(`  ${f.accepted ? '+' : '-'} ${f.summary}`)
  lines.push('', `Wrote ${r.config}`)
  lines.push(
    `Wrote ${r.envFile} (mode 0600)${r.secrets.length > 0 ? `: ${r.secrets.join(', ')}` : ': no secrets needed yet; notification URLs go here'}`,
  )
  for (const t of r.todo) lines.push(`To do: ${t}`)
  const errors = r.problems.filter((p) => p.severity === 'error')
  if (errors.length > 0) {
    lines.push('', `The written config is not valid (please report this), ${errors.length} problem(s):`)
    for (const p of r.problems)
      lines.push(`  ${p.severity}: ${p.line !== undefined ? `line ${p.line}: ` : ''}${p.key ? `${p.key}: ` : ''}${p.message}`)
  } else {
    lines.push(`The config is valid${r.problems.length > 0 ? ` (${r.problems.length} warning(s): ownops config validate)` : ''}.`)
    for (const p of r.problems) lines.push(`  ${p.severity}: ${p.key ? `${p.key}: ` : ''}${p.message}`)
  }
  if (r.scheduleText !== undefined) {
    lines.push('', 'What `sudo ownops schedule install` would do (its --dry-run shows the files):', r.scheduleText.trimEnd())
  }
  const c = r.config === DEFAULT_CONFIG_FILE ? '' : `-c ${r.config} `
  lines.push('', 'Next:', `  ownops ${c}backup --dry-run`, `  ownops ${c}backup`, `  sudo ownops ${c}schedule install`)
  return `${lines.join('\n')}\n`
}

/** The files `schedule install` would write and what it would run, without the files' text. */
function scheduleSummary(planned: InstallReport): string {
  const rows = planned.changes.filter((x) => x.action !== 'unchanged').map((x) => [x.action, join(planned.dir, x.name)])
  const lines = [rows.length === 0 ? `${planned.dir}: no changes` : renderTable(['ACTION', 'FILE'], rows).trimEnd()]
  lines.push(...planned.notes, ...planned.warnings.map((w) => `warning: ${w}`))
  return lines
    .join('\n')
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n')
}
