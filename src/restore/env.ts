/** What a target's restorer gets of the run: one place that builds it from the context. */
import type { Logger } from 'pino'
import type { Ctx } from '../context.js'
import type { RestoreEnv } from '../targets/types.js'
import type { ReadMeter } from '../ui/progress.js'

export function restoreEnv(
  ctx: Ctx,
  target: string,
  log: Logger,
  stamp: string,
  extra: { allowOutsideLinks?: boolean; meter?: ReadMeter | undefined } = {},
): RestoreEnv {
  return {
    target,
    log,
    signal: ctx.signal,
    docker: () => ctx.docker(),
    env: ctx.env,
    stamp,
    ...(extra.allowOutsideLinks !== undefined ? { allowOutsideLinks: extra.allowOutsideLinks } : {}),
    ...(extra.meter ? { meter: extra.meter } : {}),
  }
}
