/**
 * The host-wide lock that backup, restore, cleanup and restart take, so that a cron run
 * never collides with a manual one. The lock is a file created atomically with link(2)
 * from a complete temp file (so it is never seen half-written) holding the holder's
 * pid, process start time, command and what it stops. A lock whose holder is gone
 * (pid dead, or reused by another process) is taken over under a takeover mutex.
 */
import { randomBytes } from 'node:crypto'
import { readFileSync, unlinkSync } from 'node:fs'
import { link, mkdir, readFile, rm, rmdir, stat, unlink, writeFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from 'pino'
import { ExitCode, OwnopsError } from '../errors.js'
import { formatDuration } from '../duration.js'

export interface LockInfo {
  pid: number
  /** Process start time in clock ticks since boot (Linux), to detect pid reuse. */
  startTime?: number
  command: string
  host: string
  startedAt: string
  nonce: string
  /** Targets or containers this run stops or touches, so monitor can stay quiet about them. */
  stops: string[]
}

export interface AcquireOptions {
  dir: string
  command: string
  /** Milliseconds to wait for a busy lock before giving up with exit 75. */
  waitMs?: number
  stops?: string[]
  log?: Logger
  signal?: AbortSignal
  pollMs?: number
  now?: () => Date
  /** Lock file name; the host lock by default. Smaller locks (the notify outbox) use their own. */
  name?: string
  /** What the lock is called in messages (default "the host lock"). */
  label?: string
}

const LOCK_NAME = 'host.lock'
const TAKEOVER_STALE_MS = 30_000

export class HostLock {
  private released = false

  private constructor(
    readonly file: string,
    readonly info: LockInfo,
  ) {}

  static async acquire(options: AcquireOptions): Promise<HostLock> {
    const now = options.now ?? (() => new Date())
    await mkdir(options.dir, { recursive: true, mode: 0o755 })
    const lockName = options.name ?? LOCK_NAME
    const file = join(options.dir, lockName)
    const info: LockInfo = {
      pid: process.pid,
      ...optional('startTime', processStartTime(process.pid)),
      command: options.command,
      host: hostname(),
      startedAt: now().toISOString(),
      nonce: randomBytes(8).toString('hex'),
      stops: options.stops ?? [],
    }
    const temp = join(options.dir, `.${lockName}.${process.pid}.${info.nonce}`)
    await writeFile(temp, `${JSON.stringify(info)}\n`, { mode: 0o644 })
    const deadline = Date.now() + (options.waitMs ?? 0)
    let announcedWait = false
    try {
      for (;;) {
        try {
          await link(temp, file)
          return new HostLock(file, info)
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw lockIoError(options.dir, error)
        }
        const holder = await readLockFile(file)
        if (holder === 'missing') continue
        if (holder === 'corrupt' || !isAlive(holder)) {
          await takeOver(options.dir, file, holder, lockName, options.log)
          continue
        }
        if (Date.now() >= deadline || options.signal?.aborted) throw busyError(holder, now(), options.label)
        if (!announcedWait) {
          options.log?.info({ holderPid: holder.pid, holderCommand: holder.command }, 'waiting for the host lock')
          announcedWait = true
        }
        await sleep(Math.min(options.pollMs ?? 250, Math.max(1, deadline - Date.now())), undefined, { signal: options.signal }).catch(() => undefined)
      }
    } finally {
      await rm(temp, { force: true })
    }
  }

  /** Releases the lock if it is still ours. Safe to call more than once. */
  async release(): Promise<void> {
    if (this.released) return
    this.released = true
    const holder = await readLockFile(this.file)
    if (typeof holder === 'object' && holder.nonce === this.info.nonce) await unlink(this.file).catch(() => undefined)
  }

  /** Synchronous release for process exit paths. */
  releaseSync(): void {
    if (this.released) return
    this.released = true
    try {
      const holder = JSON.parse(readFileSync(this.file, 'utf8')) as LockInfo
      if (holder.nonce === this.info.nonce) unlinkSync(this.file)
    } catch {
      // already gone
    }
  }
}

/** The current holder of the host lock, if a live process holds it. */
export async function currentLockHolder(dir: string): Promise<LockInfo | undefined> {
  const holder = await readLockFile(join(dir, LOCK_NAME))
  return typeof holder === 'object' && isAlive(holder) ? holder : undefined
}

async function readLockFile(file: string): Promise<LockInfo | 'missing' | 'corrupt'> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'missing'
    throw error
  }
  try {
    const value = JSON.parse(text) as Partial<LockInfo>
    if (typeof value.pid === 'number' && typeof value.nonce === 'string') {
      return { command: '?', host: '?', startedAt: '?', stops: [], ...value } as LockInfo
    }
  } catch {
    // fall through
  }
  return 'corrupt'
}

function isAlive(holder: LockInfo): boolean {
  if (holder.host !== hostname() && holder.host !== '?') return true // another host's lock on a shared dir: never steal it
  try {
    process.kill(holder.pid, 0)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false
  }
  if (holder.startTime !== undefined) {
    const current = processStartTime(holder.pid)
    if (current !== undefined && current !== holder.startTime) return false // pid reused
  }
  return true
}

async function takeOver(dir: string, file: string, stale: LockInfo | 'corrupt', lockName: string, log?: Logger): Promise<void> {
  const mutex = join(dir, `${lockName}.takeover`)
  try {
    await mkdir(mutex)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    const age = await stat(mutex).then((s) => Date.now() - s.mtimeMs, () => 0)
    if (age > TAKEOVER_STALE_MS) await rmdir(mutex).catch(() => undefined)
    else await sleep(50)
    return
  }
  try {
    const again = await readLockFile(file)
    const same = again === 'corrupt' ? stale === 'corrupt' : typeof again === 'object' && typeof stale === 'object' && again.nonce === stale.nonce
    if (same) {
      await unlink(file).catch(() => undefined)
      if (typeof stale === 'object') log?.warn({ stalePid: stale.pid, staleCommand: stale.command, since: stale.startedAt }, 'took over a stale host lock: its holder is gone')
      else log?.warn({ file }, 'replaced an unreadable host lock file')
    }
  } finally {
    await rmdir(mutex).catch(() => undefined)
  }
}

function busyError(holder: LockInfo, now: Date, label = 'the host lock'): OwnopsError {
  const since = Date.parse(holder.startedAt)
  const age = Number.isNaN(since) ? '' : `, running for ${formatDuration(Math.max(0, now.getTime() - since))}`
  return new OwnopsError(`another ownops run holds ${label}: pid ${holder.pid} (ownops ${holder.command}${age})`, {
    exitCode: ExitCode.tempfail,
    hint: 'wait for it to finish, or give --wait 10m (config lock.wait) to queue behind it',
  })
}

function lockIoError(dir: string, error: unknown): OwnopsError {
  const code = (error as NodeJS.ErrnoException).code
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return new OwnopsError(`cannot create the host lock in ${dir}: ${code}`, { exitCode: ExitCode.noperm, hint: 'run as root, or set lock.dir (or $OWNOPS_LOCK_DIR) to a writable directory', cause: error })
  }
  return new OwnopsError(`cannot create the host lock in ${dir}: ${(error as Error).message}`, { exitCode: ExitCode.tempfail, cause: error })
}

function processStartTime(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const value = Number(fields[19])
    return Number.isFinite(value) ? value : undefined
  } catch {
    return undefined
  }
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V }
}
