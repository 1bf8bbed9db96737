/**
 * Containers a killed ownops run stopped and never started again: its lock record (the
 * holder is gone) still lists them. A row about such a container that is not running is
 * critical — it is down because of ownops, not because someone stopped it — until the next
 * run that takes the host lock starts it.
 */
import type { LockInfo } from '../sys/lock.js'
import type { Observation } from './types.js'

export function flagLeftStopped(observations: Observation[], abandoned: LockInfo | undefined): Observation[] {
  const stopped = new Set(abandoned?.stopped ?? [])
  if (abandoned === undefined || stopped.size === 0) return observations
  return observations.map((o) => {
    const name = o.container?.name
    if (name === undefined || !stopped.has(name) || o.container?.state === 'running') return o
    const message = `${name} was stopped by ownops ${abandoned.command} (pid ${abandoned.pid}, ${abandoned.startedAt}), which was killed before it started it again; the next ownops backup, restore or cleanup starts it, or: docker start ${name}`
    return { ...o, status: 'critical', value: `stopped by a killed ownops ${abandoned.command}`, message }
  })
}
