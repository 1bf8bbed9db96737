/**
 * Fault-injection points for the fault tests: with `OWNOPS_FAULT_PAUSE=restore:swap` (a
 * comma-separated list) in its environment, a run logs `fault point restore:swap` when it
 * reaches that point and waits there until it receives a signal, so a test can interrupt it
 * exactly there. Without the variable (always, outside the tests) a point does nothing.
 */
import type { Logger } from 'pino'

export async function faultPoint(name: string, env: NodeJS.ProcessEnv, log: Logger): Promise<void> {
  const wanted = env.OWNOPS_FAULT_PAUSE
  if (wanted === undefined || !wanted.split(',').includes(name)) return
  log.warn({ faultPoint: name }, `fault point ${name}`)
  await new Promise<void>((resolve) => {
    const done = (): void => {
      process.off('SIGINT', done)
      process.off('SIGTERM', done)
      clearTimeout(timer)
      resolve()
    }
    // Never forever: a test that forgot the signal fails on its own assertions, not on a hang.
    const timer = setTimeout(done, 60_000)
    process.once('SIGINT', done)
    process.once('SIGTERM', done)
  })
}
