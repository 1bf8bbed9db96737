/**
 * The host-wide lock that backup, restore, cleanup and restart take, so that a cron run
 * never collides with a manual one. The lock is a file created atomically with link(2)
 * from a complete temp file (so it is never seen half-written) holding the holder's
 * pid, process start time, command and what it stops. A lock whose holder is gone
 * (pid dead, or reused by another process) is taken over under a takeover mutex.
 */
import { randomBytes } from 'node:crypto'
import { readFileSync, unlinkSync, type Stats } from 'node:fs'
import { link, lstat, mkdir, readFile, rename, rm, rmdir, stat, unlink, writeFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { basename, dirname, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from 'pino'
import { OwnopsError } from '../errors.js'
import { formatDuration } from '../duration.js'
import { describeUid } from './users.js'

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
  /**
   * What this run must put back if it dies: containers it stopped and has not started
   * again, processes it started inside containers that still run. Whoever takes over the
   * lock of a killed run puts them back (see settleKilledRun).
   */
  stopped?: string[]
  execs?: ExecRef[]
}

/** A process started in a container through the exec API. */
export interface ExecRef {
  container: string
  id: string
}

/** The parts of a lock record a killed run leaves to its successor. */
export type Pending = Pick<LockInfo, 'stopped' | 'execs'>

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
  /** The record of a killed holder this lock was taken over from, when it left something to put back. */
  inherited: LockInfo | undefined
  private writing: Promise<void> = Promise.resolve()

  private constructor(
    readonly file: string,
    readonly info: LockInfo,
  ) {}

  static async acquire(options: AcquireOptions): Promise<HostLock> {
    const now = options.now ?? (() => new Date())
    await ensureLockDir(options.dir)
    const lockName = options.name ?? LOCK_NAME
    const file = join(options.dir, lockName)
    await checkLockFile(file)
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
    await writeFile(temp, `${JSON.stringify(info)}\n`, { mode: 0o644 }).catch((error: unknown) => {
      throw lockIoError(options.dir, error)
    })
    const deadline = Date.now() + (options.waitMs ?? 0)
    let announcedWait = false
    let inherited: LockInfo | undefined
    try {
      for (;;) {
        try {
          await link(temp, file)
          const lock = new HostLock(file, info)
          lock.inherited = inherited
          if (lockName === LOCK_NAME) held = lock
          return lock
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw lockIoError(options.dir, error)
        }
        const holder = await readLockFile(file).catch((error: unknown) => {
          throw lockIoError(options.dir, error)
        })
        if (holder === 'missing') continue
        if (holder === 'corrupt' || !isAlive(holder)) {
          if (
            (await takeOver(options.dir, file, holder, lockName, options.log)) &&
            holder !== 'corrupt' &&
            leftBehind(holder) !== undefined
          )
            inherited = holder
          continue
        }
        if (Date.now() >= deadline || options.signal?.aborted) throw busyError(holder, now(), options.label)
        if (!announcedWait) {
          options.log?.info({ holderPid: holder.pid, holderCommand: holder.command }, 'waiting for the host lock')
          announcedWait = true
        }
        await sleep(Math.min(options.pollMs ?? 250, Math.max(1, deadline - Date.now())), undefined, { signal: options.signal }).catch(
          () => undefined,
        )
      }
    } finally {
      await rm(temp, { force: true })
    }
  }

  /**
   * Changes what this run must put back if it dies (`stopped`, `execs`) and writes the
   * record atomically: a new file renamed over the lock. Writes are serialised in call order.
   */
  update(change: (pending: Required<Pending>) => void): Promise<void> {
    const pending = { stopped: [...(this.info.stopped ?? [])], execs: [...(this.info.execs ?? [])] }
    change(pending)
    Object.assign(this.info, pending)
    const text = `${JSON.stringify(this.info)}\n`
    const next = this.writing.then(async () => {
      if (this.released) return
      const temp = join(dirname(this.file), `.${basename(this.file)}.${process.pid}.${this.info.nonce}.new`)
      await writeFile(temp, text, { mode: 0o644 })
      await rename(temp, this.file)
    })
    this.writing = next.catch(() => undefined)
    return next
  }

  /** Releases the lock if it is still ours. Safe to call more than once. */
  async release(): Promise<void> {
    if (this.released) return
    await this.writing
    if (held === this) held = undefined
    if (leftBehind(this.info) !== undefined) {
      // Containers this run stopped could not be started again: the record stays, so the next
      // run that takes the lock (ours is stale once this process is gone) starts them.
      this.released = true
      return
    }
    this.released = true
    const holder = await readLockFile(this.file)
    if (typeof holder === 'object' && holder.nonce === this.info.nonce) await unlink(this.file).catch(() => undefined)
  }

  /** Synchronous release for process exit paths. */
  releaseSync(): void {
    if (this.released) return
    this.released = true
    if (held === this) held = undefined
    if (leftBehind(this.info) !== undefined) return
    try {
      const holder = JSON.parse(readFileSync(this.file, 'utf8')) as LockInfo
      if (holder.nonce === this.info.nonce) unlinkSync(this.file)
    } catch {
      // already gone
    }
  }
}

