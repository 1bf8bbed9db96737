/** `ownops lock status`: who holds the host lock; `ownops lock run -- CMD`: a command of your own under it. */
import type { CommandResult } from '../command.js'
import type { Ctx } from '../context.js'
import { formatDuration } from '../duration.js'
import { ExitCode } from '../errors.js'
import { runInherit } from '../sys/exec.js'
import { abandonedLock, currentLockHolder } from '../sys/lock.js'

export async function lockStatus(ctx: Ctx): Promise<CommandResult> {
  const dir = ctx.lockDir()
  const found = await currentLockHolder(dir)
  if (found === undefined) {
    const abandoned = await abandonedLock(dir).catch(() => undefined)
    const left = abandoned?.stopped?.length
      ? `; ownops ${ctx.redactor.redact(abandoned.command)} (pid ${abandoned.pid}) was killed with ${abandoned.stopped.join(', ')} stopped: the next run that takes the lock starts them again\n`
      : '\n'
    return {
      exitCode: ExitCode.ok,
      report: { held: false, dir, ...(abandoned ? { abandoned: { ...abandoned, command: ctx.redactor.redact(abandoned.command) } } : {}) },
      text: `the host lock is free (${dir})${left}`,
    }
  }
  // The holder's command line is a script's argv, which may carry a password.
  const holder = { ...found, command: ctx.redactor.redact(found.command) }
  const age = formatDuration(Math.max(0, ctx.clock().getTime() - Date.parse(holder.startedAt)))
  const stops = holder.stops.length > 0 ? `, stops ${holder.stops.join(', ')}` : ''
  return {
    exitCode: ExitCode.failed,
    report: { held: true, dir, holder },
    text: `held by pid ${holder.pid}: ownops ${holder.command} (since ${holder.startedAt}, ${age}${stops})\n`,
  }
}

export interface LockRunOptions {
  argv: string[]
  /** Containers or targets the command stops (monitor stays quiet about them). */
  stops: string[]
  /** What to call the run in lock messages (default: the command line). */
  name?: string | undefined
}

export async function runUnderLock(ctx: Ctx, options: LockRunOptions): Promise<CommandResult> {
  const { argv, stops } = options
  const name = options.name ?? `lock run ${argv.join(' ')}`
  // A job of its own (cron runs scripts this way): `lock-run`, or `lock-run-NAME` with --name.
  const slug =
    options.name !== undefined
      ? options.name
          .toLowerCase()
          .replace(/[^a-z0-9_.-]+/g, '-')
          .replace(/^-+|-+$/g, '')
      : ''
  await ctx.beginJob({ name: slug !== '' ? `lock-run-${slug}` : 'lock-run', command: 'lock-run' })
  await ctx.lock(name, stops)
  const exitCode = await runInherit(argv, { log: ctx.log, signal: ctx.signal, env: ctx.env, cwd: ctx.cwd })
  return { exitCode, report: { exitCode, command: argv }, text: '' }
}
