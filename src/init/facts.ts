/**
 * What `ownops init` looks at on this machine: the running containers (image, environment,
 * mounts, labels, ports, network), the named volumes, SQLite files on the volumes and bind
 * mounts, compose projects and the free space of the filesystems that matter. Nothing here
 * changes anything; classify.ts turns the facts into findings.
 *
 * The facts carry the containers' environments, passwords included: they stay in this
 * process (classify.ts references them by variable name, and only the env file gets a value).
 */
import { existsSync } from 'node:fs'
import { open, readdir, readFile, stat } from 'node:fs/promises'
import { dirname, join, relative } from 'node:path'
import type { Docker } from '../sys/docker.js'
import { isRemoteEngine } from '../sys/docker.js'
import { filesystemUsage } from '../sys/host.js'
import { probeHttp } from '../sys/http-probe.js'
import { connect, type PostgresTarget } from '../targets/postgres.js'
import { globMatch } from '../text.js'
import { kindOf } from './kind.js'
import type { ComposeProjectFact, ContainerFact, DiskFact, Facts, MountFact, PortFact, SqliteFileFact, VolumeFact } from './types.js'

const SQLITE_HEADER = Buffer.from('SQLite format 3\0', 'latin1')
const SQLITE_NAME = /\.(db|sqlite|sqlite3)$/i
/** Host directories that are the system, not data: never searched for SQLite files. */
const SYSTEM_DIRS = ['/usr', '/lib', '/lib64', '/bin', '/sbin', '/etc', '/proc', '/sys', '/dev', '/run', '/var/run', '/boot']
/** Bounds of the search in one mount, so a large volume does not make init slow. */
const SEARCH_DEPTH = 4
const SEARCH_ENTRIES = 5000

export interface GatherOptions {
  /** backup.dir as it will be written (for the free space of its filesystem). */
  backupDir: string
  /** Container name globs: only these containers (and their volumes and compose projects); all when empty. */
  only?: readonly string[]
}

