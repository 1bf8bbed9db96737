/**
 * `type: postgres` — pg_dump inside the database container through the Docker exec API
 * (client and server versions then always match), or on the host with a connection URL.
 * Custom format (-Fc, compressed by pg_dump) by default; plain SQL gzip'd on request.
 * With `globals: true`, roles and tablespaces (pg_dumpall --globals-only) are recorded in
 * the manifest's source as SQL text. The dump streams to the artifact; a non-zero exit of
 * pg_dump is a failure.
 */
import type { Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { BackupTarget } from '../config/schema.js'
import { ExitCode, OwnopsError } from '../errors.js'
import { compressInto } from '../sys/compress.js'
import { execCapture, execToStream, inspectContainer } from '../sys/docker-exec.js'
import { DumpFailure, tail, type Dump, type Source, type SourceEnv } from './types.js'

type PostgresTarget = Extract<BackupTarget, { type: 'postgres' }>

export const postgres: Source<PostgresTarget> = {
  async prepare(target, env) {
    if (target.container !== undefined) return inContainer(target, target.container, env)
    if (target.url !== undefined) return onHost(target, target.url, env)
    throw new OwnopsError(`backup target ${env.target}: postgres needs container or url`, { exitCode: ExitCode.config })
  },
}

async function inContainer(target: PostgresTarget, container: string, env: SourceEnv): Promise<Dump> {
  const docker = await env.docker()
  const facts = await inspectContainer(docker, container)
  if (!facts.running) {
    throw new OwnopsError(`container ${container} is not running; pg_dump runs inside it`, { exitCode: ExitCode.failed, hint: `docker start ${container}` })
  }
  const user = target.user ?? facts.env.POSTGRES_USER ?? 'postgres'
  const database = target.database ?? facts.env.POSTGRES_DB ?? facts.env.POSTGRES_USER ?? 'postgres'
  const execEnv = facts.env.POSTGRES_PASSWORD ? [`PGPASSWORD=${facts.env.POSTGRES_PASSWORD}`] : []
  const version = await execCapture(docker, container, ['pg_dump', '--version'], { env: execEnv, signal: env.signal })
  if (version.exitCode !== 0) {
    throw new OwnopsError(`pg_dump is not available in container ${container}: ${tail(version.stderr, 3) || `exit ${version.exitCode}`}`, {
      exitCode: ExitCode.failed,
      hint: 'run the backup against the database container itself (the postgres image has pg_dump), or use url: for a host pg_dump',
    })
  }
  let globals: string | undefined
  if (target.globals) {
    const dumped = await execCapture(docker, container, ['pg_dumpall', '--globals-only', '--no-password', '-U', user], { env: execEnv, signal: env.signal })
    if (dumped.exitCode !== 0) throw new DumpFailure(`pg_dumpall --globals-only failed with exit ${dumped.exitCode}`, tail(dumped.stderr))
    globals = dumped.stdout
  }
  const plain = target.format === 'plain'
  const argv = ['pg_dump', '--no-password', '-U', user, plain ? '-Fp' : '-Fc', database]
  return {
    ext: plain ? 'sql.gz' : 'pgdump',
    compression: plain ? 'gzip' : 'custom',
    details: {
      container: facts.name,
      image: facts.image,
      database,
      user,
      format: target.format,
      pgDump: version.stdout.trim(),
      ...(globals !== undefined ? { globals } : {}),
    },
    needsRunning: [facts.name],
    async write(out) {
      const stage = plain ? await compressInto('gzip', out, { signal: env.signal }) : undefined
      const input = stage?.input ?? out
      const result = await execToStream(docker, container, argv, input, { env: execEnv, signal: env.signal })
      if (result.exitCode !== 0) {
        input.destroy()
        throw new DumpFailure(`pg_dump of database ${database} in ${container} failed with exit ${result.exitCode}`, tail(result.stderr))
      }
      await endAndWait(input, out, stage?.done)
      return { warnings: [] }
    },
  }
}

async function onHost(target: PostgresTarget, url: string, env: SourceEnv): Promise<Dump> {
  const { execa } = await import('execa')
  const version = await execa('pg_dump', ['--version'], { reject: false })
  if (version.failed) {
    throw new OwnopsError('pg_dump is not installed on this host', { exitCode: ExitCode.unavailable, hint: 'apt-get install postgresql-client, or back up through the container: container: NAME' })
  }
  const plain = target.format === 'plain'
  const args = ['--no-password', `--dbname=${url}`, plain ? '-Fp' : '-Fc']
  return {
    ext: plain ? 'sql.gz' : 'pgdump',
    compression: plain ? 'gzip' : 'custom',
    details: { url: url.replace(/\/\/[^@/]*@/, '//***@'), format: target.format, pgDump: String(version.stdout).trim() },
    async write(out) {
      const stage = plain ? await compressInto('gzip', out, { signal: env.signal }) : undefined
      const input = stage?.input ?? out
      const child = execa('pg_dump', args, { stdout: 'pipe', stderr: 'pipe', buffer: { stdout: false, stderr: true }, reject: false, cancelSignal: env.signal, env: env.env, extendEnv: false })
      await pipeline(child.stdout, input, { end: false })
      const result = await child
      if (result.exitCode !== 0) {
        input.destroy()
        throw new DumpFailure(`pg_dump failed with exit ${String(result.exitCode ?? result.signal)}`, tail(String(result.stderr)))
      }
      await endAndWait(input, out, stage?.done)
      return { warnings: [] }
    },
  }
}

/** Ends the stage input and waits until every byte reached the artifact. */
export async function endAndWait(input: Writable, out: Writable, done?: Promise<void>): Promise<void> {
  if (done !== undefined) {
    input.end()
    await done
    return
  }
  await new Promise<void>((resolve, reject) => {
    out.once('error', reject)
    out.end(() => resolve())
  })
}
