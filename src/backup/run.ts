/**
 * One backup of one target, start to finish: stale partial files removed, free space
 * checked, `before` hook, source prepared (its checks run before anything is stopped),
 * containers stopped and a Minecraft server quiesced, the artifact streamed and committed,
 * and — in a finally that runs on failure and on SIGINT/SIGTERM too — `save-on` sent and
 * the stopped containers started again in reverse order. A failed target leaves no
 * artifact; its `onError` hook runs.
 */
import { readdir, rm, statfs } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { Logger } from 'pino'
import type { BackupTarget, Config } from '../config/schema.js'
import { isOwnopsError, OwnopsError } from '../errors.js'
import type { Docker } from '../sys/docker.js'
import { startAgain, StoppedContainers } from '../sys/stopped-containers.js'
import { runCapture } from '../sys/exec.js'
import { RconClient, RconError } from '../sys/rcon.js'
import { ownopsVersion } from '../version.js'
import { formatBytes } from '../text.js'
import type { ProgressLine } from '../ui/progress.js'
import { Artifact, timestampId, type Manifest } from './artifact.js'
import { readCatalog, targetDir, type Catalog } from './catalog.js'
import { pluginFor } from '../targets/index.js'
import { DumpFailure, failureReason, type SourceEnv } from '../targets/types.js'

export interface RunEnv {
  config: Config
  log: Logger
  signal: AbortSignal
  env: NodeJS.ProcessEnv
  host: string
  now: () => Date
  docker(): Promise<Docker>
  /** The terminal's progress line: the artifact's bytes as they are written. */
  progress?: ProgressLine
  /** What the progress line calls this run (`backup NAME` when not given). */
  progressLabel?: string
  tags?: string[]
}

export interface TargetReport {
  target: string
  type: string
  ok: boolean
  id?: string
  file?: string
  size?: number
  sha256?: string
  durationMs: number
  warnings: string[]
  error?: string
  hint?: string
  /** The failing tool's stderr tail. */
  stderr?: string
  stopped?: string[]
  downtimeMs?: number
  manifest?: Manifest
}

