/**
 * Facts → findings: what `ownops init` proposes to back up, watch, restart, clean up and
 * start at boot. Pure: no Docker, no files. Each finding is one entry of the config, with
 * the comment lines that explain it and the secrets it needs in the env file (by variable
 * name in the config; the value only ever goes to the env file).
 *
 * Database passwords are not copied: the postgres and mysql/mariadb targets read the
 * container's own POSTGRES_PASSWORD / MARIADB_ROOT_PASSWORD … when they exec the dump tool.
 */
import { has, kindOf } from './kind.js'
import type { ContainerFact, Facts, MountFact, PortFact, SqliteFileFact } from './types.js'

export { kindOf } from './kind.js'

export type Section = 'backup' | 'monitor' | 'restart' | 'cleanup' | 'boot'

/** A YAML value of a config entry: scalars, lists and maps. */
export type Value = string | number | boolean | Value[] | { [key: string]: Value }

export interface Secret {
  /** The variable the config names as ${VARIABLE}. */
  variable: string
  /** Its value (empty: the user fills it in). Never printed. */
  value: string
  /** What it is, for the env file's comment. */
  about: string
}

export interface Finding {
  /** section:name, unique. */
  id: string
  section: Section
  /** The key of the entry in its section (a valid config name). */
  name: string
  /** One line for the prompt and the summary. */
  summary: string
  /** Comment lines written above the entry. */
  comment: string[]
  value: { [key: string]: Value }
  secrets: Secret[]
  /** Asked and written only when a backup target was accepted (the backup freshness check). */
  needsBackupTargets?: boolean
  /** Something the user must finish by hand (a password to fill in). */
  todo?: string
}

export interface Classified {
  findings: Finding[]
  /** Comment lines for the top of the config: what was seen and left alone. */
  notes: string[]
}

const NAME_OK = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/
/** Built-in check names (and the engine's row): a check of a container gets another name. */
const RESERVED_CHECKS = new Set(['filesystems', 'memory', 'load', 'swap', 'containers', 'docker', 'backups', 'docker-logs'])

/** A config name from a container or volume name: letters, digits, - _ . only, starting with a letter or digit. */
export function configName(raw: string): string {
  const clean = raw
    .replace(/[^A-Za-z0-9_.-]+/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .replace(/-+$/, '')
  return NAME_OK.test(clean) ? clean : `x${clean.replace(/[^A-Za-z0-9]/g, '') || '0'}`
}

/** An env variable name: A-Z, 0-9 and _, not starting with a digit. */
export function envName(...parts: string[]): string {
  const name = parts
    .join('_')
    .toUpperCase()
    .replace(/[^A-Z0-9_]+/g, '_')
    .replace(/_+/g, '_')
    .replace(/^_|_$/g, '')
  return /^[0-9]/.test(name) ? `_${name}` : name
}

class Names {
  private readonly used = new Map<Section, Set<string>>()
  take(section: Section, wanted: string, reserved: Set<string> = new Set()): string {
    const set = this.used.get(section) ?? new Set<string>()
    this.used.set(section, set)
    const base = configName(wanted)
    let name = reserved.has(base) ? `${base}-container` : base
    for (let n = 2; set.has(name); n++) name = `${base}-${n}`
    set.add(name)
    return name
  }
}

/** A port of the container as seen from this machine, or why it cannot be reached. */
function reach(c: ContainerFact, port: number): { host: string; port: number; note?: string } | undefined {
  if (c.networkMode === 'host') return { host: '127.0.0.1', port }
  const published = c.ports.find((p) => p.port === port && p.protocol === 'tcp')
  if (published !== undefined) return { host: loopbackFor(published), port: published.hostPort }
  if (c.ip !== undefined)
    return {
      host: c.ip,
      port,
      note: `${c.ip} is the container's address on its Docker network: it may change when the container is recreated; publishing the port on 127.0.0.1 (ports: ["127.0.0.1:${port}:${port}"]) keeps it stable`,
    }
  return undefined
}

function loopbackFor(p: PortFact): string {
  return p.hostIp === '' || p.hostIp === '0.0.0.0' || p.hostIp === '::' ? '127.0.0.1' : p.hostIp
}

/** The data mount of a Minecraft server: /data (itzg/minecraft-server), else its first writable volume. */
function dataMount(c: ContainerFact): MountFact | undefined {
  return c.mounts.find((m) => m.destination.replace(/\/+$/, '') === '/data') ?? c.mounts.find((m) => m.type === 'volume' && !m.readOnly)
}

const isAnonymous = (m: MountFact) => m.type === 'volume' && (m.name === undefined || /^[0-9a-f]{64}$/.test(m.name))

function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let v = n
  let u = 0
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024
    u++
  }
  return `${v.toFixed(u === 0 ? 0 : 1)} ${units[u]}`
}

