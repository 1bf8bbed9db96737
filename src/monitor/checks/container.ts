/**
 * `kind: container` — one service's container(s), by name or by label, meant to be
 * running and healthy. Carries `recover:` to restart it (see ../recover.ts).
 */
import { z } from 'zod'
import { inspectContainer, listContainers } from '../../sys/docker.js'
import { resourceFields } from '../resources.js'
import { passFailFields } from '../spec.js'
import { assessContainers } from './containers.js'
import type { CheckKind } from '../types.js'

export const schema = z.strictObject({
  kind: z.literal('container'),
  ...passFailFields,
  name: z.string().optional().meta({ description: 'The container name (as in docker ps).' }),
  label: z
    .string()
    .optional()
    .meta({ description: 'Or every container with this label: key or key=value, e.g. com.docker.compose.service=app.' }),
  restartLoop: z
    .number()
    .int()
    .min(1)
    .default(3)
    .meta({ description: 'Restarts between two runs that count as a restart loop (default 3).' }),
  ...resourceFields,
})
export type ContainerSpec = z.output<typeof schema>

export const container: CheckKind<ContainerSpec> = {
  usesDocker: true,
  recoverable: true,
  async run(spec, ctx) {
    const docker = await ctx.docker()
    const severity = spec.severity ?? 'critical'
    const options = { now: ctx.now, restartLoop: spec.restartLoop, mustRun: true, severity, resources: spec }
    if (spec.name !== undefined) {
      const info = await inspectContainer(docker, spec.name)
      if (info === undefined) {
        return [{ status: severity, value: 'no such container', message: `there is no container named ${spec.name}`, names: [spec.name] }]
      }
      const [finding] = await assessContainers(docker, [info.Id], ctx, () => ctx.name, {
        ...options,
        running: new Set(info.State.Running ? [info.Id] : []),
      })
      return [
        finding
          ? { ...finding, subject: undefined, names: [...new Set([spec.name, ...(finding.names ?? [])])] }
          : { status: severity, value: 'no such container', message: `there is no container named ${spec.name}` },
      ]
    }
    const label = spec.label as string
    const list = await listContainers(docker, label)
    if (list.length === 0) return [{ status: severity, value: 'no such container', message: `no container has the label ${label}` }]
    return assessContainers(
      docker,
      list.map((c) => c.id),
      ctx,
      (name) => `${ctx.name}:${name}`,
      { ...options, running: new Set(list.filter((c) => c.state === 'running').map((c) => c.id)) },
    )
  },
}