/** Runs one target; never throws for a target failure (the report says what failed). Rethrows interruptions. */
export async function backupTarget(name: string, target: BackupTarget, run: RunEnv): Promise<TargetReport> {
  const log = run.log.child({ target: name })
  const started = run.now()
  const t0 = performance.now()
  const dir = targetDir(run.config.backup.dir, name)
  const id = await freeId(dir, `${name}-${timestampId(started)}`)
  const report: TargetReport = { target: name, type: target.type, ok: false, durationMs: 0, warnings: [] }
  let artifact: Artifact | undefined
  const restore: Array<() => Promise<void>> = []
  /** What was put back after a failure or an interruption, for the message. */
  const putBack: string[] = []
  let endProgress: (() => void) | undefined
  try {
    const catalog = await readCatalog(run.config.backup.dir, name)
    await removeStalePartials(catalog, log)
    await checkFreeSpace(catalog, run.config.backup.freeSpaceMargin, dir)
    if (target.before !== undefined) await runHook('before', target.before, run, log, true)

    const sourceEnv: SourceEnv = { target: name, log, signal: run.signal, docker: run.docker, env: run.env, dir, id }
    const dump = await pluginFor(target).dump(target, sourceEnv)

    const stopped = new StoppedContainers({ docker: run.docker, log, signal: run.signal })
    const since = performance.now()
    restore.push(async () => {
      if (stopped.names.length === 0) return
      const names = [...stopped.names]
      try {
        await stopped.startAll()
        putBack.push(`started ${names.join(', ')} again`)
      } catch (error) {
        putBack.push((error as Error).message)
        throw error
      }
      report.downtimeMs = Math.round(performance.now() - since)
    })
    await stopContainers(name, target, dump.needsRunning ?? [], run, log, report, stopped)
    if (run.signal.aborted) throw run.signal.reason
    if (target.type === 'directory' && target.minecraft !== undefined) {
      const quiesced = await quiesceMinecraft(target.minecraft, run, log, report)
      if (quiesced !== undefined) restore.push(quiesced)
    }

    artifact = await Artifact.create(dir, id, dump.ext)
    const written = artifact
    // The previous backup's size is the estimate of this one's.
    const previous = catalog.backups[0]?.manifest.size
    endProgress = run.progress?.track(
      run.progressLabel ?? `backup ${name}`,
      previous !== undefined ? { bytes: previous, estimated: true } : undefined,
      () => written.bytes,
    ).end
    const result = await dump.write(artifact.sink)
    endProgress?.()
    if (artifact.failure !== undefined) throw artifact.failure
    report.warnings.push(...result.warnings)
    await runRestores(restore, log)
    const manifest = await artifact.commit({
      target: name,
      type: target.type,
      time: started.toISOString(),
      durationMs: Math.round(performance.now() - t0),
      compression: dump.compression,
      ownopsVersion: ownopsVersion(),
      host: run.host,
      source: {
        ...dump.details,
        ...(result.details ?? {}),
        ...(report.stopped ? { stopped: report.stopped, downtimeMs: report.downtimeMs } : {}),
      },
      warnings: report.warnings,
      ...(run.tags && run.tags.length > 0 ? { tags: run.tags } : {}),
    })
    Object.assign(report, { ok: true, id: manifest.id, file: artifact.path, size: manifest.size, sha256: manifest.sha256, manifest })
    if (target.after !== undefined) {
      await runHook('after', target.after, run, log, false).catch((error: unknown) => report.warnings.push((error as Error).message))
    }
  } catch (error) {
    endProgress?.()
    await artifact?.abort()
    await runRestores(restore, log)
    if (run.signal.aborted) {
      const reason = run.signal.reason as unknown
      throw new OwnopsError(
        `backup of ${name} ${reason instanceof Error && reason.message.startsWith('interrupted') ? reason.message : 'interrupted'}${putBack.length > 0 ? `; ${putBack.join('; ')}` : ''}`,
        {
          kind: isOwnopsError(reason) ? reason.kind : 'sigterm',
          cause: error,
        },
      )
    }
    // A write error of the artifact (a full disk) is the cause of what the source saw after it.
    describeFailure(report, artifact?.failure ?? error)
    log.error(
      { err: error instanceof DumpFailure || error instanceof OwnopsError ? undefined : error, stderr: report.stderr },
      `backup of ${name} failed: ${report.error}`,
    )
    if (target.onError !== undefined) {
      await runHook('onError', target.onError, run, log, false).catch((e: unknown) => report.warnings.push((e as Error).message))
    }
  } finally {
    report.durationMs = Math.round(performance.now() - t0)
  }
  return report
}

/** Two runs within one second get `-2`, `-3`… rather than one replacing the other. */
async function freeId(dir: string, base: string): Promise<string> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch {
    return base
  }
  const taken = (id: string) => names.some((n) => n === `${id}.json` || n.startsWith(`${id}.`) || n.startsWith(`.${id}.`))
  let id = base
  for (let n = 2; taken(id); n++) id = `${base}-${n}`
  return id
}

/** What a tool prints when the disk it writes to is full (sqlite3 writes its copy into the backup directory). */
/** Time limit of a before/after hook that sets none. */
const HOOK_TIMEOUT_MS = 5 * 60_000

const DISK_FULL = /No space left on device|database or disk is full|Disk quota exceeded/i

function describeFailure(report: TargetReport, error: unknown): void {
  if (error instanceof DumpFailure && DISK_FULL.test(error.stderrTail)) {
    report.error = 'no space left on the backup disk; the partial file was removed'
    report.hint = 'free space under backup.dir, or tighten keep: retention'
    report.stderr = error.stderrTail
    return
  }
  if (error instanceof DumpFailure) {
    // The tool's own reason, not only in the log: the table, the report and the notification.
    const reason = failureReason(error.stderrTail)
    report.error = reason !== undefined && !error.message.includes(reason) ? `${error.message}: ${reason}` : error.message
    if (error.stderrTail) report.stderr = error.stderrTail
    return
  }
  const code = (error as NodeJS.ErrnoException).code
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    report.error = 'no space left on the backup disk; the partial file was removed'
    report.hint = 'free space under backup.dir, or tighten keep: retention'
    return
  }
  if (code === 'EACCES' || code === 'EPERM') {
    report.error = `permission denied: ${(error as Error).message}`
    report.hint = 'run the backup as root, or give this user access to backup.dir'
    return
  }
  report.error = (error as Error).message ?? String(error)
  if (error instanceof OwnopsError && error.hint) report.hint = error.hint
}

