/**
 * `type: mysql` / `type: mariadb` — mariadb-dump (or mysqldump on MySQL images) inside the
 * database container through the Docker exec API, with --single-transaction (a consistent
 * InnoDB snapshot without locking), routines, triggers and events; gzip'd on the way to the
 * artifact. The password travels in the exec environment (MYSQL_PWD), never in argv.
 *
 * A restore first loads the dump into new databases `<db>__ownops_restore` with errors
 * fatal — the proof that it loads — while the service runs; then, with the service stopped,
 * the live databases are rebuilt from the same dump. MySQL has no RENAME DATABASE (and
 * tables with triggers cannot move between databases), so the replaced data is kept as the
 * pre-restore safety backup, which a rollback or --undo loads back. Targets of several or
 * all databases restore every database of the dump except the system ones (`mysql`, `sys`:
 * users and grants stay as the server has them). Restores run as root with the container's
 * MARIADB_ROOT_PASSWORD / MYSQL_ROOT_PASSWORD when it has one; otherwise as the target's
 * user, whose missing privileges are named before anything changes.
 */
import { createReadStream } from 'node:fs'
import { Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createGunzip } from 'node:zlib'
import { containerNotRunning, OwnopsError } from '../errors.js'
import { compressInto } from '../sys/compress.js'
import { metered } from '../ui/progress.js'
import type { Docker } from '../sys/docker.js'
import { execCapture, execToStream, execWithInput, inspectContainer, type ContainerFacts } from '../sys/docker-exec.js'
import { parseStamp } from './leftovers.js'
import { endAndWait } from './postgres.js'
import { DumpFailure, firstError, literal, tail, type Leftover, type RestoreEnv, type Restorer, type TargetPlugin } from './types.js'
import { mysqlSchema, type MysqlTarget } from './schema.js'

export { mysqlSchema as schema, type MysqlTarget } from './schema.js'

/** Databases a restore leaves as the server has them. */
const SYSTEM_DATABASES = new Set(['mysql', 'sys', 'information_schema', 'performance_schema'])

export const quote = (name: string): string => `\`${name.replace(/`/g, '``')}\``

/** The exec environment carrying the password (MYSQL_PWD, never argv): configured, or the image's own variables. */
export function mysqlExecEnv(target: Pick<MysqlTarget, 'user' | 'password'>, facts: { env: Record<string, string> }): string[] {
  const password =
    target.password ??
    (target.user === 'root'
      ? (facts.env.MARIADB_ROOT_PASSWORD ?? facts.env.MYSQL_ROOT_PASSWORD)
      : (facts.env.MARIADB_PASSWORD ?? facts.env.MYSQL_PASSWORD))
  return password ? [`MYSQL_PWD=${password}`] : []
}

/** Who a restore connects as: root with the image's root password when there is one, else the target's user. */
export function restoreAccess(
  target: Pick<MysqlTarget, 'user' | 'password'>,
  facts: { env: Record<string, string> },
): { user: string; env: string[]; root: boolean } {
  if (target.user === 'root') return { user: 'root', env: mysqlExecEnv(target, facts), root: true }
  const rootPassword = facts.env.MARIADB_ROOT_PASSWORD ?? facts.env.MYSQL_ROOT_PASSWORD
  if (rootPassword) return { user: 'root', env: [`MYSQL_PWD=${rootPassword}`], root: true }
  return { user: target.user, env: mysqlExecEnv(target, facts), root: false }
}

function configuredDatabases(target: MysqlTarget): string[] | undefined {
  return target.database === undefined ? undefined : Array.isArray(target.database) ? target.database : [target.database]
}

interface MysqlConnection {
  docker: Docker
  facts: ContainerFacts
  client: string
  sql(query: string, options?: { database?: string }): Promise<string>
}

