/**
 * `ownops cleanup [RULE...] [--only TYPES] [--dry-run]`: runs the built-in backups rule
 * and the configured rules one after another; a failing rule does not stop the others.
 * The dry run walks exactly the same plan and prints it; the real run prints what it did.
 * The real run holds the host lock.
 */
import type { CommandResult } from '../command.js'
import type { Ctx } from '../context.js'
import { runBackupsRule } from './backups.js'
import { runDockerRule } from './docker.js'
import { runFilesRule } from './files.js'
import { runLogsRule } from './logs.js'
import { cleanupRuleTypes, type CleanupRule, type CleanupRuleType } from './schema.js'
import { runSqlRule } from './sql.js'
import { ruleReport, type RuleEnv, type RuleReport } from './types.js'
import { ExitCode, OwnopsError } from '../errors.js'
import { didYouMean, formatBytes, renderTable } from '../text.js'

export interface CleanupOptions {
  rules: string[]
  only?: string[] | undefined
  dryRun: boolean
}

export interface CleanupRunReport {
  ok: boolean
  dryRun: boolean
  freed: number
  rows: number
  rules: RuleReport[]
}

type Selected = { name: string; type: CleanupRuleType; rule?: CleanupRule }

function selectRules(ctx: Ctx, opts: CleanupOptions): Selected[] {
  const config = ctx.config().config
  const only = opts.only
    ?.flatMap((o) => o.split(','))
    .map((o) => o.trim())
    .filter(Boolean)
  for (const type of only ?? []) {
    if (!(cleanupRuleTypes as readonly string[]).includes(type)) {
      const guess = didYouMean(type, cleanupRuleTypes)
      throw new OwnopsError(`--only: no rule type "${type}"${guess ? ` (did you mean "${guess}"?)` : ''}`, {
        kind: 'usage',
        hint: `types: ${cleanupRuleTypes.join(', ')}`,
      })
    }
  }
  const all: Selected[] = [
    ...(config.cleanup.backups !== false ? [{ name: 'backups', type: 'backups' as const }] : []),
    ...Object.entries(config.cleanup.rules).map(([name, rule]) => ({ name, type: rule.type, rule })),
  ]
  let selected: Selected[]
  if (opts.rules.length > 0) {
    selected = opts.rules.map((name) => {
      const found = all.find((s) => s.name === name)
      if (found === undefined) {
        const names = all.map((s) => s.name)
        const guess = didYouMean(name, names)
        throw new OwnopsError(`no cleanup rule named "${name}"${guess ? ` (did you mean "${guess}"?)` : ''}`, {
          kind: 'usage',
          hint: names.length > 0 ? `configured rules: ${names.join(', ')}` : 'add rules under cleanup.rules (see ownops.example.yml)',
        })
      }
      return found
    })
  } else {
    selected = all.filter((s) => s.rule === undefined || s.rule.enabled)
  }
  return only === undefined ? selected : selected.filter((s) => only.includes(s.type))
}

export async function runCleanup(ctx: Ctx, opts: CleanupOptions): Promise<CommandResult> {
  const config = ctx.config().config
  const selected = selectRules(ctx, opts)
  if (!opts.dryRun) {
    const named = [...opts.rules, ...(opts.only ?? [])]
    await ctx.beginJob({ name: named.length > 0 ? `cleanup-${named.join('-')}` : 'cleanup', command: 'cleanup' })
    await ctx.lock('cleanup', [])
  }
  const log = ctx.log
  const env: RuleEnv = {
    dryRun: opts.dryRun,
    now: ctx.clock(),
    log,
    signal: ctx.signal,
    config,
    env: ctx.env,
    docker: () => ctx.docker(),
    state: ctx.stateStore(),
  }
  const reports: RuleReport[] = []
  for (const s of selected) {
    if (ctx.signal.aborted) break
    log.debug({ rule: s.name, type: s.type }, 'cleanup rule')
    try {
      reports.push(await runRule(s, env))
    } catch (error) {
      if (ctx.signal.aborted) throw error
      const report = ruleReport(s.name, s.type)
      report.ok = false
      report.error = ctx.redactor.redact((error as Error).message)
      log.error({ rule: s.name, err: error }, `cleanup rule ${s.name} failed`)
      reports.push(report)
    }
  }
  const result: CleanupRunReport = {
    ok: reports.every((r) => r.ok),
    dryRun: opts.dryRun,
    freed: reports.reduce((sum, r) => sum + r.freed, 0),
    rows: reports.reduce((sum, r) => sum + (r.rows ?? 0), 0),
    rules: reports,
  }
  const text = renderReport(result, selected.length)
  if (!opts.dryRun) {
    const failed = reports.filter((r) => !r.ok)
    if (failed.length > 0) {
      await ctx.notifySafely({
        level: 'error',
        title: `cleanup: ${failed.map((r) => r.rule).join(', ')} failed`,
        body: `${failed.map((r) => `${r.rule}: ${r.error ?? ''}`).join('\n')}\n\n${summaryLine(result)}`,
        source: { command: 'cleanup' },
      })
    } else if (config.cleanup.notifyOnSuccess && (result.freed > 0 || result.rows > 0)) {
      await ctx.notifySafely({ level: 'info', title: 'cleanup done', body: summaryLine(result), source: { command: 'cleanup' } })
    }
  }
  return { exitCode: result.ok ? ExitCode.ok : ExitCode.failed, report: result, text }
}