async function runRestores(restore: Array<() => Promise<void>>, log: Logger): Promise<void> {
  while (restore.length > 0) {
    const step = restore.pop() as () => Promise<void>
    try {
      await step()
    } catch (error) {
      log.error({ err: error }, 'could not put the service back as it was')
    }
  }
}

/**
 * Partial files of killed runs of any of these targets: a dead writer's partial file is
 * never a backup, and on a full disk it is what makes the next backup of every target fail.
 */
export async function removeAllStalePartials(backupDir: string, targets: readonly string[], log: Logger): Promise<void> {
  for (const name of targets) {
    try {
      await removeStalePartials(await readCatalog(backupDir, name), log)
    } catch (error) {
      log.warn({ err: error, target: name }, 'could not look for partial files of interrupted runs')
    }
  }
}

async function removeStalePartials(catalog: Catalog, log: Logger): Promise<void> {
  for (const oddity of catalog.oddities) {
    if (oddity.kind === 'partial' && oddity.stale === true) {
      await rm(oddity.path, { force: true })
      log.info({ file: oddity.path }, 'removed a partial file left by an interrupted run')
    }
  }
}

async function checkFreeSpace(catalog: Catalog, margin: number, dir: string): Promise<void> {
  const last = catalog.backups[0]
  if (last === undefined) return
  const needed = Math.ceil(last.manifest.size * margin)
  const free = await freeBytes(dir)
  if (free !== undefined && free < needed) {
    throw new OwnopsError(
      `not enough free space for a backup: ${formatBytes(free)} free under ${dir}, the last backup was ${formatBytes(last.manifest.size)}`,
      {
        kind: 'failed',
        hint: 'free space there or tighten keep: retention (ownops cleanup --dry-run shows what would go)',
      },
    )
  }
}

async function freeBytes(dir: string): Promise<number | undefined> {
  for (let path = dir; ; path = dirname(path)) {
    try {
      const s = await statfs(path)
      return s.bavail * s.bsize
    } catch {
      if (path === dirname(path)) return undefined
    }
  }
}

type Hook = NonNullable<BackupTarget['before']>

async function runHook(which: string, hook: Hook, run: RunEnv, log: Logger, fatal: boolean): Promise<void> {
  const argv = Array.isArray(hook) ? hook : hook.run
  const timeoutMs = Array.isArray(hook) ? HOOK_TIMEOUT_MS : (hook.timeout ?? HOOK_TIMEOUT_MS)
  const result = await runCapture(argv, { log, signal: run.signal, timeoutMs })
  if (result.exitCode === 0 && !result.failed) {
    log.debug({ hook: which }, 'hook succeeded')
    return
  }
  const why = result.reason ?? `exit ${String(result.exitCode)}`
  const message = `${which} hook ${argv[0] ?? ''} failed: ${why}${result.stderr ? ` — ${result.stderr.trim().split('\n').slice(-3).join(' / ')}` : ''}`
  if (fatal) throw new OwnopsError(message, { kind: 'failed' })
  log.warn({ hook: which }, message)
  throw new Error(message)
}

const STOP_LABEL = 'ownops.stop-during-backup'

/** Stops this target's containers: `stop:` names, then those labelled for it; only running ones. */
async function stopContainers(
  name: string,
  target: BackupTarget,
  needsRunning: string[],
  run: RunEnv,
  log: Logger,
  report: TargetReport,
  stopped: StoppedContainers,
): Promise<void> {
  const wanted = [...(target.stop ?? [])]
  const labelled = (await hasDocker(run)) ? await labelledContainers(name, run) : []
  for (const c of labelled) if (!wanted.includes(c)) wanted.push(c)
  if (wanted.length === 0) return
  const docker = await run.docker()
  for (const container of wanted) {
    // Interrupted meanwhile (a stop cut short): nothing more is stopped.
    if (run.signal.aborted) throw run.signal.reason
    if (needsRunning.includes(container)) {
      throw new OwnopsError(`backup target ${name}: ${container} is both dumped through docker exec and listed to stop`, {
        kind: 'config',
        hint: 'remove it from stop:',
      })
    }
    let info
    try {
      info = await docker.getContainer(container).inspect()
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) {
        report.warnings.push(`container ${container} (stop:) does not exist`)
        continue
      }
      throw error
    }
    if (!info.State.Running) {
      log.info({ container }, 'not running; left as it is')
      continue
    }
    log.info({ container }, 'stopping for the backup')
    // Counted as stopped before the engine answers: a failed or cut-off stop is started again too.
    // Its own stop timeout (compose's stop_grace_period), else 30 s; SIGINT/SIGTERM cut it short.
    await stopped.stop(container)
    report.stopped = [...stopped.names]
  }
}

