/**
 * `kind: containers` — every container on the engine: running, health, restart loops,
 * exit codes. Stopped containers are fine when they were stopped or ended cleanly; a
 * container labelled `ownops.monitor=false` is left out.
 */
import { z } from 'zod'
import { mapLimit } from '../../concurrency.js'
import { containerEvents, inspectContainer, listContainers, type Docker } from '../../sys/docker.js'
import { globMatch } from '../../text.js'
import { assessContainer, needsEvents, parseMemo, type AssessOptions, type InspectLike } from '../container-health.js'
import { commonFields } from '../spec.js'
import type { CheckContext, CheckKind, Finding } from '../types.js'

export const schema = z.strictObject({
  kind: z.literal('containers'),
  ...commonFields,
  ignore: z.array(z.string()).default([]).meta({ description: 'Container names to leave out; * and ? match like a shell glob. A container labelled ownops.monitor=false is left out too.' }),
  restartLoop: z.number().int().min(1).default(3).meta({ description: 'Restarts between two runs that count as a restart loop (default 3); fewer are a warning.' }),
})
export type ContainersSpec = z.output<typeof schema>

export const OPT_OUT_LABEL = 'ownops.monitor'
/** The label backup uses for containers it stops during a target's backup. */
const STOP_LABEL = 'ownops.stop-during-backup'

/** Inspects containers and assesses each; shared with `kind: container`. */
export async function assessContainers(docker: Docker, ids: readonly string[], ctx: CheckContext, rowId: (name: string) => string, options: AssessOptions): Promise<Finding[]> {
  const results = await mapLimit(ids, 8, async (id): Promise<Finding | undefined> => {
    const info = (await inspectContainer(docker, id)) as InspectLike | undefined
    if (info === undefined) return undefined // removed since it was listed
    const name = info.Name.replace(/^\//, '')
    const memo = parseMemo(ctx.memo(rowId(name)))
    let events
    if (needsEvents(info, memo)) {
      const finished = Date.parse(info.State.FinishedAt) / 1000
      const started = Date.parse(info.State.StartedAt) / 1000
      if (Number.isFinite(finished) && finished > 0) {
        events = await containerEvents(docker, info.Id, Math.max(started || 0, finished - 600), finished + 5, ctx.signal).catch((error: unknown) => {
          ctx.log.debug({ err: error, container: name }, 'could not read container events')
          return undefined
        })
      }
    }
    const { finding, memo: next } = assessContainer(info, memo, events, options)
    // A container a backup target stops by label answers to the target's name too, so the
    // backup's quiet period (its lock names its targets) covers it.
    const target = (info as InspectLike & { Config?: { Labels?: Record<string, string> } }).Config?.Labels?.[STOP_LABEL]
    return { ...finding, ...(target ? { names: [...(finding.names ?? []), target] } : {}), memo: next as unknown as Record<string, unknown> }
  })
  return results.filter((r): r is Finding => r !== undefined)
}

export const containers: CheckKind<ContainersSpec> = {
  usesDocker: true,
  recoverable: false,
  async run(spec, ctx) {
    const docker = await ctx.docker()
    const list = (await listContainers(docker)).filter((c) => c.labels[OPT_OUT_LABEL] !== 'false' && !spec.ignore.some((p) => globMatch(p, c.name)))
    list.sort((a, b) => a.name.localeCompare(b.name))
    const findings = await assessContainers(docker, list.map((c) => c.id), ctx, (name) => `${ctx.name}:${name}`, { now: ctx.now, restartLoop: spec.restartLoop, mustRun: false, severity: 'critical' })
    if (findings.length === 0) return [{ status: 'ok', value: 'no containers', message: 'no containers on the engine' }]
    return findings
  },
}
