/** `ownops config validate | schema | show`: every problem of the config, its JSON Schema, the effective config with secrets masked. */
import { stringify } from 'yaml'
import { z } from 'zod'
import type { CommandResult } from '../command.js'
import type { Ctx } from '../context.js'
import { ExitCode } from '../errors.js'
import { maskConfigTree } from '../redact.js'
import { checkConfig } from './load.js'
import { formatProblem } from './problems.js'
import { configJsonSchema, configSchema } from './schema.js'

export async function validateConfig(ctx: Ctx): Promise<CommandResult> {
  const { scheduleChecks } = await import('../schedule/warnings.js')
  const { cleanupRootsOnDisk } = await import('../cleanup/rules.js')
  const result = checkConfig({
    path: ctx.options.config,
    env: ctx.env,
    cwd: ctx.cwd,
    extraRules: (config, file) => [...cleanupRootsOnDisk(config), ...scheduleChecks(ctx, config, file)],
  })
  if (result.loaded !== undefined) {
    ctx.redactor.addFromTree(result.loaded.config)
    for (const value of result.loaded.secretValues) ctx.redactor.add(value)
  }
  const errors = result.problems.filter((p) => p.severity === 'error')
  const file =
    result.file === undefined
      ? '(no config file: built-in defaults)'
      : result.file.startsWith(`${ctx.cwd}/`)
        ? result.file.slice(ctx.cwd.length + 1)
        : result.file
  const lines = result.problems.map(formatProblem)
  const summary =
    errors.length > 0
      ? `${file}: ${errors.length} error${errors.length === 1 ? '' : 's'}${lines.length > errors.length ? `, ${lines.length - errors.length} warning(s)` : ''}`
      : `${file}: valid${lines.length > 0 ? ` (${lines.length} warning${lines.length === 1 ? '' : 's'})` : ''}`
  const report = {
    file: result.file ?? null,
    valid: errors.length === 0,
    // A problem may quote the value it found: masked like a log line.
    problems: result.problems.map((p) => ({
      ...p,
      path: p.path.join('.'),
      message: ctx.redactor.redact(p.message),
      text: ctx.redactor.redact(formatProblem(p)),
    })),
  }
  // What this user may not read (the config, or the env file a missing variable could be in) is 77, as for every command.
  const exitCode = (result.denied ?? []).length > 0 ? ExitCode.noperm : errors.length > 0 ? ExitCode.config : ExitCode.ok
  return { exitCode, report, text: [...lines.map((l) => ctx.redactor.redact(l)), summary].join('\n') + '\n' }
}

export function configSchemaReport(): CommandResult {
  const schema = configJsonSchema()
  return { exitCode: ExitCode.ok, report: schema, text: `${JSON.stringify(schema, null, 2)}\n` }
}

/** The effective config after interpolation and defaults, with the values of secret keys masked. */
export function showConfig(ctx: Ctx): CommandResult {
  const loaded = ctx.config()
  // Durations and sizes are numbers once loaded: shown as the config writes them (2h, 500MB).
  const masked = maskConfigTree(z.encode(configSchema, loaded.config), ctx.redactor)
  return {
    exitCode: ExitCode.ok,
    report: { file: loaded.file ?? null, config: masked },
    text: `# ${loaded.file ?? 'built-in defaults'}\n${stringify(masked)}`,
  }
}
