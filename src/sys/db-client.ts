/**
 * SQL against a configured database target, through the database's own client: psql or
 * mariadb/mysql inside the container (Docker exec API, the password only in the exec
 * environment), psql on the host for a `url:` target, the sqlite3 shell for SQLite files
 * (inside a container's volume: through the host path of its mount). One call runs one
 * script and returns its output, rows tab-separated, without headers.
 */
import type { BackupTarget } from '../config/schema.js'
import { ExitCode, OwnopsError } from '../errors.js'
import { resolveSqlitePath } from '../targets/sqlite.js'
import { mysqlExecEnv } from '../targets/mysql.js'
import { DumpFailure, tail } from '../targets/types.js'
import type { Docker } from './docker.js'
import { execCapture, inspectContainer } from './docker-exec.js'

export type Dialect = 'postgres' | 'mysql' | 'sqlite'

export interface DbClient {
  dialect: Dialect
  /** For messages: "database shop in container db", "/srv/jobs/jobs.db". */
  where: string
  /** The database name (PostgreSQL, MariaDB) or file (SQLite). */
  database: string
  query(sql: string, options?: { database?: string }): Promise<string>
}

export interface DbClientEnv {
  docker(): Promise<Docker>
  env: NodeJS.ProcessEnv
  signal?: AbortSignal
}

export async function openDbClient(targetName: string, target: BackupTarget, env: DbClientEnv): Promise<DbClient> {
  switch (target.type) {
    case 'postgres':
      return target.container !== undefined ? postgresInContainer(target, target.container, env) : postgresOnHost(target, env)
    case 'mysql':
    case 'mariadb':
      return mysqlInContainer(target, env)
    case 'sqlite':
      return sqliteFile(target, env)
    default:
      throw new OwnopsError(`backup target ${targetName} is a ${target.type} target, not a database`, { exitCode: ExitCode.config })
  }
}

async function runningFacts(docker: Docker, container: string) {
  const facts = await inspectContainer(docker, container)
  if (!facts.running) throw new OwnopsError(`container ${container} is not running; the SQL runs inside it`, { exitCode: ExitCode.failed, hint: `docker start ${container}` })
  return facts
}

async function postgresInContainer(target: Extract<BackupTarget, { type: 'postgres' }>, container: string, env: DbClientEnv): Promise<DbClient> {
  const docker = await env.docker()
  const facts = await runningFacts(docker, container)
  const user = target.user ?? facts.env.POSTGRES_USER ?? 'postgres'
  const database = target.database ?? facts.env.POSTGRES_DB ?? facts.env.POSTGRES_USER ?? 'postgres'
  const execEnv = facts.env.POSTGRES_PASSWORD ? [`PGPASSWORD=${facts.env.POSTGRES_PASSWORD}`] : []
  return {
    dialect: 'postgres',
    where: `database ${database} in container ${facts.name}`,
    database,
    async query(sql, options = {}) {
      const r = await execCapture(docker, container, ['psql', '-X', '-U', user, '--no-password', '-d', options.database ?? database, '-v', 'ON_ERROR_STOP=1', '-At', '-F', '\t', '-c', sql], { env: execEnv })
      if (r.exitCode !== 0) throw new DumpFailure(`psql in ${facts.name} failed: ${firstError(r.stderr) ?? `exit ${r.exitCode}`}`, tail(r.stderr))
      return r.stdout.replace(/\n$/, '')
    },
  }
}

async function postgresOnHost(target: Extract<BackupTarget, { type: 'postgres' }>, env: DbClientEnv): Promise<DbClient> {
  const url = target.url ?? ''
  const { execa } = await import('execa')
  const database = new URL(url).pathname.replace(/^\//, '') || 'postgres'
  return {
    dialect: 'postgres',
    where: `database ${database} at ${url.replace(/\/\/[^@/]*@/, '//***@')}`,
    database,
    async query(sql, options = {}) {
      const dbUrl = options.database !== undefined ? Object.assign(new URL(url), { pathname: `/${options.database}` }).toString() : url
      const r = await execa('psql', ['-X', '--no-password', `--dbname=${dbUrl}`, '-v', 'ON_ERROR_STOP=1', '-At', '-F', '\t', '-c', sql], { reject: false, env: env.env, extendEnv: false, stdin: 'ignore' })
      if (r.failed && r.exitCode === undefined) throw new OwnopsError('psql is not installed on this host', { exitCode: ExitCode.unavailable, hint: 'apt-get install postgresql-client, or use container: NAME' })
      if (r.exitCode !== 0) throw new DumpFailure(`psql failed: ${firstError(String(r.stderr)) ?? `exit ${String(r.exitCode)}`}`, tail(String(r.stderr)))
      return String(r.stdout).replace(/\n$/, '')
    },
  }
}

async function mysqlInContainer(target: Extract<BackupTarget, { type: 'mysql' | 'mariadb' }>, env: DbClientEnv): Promise<DbClient> {
  const docker = await env.docker()
  const facts = await runningFacts(docker, target.container)
  const probe = await execCapture(docker, target.container, ['sh', '-c', 'command -v mariadb || command -v mysql'])
  const client = probe.stdout.trim().split('\n')[0]
  if (probe.exitCode !== 0 || !client) throw new OwnopsError(`neither mariadb nor mysql is available in container ${target.container}`, { exitCode: ExitCode.failed })
  const database = Array.isArray(target.database) ? (target.database.length === 1 ? (target.database[0] ?? '') : '') : (target.database ?? '')
  const execEnv = mysqlExecEnv(target, facts)
  return {
    dialect: 'mysql',
    where: database ? `database ${database} in container ${facts.name}` : `container ${facts.name}`,
    database,
    async query(sql, options = {}) {
      const db = options.database ?? database
      const r = await execCapture(docker, target.container, [client, `--user=${target.user}`, '--default-character-set=utf8mb4', '--batch', '--skip-column-names', ...(db ? [db] : []), '-e', sql], { env: execEnv })
      if (r.exitCode !== 0) throw new DumpFailure(`${client.split('/').pop() ?? client} in ${facts.name} failed: ${firstError(r.stderr) ?? `exit ${r.exitCode}`}`, tail(r.stderr))
      return r.stdout.replace(/\n$/, '')
    },
  }
}

async function sqliteFile(target: Extract<BackupTarget, { type: 'sqlite' }>, env: DbClientEnv): Promise<DbClient> {
  const { path } = await resolveSqlitePath(target, env)
  const { execa } = await import('execa')
  return {
    dialect: 'sqlite',
    where: path,
    database: path,
    async query(sql) {
      // .timeout waits for a writer's lock instead of failing with "database is locked".
      const r = await execa('sqlite3', ['-bail', '-batch', '-noheader', '-separator', '\t', path, '.timeout 30000', sql], { reject: false, stdin: 'ignore' })
      if (r.failed && r.exitCode === undefined) throw new OwnopsError('the sqlite3 command is not installed', { exitCode: ExitCode.unavailable, hint: 'apt-get install sqlite3' })
      if (r.exitCode !== 0) throw new DumpFailure(`sqlite3 ${path} failed: ${firstError(String(r.stderr)) ?? `exit ${String(r.exitCode)}`}`, tail(String(r.stderr)))
      return String(r.stdout).replace(/\n$/, '')
    },
  }
}

/** The database's own error line ("ERROR:  column "x" does not exist"), for the message. */
function firstError(stderr: string): string | undefined {
  const line = stderr.split('\n').map((l) => l.trim()).find((l) => /error|no such|syntax|denied|unknown/i.test(l))
  return line?.replace(/^(psql:[^:]*:\d+:\s*)/, '').slice(0, 300)
}