/** The host lock this process holds (a process holds at most one). */
let held: HostLock | undefined

/** The host lock this process holds, if any: where stops and execs are recorded. */
export function heldHostLock(): HostLock | undefined {
  return held
}

/** What a lock record says its holder left to put back, if anything. */
export function leftBehind(info: LockInfo | 'corrupt'): Pending | undefined {
  if (info === 'corrupt') return undefined
  const stopped = info.stopped ?? []
  const execs = info.execs ?? []
  return stopped.length > 0 || execs.length > 0 ? { stopped, execs } : undefined
}

/** The record of a holder that is gone and left stopped containers or running execs behind. */
export async function abandonedLock(dir: string): Promise<LockInfo | undefined> {
  const holder = await readLockFile(join(dir, LOCK_NAME)).catch(() => 'missing' as const)
  return typeof holder === 'object' && !isAlive(holder) && leftBehind(holder) !== undefined ? holder : undefined
}

/** The current holder of the host lock, if a live process holds it. */
export async function currentLockHolder(dir: string): Promise<LockInfo | undefined> {
  if ((await lockDirState(dir)) === 'missing') return undefined
  const problem = await lockDirProblem(dir)
  if (problem !== undefined) throw untrustedLock(problem)
  await checkLockFile(join(dir, LOCK_NAME))
  const holder = await readLockFile(join(dir, LOCK_NAME)).catch((error: unknown) => {
    throw lockIoError(dir, error)
  })
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

/** Removes a stale lock file under the takeover mutex; true when this call removed it. */
async function takeOver(dir: string, file: string, stale: LockInfo | 'corrupt', lockName: string, log?: Logger): Promise<boolean> {
  const mutex = join(dir, `${lockName}.takeover`)
  try {
    await mkdir(mutex)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    const age = await stat(mutex).then(
      (s) => Date.now() - s.mtimeMs,
      () => 0,
    )
    if (age > TAKEOVER_STALE_MS) await rmdir(mutex).catch(() => undefined)
    else await sleep(50)
    return false
  }
  try {
    const again = await readLockFile(file)
    const same =
      again === 'corrupt' ? stale === 'corrupt' : typeof again === 'object' && typeof stale === 'object' && again.nonce === stale.nonce
    if (same) {
      await unlink(file).catch(() => undefined)
      if (typeof stale === 'object')
        log?.warn(
          { stalePid: stale.pid, staleCommand: stale.command, since: stale.startedAt },
          'took over a stale host lock: its holder is gone',
        )
      else log?.warn({ file }, 'replaced an unreadable host lock file')
    }
    return same
  } finally {
    await rmdir(mutex).catch(() => undefined)
  }
}

function busyError(holder: LockInfo, now: Date, label = 'the host lock'): OwnopsError {
  const since = Date.parse(holder.startedAt)
  const age = Number.isNaN(since) ? '' : `, running for ${formatDuration(Math.max(0, now.getTime() - since))}`
  return new OwnopsError(`another ownops run holds ${label}: pid ${holder.pid} (ownops ${holder.command}${age})`, {
    kind: 'busy',
    hint: 'wait for it to finish, or give --wait 10m (config lock.wait) to queue behind it',
  })
}

function lockIoError(dir: string, error: unknown): OwnopsError {
  const code = (error as NodeJS.ErrnoException).code
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    // The directory, rather than the temp file ownops writes in it.
    const failed = (error as NodeJS.ErrnoException).path
    const path = failed === undefined || dirname(failed) === dir ? dir : failed
    const who = typeof process.getuid === 'function' ? describeUid(process.getuid()) : 'this user'
    return new OwnopsError(
      `cannot take the host lock: ${path}: ${code === 'EROFS' ? 'read-only file system' : `permission denied for ${who}`}`,
      {
        kind: 'permission',
        hint:
          code === 'EROFS'
            ? `a unit's sandbox makes it read-only: add ${dir} to the job's readWritePaths, or set lock.dir (or $OWNOPS_LOCK_DIR) to a writable directory`
            : `run as root, let this user write ${dir} (it must stay unwritable for others), or set lock.dir (or $OWNOPS_LOCK_DIR) to a directory of this user`,
        cause: error,
      },
    )
  }
  return new OwnopsError(`cannot take the host lock in ${dir}: ${(error as Error).message}`, { kind: 'busy', cause: error })
}

// ---------------------------------------------------------------------------------------------
// Who may write the lock. Anyone who can write the lock directory can hold the host lock
// forever or fake a holder (a host.lock naming pid 1 blocks every run), so the directory must
// belong to root or to the user running ownops, and be writable by nobody else (a group that
// was given write access on purpose is trusted). Files in it are checked too: a lock path
// that is a directory or a symlink is refused with a clear message.

