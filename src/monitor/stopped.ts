/**
 * A check that fails because a person stopped the service's container (`docker stop mc`
 * for maintenance) is not a crash: the HTTP, TCP, Minecraft or command check of that
 * service says so, at warning instead of critical, and recovery leaves the container
 * stopped. The service's container is the one its recovery restarts (`recover.container`,
 * or the container of `recover.service`) or one it `dependsOn`. The engine's events tell
 * who stopped it; without them, an exit status a stop gives (0, 130, 137, 143) or a restart
 * policy that would have restarted a crash does.
 */
import type { Logger } from 'pino'
import { formatDuration } from '../duration.js'
import type { RestartService } from '../restart/schema.js'
import { containerEvents, inspectContainer, type Docker } from '../sys/docker.js'
import { containerName, stoppedBy, type InspectLike } from './container-health.js'
import type { PlannedCheck } from './plan.js'
import type { Observation } from './types.js'

/** The containers a check's service runs in, as far as its config says. */
export function serviceContainers(check: PlannedCheck, services: Readonly<Record<string, RestartService>>): string[] {
  if (check.spec.kind === 'container' || check.spec.kind === 'containers') return [] // they judge their own container
  const names: string[] = []
  const recover = 'recover' in check.spec ? check.spec.recover : undefined
  if (recover?.container !== undefined) names.push(recover.container)
  if (recover?.service !== undefined) {
    const svc = services[recover.service]
    names.push(svc?.container ?? recover.service)
  }
  names.push(...(check.spec.dependsOn ?? []))
  return [...new Set(names)]
}

/**
 * Marks failing observations whose service container a person stopped: warning instead of
 * critical, the message says so, and `container` carries who stopped it (recovery reads it).
 */
export async function explainStops(
  observations: Observation[],
  checks: ReadonlyMap<string, PlannedCheck>,
  services: Readonly<Record<string, RestartService>>,
  deps: { docker: () => Promise<Docker>; now: Date; log: Logger; signal: AbortSignal },
): Promise<void> {
  const looks = new Map<string, Promise<{ info: InspectLike; by: 'admin' | 'crash' | 'unknown' } | undefined>>()
  const look = (name: string) => {
    let pending = looks.get(name)
    if (pending === undefined) {
      pending = (async () => {
        const docker = await deps.docker()
        const info = (await inspectContainer(docker, name)) as InspectLike | undefined
        if (info === undefined || info.State.Running || info.State.Restarting) return undefined
        const finished = Date.parse(info.State.FinishedAt) / 1000
        const events =
          Number.isFinite(finished) && finished > 0
            ? await containerEvents(docker, info.Id, finished - 600, finished + 5, deps.signal).catch(() => undefined)
            : undefined
        return { info, by: stoppedBy(info, events) }
      })().catch((error: unknown) => {
        deps.log.debug({ err: error, container: name }, 'could not inspect the service container')
        return undefined
      })
      looks.set(name, pending)
    }
    return pending
  }
  for (const obs of observations) {
    if (obs.status !== 'critical' && obs.status !== 'warning') continue
    const check = checks.get(obs.check)
    if (check === undefined) continue
    for (const name of serviceContainers(check, services)) {
      const seen = await look(name)
      if (seen === undefined || seen.by === 'crash') continue
      const ago = Math.max(0, deps.now.getTime() - Date.parse(seen.info.State.FinishedAt))
      const when = !Number.isFinite(ago) ? '' : ago < 60_000 ? ' just now' : ` ${formatDuration(Math.floor(ago / 60_000) * 60_000)} ago`
      const who =
        seen.by === 'admin' ? 'was stopped by a person' : `stopped with exit ${seen.info.State.ExitCode} (a stop request or a clean end)`
      obs.status = 'warning'
      obs.message = `${name} ${who}${when}, not a crash: it is left stopped (${obs.message})`
      obs.value = `${name} stopped: ${obs.value}`
      obs.container = { id: seen.info.Id, name: containerName(seen.info), state: seen.info.State.Status, stoppedBy: seen.by }
      break
    }
  }
}
