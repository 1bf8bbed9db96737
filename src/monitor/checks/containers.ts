/**
 * `kind: containers` — every container on the engine: running, health, restart loops,
 * exit codes. Stopped containers are fine when they were stopped or ended cleanly; a
 * container labelled `ownops.monitor=false` is left out.
 */
import { z } from 'zod'
import { mapLimit } from '../../concurrency.js'
import { containerEvents, containerStats, inspectContainer, listContainers, type ContainerStats, type Docker } from '../../sys/docker.js'
import { compareNames, globMatch } from '../../text.js'
import { assessContainer, needsEvents, parseMemo, type AssessOptions, type InspectLike } from '../container-health.js'
import { assessResources, parseResourceMemo, resourceFields, type ResourceSpec } from '../resources.js'
import { commonFields } from '../spec.js'
import type { CheckContext, CheckKind, Finding } from '../types.js'

export const schema = z.strictObject({
  kind: z.literal('containers'),
  ...commonFields,
  ignore: z.array(z.string()).default([]).meta({
    description:
      'Container names to leave out, as globs (* and ?, {a,b}, [abc]). A container labelled ownops.monitor=false is left out too.',
  }),
  restartLoop: z
    .number()
    .int()
    .min(1)
    .default(3)
    .meta({ description: 'Restarts between two runs that count as a restart loop (default 3); fewer are a warning.' }),
  ...resourceFields,
})
export type ContainersSpec = z.output<typeof schema>

export const OPT_OUT_LABEL = 'ownops.monitor'
/** The label backup uses for containers it stops during a target's backup. */
const STOP_LABEL = 'ownops.stop-during-backup'

/**
 * Stats requests at once: the engine answers each at its next collection tick (about a
 * second), so 50 containers asked 8 at a time would take 7 seconds, asked together one.
 */
const STATS_CONCURRENCY = 64

/**
 * Inspects containers and assesses each, with their resources from the engine's stats
 * (`running`: the ids known to run, whose stats are asked for beside the inspections);
 * shared with `kind: container`.
 */
export async function assessContainers(
  docker: Docker,
  ids: readonly string[],
  ctx: CheckContext,
  rowId: (name: string) => string,
  options: AssessOptions & { resources?: ResourceSpec; running?: ReadonlySet<string> },
): Promise<Finding[]> {
  const wanted = options.resources?.stats === true ? ids.filter((id) => options.running?.has(id) === true) : []
  const statsDone = mapLimit(wanted, STATS_CONCURRENCY, (id) =>
    containerStats(docker, id, ctx.signal).catch((error: unknown) => {
      if (ctx.signal.aborted) throw error
      ctx.log.debug({ err: error, container: id }, 'could not read container stats')
      return undefined
    }),
  ).then((list) => new Map(wanted.map((id, i) => [id, list[i]])))
  statsDone.catch(() => undefined) // awaited below
  const inspected = await mapLimit(ids, 8, async (id): Promise<Finding | undefined> => {
    const info = (await inspectContainer(docker, id)) as InspectLike | undefined
    if (info === undefined) return undefined // removed since it was listed
    const name = info.Name.replace(/^\//, '')
    const memo = parseMemo(ctx.memo(rowId(name)))
    let events
    if (needsEvents(info, memo, options)) {
      const started = Date.parse(info.State.StartedAt) / 1000
      // A stopped container: the events of its last run; a running one: those up to its last start.
      const finished = info.State.Running ? started : Date.parse(info.State.FinishedAt) / 1000
      if (Number.isFinite(finished) && finished > 0) {
        events = await containerEvents(
          docker,
          info.Id,
          info.State.Running ? finished - 600 : Math.max(started || 0, finished - 600),
          finished + 5,
          ctx.signal,
        ).catch((error: unknown) => {
          ctx.log.debug({ err: error, container: name }, 'could not read container events')
          return undefined
        })
      }
    }
    const { finding, memo: next } = assessContainer(info, memo, events, options)
    // A container a backup target stops by label answers to the target's name too, so the
    // backup's quiet period (its lock names its targets) covers it.
    const target = (info as InspectLike & { Config?: { Labels?: Record<string, string> } }).Config?.Labels?.[STOP_LABEL]
    return {
      ...finding,
      ...(target ? { names: [...(finding.names ?? []), target] } : {}),
      memo: { ...next, ...(memo?.res === undefined ? {} : { res: memo.res }) },
      info,
    } as Finding & { info: InspectLike }
  })
  const stats = await statsDone
  return inspected
    .filter((r): r is Finding & { info: InspectLike } => r !== undefined)
    .map(({ info, ...finding }) => withResources(finding, info, stats.get(info.Id), ctx, options.resources))
}

/** Adds what a running container uses to its finding: the worse status, the readings, the memo. */
function withResources(
  finding: Finding,
  info: InspectLike,
  stats: ContainerStats | undefined,
  ctx: CheckContext,
  spec: ResourceSpec | undefined,
): Finding {
  if (!info.State.Running) {
    const { res: _dropped, ...memo } = (finding.memo ?? {}) as { res?: unknown }
    return { ...finding, memo }
  }
  if (spec === undefined || !spec.stats || stats === undefined) return finding
  const host = info.HostConfig ?? {}
  const quotaCores =
    host.CpuQuota !== undefined && host.CpuQuota > 0 && (host.CpuPeriod ?? 0) > 0 ? (host.CpuQuota / (host.CpuPeriod as number)) * 1e9 : 0
  const res = assessResources({
    name: info.Name.replace(/^\//, ''),
    stats,
    startedAt: info.State.StartedAt,
    memoryLimit: host.Memory ?? 0,
    nanoCpus: host.NanoCpus !== undefined && host.NanoCpus > 0 ? host.NanoCpus : quotaCores,
    memo: parseResourceMemo((finding.memo as { res?: unknown } | undefined)?.res),
    now: ctx.now,
    spec,
  })
  if (res === undefined) return finding
  const order = { ok: 0, unknown: 0, warning: 1, critical: 2 } as const
  const status = order[res.status] > order[finding.status] ? res.status : finding.status
  const message = res.problem === undefined ? finding.message : finding.status === 'ok' ? res.problem : `${finding.message}; ${res.problem}`
  return {
    ...finding,
    status,
    value: `${finding.value}; ${res.value}`,
    threshold: res.threshold,
    message,
    metrics: { ...finding.metrics, ...res.metrics },
    memo: { ...finding.memo, res: res.memo },
  }
}

export const containers: CheckKind<ContainersSpec> = {
  usesDocker: true,
  recoverable: false,
  async run(spec, ctx) {
    const docker = await ctx.docker()
    const list = (await listContainers(docker)).filter(
      (c) => c.labels[OPT_OUT_LABEL] !== 'false' && !spec.ignore.some((p) => globMatch(p, c.name)),
    )
    list.sort((a, b) => compareNames(a.name, b.name))
    const running = new Set(list.filter((c) => c.state === 'running').map((c) => c.id))
    const findings = await assessContainers(
      docker,
      list.map((c) => c.id),
      ctx,
      (name) => `${ctx.name}:${name}`,
      { now: ctx.now, restartLoop: spec.restartLoop, mustRun: false, severity: 'critical', resources: spec, running },
    )
    if (findings.length === 0) return [{ status: 'ok', value: 'no containers', message: 'no containers on the engine' }]
    return findings
  },
}