export function classify(facts: Facts, options: { backupDir: string }): Classified {
  const findings: Finding[] = []
  const notes: string[] = []
  const names = new Names()
  const coveredVolumes = new Set<string>()
  const coveredSqlite = new Set<string>()
  const coveredPaths = new Set<string>()
  const add = (f: Omit<Finding, 'id' | 'secrets'> & { secrets?: Secret[] }) =>
    findings.push({ ...f, id: `${f.section}:${f.name}`, secrets: f.secrets ?? [] })

  // Databases and game servers first: their volumes are covered by their own targets.
  for (const c of facts.containers) {
    const kind = kindOf(c)
    if (kind === 'postgres') postgresFinding(c)
    else if (kind === 'mysql' || kind === 'mariadb') mysqlFinding(c, kind)
    else if (kind === 'minecraft') minecraftFinding(c)
  }
  for (const c of facts.containers) if (kindOf(c) === 'other') otherFinding(c)

  function postgresFinding(c: ContainerFact): void {
    for (const m of c.mounts) if (m.name) coveredVolumes.add(m.name)
    const user = c.env.POSTGRES_USER ?? c.env.PGUSER ?? 'postgres'
    const fallback = c.env.POSTGRES_DB ?? c.env.PGDATABASE ?? c.env.POSTGRES_USER ?? 'postgres'
    // Every database psql listed; the maintenance database "postgres" only when it is the only one.
    const listed = (c.databases ?? []).filter((d) => d !== 'postgres' || c.databases?.length === 1 || d === fallback)
    const databases = listed.length > 0 ? listed : [fallback]
    databases.forEach((database, i) => {
      const name = names.take('backup', databases.length === 1 ? c.name : `${c.name}-${database}`)
      add({
        section: 'backup',
        name,
        summary: `back up PostgreSQL database ${database} in container ${c.name} (pg_dump inside it)`,
        comment:
          i > 0
            ? [`Database ${database} in ${c.name}.`]
            : [
                `PostgreSQL in container ${c.name} (${c.image}): pg_dump runs inside it, so versions match; one database per target${c.databases === undefined ? ' (its databases could not be listed: add a target for each other one)' : ''}.`,
                `No password is copied: ownops uses the container's own ${c.env.POSTGRES_PASSWORD !== undefined ? 'POSTGRES_PASSWORD' : 'local access'}.`,
              ],
        value: { type: 'postgres', container: c.name, database, user },
      })
    })
    containerCheck(c, 'PostgreSQL')
    for (const p of c.ports) portCheck(c, p)
  }

  function mysqlFinding(c: ContainerFact, kind: 'mysql' | 'mariadb'): void {
    for (const m of c.mounts) if (m.name) coveredVolumes.add(m.name)
    const label = kind === 'mariadb' ? 'MariaDB' : 'MySQL'
    const rootVar = ['MARIADB_ROOT_PASSWORD', 'MYSQL_ROOT_PASSWORD'].find((k) => c.env[k] !== undefined)
    const emptyRoot = has(c.env, 'MARIADB_ALLOW_EMPTY_ROOT_PASSWORD', 'MYSQL_ALLOW_EMPTY_PASSWORD')
    const userVar = ['MARIADB_USER', 'MYSQL_USER'].find((k) => c.env[k] !== undefined)
    const userPwVar = ['MARIADB_PASSWORD', 'MYSQL_PASSWORD'].find((k) => c.env[k] !== undefined)
    const database = c.env.MARIADB_DATABASE ?? c.env.MYSQL_DATABASE
    const name = names.take('backup', c.name)
    const value: Finding['value'] = { type: kind, container: c.name }
    const comment = [`${label} in container ${c.name} (${c.image}): the dump tool runs inside it.`]
    const secrets: Secret[] = []
    let todo: string | undefined
    if (rootVar !== undefined || emptyRoot) {
      comment.push(
        `No password is copied: ownops uses the container's own ${rootVar ?? 'empty root password'}. Every database (database: to pick).`,
      )
    } else if (userVar !== undefined && userPwVar !== undefined) {
      value.user = c.env[userVar] as string
      if (database !== undefined) value.database = database
      comment.push(`No password is copied: ownops uses the container's own ${userPwVar} for ${userVar}.`)
    } else {
      const variable = envName(name, 'DB_PASSWORD')
      value.password = `\${${variable}}`
      secrets.push({ variable, value: '', about: `${label} root password of container ${c.name}` })
      todo = `fill in ${variable} in the env file: the root password of ${c.name} is not in its environment`
      comment.push(`The root password is not in the container's environment: fill in ${variable} in the env file.`)
    }
    add({ section: 'backup', name, summary: `back up ${label} in container ${c.name}`, comment, value, secrets, ...(todo ? { todo } : {}) })
    containerCheck(c, label)
    for (const p of c.ports) portCheck(c, p)
  }

  function minecraftFinding(c: ContainerFact): void {
    const props = c.serverProperties ?? {}
    const enabled = (c.env.ENABLE_RCON ?? props['enable-rcon'] ?? 'true').toLowerCase() !== 'false'
    const password = c.env.RCON_PASSWORD ?? props['rcon.password']
    const rconPort = Number(c.env.RCON_PORT ?? props['rcon.port'] ?? 25575)
    const gamePort = Number(c.env.SERVER_PORT ?? props['server-port'] ?? 25565)
    const rconAt = enabled && password ? reach(c, rconPort) : undefined
    const variable = envName(configName(c.name), 'RCON_PASSWORD')
    const rcon: { [key: string]: Value } | undefined =
      rconAt === undefined || !password ? undefined : { host: rconAt.host, port: rconAt.port, password: `\${${variable}}` }
    const secrets: Secret[] =
      rcon !== undefined && password ? [{ variable, value: password, about: `RCON password of container ${c.name}` }] : []
    const rconNote = !enabled
      ? 'RCON is off (ENABLE_RCON=false): the world is archived without save-off/save-all.'
      : !password
        ? 'No RCON password in its environment or server.properties: the world is archived without save-off/save-all.'
        : rconAt === undefined
          ? `Its RCON port ${rconPort} cannot be reached from this machine (no network, not published).`
          : `RCON at ${rconAt.host}:${rconAt.port} quiesces the world (save-off, save-all flush, save-on); the password is ${variable} in the env file.`
    const data = dataMount(c)
    if (data !== undefined && !isAnonymous(data)) {
      if (data.name) coveredVolumes.add(data.name)
      const name = names.take('backup', c.name)
      add({
        section: 'backup',
        name,
        summary: `back up the Minecraft world of ${c.name} (${data.name ? `volume ${data.name}` : data.source})${rcon ? ', quiesced over RCON' : ''}`,
        comment: [
          `The game server ${c.name} (${c.image}): its data directory ${data.destination}.`,
          rconNote,
          ...(rconAt?.note ? [rconAt.note] : []),
        ],
        value: {
          type: 'directory',
          ...(data.name ? { volume: data.name } : { path: data.source }),
          exclude: ['logs/*', '*.tmp'],
          ...(rcon ? { minecraft: { rcon } } : {}),
        },
        secrets,
      })
    } else {
      notes.push(`game server ${c.name}: no named volume or bind mount holds its data, so it is not backed up`)
    }
    containerCheck(c, 'game server')
    const gameAt = reach(c, gamePort)
    if (gameAt !== undefined) {
      add({
        section: 'monitor',
        name: names.take('monitor', `${c.name}-ping`),
        summary: `watch ${c.name} as players see it (Server List Ping on ${gameAt.host}:${gameAt.port})`,
        comment: [`${c.name} answers the multiplayer screen's Server List Ping.`, ...(gameAt.note ? [gameAt.note] : [])],
        value: { kind: 'minecraft', host: gameAt.host, port: gameAt.port },
      })
    }
    const service = names.take('restart', c.name)
    add({
      section: 'restart',
      name: service,
      summary: `restart ${c.name} safely${rcon ? ' (countdown in the chat, save-all flush first)' : ''}`,
      comment: [
        `ownops restart ${service} --safe --in 15m${rcon ? ': warns the players in the chat, saves the world, stops, starts' : ''}.`,
      ],
      value: {
        container: c.name,
        ...(rcon ? { rcon } : {}),
        health: gameAt ? { minecraft: { host: gameAt.host, port: gameAt.port } } : 'docker',
        stopTimeout: '60s',
      },
      secrets: secrets.map((s) => ({ ...s })),
    })
    for (const p of c.ports) if (p.port !== gamePort && p.port !== rconPort) portCheck(c, p)
  }

  function otherFinding(c: ContainerFact): void {
    for (const file of c.sqlite) sqliteFinding(c, file)
    for (const m of c.mounts) {
      if (m.readOnly || isAnonymous(m)) continue
      if (m.type === 'volume' && m.name !== undefined) {
        if (coveredVolumes.has(m.name)) continue
        coveredVolumes.add(m.name)
        const inside = c.sqlite.filter((f) => f.mount.source === m.source)
        add({
          section: 'backup',
          name: names.take('backup', m.name),
          summary: `back up volume ${m.name} (mounted at ${m.destination} in ${c.name})`,
          comment: [
            `Volume ${m.name}: ${m.destination} in ${c.name}.`,
            ...(inside.length > 0 ? ['Its SQLite databases are left out here: their own targets copy them consistently.'] : []),
          ],
          value: { type: 'directory', volume: m.name, ...(inside.length > 0 ? { exclude: sqliteExcludes(inside) } : {}) },
        })
      } else if (m.type === 'bind' && m.dataDir === true && !coveredPaths.has(m.source)) {
        coveredPaths.add(m.source)
        const inside = c.sqlite.filter((f) => f.mount.source === m.source)
        add({
          section: 'backup',
          name: names.take('backup', `${c.name}-${m.destination.replace(/^.*\//, '') || 'root'}`),
          summary: `back up directory ${m.source} (mounted at ${m.destination} in ${c.name})`,
          comment: [
            `The directory ${m.source}: ${m.destination} in ${c.name}.`,
            ...(inside.length > 0 ? ['Its SQLite databases are left out here: their own targets copy them consistently.'] : []),
          ],
          value: { type: 'directory', path: m.source, ...(inside.length > 0 ? { exclude: sqliteExcludes(inside) } : {}) },
        })
      }
    }
    containerCheck(c, undefined)
    const web = c.ports.find((p) => p.protocol === 'tcp' && p.httpStatus !== undefined && p.httpStatus < 400)
    for (const p of c.ports) portCheck(c, p)
    if (web !== undefined) {
      const service = names.take('restart', c.name)
      add({
        section: 'restart',
        name: service,
        summary: `restart ${c.name} safely (healthy when http://${loopbackFor(web)}:${web.hostPort}/ answers)`,
        comment: [`ownops restart ${service}: stop, start, and wait until it answers HTTP again.`],
        value: { container: c.name, health: { http: `http://${loopbackFor(web)}:${web.hostPort}/` } },
      })
    }
  }

  function sqliteFinding(c: ContainerFact, file: SqliteFileFact): void {
    if (coveredSqlite.has(file.hostPath)) return
    coveredSqlite.add(file.hostPath)
    const stem = file.path.replace(/^.*\//, '').replace(/\.(db|sqlite|sqlite3)$/i, '')
    add({
      section: 'backup',
      name: names.take('backup', `${c.name}-${stem}`),
      summary: `back up SQLite database ${file.path} in ${c.name} (online backup, integrity-checked)`,
      comment: [
        `SQLite database ${file.path} in ${c.name}${file.mount.name ? ` (volume ${file.mount.name})` : ''}: copied with SQLite's online backup while it runs.`,
      ],
      value: { type: 'sqlite', container: c.name, path: file.path },
    })
  }

  function containerCheck(c: ContainerFact, what: string | undefined): void {
    add({
      section: 'monitor',
      name: names.take('monitor', c.name, RESERVED_CHECKS),
      summary: `watch container ${c.name} (running, restart loops, memory)`,
      comment: [
        `${what ? `The ${what} ` : 'Container '}${c.name}: alert when it stops, restarts in a loop, or runs out of memory.`,
        `Add recover: { action: restart, maxAttempts: 3, within: 1h } to have it restarted.`,
      ],
      value: { kind: 'container', name: c.name },
    })
  }

  function portCheck(c: ContainerFact, p: PortFact): void {
    if (p.protocol !== 'tcp') return
    const host = loopbackFor(p)
    if (p.httpStatus !== undefined) {
      const good = p.httpStatus < 400
      add({
        section: 'monitor',
        name: names.take('monitor', `${c.name}-http${c.ports.length > 1 ? `-${p.hostPort}` : ''}`),
        summary: `check http://${host}:${p.hostPort}/ of ${c.name} (answered ${p.httpStatus})`,
        comment: [
          good
            ? `${c.name} serves HTTP on port ${p.hostPort}: a 2xx or 3xx answer is healthy.`
            : `${c.name} serves HTTP on port ${p.hostPort}; / answered ${p.httpStatus} when this was written: point url: at a health endpoint.`,
        ],
        value: { kind: 'http', url: `http://${host}:${p.hostPort}/`, ...(good ? {} : { status: p.httpStatus }) },
      })
    } else {
      add({
        section: 'monitor',
        name: names.take('monitor', `${c.name}-tcp-${p.hostPort}`),
        summary: `check that ${host}:${p.hostPort} of ${c.name} accepts connections`,
        comment: [`${c.name} listens on port ${p.hostPort}.`],
        value: { kind: 'tcp', host, port: p.hostPort },
      })
    }
  }

  // The disk, backup freshness, container logs.
  const backupDisk = facts.disks.find((d) => d.role === 'backup')
  const dockerDisk = facts.disks.find((d) => d.role === 'docker')
  const diskLines = facts.disks.map(
    (d) =>
      `${d.role === 'backup' ? `backup.dir (${d.path})` : d.role === 'docker' ? `Docker's data (${d.path})` : 'the root filesystem'}: ${formatBytes(d.usage.availBytes)} free of ${formatBytes(d.usage.totalBytes)} (${Math.round(d.usage.usedPercent)}% used)`,
  )
  add({
    section: 'monitor',
    name: 'filesystems',
    summary: `watch free disk space (warn at 80% used, critical at 90%)${backupDisk ? `; ${formatBytes(backupDisk.usage.availBytes)} free for backups now` : ''}`,
    comment: [
      'Every real filesystem: space and inodes.',
      ...diskLines.map((l) => `Now: ${l}.`),
      ...(backupDisk && dockerDisk && backupDisk.usage.totalBytes === dockerDisk.usage.totalBytes
        ? ['backup.dir looks like it is on the same disk as the data: add backup.destinations for a copy off the box.']
        : []),
    ],
    value: { kind: 'filesystem', warn: 80, critical: 90 },
  })
  add({
    section: 'monitor',
    name: 'backups',
    summary: 'alert when a target has no backup younger than 26 hours',
    comment: ['Every backup target backed up within the last 26 hours (the daily backup, and some slack).'],
    value: { kind: 'backup', maxAge: '26h' },
    needsBackupTargets: true,
  })
  const unlimited = facts.containers.filter((c) => c.logDriver === 'json-file' && c.logMaxSize === undefined)
  if (unlimited.length > 0) {
    add({
      section: 'monitor',
      name: 'docker-logs',
      summary: `watch container logs without a size limit (${unlimited
        .slice(0, 3)
        .map((c) => c.name)
        .join(', ')}${unlimited.length > 3 ? ` and ${unlimited.length - 3} more` : ''})`,
      comment: ['Container logs without max-size grow until the disk is full.'],
      value: { kind: 'docker-logs', size: { warn: '1GB', critical: '10GB' } },
    })
  }

  add({
    section: 'cleanup',
    name: 'docker',
    summary: 'remove dangling images and build cache older than 30 days',
    comment: ['Docker leftovers: untagged images and old build cache (`ownops cleanup --dry-run` shows what would go).'],
    value: { type: 'docker', images: true, buildCache: { olderThan: '30d' } },
  })

  for (const p of facts.compose) {
    if (!p.filesExist) {
      notes.push(
        `compose project ${p.name}: its compose file is not on this machine (${p.configFiles.join(', ') || 'unknown'}), no boot unit`,
      )
      continue
    }
    add({
      section: 'boot',
      name: names.take('boot', p.name),
      summary: `start compose project ${p.name} at boot (${p.configFiles.join(', ')})`,
      comment: [`docker compose up -d for ${p.name} (${p.containers.join(', ')}) after docker.service at boot.`],
      value: { compose: p.configFiles.length === 1 ? (p.configFiles[0] as string) : p.configFiles, project: p.name },
    })
  }

  for (const v of facts.volumes) {
    if (v.usedBy.length === 0 && !/^[0-9a-f]{64}$/.test(v.name)) notes.push(`volume ${v.name} is not used by any container: not backed up`)
  }
  const unreadable = facts.containers.flatMap((c) => c.mounts.filter((m) => m.unreadable === true))
  if (unreadable.length > 0)
    notes.push(
      `${unreadable.length} volume(s) or directories could not be read by this user, so no SQLite database in them was found: run ownops init as root`,
    )
  if (facts.stopped.length > 0) notes.push(`stopped containers, left alone: ${facts.stopped.join(', ')}`)
  if (facts.remote) notes.push('the Docker engine is on another machine: volumes and SQLite files there were not looked at')
  notes.push(`backups go to ${options.backupDir}`)
  return { findings, notes }
}

function sqliteExcludes(files: SqliteFileFact[]): string[] {
  const out: string[] = []
  for (const f of files) {
    const base = f.hostPath.replace(/^.*\//, '')
    for (const suffix of ['', '-wal', '-shm', '-journal']) out.push(`${base}${suffix}`)
  }
  return out
}
