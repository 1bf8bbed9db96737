/**
 * Running commands inside containers through the Docker exec API, and finding where a
 * container's or a volume's files live on the host.
 *
 * `execToStream` demultiplexes the exec stream itself (instead of dockerode's demuxStream,
 * which ignores backpressure) so a dump of any size flows to the artifact at the pace the
 * disk takes it, with memory bounded by a few chunks. The exit status comes from exec
 * inspect: a dump that stopped half-way is a failure, not a short file.
 *
 * A process started through the exec API does not end when its client goes away: a dump
 * that ownops stops reading (interrupted, disk full) would go on in the container, holding
 * its snapshot and locks. Every exec is recorded in the host lock while it runs, is ended
 * when ownops leaves it early, and is ended by the next run when ownops was killed.
 */
import { once } from 'node:events'
import { readFile } from 'node:fs/promises'
import type { Logger } from 'pino'
import type { Writable } from 'node:stream'
import { OwnopsError } from '../errors.js'
import { isRemoteEngine, type Docker } from './docker.js'
import { BoundedOutput, OUTPUT_LIMIT } from './exec.js'
import { heldHostLock, type ExecRef } from './lock.js'

type Exec = ReturnType<Docker['getExec']>

/** Records a started exec in the host lock (when this process holds it). */
async function track(ref: ExecRef): Promise<void> {
  await heldHostLock()
    ?.update((p) => void p.execs.push(ref))
    .catch(() => undefined)
}

async function untrack(ref: ExecRef): Promise<void> {
  await heldHostLock()
    ?.update((p) => void (p.execs = p.execs.filter((e) => e.id !== ref.id)))
    .catch(() => undefined)
}

/**
 * Ends an exec's process if it still runs: SIGTERM, then SIGKILL after `graceMs`. The
 * engine reports the process's host pid; it is signalled only when /proc shows that very
 * command line there (an engine on another host, or another pid namespace, is left alone).
 * Resolves with whether the process is gone.
 */
export async function endExec(docker: Docker, id: string, graceMs = 5000): Promise<boolean> {
  const exec: Exec = docker.getExec(id)
  let info
  try {
    info = await exec.inspect()
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return true // its container is gone
    throw error
  }
  if (!info.Running) return true
  // The pid is one on the engine's machine: a remote engine's processes are not ours to signal.
  if (isRemoteEngine(docker)) return false
  const pid = info.Pid
  const argv = [info.ProcessConfig.entrypoint, ...info.ProcessConfig.arguments]
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')
  if (pid <= 0 || cmdline.replace(/\0$/, '') !== argv.join('\0')) return false
  const signal = (name: NodeJS.Signals): void => {
    try {
      process.kill(pid, name)
    } catch {
      // gone meanwhile
    }
  }
  signal('SIGTERM')
  for (let waited = 0; ; waited += 100) {
    const now = await exec.inspect().catch(() => undefined)
    if (now === undefined || !now.Running) return true
    if (waited === graceMs) signal('SIGKILL')
    if (waited > graceMs + 5000) return false
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

export interface ExecStreamOptions {
  /** KEY=value pairs added to the exec's environment (passwords go here, never in argv). */
  env?: string[]
  user?: string
  workingDir?: string
  signal?: AbortSignal
  /** Bytes of stderr kept (the tail), default 64 KiB. */
  stderrLimit?: number
}

export interface ExecStreamResult {
  exitCode: number
  stderr: string
}

/** Runs `cmd` in `container`, writing its stdout into `out` (not ended), stderr kept as a tail. */
export async function execToStream(
  docker: Docker,
  container: string,
  cmd: string[],
  out: Writable,
  options: ExecStreamOptions = {},
): Promise<ExecStreamResult> {
  const exec = await docker.getContainer(container).exec({
    Cmd: cmd,
    AttachStdout: true,
    AttachStderr: true,
    AttachStdin: false,
    Tty: false,
    ...(options.env ? { Env: options.env } : {}),
    ...(options.user ? { User: options.user } : {}),
    ...(options.workingDir ? { WorkingDir: options.workingDir } : {}),
  })
  const ref = { container, id: exec.id }
  await track(ref)
  let finished = false
  try {
    if (options.signal?.aborted) throw options.signal.reason ?? new OwnopsError('interrupted', { kind: 'sigterm' })
    const result = await streamExec(exec, container, out, options)
    finished = true
    return result
  } finally {
    // Left early (interrupted, the output failed): the process would go on in the container.
    if (!finished) await endExec(docker, exec.id).catch(() => false)
    await untrack(ref)
  }
}

async function streamExec(exec: Exec, container: string, out: Writable, options: ExecStreamOptions): Promise<ExecStreamResult> {
  const stream = (await exec.start({ hijack: true, stdin: false })) as NodeJS.ReadableStream & { destroy(error?: Error): void }
  const limit = options.stderrLimit ?? 64 * 1024
  let stderr: Buffer = Buffer.alloc(0)
  const onAbort = (): void => stream.destroy(new Error('interrupted'))
  options.signal?.addEventListener('abort', onAbort, { once: true })
  if (options.signal?.aborted) onAbort()

  let pending: Buffer = Buffer.alloc(0)
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk])
      // Frames: 1 byte stream type, 3 zero bytes, 4 bytes big-endian length, payload.
      while (pending.length >= 8) {
        const size = pending.readUInt32BE(4)
        if (pending.length < 8 + size) break
        const kind = pending[0]
        const payload = pending.subarray(8, 8 + size)
        pending = pending.subarray(8 + size)
        if (kind === 2) {
          stderr = Buffer.concat([stderr, payload])
          if (stderr.length > limit) stderr = stderr.subarray(stderr.length - limit)
        } else if (kind === 1 && payload.length > 0) {
          if (!out.write(payload)) await drained(out)
        }
      }
    }
  } finally {
    options.signal?.removeEventListener('abort', onAbort)
  }
  if (options.signal?.aborted) throw options.signal.reason ?? new OwnopsError('interrupted', { kind: 'sigterm' })

  // The stream ends when the process closes its output; its exit code follows shortly.
  const exitCode = await exitOf(exec, container)
  return { exitCode, stderr: stderr.toString('utf8') }
}