async function connect(
  target: MysqlTarget,
  access: { user: string; env: string[] } | undefined,
  env: { docker(): Promise<Docker> },
  purpose: string,
): Promise<MysqlConnection> {
  const docker = await env.docker()
  const facts = await inspectContainer(docker, target.container)
  if (!facts.running) throw containerNotRunning(target.container, purpose)
  const probe = await execCapture(docker, target.container, ['sh', '-c', 'command -v mariadb || command -v mysql'])
  const client = probe.stdout.trim().split('\n')[0]
  if (probe.exitCode !== 0 || !client)
    throw new OwnopsError(`neither mariadb nor mysql is available in container ${target.container}`, { kind: 'failed' })
  const who = access ?? { user: target.user, env: mysqlExecEnv(target, facts) }
  return {
    docker,
    facts,
    client,
    async sql(query, options = {}) {
      const r = await execCapture(
        docker,
        target.container,
        [
          client,
          `--user=${who.user}`,
          '--default-character-set=utf8mb4',
          '--batch',
          '--skip-column-names',
          ...(options.database ? [options.database] : []),
          '-e',
          query,
        ],
        { env: who.env },
      )
      if (r.exitCode !== 0)
        throw new DumpFailure(
          `${client.split('/').pop() ?? client} in ${facts.name} failed: ${firstError(r.stderr) ?? `exit ${r.exitCode}`}`,
          tail(r.stderr),
        )
      return r.stdout.replace(/\n$/, '')
    },
  }
}

/**
 * Rewrites a dump of `--databases`/`--all-databases` while it streams: `map` gives each
 * database its new name (its `CREATE DATABASE … \`X\`` and `USE \`X\`` lines name it), or
 * null to leave its whole section out. `seen` collects the databases of the dump.
 */
