/** The facts `ownops init` gathers (facts.ts) and classifies (classify.ts). */
import type { FsUsage } from '../sys/host.js'

export interface PortFact {
  /** The port inside the container. */
  port: number
  protocol: string
  /** Where it is reachable from this machine: the published host port, or the port itself on the host network. */
  hostPort: number
  hostIp: string
  /** The status of GET / on it, when it answered HTTP. */
  httpStatus?: number
}

export interface MountFact {
  type: string
  /** The volume's name (type volume). */
  name?: string
  /** Its directory on this machine. */
  source: string
  destination: string
  readOnly: boolean
  /** A directory on this machine that is data (not a system directory, not a socket or file); unknown for a remote engine. */
  dataDir?: boolean
  /** This user may not read it (volumes need root): it was not searched. */
  unreadable?: boolean
}

export interface SqliteFileFact {
  /** The path inside the container. */
  path: string
  /** The path on this machine. */
  hostPath: string
  /** The mount that holds it. */
  mount: MountFact
}

export interface ContainerFact {
  id: string
  name: string
  image: string
  env: Record<string, string>
  labels: Record<string, string>
  cmd: string[]
  mounts: MountFact[]
  ports: PortFact[]
  networkMode: string
  /** The container's address on its first network (a bridge), when it has one. */
  ip?: string
  restartPolicy: string
  logDriver: string
  logMaxSize?: string
  sqlite: SqliteFileFact[]
  /** server.properties of a Minecraft server's data directory, when there is one. */
  serverProperties?: Record<string, string>
  /** A PostgreSQL container's databases (not the templates), when psql in it answered. */
  databases?: string[]
}

export interface VolumeFact {
  name: string
  /** Containers (running or not) that mount it. */
  usedBy: string[]
}

export interface ComposeProjectFact {
  name: string
  configFiles: string[]
  workingDir?: string
  /** Whether every config file exists on this machine. */
  filesExist: boolean
  containers: string[]
}

export interface DiskFact {
  /** What the path is: the backup directory, Docker's data, the root filesystem. */
  role: 'backup' | 'docker' | 'root'
  path: string
  usage: FsUsage
}

export interface Facts {
  containers: ContainerFact[]
  /** Stopped containers, by name (not backed up or watched; listed in the config's comments). */
  stopped: string[]
  volumes: VolumeFact[]
  compose: ComposeProjectFact[]
  disks: DiskFact[]
  remote: boolean
}
