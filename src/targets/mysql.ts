/**
 * `type: mysql` / `type: mariadb` — mariadb-dump (or mysqldump on MySQL images) inside the
 * database container through the Docker exec API, with --single-transaction (a consistent
 * InnoDB snapshot without locking), routines, triggers and events; gzip'd on the way to the
 * artifact. The password travels in the exec environment (MYSQL_PWD), never in argv.
 */
import type { BackupTarget } from '../config/schema.js'
import { ExitCode, OwnopsError } from '../errors.js'
import { compressInto } from '../sys/compress.js'
import { execCapture, execToStream, inspectContainer } from '../sys/docker-exec.js'
import { endAndWait } from './postgres.js'
import { DumpFailure, tail, type Source } from './types.js'

type MysqlTarget = Extract<BackupTarget, { type: 'mysql' | 'mariadb' }>

export const mysql: Source<MysqlTarget> = {
  async prepare(target, env) {
    const docker = await env.docker()
    const facts = await inspectContainer(docker, target.container)
    if (!facts.running) {
      throw new OwnopsError(`container ${target.container} is not running; the dump runs inside it`, { exitCode: ExitCode.failed, hint: `docker start ${target.container}` })
    }
    const probe = await execCapture(docker, target.container, ['sh', '-c', 'command -v mariadb-dump || command -v mysqldump'], { signal: env.signal })
    const tool = probe.stdout.trim().split('\n')[0]
    if (probe.exitCode !== 0 || !tool) {
      throw new OwnopsError(`neither mariadb-dump nor mysqldump is available in container ${target.container}`, {
        exitCode: ExitCode.failed,
        hint: 'point the target at the database container itself (the mariadb and mysql images have the dump tool)',
      })
    }
    const execEnv = mysqlExecEnv(target, facts)
    const version = await execCapture(docker, target.container, [tool, '--version'], { signal: env.signal })
    const databases = target.database === undefined ? undefined : Array.isArray(target.database) ? target.database : [target.database]
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
          throw new DumpFailure(`${tool.split('/').pop() ?? tool} in ${target.container} failed with exit ${result.exitCode}`, tail(result.stderr))
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
}

/** The exec environment carrying the password (MYSQL_PWD, never argv): configured, or the image's own variables. */
export function mysqlExecEnv(target: Pick<MysqlTarget, 'user' | 'password'>, facts: { env: Record<string, string> }): string[] {
  const password =
    target.password ??
    (target.user === 'root' ? (facts.env.MARIADB_ROOT_PASSWORD ?? facts.env.MYSQL_ROOT_PASSWORD) : (facts.env.MARIADB_PASSWORD ?? facts.env.MYSQL_PASSWORD))
  return password ? [`MYSQL_PWD=${password}`] : []
}