export interface ExecInputOptions extends ExecStreamOptions {
  /** Bytes of stdout kept (the tail), default 64 KiB. */
  stdoutLimit?: number
}

/**
 * Runs `cmd` in `container` with `input` streamed to its stdin (then closed), e.g. a dump
 * into pg_restore or psql. Output is kept as tails; the exit status comes from exec inspect.
 */
export async function execWithInput(
  docker: Docker,
  container: string,
  cmd: string[],
  input: NodeJS.ReadableStream,
  options: ExecInputOptions = {},
): Promise<ExecStreamResult & { stdout: string }> {
  const exec = await docker.getContainer(container).exec({
    Cmd: cmd,
    AttachStdout: true,
    AttachStderr: true,
    AttachStdin: true,
    OpenStdin: true,
    StdinOnce: true,
    Tty: false,
    ...(options.env ? { Env: options.env } : {}),
    ...(options.user ? { User: options.user } : {}),
  } as Parameters<ReturnType<Docker['getContainer']>['exec']>[0])
  const ref = { container, id: exec.id }
  await track(ref)
  let finished = false
  try {
    if (options.signal?.aborted) throw options.signal.reason ?? new OwnopsError('interrupted', { kind: 'sigterm' })
    const result = await feedExec(exec, container, input, options)
    finished = true
    return result
  } finally {
    if (!finished) await endExec(docker, exec.id).catch(() => false)
    await untrack(ref)
  }
}

async function feedExec(
  exec: Exec,
  container: string,
  input: NodeJS.ReadableStream,
  options: ExecInputOptions,
): Promise<ExecStreamResult & { stdout: string }> {
  const stream = (await exec.start({ hijack: true, stdin: true })) as unknown as NodeJS.ReadWriteStream & {
    destroy(error?: Error): void
    end(): void
  }
  const onAbort = (): void => stream.destroy(new Error('interrupted'))
  options.signal?.addEventListener('abort', onAbort, { once: true })
  if (options.signal?.aborted) onAbort()
  const keep = (limit: number) => {
    let buf: Buffer = Buffer.alloc(0)
    return {
      add(chunk: Buffer) {
        buf = Buffer.concat([buf, chunk])
        if (buf.length > limit) buf = buf.subarray(buf.length - limit)
      },
      text: () => buf.toString('utf8'),
    }
  }
  const stdout = keep(options.stdoutLimit ?? 64 * 1024)
  const stderr = keep(options.stderrLimit ?? 64 * 1024)
  const stopWriting = new AbortController()
  const writing = (async () => {
    for await (const chunk of input as AsyncIterable<Buffer>) {
      if (stopWriting.signal.aborted) return
      if (!(stream as unknown as Writable).write(chunk)) await once(stream as unknown as Writable, 'drain', { signal: stopWriting.signal })
    }
    stream.end()
  })()
  writing.catch(() => stream.destroy())
  try {
    let pending: Buffer = Buffer.alloc(0)
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk])
      while (pending.length >= 8) {
        const size = pending.readUInt32BE(4)
        if (pending.length < 8 + size) break
        ;(pending[0] === 2 ? stderr : stdout).add(pending.subarray(8, 8 + size))
        pending = pending.subarray(8 + size)
      }
    }
    // The program may exit (e.g. on an error) before reading all its input: its exit status
    // says why, and the rest of the input is not needed.
    stopWriting.abort()
    await writing.catch(() => undefined)
  } finally {
    options.signal?.removeEventListener('abort', onAbort)
  }
  if (options.signal?.aborted) throw options.signal.reason ?? new OwnopsError('interrupted', { kind: 'sigterm' })
  const exitCode = await exitOf(exec, container)
  return { exitCode, stderr: stderr.text(), stdout: stdout.text() }
}