async function runRule(s: Selected, env: RuleEnv): Promise<RuleReport> {
  if (s.rule === undefined) {
    const backups = env.config.cleanup.backups
    return runBackupsRule(backups === false ? { partialsAfter: 86_400_000 } : backups, env)
  }
  switch (s.rule.type) {
    case 'files':
      return runFilesRule(s.name, s.rule, env)
    case 'logs':
      return runLogsRule(s.name, s.rule, env)
    case 'docker':
      return runDockerRule(s.name, s.rule, env)
    case 'sql':
      return runSqlRule(s.name, s.rule, env)
  }
}

function summaryLine(r: CleanupRunReport): string {
  const actions = r.rules.reduce((sum, x) => sum + x.actions.filter((a) => a.skipped === undefined).length, 0)
  const parts = [`${r.dryRun ? 'would free' : 'freed'} ${formatBytes(r.freed)}`]
  if (r.rows > 0 || r.rules.some((x) => x.type === 'sql'))
    parts.push(`${r.dryRun ? 'would delete' : 'deleted'} ${r.rows.toLocaleString('en-US')} row${r.rows === 1 ? '' : 's'}`)
  return `${parts.join(', ')} (${actions} action${actions === 1 ? '' : 's'}, ${r.rules.length} rule${r.rules.length === 1 ? '' : 's'}${r.rules.some((x) => !x.ok) ? `, ${r.rules.filter((x) => !x.ok).length} failed` : ''})`
}

const VERB: Record<string, [string, string]> = {
  remove: ['remove', 'removed'],
  compress: ['compress', 'compressed'],
  'drop-database': ['drop', 'dropped'],
  'delete-rows': ['delete rows', 'deleted rows'],
  prune: ['prune', 'pruned'],
  truncate: ['truncate', 'truncated'],
}

function renderReport(r: CleanupRunReport, selected: number): string {
  if (selected === 0) return 'nothing to clean up: no rules configured (cleanup.rules) and no backup targets\n'
  const rows: string[][] = []
  for (const rule of r.rules) {
    for (const a of rule.actions) {
      const verb = VERB[a.action] ?? [a.action, a.action]
      // A compressed file: its size (the WHY ends with its size compressed), not the bytes saved.
      const size =
        a.action === 'delete-rows'
          ? `${(a.rows ?? 0).toLocaleString('en-US')} rows`
          : a.size !== undefined
            ? formatBytes(a.size)
            : a.bytes !== 0
              ? formatBytes(a.bytes)
              : '-'
      rows.push([
        rule.rule,
        a.skipped !== undefined ? 'skip' : verb[r.dryRun ? 0 : 1],
        a.what,
        size,
        a.skipped !== undefined ? `${a.reason}; skipped: ${a.skipped}` : a.reason,
      ])
    }
  }
  const lines: string[] = []
  if (r.dryRun) lines.push('dry run: nothing was changed; a real run does this:')
  lines.push(rows.length > 0 ? renderTable(['RULE', 'ACTION', 'WHAT', 'SIZE', 'WHY'], rows).trimEnd() : 'nothing to clean up')
  for (const rule of r.rules) {
    if (rule.kept !== undefined && rule.kept.length > 0) {
      const byTarget = new Map<string, number>()
      for (const k of rule.kept) byTarget.set(k.target, (byTarget.get(k.target) ?? 0) + 1)
      lines.push(`${rule.rule}: keeps ${[...byTarget].map(([t, n]) => `${n} of ${t}`).join(', ')} (reasons: --json)`)
    }
    if (rule.engineReclaimed !== undefined) lines.push(`${rule.rule}: the engine reports ${formatBytes(rule.engineReclaimed)} reclaimed`)
    for (const w of rule.warnings) lines.push(`${rule.rule}: warning: ${w}`)
    if (!rule.ok) lines.push(`${rule.rule}: FAILED: ${rule.error ?? ''}`)
  }
  lines.push(summaryLine(r))
  return `${lines.join('\n')}\n`
}