/** Creates the lock directory (mode 0700) when missing, then checks who may write it. */
async function ensureLockDir(dir: string): Promise<void> {
  if ((await lockDirState(dir)) === 'missing') {
    await mkdir(dir, { recursive: true, mode: 0o700 }).catch((error: unknown) => {
      throw lockIoError(dir, error)
    })
  }
  const problem = await lockDirProblem(dir)
  if (problem !== undefined) throw untrustedLock(problem)
}

async function lockDirState(dir: string): Promise<'missing' | 'present'> {
  try {
    await lstat(dir)
    return 'present'
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'missing'
    throw lockIoError(dir, error)
  }
}

export interface LockProblem {
  path: string
  message: string
  hint: string
}

const me = () => (typeof process.geteuid === 'function' ? process.geteuid() : 0)

/** Why a lock directory cannot be trusted, or undefined when only root or this user can write it. */
export async function lockDirProblem(dir: string): Promise<LockProblem | undefined> {
  const elsewhere = "or set lock.dir (or $OWNOPS_LOCK_DIR) to a directory only root (or the job's user) can write"
  let link: Stats
  try {
    link = await lstat(dir)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw lockIoError(dir, error)
  }
  let st = link
  if (link.isSymbolicLink()) {
    if (!trustedOwner(link.uid))
      return {
        path: dir,
        message: `the lock directory ${dir} is a symbolic link owned by ${describeUid(link.uid)}`,
        hint: `remove it (rm ${dir}), ${elsewhere}`,
      }
    try {
      st = await stat(dir)
    } catch (error) {
      throw lockIoError(dir, error)
    }
  }
  if (!st.isDirectory())
    return {
      path: dir,
      message: `the lock directory ${dir} is not a directory`,
      hint: `remove it (rm ${dir}; ownops creates the directory), ${elsewhere}`,
    }
  if (!trustedOwner(st.uid)) {
    return {
      path: dir,
      message: `the lock directory ${dir} belongs to ${describeUid(st.uid)}, not to root${me() === 0 ? '' : ` or ${describeUid(me())}`}: its owner could block every ownops run`,
      hint: `remove it once no ownops run is going (rm -r ${dir}; ownops creates it again), ${elsewhere}`,
    }
  }
  if ((st.mode & 0o002) !== 0) {
    return {
      path: dir,
      message: `the lock directory ${dir} is writable by every user (mode ${(st.mode & 0o7777).toString(8)}): any of them could block every ownops run`,
      hint: `chmod 700 ${dir}, ${elsewhere}`,
    }
  }
  // A parent that everyone may write, without the sticky bit, lets anyone swap the directory.
  const parent = dirname(dir)
  if (parent !== dir) {
    const up = await stat(parent).catch(() => undefined)
    if (up !== undefined && (up.mode & 0o002) !== 0 && (up.mode & 0o1000) === 0) {
      return {
        path: parent,
        message: `the lock directory ${dir} is in ${parent}, which every user may write (mode ${(up.mode & 0o7777).toString(8)}, no sticky bit): anyone could replace it`,
        hint: elsewhere.replace(/^or /, ''),
      }
    }
  }
  return undefined
}

/** Refuses a lock file that is not a regular file, or that someone untrusted owns or may write. */
async function checkLockFile(file: string): Promise<void> {
  let st: Stats
  try {
    st = await lstat(file)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return
    throw lockIoError(dirname(file), error)
  }
  const remove = `remove it once no ownops run is going (rm ${st.isDirectory() ? '-r ' : ''}${file})`
  if (st.isDirectory()) throw untrustedLock({ path: file, message: `the lock file ${file} is a directory`, hint: remove })
  if (!st.isFile())
    throw untrustedLock({
      path: file,
      message: `the lock file ${file} is ${st.isSymbolicLink() ? 'a symbolic link' : 'not a regular file'}`,
      hint: remove,
    })
  const dir = await stat(dirname(file)).catch(() => undefined)
  const sharedDir = dir !== undefined && (dir.mode & 0o020) !== 0
  if (!trustedOwner(st.uid) && st.uid !== dir?.uid && !sharedDir) {
    throw untrustedLock({ path: file, message: `the lock file ${file} belongs to ${describeUid(st.uid)}`, hint: remove })
  }
  if ((st.mode & 0o002) !== 0) throw untrustedLock({ path: file, message: `the lock file ${file} is writable by every user`, hint: remove })
}

function trustedOwner(uid: number): boolean {
  return uid === 0 || uid === me()
}

function untrustedLock(problem: LockProblem): OwnopsError {
  return new OwnopsError(`refusing the host lock: ${problem.message}`, { kind: 'permission', hint: problem.hint })
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
