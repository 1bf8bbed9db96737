/**
 * Who uses some data on this machine: the containers that mount a volume or a host path
 * (asked of the engine), and the processes that hold a file open (from /proc: every open
 * descriptor, compared by device and inode, so a process in a container is found whatever
 * path it opened the file by). A process in a container is named by its container.
 */
import { readdir, readFile, readlink, stat } from 'node:fs/promises'
import { isRemoteEngine, type Docker } from './docker.js'

export interface ContainerUse {
  name: string
  id: string
  running: boolean
}

function overlaps(a: string, b: string): boolean {
  const x = a.replace(/\/+$/, '') || '/'
  const y = b.replace(/\/+$/, '') || '/'
  return x === y || x.startsWith(`${y === '/' ? '' : y}/`) || y.startsWith(`${x === '/' ? '' : x}/`)
}

/** Containers (running or not) with `volume` mounted, or a mount whose host side overlaps `hostPath`. */
export async function containersUsing(docker: Docker, where: { volume?: string; hostPath?: string }): Promise<ContainerUse[]> {
  // A remote engine's mounts are paths on its machine: none of them is a path here.
  if (where.volume === undefined && isRemoteEngine(docker)) return []
  const list = await docker.listContainers({ all: true })
  const found: ContainerUse[] = []
  for (const c of list) {
    const uses = (c.Mounts ?? []).some(
      (m) =>
        (where.volume !== undefined && m.Type === 'volume' && m.Name === where.volume) ||
        (where.hostPath !== undefined && typeof m.Source === 'string' && m.Source !== '' && overlaps(m.Source, where.hostPath)),
    )
    if (uses) found.push({ name: (c.Names[0] ?? c.Id).replace(/^\//, ''), id: c.Id, running: c.State === 'running' })
  }
  return found
}

export interface ProcessUse {
  pid: number
  command: string
  /** The container the process runs in (its full id), when it runs in one. */
  containerId?: string
}

/** Processes other than this one holding any of `paths` open (those that exist). */
export async function processesHolding(paths: readonly string[]): Promise<ProcessUse[]> {
  const wanted = new Set<string>()
  for (const path of paths) {
    const s = await stat(path).catch(() => undefined)
    if (s !== undefined) wanted.add(`${s.dev}:${s.ino}`)
  }
  if (wanted.size === 0) return []
  const pids = (await readdir('/proc').catch(() => [] as string[])).filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid)
  const found: ProcessUse[] = []
  for (const pid of pids) {
    const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[])
    let holds = false
    for (const fd of fds) {
      const s = await stat(`/proc/${pid}/fd/${fd}`).catch(() => undefined)
      if (s !== undefined && wanted.has(`${s.dev}:${s.ino}`)) {
        holds = true
        break
      }
    }
    if (!holds) continue
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0').filter(Boolean).join(' ')
    const command = cmdline || (await readlink(`/proc/${pid}/exe`).catch(() => '?'))
    const cgroup = await readFile(`/proc/${pid}/cgroup`, 'utf8').catch(() => '')
    const id = /(?:docker[-/]|\/)([0-9a-f]{64})(?:\.scope)?\b/.exec(cgroup)?.[1]
    found.push({ pid: Number(pid), command: command.slice(0, 200), ...(id ? { containerId: id } : {}) })
  }
  return found
}