/**
 * The exit status of an exec whose output has closed: asked at once, then after 2, 4, 8…
 * up to 50 ms between tries (a short query is a few exec round trips: each pause counts),
 * for about 5 s in all.
 */
async function exitOf(exec: Exec, container: string): Promise<number> {
  for (let waited = 0, pause = 2; waited < 5000; waited += pause, pause = Math.min(pause * 2, 50)) {
    const info = await exec.inspect()
    if (!info.Running && info.ExitCode !== null) return info.ExitCode
    await new Promise((resolve) => setTimeout(resolve, pause))
  }
  throw new OwnopsError(`the command in container ${container} closed its output but did not exit`, { kind: 'failed' })
}

/** Waits until `out` takes more, or fails; leaves no listener behind either way. */
function drained(out: Writable): Promise<void> {
  if (out.destroyed) return Promise.reject(out.errored ?? new Error('output closed'))
  return new Promise<void>((resolve, reject) => {
    const settle = (error?: Error): void => {
      out.off('drain', onDrain)
      out.off('error', onError)
      out.off('close', onClose)
      if (error === undefined) resolve()
      else reject(error)
    }
    const onDrain = (): void => settle()
    const onError = (error: Error): void => settle(error)
    const onClose = (): void => settle(out.errored ?? new Error('output closed'))
    out.on('drain', onDrain)
    out.on('error', onError)
    out.on('close', onClose)
  })
}

/**
 * Runs a short command in a container and captures its output (version probes, queries,
 * a restart's announce command): the head and tail of it, `stdoutLimit` bytes (default
 * OUTPUT_LIMIT), however much it prints.
 */
export async function execCapture(
  docker: Docker,
  container: string,
  cmd: string[],
  options: ExecStreamOptions & { stdoutLimit?: number } = {},
): Promise<ExecStreamResult & { stdout: string }> {
  const kept = new BoundedOutput(options.stdoutLimit ?? OUTPUT_LIMIT)
  const { Writable: W } = await import('node:stream')
  const sink = new W({
    write(chunk: Buffer, _enc, callback) {
      kept.add(chunk)
      callback()
    },
  })
  const result = await execToStream(docker, container, cmd, sink, options)
  return { ...result, stdout: kept.text() }
}

export interface ContainerFacts {
  id: string
  name: string
  image: string
  running: boolean
  env: Record<string, string>
  mounts: Array<{ type: string; name?: string; source: string; destination: string }>
  /** The engine runs on another machine (ssh://): the mounts' sources are its paths, not ours. */
  remote?: boolean
}

/** What needs the engine's files on this machine refuses a remote engine, saying why. */
function remoteRefusal(what: string): OwnopsError {
  return new OwnopsError(`${what} is read from the Docker host's disk, but the Docker engine is on another machine (DOCKER_HOST=ssh://…)`, {
    kind: 'unavailable',
    hint: 'run ownops on the Docker host itself for volumes, directories and SQLite files; PostgreSQL and MariaDB/MySQL targets, monitor and restart work through a remote engine',
  })
}

/** Inspects a container; a missing one is a clear error naming it. */
export async function inspectContainer(docker: Docker, container: string): Promise<ContainerFacts> {
  let info
  try {
    info = await docker.getContainer(container).inspect()
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) {
      throw new OwnopsError(`container ${container} does not exist`, { kind: 'failed', hint: 'check the name with `docker ps -a`' })
    }
    throw error
  }
  const env: Record<string, string> = {}
  for (const pair of info.Config.Env ?? []) {
    const eq = pair.indexOf('=')
    if (eq > 0) env[pair.slice(0, eq)] = pair.slice(eq + 1)
  }
  return {
    id: info.Id,
    name: info.Name.replace(/^\//, ''),
    image: info.Config.Image,
    running: info.State.Running,
    env,
    ...(isRemoteEngine(docker) ? { remote: true } : {}),
    mounts: (info.Mounts ?? []).map((m) => ({
      type: m.Type,
      ...(m.Name ? { name: m.Name } : {}),
      source: m.Source,
      destination: m.Destination,
    })),
  }
}

