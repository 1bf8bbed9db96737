/**
 * Container logs on the Docker host's disk: which log driver a container uses, whether its
 * log is size-limited, and how big its files are. The json-file driver (Docker's default)
 * keeps everything a container ever printed unless `max-size` is set — a common way to fill
 * a disk; the local driver rotates at 20 MB × 5 files unless told otherwise; other drivers
 * (journald, syslog, fluentd, none, …) do not write under /var/lib/docker.
 */
import { stat } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { readdir } from 'node:fs/promises'
import { mapLimit } from '../concurrency.js'
import type { Docker } from './docker.js'
import { isRemoteEngine, listContainers } from './docker.js'
import { compareNames } from '../text.js'

export interface LogPolicy {
  driver: string
  /** The log's files are bounded in size. */
  bounded: boolean
  /** For people: "json-file, no size limit", "json-file, max-size 10m × 3 files", "journald (not on Docker's disk)". */
  text: string
  /** Whether the files are under Docker's data directory (json-file, local). */
  onDisk: boolean
}

/** What a container's HostConfig.LogConfig says about its log's size. Pure. */
export function logPolicy(config: { Type?: string; Config?: Record<string, string> } | undefined): LogPolicy {
  const driver = config?.Type || 'json-file'
  const opts = config?.Config ?? {}
  const maxSize = opts['max-size']
  const maxFile = opts['max-file'] ?? '1'
  if (driver === 'json-file') {
    if (maxSize === undefined || maxSize === '' || maxSize === '-1')
      return { driver, bounded: false, text: 'json-file, no size limit', onDisk: true }
    return { driver, bounded: true, text: `json-file, max-size ${maxSize}${maxFile === '1' ? '' : ` × ${maxFile} files`}`, onDisk: true }
  }
  if (driver === 'local') {
    // The local driver's defaults: 20m per file, 5 files; max-size -1 turns the limit off.
    if (maxSize === '-1') return { driver, bounded: false, text: 'local, no size limit (max-size -1)', onDisk: true }
    return { driver, bounded: true, text: `local, max-size ${maxSize ?? '20m'} × ${opts['max-file'] ?? '5'} files`, onDisk: true }
  }
  return { driver, bounded: true, text: `${driver} (not on Docker's disk)`, onDisk: false }
}

export interface ContainerLog {
  id: string
  name: string
  state: string
  labels: Record<string, string>
  policy: LogPolicy
  /** The file the engine writes (docker inspect's LogPath), for json-file. */
  path?: string
  /** Bytes of the log and its rotated files; undefined when they cannot be read here. */
  bytes?: number
  /** Why the size is unknown: no access (not root), or the files are not on this machine. */
  unreadable?: string
}

/** The size of a log and its rotated siblings (`<path>.1`, `<path>.2.gz`, …); undefined when it is not on this machine. */
export async function logBytes(path: string): Promise<{ bytes: number } | { error: string }> {
  let total = 0
  try {
    total += (await stat(path)).size
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return { error: `${path} is not on this machine (a remote engine?)` }
    return { error: `cannot read ${path} (${code ?? (error as Error).message}; run as root)` }
  }
  const name = basename(path)
  const names = await readdir(dirname(path)).catch(() => [] as string[])
  for (const sibling of names) {
    if (sibling !== name && sibling.startsWith(`${name}.`))
      total += await stat(join(dirname(path), sibling)).then(
        (s) => s.size,
        () => 0,
      )
  }
  return { bytes: total }
}

/** Every container's log policy and size (sizes only where this machine can read them). */
export async function containerLogs(docker: Docker, signal?: AbortSignal): Promise<ContainerLog[]> {
  const list = await listContainers(docker)
  const logs = await mapLimit(list, 8, async (c): Promise<ContainerLog | undefined> => {
    signal?.throwIfAborted()
    let info
    try {
      info = await docker.getContainer(c.id).inspect()
    } catch {
      return undefined // removed since it was listed
    }
    const policy = logPolicy(info.HostConfig?.LogConfig)
    const log: ContainerLog = { id: c.id, name: c.name, state: c.state, labels: c.labels, policy }
    const path = (info as { LogPath?: string }).LogPath
    if (policy.onDisk && path && isRemoteEngine(docker)) {
      log.unreadable = 'the engine is on another machine'
    } else if (policy.onDisk && path) {
      log.path = path
      const size = await logBytes(path)
      if ('bytes' in size) log.bytes = size.bytes
      else log.unreadable = size.error
    }
    return log
  })
  return logs.filter((l): l is ContainerLog => l !== undefined).sort((a, b) => compareNames(a.name, b.name))
}
