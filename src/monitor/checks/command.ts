/**
 * `kind: command` — any command as an argument list: its exit status and, optionally, a
 * regular expression its output must match. Exit codes listed in `warningExitCodes`
 * (e.g. 1 for Nagios-style plugins) are warnings.
 */
import { z } from 'zod'
import { argv } from '../../config/fields.js'
import { runCapture } from '../../sys/exec.js'
import { passFailFields } from '../spec.js'
import type { CheckKind } from '../types.js'

export const schema = z.strictObject({
  kind: z.literal('command'),
  ...passFailFields,
  command: argv,
  exitCodes: z.array(z.number().int()).min(1).default([0]).meta({ description: 'Exit codes that mean healthy (default [0]).' }),
  warningExitCodes: z
    .array(z.number().int())
    .default([])
    .meta({ description: 'Exit codes that mean a warning, e.g. [1] for Nagios plugins.' }),
  match: z.string().optional().meta({ description: 'A regular expression the output (stdout and stderr) must match.' }),
})
export type CommandSpec = z.output<typeof schema>

function firstLine(text: string): string {
  const line = text.trim().split('\n')[0] ?? ''
  return line.length > 160 ? `${line.slice(0, 159)}…` : line
}

export const command: CheckKind<CommandSpec> = {
  usesDocker: false,
  recoverable: true,
  async run(spec, ctx) {
    const severity = spec.severity ?? 'critical'
    const started = performance.now()
    const result = await runCapture(spec.command, { log: ctx.log, timeoutMs: ctx.timeoutMs, signal: ctx.signal, env: ctx.env })
    const ms = Math.round(performance.now() - started)
    const output = [result.stdout, result.stderr].filter((s) => s.trim() !== '').join('\n')
    const program = spec.command[0]
    if (result.exitCode === undefined) {
      const reason = result.reason ?? 'did not run'
      const text = /ENOENT/.test(reason)
        ? `command not found: ${program}`
        : /timed out/i.test(reason)
          ? `timed out after ${ctx.timeoutMs} ms`
          : reason
      return [{ status: severity, value: text, message: `${program}: ${text}` }]
    }
    const code = result.exitCode
    const metrics = { exit_code: code, duration_seconds: ms / 1000 }
    const value = `exit ${code} in ${ms} ms${firstLine(output) ? `: ${firstLine(output)}` : ''}`
    if (spec.warningExitCodes.includes(code))
      return [
        { status: 'warning', value, message: `${program} exited ${code}${firstLine(output) ? `: ${firstLine(output)}` : ''}`, metrics },
      ]
    if (!spec.exitCodes.includes(code))
      return [
        {
          status: severity,
          value,
          threshold: `exit ${spec.exitCodes.join('|')}`,
          message: `${program} exited ${code}${firstLine(output) ? `: ${firstLine(output)}` : ''}`,
          metrics,
        },
      ]
    if (spec.match !== undefined && !new RegExp(spec.match, 'm').test(output)) {
      return [
        {
          status: severity,
          value,
          threshold: `output ~ /${spec.match}/`,
          message: `${program}: the output does not match /${spec.match}/${firstLine(output) ? `: ${firstLine(output)}` : ''}`,
          metrics,
        },
      ]
    }
    return [{ status: 'ok', value, message: `${program} exited ${code}`, metrics }]
  },
}