export async function gatherFacts(docker: Docker, options: GatherOptions): Promise<Facts> {
  const remote = isRemoteEngine(docker)
  const only = options.only ?? []
  const listed = (await docker.listContainers({ all: true })).filter(
    (c) => only.length === 0 || only.some((glob) => globMatch(glob, (c.Names[0] ?? c.Id).replace(/^\//, ''))),
  )
  const containers: ContainerFact[] = []
  const stopped: string[] = []
  for (const summary of listed) {
    const name = (summary.Names[0] ?? summary.Id).replace(/^\//, '')
    if (summary.State !== 'running') {
      stopped.push(name)
      continue
    }
    const info = await docker
      .getContainer(summary.Id)
      .inspect()
      .catch(() => undefined)
    if (info === undefined || !info.State.Running) continue
    const fact = await containerFact(info, remote)
    if (kindOf(fact) === 'postgres') {
      const databases = await postgresDatabases(docker, fact)
      if (databases !== undefined) fact.databases = databases
    }
    containers.push(fact)
  }
  containers.sort((a, b) => a.name.localeCompare(b.name))

  const volumeList = await docker.listVolumes()
  const volumes: VolumeFact[] = (volumeList.Volumes ?? [])
    .filter((v) => only.length === 0 || listed.some((c) => (c.Mounts ?? []).some((m) => m.Type === 'volume' && m.Name === v.Name)))
    .map((v) => ({
      name: v.Name,
      usedBy: listed
        .filter((c) => (c.Mounts ?? []).some((m) => m.Type === 'volume' && m.Name === v.Name))
        .map((c) => (c.Names[0] ?? c.Id).replace(/^\//, '')),
    }))
    .sort((a, b) => a.name.localeCompare(b.name))

  const compose = composeProjects(containers)
  const disks: DiskFact[] = []
  const info = (await docker.info().catch(() => undefined)) as { DockerRootDir?: string } | undefined
  for (const [role, path] of [
    ['backup', nearestExisting(options.backupDir)],
    ['docker', remote ? undefined : info?.DockerRootDir],
    ['root', '/'],
  ] as const) {
    if (path === undefined || !existsSync(path)) continue
    const usage = await filesystemUsage(path).catch(() => undefined)
    if (usage !== undefined) disks.push({ role, path, usage })
  }
  return { containers, stopped, volumes, compose, disks, remote }
}

type Inspect = Awaited<ReturnType<ReturnType<Docker['getContainer']>['inspect']>>

async function containerFact(info: Inspect, remote: boolean): Promise<ContainerFact> {
  const env: Record<string, string> = {}
  for (const pair of info.Config.Env ?? []) {
    const eq = pair.indexOf('=')
    if (eq > 0) env[pair.slice(0, eq)] = pair.slice(eq + 1)
  }
  const networkMode = String(info.HostConfig.NetworkMode ?? 'default')
  const ports: PortFact[] = []
  const bindings = (info.NetworkSettings.Ports ?? {}) as Record<string, Array<{ HostIp: string; HostPort: string }> | null>
  for (const [key, hosts] of Object.entries(bindings)) {
    const [port, protocol = 'tcp'] = key.split('/')
    const first = (hosts ?? []).find((h) => h.HostPort !== '')
    if (first === undefined) continue
    ports.push({ port: Number(port), protocol, hostPort: Number(first.HostPort), hostIp: first.HostIp })
  }
  if (networkMode === 'host') {
    for (const key of Object.keys(info.Config.ExposedPorts ?? {})) {
      const [port, protocol = 'tcp'] = key.split('/')
      ports.push({ port: Number(port), protocol, hostPort: Number(port), hostIp: '127.0.0.1' })
    }
  }
  ports.sort((a, b) => a.port - b.port)
  if (!remote) for (const p of ports) await probePort(p)
  const networks = Object.values(info.NetworkSettings.Networks ?? {})
  const ip = networks.map((n) => n.IPAddress).find((a) => typeof a === 'string' && a !== '')
  const mounts: MountFact[] = (info.Mounts ?? []).map((m) => ({
    type: m.Type,
    ...(m.Name ? { name: m.Name } : {}),
    source: m.Source,
    destination: m.Destination,
    readOnly: !m.RW,
  }))
  const logConfig = info.HostConfig.LogConfig as { Type?: string; Config?: Record<string, string> } | undefined
  const fact: ContainerFact = {
    id: info.Id,
    name: info.Name.replace(/^\//, ''),
    image: info.Config.Image,
    env,
    labels: info.Config.Labels ?? {},
    cmd: [...(info.Config.Entrypoint ?? []), ...(info.Config.Cmd ?? [])].map(String),
    mounts,
    ports,
    networkMode,
    ...(ip ? { ip } : {}),
    restartPolicy: info.HostConfig.RestartPolicy?.Name ?? '',
    logDriver: logConfig?.Type ?? '',
    ...(logConfig?.Config?.['max-size'] ? { logMaxSize: logConfig.Config['max-size'] } : {}),
    sqlite: [],
  }
  if (!remote) {
    for (const mount of mounts) {
      const info = await stat(mount.source).catch((error: NodeJS.ErrnoException) => error)
      if (info instanceof Error) {
        if (info.code === 'EACCES' || info.code === 'EPERM') mount.unreadable = true
        continue
      }
      mount.dataDir = info.isDirectory() && searchable(mount)
      if (mount.dataDir) {
        const listing = await readdir(mount.source).catch((error: NodeJS.ErrnoException) => error)
        if (listing instanceof Error && (listing.code === 'EACCES' || listing.code === 'EPERM')) mount.unreadable = true
      }
      fact.sqlite.push(...(await sqliteFilesIn(mount)))
    }
    const data = mounts.find((m) => m.destination === '/data')
    if (data !== undefined) {
      const text = await readFile(join(data.source, 'server.properties'), 'utf8').catch(() => undefined)
      if (text !== undefined) fact.serverProperties = parseProperties(text)
    }
  }
  return fact
}

/** The databases of a PostgreSQL container, asked through psql in it as the target will (its own user and password). */
async function postgresDatabases(docker: Docker, c: ContainerFact): Promise<string[] | undefined> {
  const target = { type: 'postgres', user: c.env.POSTGRES_USER ?? c.env.PGUSER ?? 'postgres' } as PostgresTarget
  try {
    const conn = await connect(target, c.name, { docker: () => Promise.resolve(docker) })
    const rows = await conn.sql('SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY datname', {
      readOnly: true,
      signal: AbortSignal.timeout(10_000),
    })
    return rows.split('\n').filter((d) => d !== '')
  } catch {
    return undefined
  }
}

/** Ports that never speak HTTP (databases, the game and its RCON): not asked. */
const NOT_HTTP = new Set([3306, 5432, 6379, 11211, 25565, 25575, 27017])

/** Asks GET / of a published port: an HTTP answer (any status) makes it an http check. */
async function probePort(p: PortFact): Promise<void> {
  if (p.protocol !== 'tcp' || NOT_HTTP.has(p.port)) return
  const host = p.hostIp === '' || p.hostIp === '0.0.0.0' || p.hostIp === '::' ? '127.0.0.1' : p.hostIp
  const answer = await probeHttp({
    url: `http://${host.includes(':') ? `[${host}]` : host}:${p.hostPort}/`,
    method: 'GET',
    headers: { 'user-agent': 'ownops-init' },
    timeoutMs: 2000,
    maxBodyBytes: 1024,
  }).catch(() => undefined)
  if (answer !== undefined) p.httpStatus = answer.status
}

/** Whether a mount's files are data worth searching (not the host's system directories, not a socket). */
function searchable(mount: MountFact): boolean {
  if (mount.type !== 'volume' && mount.type !== 'bind') return false
  if (mount.type === 'bind' && mount.readOnly) return false
  return !SYSTEM_DIRS.some((dir) => mount.source === dir || mount.source.startsWith(`${dir}/`)) && mount.source !== '/'
}

/** SQLite databases on a mount: *.db, *.sqlite, *.sqlite3 files that begin with SQLite's header. */
export async function sqliteFilesIn(mount: MountFact): Promise<SqliteFileFact[]> {
  if (!searchable(mount)) return []
  const found: SqliteFileFact[] = []
  let seen = 0
  const walk = async (dir: string, depth: number): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => [])
    entries.sort((a, b) => a.name.localeCompare(b.name))
    for (const entry of entries) {
      if (++seen > SEARCH_ENTRIES) return
      const full = join(dir, entry.name)
      if (entry.isDirectory() && depth < SEARCH_DEPTH) await walk(full, depth + 1)
      else if (entry.isFile() && SQLITE_NAME.test(entry.name) && (await isSqliteFile(full))) {
        const inside = relative(mount.source, full)
        found.push({ path: join(mount.destination, inside), hostPath: full, mount })
      }
    }
  }
  const info = await stat(mount.source).catch(() => undefined)
  if (info?.isDirectory()) await walk(mount.source, 1)
  else if (info?.isFile() && SQLITE_NAME.test(mount.source) && (await isSqliteFile(mount.source)))
    found.push({ path: mount.destination, hostPath: mount.source, mount })
  return found
}

/** Whether a file begins with the 16-byte header "SQLite format 3\0". */
export async function isSqliteFile(path: string): Promise<boolean> {
  const handle = await open(path, 'r').catch(() => undefined)
  if (handle === undefined) return false
  try {
    const buffer = Buffer.alloc(SQLITE_HEADER.length)
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0)
    return bytesRead === buffer.length && buffer.equals(SQLITE_HEADER)
  } finally {
    await handle.close()
  }
}

/** Java's .properties, as far as server.properties uses it: key=value lines, # comments. */
export function parseProperties(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const line of text.split(/\r?\n/)) {
    const trimmed = line.trim()
    if (trimmed === '' || trimmed.startsWith('#') || trimmed.startsWith('!')) continue
    const eq = trimmed.search(/[=:]/)
    if (eq <= 0) continue
    out[trimmed.slice(0, eq).trim()] = trimmed.slice(eq + 1).trim()
  }
  return out
}

function composeProjects(containers: ContainerFact[]): ComposeProjectFact[] {
  const byName = new Map<string, ComposeProjectFact>()
  for (const c of containers) {
    const project = c.labels['com.docker.compose.project']
    if (project === undefined) continue
    let entry = byName.get(project)
    if (entry === undefined) {
      const files = (c.labels['com.docker.compose.project.config_files'] ?? '')
        .split(',')
        .map((f) => f.trim())
        .filter((f) => f !== '')
      const workingDir = c.labels['com.docker.compose.project.working_dir']
      const configFiles = files.map((f) => (f.startsWith('/') || workingDir === undefined ? f : join(workingDir, f)))
      entry = {
        name: project,
        configFiles,
        ...(workingDir ? { workingDir } : {}),
        filesExist: configFiles.length > 0 && configFiles.every((f) => f.startsWith('/') && existsSync(f)),
        containers: [],
      }
      byName.set(project, entry)
    }
    entry.containers.push(c.name)
  }
  return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name))
}

/** The path itself, or its nearest ancestor that exists (the backup directory may not exist yet). */
function nearestExisting(path: string): string {
  let at = path
  while (!existsSync(at) && dirname(at) !== at) at = dirname(at)
  return at
}
