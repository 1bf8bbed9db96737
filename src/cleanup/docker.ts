/**
 * `type: docker` — dangling images, stopped containers that match a label or name filter,
 * the build cache, and volumes the rule names. Anonymous volumes of removed containers are
 * kept; no volume is ever pruned by pattern. Sizes are the engine's own figures: image
 * sizes from its listing, and, for the real run, the space the engine says it reclaimed.
 */
import type Dockerode from 'dockerode'
import { formatDuration, formatDurationSetting } from '../duration.js'
import { isNotFound } from '../sys/docker.js'
import { truncateLogs } from './docker-logs.js'
import { globMatch } from '../text.js'
import type { DockerRule } from './schema.js'
import { record, ruleReport, type RuleEnv, type RuleReport } from './types.js'

function ageMs(rule: { olderThan?: number | undefined } | boolean | undefined): number {
  return typeof rule === 'object' ? (rule.olderThan ?? 0) : 0
}

export async function runDockerRule(name: string, rule: DockerRule, env: RuleEnv): Promise<RuleReport> {
  const report = ruleReport(name, 'docker')
  const docker = await env.docker()
  const now = env.now.getTime()
  let engineReclaimed: number | undefined

  if (rule.images !== undefined && rule.images !== false) {
    const labels = typeof rule.images === 'object' ? (rule.images.label ?? []) : []
    const cutoffSec = Math.floor((now - ageMs(rule.images)) / 1000)
    const filters: Record<string, string[]> = { dangling: ['true'], ...(labels.length > 0 ? { label: labels } : {}) }
    const images = (await docker.listImages({ filters: JSON.stringify(filters) } as Dockerode.ListImagesOptions)).filter(
      (i) => i.Created <= cutoffSec,
    )
    const reason = `dangling image${ageMs(rule.images) > 0 ? ` older than ${String((rule.images as { olderThan?: string }).olderThan)}` : ''}${labels.length > 0 ? ` with ${labels.join(', ')}` : ''}`
    if (env.dryRun) {
      for (const image of images)
        record(report, {
          action: 'remove',
          what: `image ${image.Id.replace(/^sha256:/, '').slice(0, 12)}`,
          reason: `${reason}, created ${formatDuration(now - image.Created * 1000)} ago`,
          bytes: image.Size,
        })
    } else if (images.length > 0) {
      const sizes = new Map(images.map((i) => [i.Id, i.Size]))
      const pruned = await docker.pruneImages({ filters: JSON.stringify({ ...filters, until: [String(cutoffSec)] }) })
      for (const d of pruned.ImagesDeleted ?? []) {
        if (d.Deleted === undefined) continue
        record(report, {
          action: 'remove',
          what: `image ${d.Deleted.replace(/^sha256:/, '').slice(0, 12)}`,
          reason,
          bytes: sizes.get(d.Deleted) ?? 0,
        })
      }
      engineReclaimed = (engineReclaimed ?? 0) + (pruned.SpaceReclaimed ?? 0)
    }
  }

  if (rule.containers !== undefined) {
    const c = rule.containers
    const cutoff = now - c.olderThan
    const filters: Record<string, string[]> = {
      status: ['exited', 'created', 'dead'],
      ...(c.label && c.label.length > 0 ? { label: c.label } : {}),
    }
    const listed = await docker.listContainers({
      all: true,
      size: true,
      filters: JSON.stringify(filters),
    } as Dockerode.ContainerListOptions)
    for (const summary of listed) {
      const cname = (summary.Names[0] ?? summary.Id).replace(/^\//, '')
      if (c.name && c.name.length > 0 && !c.name.some((g) => globMatch(g, cname))) continue
      const info = await docker
        .getContainer(summary.Id)
        .inspect()
        .catch(() => undefined)
      if (info === undefined || info.State.Running || info.State.Restarting || info.State.Paused) continue
      const finished = Date.parse(info.State.FinishedAt)
      const since = Number.isFinite(finished) && finished > 0 ? finished : Date.parse(info.Created)
      if (since > cutoff) continue
      const action = {
        action: 'remove' as const,
        what: `container ${cname}`,
        reason: `stopped ${formatDuration(now - since)} ago (older than ${formatDurationSetting(c.olderThan)})`,
        bytes: (summary as { SizeRw?: number }).SizeRw ?? 0,
      }
      if (!env.dryRun) {
        try {
          await docker.getContainer(summary.Id).remove({ v: false })
        } catch (error) {
          record(report, { ...action, skipped: isNotFound(error) ? 'gone already' : (error as Error).message })
          continue
        }
        env.log.info({ rule: name, container: cname }, 'removed container')
      }
      record(report, action)
    }
  }

  if (rule.buildCache !== undefined && rule.buildCache !== false) {
    const age = ageMs(rule.buildCache)
    if (env.dryRun) {
      const df = (await docker.df()) as {
        BuildCache?: Array<{ ID: string; InUse: boolean; Shared: boolean; Size: number; LastUsedAt?: string; CreatedAt: string }>
      }
      const stale = (df.BuildCache ?? []).filter((b) => !b.InUse && Date.parse(b.LastUsedAt ?? b.CreatedAt) <= now - age)
      const bytes = stale.filter((b) => !b.Shared).reduce((sum, b) => sum + b.Size, 0)
      if (stale.length > 0)
        record(report, {
          action: 'prune',
          what: `build cache (${stale.length} entries)`,
          reason: age > 0 ? `unused for over ${formatDuration(age)}` : 'not in use',
          bytes,
        })
    } else {
      const pruned = await docker.pruneBuilder(
        age > 0 ? ({ filters: JSON.stringify({ until: [`${Math.round(age / 1000)}s`] }) } as Dockerode.PruneBuilderOptions) : {},
      )
      const count = ((pruned as { CachesDeleted?: string[] | null }).CachesDeleted ?? []).length
      if (count > 0 || (pruned.SpaceReclaimed ?? 0) > 0)
        record(report, {
          action: 'prune',
          what: `build cache (${count} entries)`,
          reason: age > 0 ? `unused for over ${formatDuration(age)}` : 'not in use',
          bytes: 0,
        })
      engineReclaimed = (engineReclaimed ?? 0) + (pruned.SpaceReclaimed ?? 0)
    }
  }

  for (const volume of rule.volumes ?? []) {
    const exists = await docker
      .getVolume(volume)
      .inspect()
      .then(
        () => true,
        (error: unknown) => (isNotFound(error) ? false : Promise.reject(error)),
      )
    if (!exists) continue
    const users = await docker.listContainers({ all: true, filters: JSON.stringify({ volume: [volume] }) })
    const action = { action: 'remove' as const, what: `volume ${volume}`, reason: 'named in the rule', bytes: 0 }
    if (users.length > 0) {
      record(report, { ...action, skipped: `in use by ${users.map((u) => (u.Names[0] ?? u.Id).replace(/^\//, '')).join(', ')}` })
      continue
    }
    if (!env.dryRun) {
      await docker.getVolume(volume).remove()
      env.log.info({ rule: name, volume }, 'removed volume')
    }
    record(report, action)
  }

  if (rule.logs !== undefined) await truncateLogs(name, rule.logs, env, report)

  if (engineReclaimed !== undefined) {
    // The engine's figure replaces our estimate for what it pruned.
    const estimated = report.actions
      .filter((a) => a.action === 'remove' && a.what.startsWith('image '))
      .reduce((sum, a) => sum + a.bytes, 0)
    report.freed += engineReclaimed - estimated
    report.engineReclaimed = engineReclaimed
  }
  return report
}