export async function hasDocker(run: Pick<RunEnv, 'docker'>): Promise<boolean> {
  try {
    await run.docker()
    return true
  } catch {
    return false
  }
}

export async function labelledContainers(name: string, run: Pick<RunEnv, 'docker'>): Promise<string[]> {
  const docker = await run.docker()
  const list = await docker.listContainers({ all: true, filters: { label: [`${STOP_LABEL}=${name}`] } })
  return list.map((c) => (c.Names[0] ?? c.Id).replace(/^\//, ''))
}

/**
 * Starts containers again (the last first), retried while the engine does not answer; each
 * is first settled as stopped (a stop cut off by a dropped connection may still be going on).
 */
export async function startContainers(
  stopped: string[],
  run: Pick<RunEnv, 'docker'> & { log?: Logger; signal?: AbortSignal },
  log: Logger,
): Promise<void> {
  const failures = await startAgain(
    [...stopped].reverse(),
    { docker: run.docker, log, ...(run.signal ? { signal: run.signal } : {}) },
    new Set(stopped),
  )
  if (failures.length > 0) throw new Error(`could not start again: ${failures.join('; ')}`)
}

type MinecraftConfig = NonNullable<Extract<BackupTarget, { type: 'directory' }>['minecraft']>

/**
 * save-off, save-all flush; returns the save-on step for the finally. With
 * `onRconError: proceed`, an unreachable server gives a warning and an unquiesced archive.
 */
async function quiesceMinecraft(
  mc: MinecraftConfig,
  run: RunEnv,
  log: Logger,
  report: TargetReport,
): Promise<(() => Promise<void>) | undefined> {
  const options = { host: mc.rcon.host, port: mc.rcon.port, password: mc.rcon.password, timeoutMs: mc.saveTimeout }
  let client: RconClient
  try {
    client = await connectWithRetries(options, mc.retries, run.signal, log)
  } catch (error) {
    if (mc.onRconError === 'proceed' && !(error instanceof RconError && error.authFailed)) {
      report.warnings.push(
        `Minecraft not quiesced (${(error as Error).message}); the world was archived while the server may have been writing`,
      )
      log.warn((error as Error).message)
      return undefined
    }
    throw new OwnopsError(`cannot quiesce the Minecraft server: ${(error as Error).message}`, {
      kind: 'failed',
      hint: 'check enable-rcon, rcon.port and rcon.password in server.properties, or set minecraft.onRconError: proceed',
    })
  }
  const saveOn = async (): Promise<void> => {
    try {
      await client.command('save-on')
    } catch {
      // The connection may have dropped during a long archive: reconnect once more for save-on.
      const again = await connectWithRetries(options, mc.retries, undefined, log)
      try {
        await again.command('save-on')
      } finally {
        again.close()
      }
    } finally {
      client.close()
    }
    log.info('Minecraft: save-on')
  }
  try {
    await client.command('save-off')
    log.info('Minecraft: save-off')
  } catch (error) {
    client.close()
    throw new OwnopsError(`Minecraft save-off failed: ${(error as Error).message}`, { kind: 'failed' })
  }
  try {
    const reply = await client.command('save-all flush')
    log.info({ reply: reply.trim() }, 'Minecraft: save-all flush')
  } catch (error) {
    await saveOn().catch(() => undefined)
    throw new OwnopsError(`Minecraft save-all flush failed: ${(error as Error).message}`, { kind: 'failed' })
  }
  return saveOn
}

async function connectWithRetries(
  options: { host: string; port: number; password: string; timeoutMs: number },
  retries: number,
  signal: AbortSignal | undefined,
  log: Logger,
): Promise<RconClient> {
  let delay = 1000
  for (let attempt = 0; ; attempt++) {
    try {
      return await RconClient.connect(options)
    } catch (error) {
      if ((error instanceof RconError && error.authFailed) || attempt >= retries || signal?.aborted) throw error
      log.warn({ attempt: attempt + 1, err: error }, `RCON did not answer; retrying in ${delay} ms`)
      await new Promise((resolve) => setTimeout(resolve, delay))
      delay *= 2
    }
  }
}