export function retargetDump(map: string | ((database: string) => string | null), seen?: string[]): Transform {
  const rename = typeof map === 'string' ? () => map : map
  let skipping = false
  let pending: Buffer = Buffer.alloc(0)
  const nameIn = (text: string): string | undefined => {
    const m = /`((?:[^`]|``)+)`/.exec(text)
    return m?.[1]?.replace(/``/g, '`')
  }
  const rewrite = (line: Buffer): Buffer | undefined => {
    const first = line[0]
    if (first === 0x2d && line.subarray(0, 20).toString('latin1') === '-- Current Database:') {
      const db = nameIn(line.toString('utf8')) ?? ''
      if (seen !== undefined && !seen.includes(db)) seen.push(db)
      skipping = rename(db) === null
      return skipping ? undefined : line
    }
    if (skipping) return undefined
    if (first !== 0x43 && first !== 0x55) return line // 'C', 'U'
    const text = line.toString('utf8')
    if (text.startsWith('CREATE DATABASE ') || text.startsWith('USE `')) {
      const db = nameIn(text) ?? ''
      if (seen !== undefined && !seen.includes(db)) seen.push(db)
      const to = rename(db)
      if (to === null) return undefined
      if (text.startsWith('USE `')) return Buffer.from(`USE ${quote(to)};\n`)
      return Buffer.from(text.replace(/`(?:[^`]|``)+`/, quote(to)))
    }
    return line
  }
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      const data = pending.length > 0 ? Buffer.concat([pending, chunk]) : chunk
      const out: Buffer[] = []
      let start = 0
      for (let nl = data.indexOf(10, start); nl !== -1; nl = data.indexOf(10, start)) {
        const line = rewrite(data.subarray(start, nl + 1))
        if (line !== undefined) out.push(line)
        start = nl + 1
      }
      pending = data.subarray(start)
      callback(null, out.length > 0 ? Buffer.concat(out) : undefined)
    },
    flush(callback) {
      callback(null, pending.length > 0 ? rewrite(pending) : undefined)
    },
  })
}

export const mysql: TargetPlugin<MysqlTarget> = {
  schema: mysqlSchema,
  description: 'mariadb-dump / mysqldump inside the database container',

  describe(target) {
    return `dump ${Array.isArray(target.database) ? target.database.join(',') : (target.database ?? 'all databases')} in ${target.container}`
  },

  rules() {
    return []
  },

  async dump(target, env) {
    const docker = await env.docker()
    const facts = await inspectContainer(docker, target.container)
    if (!facts.running) {
      throw containerNotRunning(target.container, 'the dump runs inside it')
    }
    const probe = await execCapture(docker, target.container, ['sh', '-c', 'command -v mariadb-dump || command -v mysqldump'], {
      signal: env.signal,
    })
    const tool = probe.stdout.trim().split('\n')[0]
    if (probe.exitCode !== 0 || !tool) {
      throw new OwnopsError(`neither mariadb-dump nor mysqldump is available in container ${target.container}`, {
        kind: 'failed',
        hint: 'point the target at the database container itself (the mariadb and mysql images have the dump tool)',
      })
    }
    const execEnv = mysqlExecEnv(target, facts)
    const version = await execCapture(docker, target.container, [tool, '--version'], { signal: env.signal })
    const databases = configuredDatabases(target)
    const argv = [
      tool,
      `--user=${target.user}`,
      '--single-transaction',
      '--routines',
      '--triggers',
      '--events',
      '--hex-blob',
      '--default-character-set=utf8mb4',
      ...(databases ? ['--databases', ...databases] : ['--all-databases']),
    ]
    return {
      ext: 'sql.gz',
      compression: 'gzip',
      details: { container: facts.name, image: facts.image, databases: databases ?? 'all', user: target.user, tool: version.stdout.trim() },
      needsRunning: [facts.name],
      async write(out) {
        const stage = await compressInto('gzip', out, { signal: env.signal })
        const result = await execToStream(docker, target.container, argv, stage.input, { env: execEnv, signal: env.signal })
        if (result.exitCode !== 0) {
          stage.input.destroy()
          throw new DumpFailure(
            `${tool.split('/').pop() ?? tool} in ${target.container} failed with exit ${result.exitCode}`,
            tail(result.stderr),
          )
        }
        await endAndWait(stage.input, out, stage.done)
        const warnings = result.stderr
          .split('\n')
          .map((l) => l.trim())
          .filter((l) => /warning/i.test(l) && !/password on the command line/i.test(l))
        return { warnings }
      },
    }
  },

  async client(_name, target, env) {
    const c = await connect(target, undefined, env, 'the SQL runs inside it')
    const databases = configuredDatabases(target)
    const database = databases?.length === 1 ? (databases[0] ?? '') : ''
    return {
      dialect: 'mysql',
      where: database ? `database ${database} in container ${c.facts.name}` : `container ${c.facts.name}`,
      database,
      quote,
      query: (sql, options = {}) => c.sql(sql, { ...((options.database ?? database) ? { database: options.database ?? database } : {}) }),
    }
  },

  restorer: mysqlRestorer,

  async readable(entry, _target, env) {
    const { Writable: W } = await import('node:stream')
    try {
      await pipeline(
        metered(createReadStream(entry.path, { highWaterMark: 1 << 20 }), env.meter),
        createGunzip(),
        new W({ write: (_c, _e, cb) => cb() }),
        { signal: env.signal },
      )
      return undefined
    } catch (error) {
      if (env.signal.aborted) throw error
      return `gzip stream is damaged: ${(error as Error).message}`
    }
  },

  drillPlace(_name, target, env) {
    const databases = configuredDatabases(target)
    const suffix = `__ownops_drill_${env.stamp}`.toLowerCase()
    return databases?.length === 1 ? `${(databases[0] ?? 'db').slice(0, 64 - suffix.length)}${suffix}` : suffix
  },

  async leftovers(_name, target, env) {
    const docker = await env.docker()
    const facts = await inspectContainer(docker, target.container)
    if (!facts.running) return []
    const c = await connect(target, restoreAccess(target, facts), env, 'the SQL runs inside it')
    const rows = await c.sql(
      "SELECT s.SCHEMA_NAME, COALESCE(SUM(t.DATA_LENGTH + t.INDEX_LENGTH), 0), COALESCE(MIN(t.CREATE_TIME), '') FROM information_schema.SCHEMATA s LEFT JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = s.SCHEMA_NAME WHERE s.SCHEMA_NAME LIKE '%\\_\\_ownops\\_restore' OR s.SCHEMA_NAME LIKE '%\\_\\_ownops\\_drill\\_%' GROUP BY s.SCHEMA_NAME",
    )
    const databases = configuredDatabases(target)
    const found: Leftover[] = []
    for (const line of rows.split('\n').filter(Boolean)) {
      const [db = '', size = '0', created = ''] = line.split('\t')
      const m = /^(.*)__ownops_drill_(\d{8}t\d{6}z)$/i.exec(db) ?? /^(.*)__ownops_restore$/.exec(db)
      if (!m || m[1] === undefined) continue
      if (databases !== undefined && m[1] !== '' && !databases.some((d) => d.startsWith(m[1] ?? ''))) continue
      // A staging database has no time in its name: its oldest table, else its directory in the data directory.
      const time =
        m[2] !== undefined
          ? parseStamp(m[2])
          : created
            ? new Date(`${created.replace(' ', 'T')}Z`)
            : await schemaTime(c, target.container, db)
      if (time === undefined || Number.isNaN(time.getTime())) continue
      found.push({
        what: `database ${db} in ${target.container}`,
        kind: 'staging',
        time,
        bytes: Number(size) || 0,
        remove: async () => void (await c.sql(`DROP DATABASE IF EXISTS ${quote(db)}`)),
      })
    }
    return found
  },
}

async function schemaTime(c: MysqlConnection, container: string, db: string): Promise<Date | undefined> {
  const datadir = await c.sql('SELECT @@datadir').catch(() => '')
  if (!datadir.startsWith('/')) return undefined
  const r = await execCapture(c.docker, container, ['stat', '-c', '%Y', `${datadir.replace(/\/$/, '')}/${db}`])
  const seconds = Number(r.stdout.trim())
  return r.exitCode === 0 && seconds > 0 ? new Date(seconds * 1000) : undefined
}

async function mysqlRestorer(target: MysqlTarget, env: RestoreEnv): Promise<Restorer> {
  const container = target.container
  const docker = await env.docker()
  const facts = await inspectContainer(docker, container)
  const access = restoreAccess(target, facts)
  const c = await connect(target, access, env, 'the restore runs inside it')
  const configured = configuredDatabases(target)
  const single = configured?.length === 1 ? (configured[0] as string) : undefined
  const base = [c.client, `--user=${access.user}`, '--default-character-set=utf8mb4']
  const stagingName = (db: string, suffix = '__ownops_restore'): string => `${db.slice(0, 64 - suffix.length)}${suffix}`
  const exists = async (name: string): Promise<boolean> =>
    (await c.sql(`SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ${literal(name)}`)) === '1'
  const drop = (name: string): Promise<string> => c.sql(`DROP DATABASE IF EXISTS ${quote(name)}`)
  /** Loads `file` (a gzip'd dump) with every database renamed by `map`; returns the databases seen. */
  const load = async (file: string, map: (db: string) => string | null, signal?: AbortSignal): Promise<string[]> => {
    const seen: string[] = []
    const input = metered(createReadStream(file, { highWaterMark: 1 << 20 }), env.meter)
      .pipe(createGunzip())
      .pipe(retargetDump(map, seen))
    const r = await execWithInput(docker, container, base, input, { env: access.env, ...(signal ? { signal } : {}) })
    if (r.exitCode !== 0) throw new DumpFailure(`loading the dump failed with exit ${r.exitCode}`, tail(r.stderr))
    return seen
  }
  const userDb = (db: string): boolean => !SYSTEM_DATABASES.has(db)
  /** The databases a restore of this target replaces: the configured ones, or those of the dump. */
  const live = (staged?: string[]): string[] => configured ?? (staged ?? []).filter(userDb)
  const describeLive =
    single !== undefined
      ? `database ${single} in ${container}`
      : configured !== undefined
        ? `databases ${configured.join(', ')} in ${container}`
        : `every database of the dump in ${container} (not mysql and sys: users and grants stay)`

  return {
    needsSafetyCopy: true,
    runsIn: container,
    async place() {
      const any = single !== undefined ? await exists(single) : true
      return { live: describeLive, kept: 'the pre-restore safety backup (loaded back on rollback or --undo)', exists: any }
    },
    async users() {
      return { containers: [], processes: [] }
    },
    async preflight(_entry, to) {
      if (to !== undefined && single === undefined) {
        throw new OwnopsError(
          `--to restores one database; this ${target.type} target holds ${configured === undefined ? 'all databases' : 'several'}`,
          { kind: 'usage', hint: 'verify --drill loads every database of the backup side by side and drops them again' },
        )
      }
      if (to !== undefined && (await exists(to)))
        throw new OwnopsError(`database ${to} already exists in ${container}`, {
          kind: 'failed',
          hint: 'choose another --to name, or drop it first',
        })
      if (access.root) return
      // Without root: prove now, on an empty database of the staging name, that the user may create and drop it.
      const probe = to ?? stagingName(single ?? target.user)
      try {
        await c.sql(`CREATE DATABASE IF NOT EXISTS ${quote(probe)}`)
        await drop(probe)
      } catch (error) {
        throw new OwnopsError(
          `user ${target.user} may not create the database ${probe} that a staged restore needs (${(error as Error).message.replace(/^.*failed: /, '')})`,
          {
            kind: 'permission',
            hint: `give the container its root password (MARIADB_ROOT_PASSWORD), which ownops then uses, or grant it: GRANT ALL PRIVILEGES ON \`${(single ?? target.user).replace(/_/g, '\\_')}\\_\\_ownops\\_%\`.* TO '${target.user}'@'%';`,
          },
        )
      }
      if (single === undefined) {
        throw new OwnopsError(
          `restoring several databases needs root; container ${container} has no MARIADB_ROOT_PASSWORD or MYSQL_ROOT_PASSWORD`,
          { kind: 'permission', hint: 'set user: root and password: for this target' },
        )
      }
    },
    async stage(entry, to) {
      // `to`: a database name (one database), or a suffix for every database (`__…`, drills of several).
      const suffix = to !== undefined && single === undefined && to.startsWith('__') ? to : undefined
      const target1 = (db: string): string | null =>
        !userDb(db) || (configured !== undefined && !configured.includes(db))
          ? null
          : suffix !== undefined
            ? stagingName(db, suffix)
            : single !== undefined
              ? (to ?? stagingName(db))
              : stagingName(db)
      if (to !== undefined && single !== undefined && (await exists(to)))
        throw new OwnopsError(`database ${to} already exists in ${container}`, {
          kind: 'failed',
          hint: 'choose another --to name, or drop it first',
        })
      const made: string[] = []
      try {
        // The staging databases of an earlier, unfinished restore go first.
        for (const db of live()) await drop(target1(db) ?? '')
        const seen = await load(
          entry.path,
          (db) => {
            const name = target1(db)
            if (name !== null && !made.includes(name)) made.push(name)
            return name
          },
          env.signal,
        )
        const restored = seen.filter((db) => target1(db) !== null)
        if (restored.length === 0)
          throw new OwnopsError(`the dump ${entry.manifest.file} holds no database ownops restores (${seen.join(', ') || 'none'})`, {
            kind: 'failed',
          })
        return { where: made.join(','), details: { entry: entry.path, databases: restored, staged: made } }
      } catch (error) {
        for (const name of made) await drop(name).catch(() => undefined)
        throw error
      }
    },
    async swap(staged, safety) {
      const entryPath = staged.details?.entry
      const databases = staged.details?.databases
      if (typeof entryPath !== 'string' || !Array.isArray(databases)) throw new Error('staged restore without its backup')
      // The staged load proved the dump; the live databases are rebuilt from it.
      for (const db of databases as string[]) await drop(db)
      await load(entryPath, (db) => ((databases as string[]).includes(db) ? db : null))
      for (const name of (staged.details?.staged as string[] | undefined) ?? [])
        await drop(name).catch((error: unknown) => env.log.warn({ err: error }, `could not drop ${name}`))
      return { live: (databases as string[]).join(','), ...(safety !== undefined ? { kept: safety.path } : {}) }
    },
    async rollback(swapped) {
      const databases = swapped.live.split(',').filter(Boolean)
      for (const db of databases) await drop(db)
      if (swapped.kept !== undefined) await load(swapped.kept, (db) => (databases.includes(db) ? db : null))
    },
    async discard(staged) {
      for (const name of (staged.details?.staged as string[] | undefined) ?? staged.where.split(',').filter(Boolean)) await drop(name)
    },
    async check(staged) {
      let tables = 0
      let rows = 0
      for (const name of (staged.details?.staged as string[] | undefined) ?? [staged.where]) {
        const list = (
          await c.sql(
            `SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ${literal(name)} AND TABLE_TYPE = 'BASE TABLE' ORDER BY 1`,
          )
        )
          .split('\n')
          .filter(Boolean)
        tables += list.length
        // Every table read to its end, in one statement (one round trip however many tables).
        if (list.length > 0)
          rows += Number(await c.sql(`SELECT ${list.map((table) => `(SELECT COUNT(*) FROM ${quote(name)}.${quote(table)})`).join(' + ')}`))
      }
      return { tables, rows }
    },
    async undo(kept) {
      const { stat } = await import('node:fs/promises')
      if (
        !(await stat(kept).then(
          () => true,
          () => false,
        ))
      )
        throw new OwnopsError(`${kept} is gone; nothing to undo`, { kind: 'failed' })
      const seen: string[] = []
      await pipeline(
        createReadStream(kept).pipe(createGunzip()),
        retargetDump((db) => db, seen),
        new (await import('node:stream')).Writable({ write: (_c, _e, cb) => cb() }),
      )
      const databases = live(seen).filter((db) => seen.includes(db))
      for (const db of databases) await drop(db)
      await load(kept, (db) => (databases.includes(db) ? db : null))
      return { live: databases.join(',') }
    },
  }
}
