/** `ownops lock status` and `ownops lock run -- CMD`. */
import type { CommandResult, Ctx } from '../context.js'
import { formatDuration } from '../duration.js'
import { ExitCode } from '../errors.js'
import { runInherit } from '../sys/exec.js'
import { currentLockHolder } from '../sys/lock.js'

export async function runLockStatus(ctx: Ctx): Promise<CommandResult> {
  const dir = ctx.lockDir()
  const holder = await currentLockHolder(dir)
  if (holder === undefined) return { exitCode: ExitCode.ok, report: { held: false, dir }, text: `the host lock is free (${dir})\n` }
  const age = formatDuration(Math.max(0, ctx.clock().getTime() - Date.parse(holder.startedAt)))
  const stops = holder.stops.length > 0 ? `, stops ${holder.stops.join(', ')}` : ''
  return {
    exitCode: ExitCode.failed,
    report: { held: true, dir, holder },
    text: `held by pid ${holder.pid}: ownops ${holder.command} (since ${holder.startedAt}, ${age}${stops})\n`,
  }
}

export async function runLockRun(ctx: Ctx, argv: string[], options: Record<string, unknown>): Promise<CommandResult> {
  if (typeof options.wait === 'string') ctx.options.wait = options.wait
  const stops = typeof options.stops === 'string' ? options.stops.split(',').map((s) => s.trim()).filter(Boolean) : []
  const name = typeof options.name === 'string' ? options.name : `lock run ${argv.join(' ')}`
  await ctx.lock(name, stops)
  const exitCode = await runInherit(argv, { log: ctx.log, signal: ctx.signal, env: ctx.env, cwd: ctx.cwd })
  return { exitCode, report: { exitCode, command: argv }, text: '' }
}