/** The host path of a path inside a container, through the mount that holds it. */
export function hostPathInContainer(facts: ContainerFacts, path: string): string {
  if (facts.remote === true) throw remoteRefusal(`${path} in container ${facts.name}`)
  const normal = path.replace(/\/+$/, '') || '/'
  const candidates = facts.mounts
    .filter((m) => normal === m.destination || normal.startsWith(`${m.destination.replace(/\/+$/, '')}/`))
    .sort((a, b) => b.destination.length - a.destination.length)
  const mount = candidates[0]
  if (mount === undefined) {
    throw new OwnopsError(`${path} in container ${facts.name} is not on a volume or bind mount`, {
      kind: 'config',
      hint: `ownops reads files from the host; mount ${path} as a volume (the container's own layer is not backed up)`,
    })
  }
  return mount.source + normal.slice(mount.destination.replace(/\/+$/, '').length)
}

/** The host directory of a named volume. */
export async function volumeMountpoint(docker: Docker, volume: string): Promise<string> {
  if (isRemoteEngine(docker)) throw remoteRefusal(`volume ${volume}`)
  try {
    const info = await docker.getVolume(volume).inspect()
    return info.Mountpoint
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) {
      throw new OwnopsError(`volume ${volume} does not exist`, { kind: 'failed', hint: 'check the name with `docker volume ls`' })
    }
    throw error
  }
}

/** As `docker stop` and compose when a container asks for no grace of its own: its stop signal, then a kill after this many seconds. */
export const STOP_GRACE_SEC = 30

/**
 * After SIGINT or SIGTERM, a container being stopped gets at most this many seconds more
 * to stop on its own, then it is killed: the run starts it again and ends within seconds,
 * not after the rest of a grace that may be minutes long.
 */
export const INTERRUPTED_STOP_GRACE_SEC = 5

/**
 * The grace a container asks for (`docker run --stop-timeout`, compose's
 * `stop_grace_period`), as `docker stop` and `docker compose stop` give it; else STOP_GRACE_SEC.
 */
export async function stopGraceSec(docker: Docker, container: string): Promise<number> {
  const info = await docker
    .getContainer(container)
    .inspect()
    .catch(() => undefined)
  const own = (info?.Config as { StopTimeout?: number | null } | undefined)?.StopTimeout
  // -1 ("wait for ever") is not something a backup can wait for.
  return typeof own === 'number' && own >= 0 ? own : STOP_GRACE_SEC
}

/**
 * `docker stop` with a grace period longer than the client's request timeout: the engine
 * sends the container's stop signal, waits `graceSec`, then kills. A stop through the API
 * (unlike a kill) keeps restart policies from starting the container again behind our back.
 *
 * With `signal`: once it is aborted — before the stop or while the engine waits for the
 * container — what is left of the grace is cut to INTERRUPTED_STOP_GRACE_SEC (the engine
 * sends the stop signal again, waits that long, then kills). Resolves once the container
 * has stopped either way; the caller looks at the signal.
 */
export async function stopContainer(
  docker: Docker,
  container: string,
  graceSec: number,
  options: { signal?: AbortSignal; log?: Logger } = {},
): Promise<void> {
  const { default: DockerClass } = await import('dockerode')
  const modem = docker.modem as unknown as Record<string, unknown>
  const patient = new DockerClass({
    ...(['socketPath', 'host', 'port', 'protocol', 'ca', 'cert', 'key', 'version', 'agent'] as const).reduce<Record<string, unknown>>(
      (o, k) => (modem[k] !== undefined ? { ...o, [k]: modem[k] } : o),
      {},
    ),
    timeout: (graceSec + 30) * 1000,
  })
  const stop = async (t: number, abortSignal?: AbortSignal): Promise<void> => {
    try {
      await patient.getContainer(container).stop({ t, ...(abortSignal ? { abortSignal } : {}) })
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 304) return // already stopped
      throw error
    }
  }
  const { signal, log } = options
  const hurried = Math.min(graceSec, INTERRUPTED_STOP_GRACE_SEC)
  if (signal === undefined) return stop(graceSec)
  if (signal.aborted) return stop(hurried)
  log?.debug({ container, graceSec }, `stopping ${container} (grace ${graceSec} s)`)
  // Only the wait for the answer is given up: the engine goes on with the stop it was asked for.
  const request = new AbortController()
  const onAbort = (): void => request.abort()
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    await stop(graceSec, request.signal)
  } catch (error) {
    if (!signal.aborted) throw error
    log?.warn({ container }, `interrupted while ${container} stops: it gets ${hurried} s more, then it is killed and started again`)
    await stop(hurried)
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}
