/**
 * `type: docker` with `logs:` — empties json-file logs that have no size limit once they are
 * bigger than `truncateOver`.
 *
 * Why truncating is safe while dockerd writes: dockerd opens a json-file log with O_APPEND
 * and writes each entry (one JSON line) with one write(2), so after the file is cut to
 * zero the next entry lands at its new end — no hole of zeros, no half line. What is lost
 * is what the log held: `docker logs` shows only what came after, and a `docker logs -f`
 * that was following it may need to be started again. A log WITH a size limit is never
 * touched: dockerd counts that file's size for its own rotation, and cutting it under it
 * would upset the count. The file is opened without following links and must be the
 * `<id>-json.log` the engine names for that container.
 */
import { constants } from 'node:fs'
import { open } from 'node:fs/promises'
import { basename } from 'node:path'
import { logBytes, logPolicy } from '../sys/container-logs.js'
import { isRemoteEngine, listContainers } from '../sys/docker.js'
import { formatBytes, formatByteSizeExact, globMatch } from '../text.js'
import type { DockerRule } from './schema.js'
import { record, type RuleEnv, type RuleReport } from './types.js'

export async function truncateLogs(rule: string, logs: NonNullable<DockerRule['logs']>, env: RuleEnv, report: RuleReport): Promise<void> {
  const docker = await env.docker()
  if (isRemoteEngine(docker))
    throw new Error(
      'container logs are files on the Docker host, and the Docker engine is on another machine (DOCKER_HOST=ssh://…): run this rule on the Docker host',
    )
  const over = logs.truncateOver
  for (const c of await listContainers(docker)) {
    if (logs.name !== undefined && logs.name.length > 0 && !logs.name.some((g) => globMatch(g, c.name))) continue
    const info = await docker
      .getContainer(c.id)
      .inspect()
      .catch(() => undefined)
    if (info === undefined) continue
    const policy = logPolicy(info.HostConfig?.LogConfig)
    const path = (info as { LogPath?: string }).LogPath
    if (policy.driver !== 'json-file' || policy.bounded || !path) continue
    const size = await logBytes(path)
    if (!('bytes' in size)) {
      report.warnings.push(`${c.name}: ${size.error}`)
      continue
    }
    if (size.bytes <= over) continue
    const action = {
      action: 'truncate' as const,
      what: `log of container ${c.name}`,
      reason: `${formatBytes(size.bytes)}, over ${formatByteSizeExact(over)}, no size limit (json-file without max-size)`,
      bytes: size.bytes,
    }
    if (basename(path) !== `${info.Id}-json.log`) {
      record(report, { ...action, skipped: `${path} is not the engine's json-file log of this container` })
      continue
    }
    if (!env.dryRun) {
      try {
        const handle = await open(path, constants.O_WRONLY | constants.O_NOFOLLOW)
        try {
          const before = (await handle.stat()).size
          await handle.truncate(0)
          action.bytes = before
        } finally {
          await handle.close()
        }
      } catch (error) {
        const why = (error as NodeJS.ErrnoException).code ?? (error as Error).message
        record(report, { ...action, skipped: why })
        report.ok = false
        report.error ??= `could not truncate the log of ${c.name} (${path}): ${why}`
        continue
      }
      env.log.info({ rule, container: c.name, path, bytes: action.bytes }, 'truncated container log')
    }
    record(report, action)
  }
}
