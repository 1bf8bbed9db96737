import { spawn, spawnSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { HostLock, currentLockHolder } from '../../src/sys/lock.js'
import { createLogger } from '../../src/log.js'
import { Redactor } from '../../src/redact.js'
import { isOwnopsError } from '../../src/errors.js'
import { BIN, runBin, tempDir, testEnv } from '../helpers/cli.js'

let dir: string
let cleanup: () => void
beforeEach(() => {
  ;({ dir, cleanup } = tempDir())
})
afterEach(() => cleanup())

function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'])
  return Number(child.stdout.toString())
}

/** Until the lock file names `pid` as its holder (a process started under load takes its time). */
async function heldBy(lockFile: string, pid: number | undefined): Promise<void> {
  for (;;) {
    try {
      if ((JSON.parse(readFileSync(lockFile, 'utf8')) as { pid?: number }).pid === pid) return
    } catch {
      // not there yet, or being written
    }
    await sleep(20)
  }
}

function logCapture() {
  const lines: string[] = []
  return { log: createLogger({ level: 'debug', redactor: new Redactor(), format: 'json', write: (l) => lines.push(l) }), lines }
}

describe('host lock (in process)', () => {
  it('a second taker fails with exit 75 naming the holder, then gets it after release', async () => {
    const lockDir = join(dir, 'lock')
    const first = await HostLock.acquire({ dir: lockDir, command: 'backup db', stops: ['app'] })
    const error = await HostLock.acquire({ dir: lockDir, command: 'cleanup' }).catch((e: unknown) => e)
    expect(isOwnopsError(error) && error.exitCode).toBe(75)
    expect((error as Error).message).toContain(`pid ${process.pid} (ownops backup db`)
    expect(await currentLockHolder(lockDir)).toMatchObject({ pid: process.pid, command: 'backup db', stops: ['app'] })
    await first.release()
    expect(await currentLockHolder(lockDir)).toBeUndefined()
    const second = await HostLock.acquire({ dir: lockDir, command: 'cleanup' })
    await second.release()
  })

  it('waits up to the configured time and takes the lock when it is released', async () => {
    const lockDir = join(dir, 'lock')
    const first = await HostLock.acquire({ dir: lockDir, command: 'backup' })
    const { log, lines } = logCapture()
    const waiting = HostLock.acquire({ dir: lockDir, command: 'monitor', waitMs: 60_000, pollMs: 20, log })
    // Released once the second taker says it waits, however long a busy machine takes to get there.
    while (!lines.join('').includes('waiting for the host lock')) await sleep(10)
    await first.release()
    const second = await waiting
    expect(second.info.command).toBe('monitor')
    expect(lines.join('')).toContain('waiting for the host lock')
    await second.release()
  })

  it('takes over a lock whose holder died, and logs it', async () => {
    const lockDir = join(dir, 'lock')
    mkdirSync(lockDir)
    const pid = deadPid()
    writeFileSync(
      join(lockDir, 'host.lock'),
      JSON.stringify({
        pid,
        command: 'backup db',
        host: (await import('node:os')).hostname(),
        startedAt: new Date().toISOString(),
        nonce: 'dead',
        stops: [],
      }),
    )
    const { log, lines } = logCapture()
    const lock = await HostLock.acquire({ dir: lockDir, command: 'restore', log })
    expect(lines.join('')).toContain('took over a stale host lock')
    expect(lines.join('')).toContain(`"stalePid":${pid}`)
    await lock.release()
  })

  it('treats a reused pid (same pid, other start time) as stale', async () => {
    const lockDir = join(dir, 'lock')
    mkdirSync(lockDir)
    writeFileSync(
      join(lockDir, 'host.lock'),
      JSON.stringify({
        pid: process.pid,
        startTime: 1,
        command: 'old',
        host: (await import('node:os')).hostname(),
        startedAt: '2020-01-01T00:00:00Z',
        nonce: 'old',
        stops: [],
      }),
    )
    const lock = await HostLock.acquire({ dir: lockDir, command: 'new' })
    expect(lock.info.command).toBe('new')
    await lock.release()
  })

  it('replaces an unreadable lock file', async () => {
    const lockDir = join(dir, 'lock')
    mkdirSync(lockDir)
    writeFileSync(join(lockDir, 'host.lock'), 'garbage')
    const lock = await HostLock.acquire({ dir: lockDir, command: 'x' })
    await lock.release()
    expect(existsSync(join(lockDir, 'host.lock'))).toBe(false)
  })

  it('only one of many concurrent takers of a stale lock wins', async () => {
    const lockDir = join(dir, 'lock')
    mkdirSync(lockDir)
    writeFileSync(
      join(lockDir, 'host.lock'),
      JSON.stringify({
        pid: deadPid(),
        command: 'x',
        host: (await import('node:os')).hostname(),
        startedAt: '2020-01-01T00:00:00Z',
        nonce: 'n',
        stops: [],
      }),
    )
    const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => HostLock.acquire({ dir: lockDir, command: `c${i}` })))
    const won = results.filter((r) => r.status === 'fulfilled')
    expect(won).toHaveLength(1)
    expect(results.filter((r) => r.status === 'rejected').every((r) => isOwnopsError(r.reason))).toBe(true)
  })
})

describe('host lock (two real ownops processes)', () => {
  it('the second run exits 75 and names the holder; a lock left by a killed process is recovered', async () => {
    const env = testEnv(dir)
    const holder = spawn(process.execPath, [BIN, 'lock', 'run', '--', 'sleep', '30'], { env, cwd: dir, stdio: 'ignore' })
    const lockFile = join(dir, 'lock', 'host.lock')
    await heldBy(lockFile, holder.pid)

    const second = await runBin(['lock', 'run', '--', 'true'], { env, cwd: dir })
    expect(second.code).toBe(75)
    expect(second.stderr).toContain(`another ownops run holds the host lock: pid ${holder.pid} (ownops lock run sleep 30`)

    const status = await runBin(['--json', 'lock', 'status'], { env, cwd: dir })
    expect(status.code).toBe(1)
    expect(JSON.parse(status.stdout).holder.pid).toBe(holder.pid)

    // SIGKILL: no clean-up runs, the lock file stays behind.
    holder.kill('SIGKILL')
    await new Promise((resolve) => holder.once('exit', resolve))
    expect(JSON.parse(readFileSync(lockFile, 'utf8')).pid).toBe(holder.pid)

    const third = await runBin(['lock', 'run', '--', 'sh', '-c', 'exit 7'], { env, cwd: dir })
    expect(third.code).toBe(7)
    expect(third.stderr).toContain('took over a stale host lock')
    expect(existsSync(lockFile)).toBe(false)
  })

  it('--wait queues behind a running holder', async () => {
    const env = testEnv(dir)
    // The holder keeps the lock until it is told to let go: no race with the waiter's start-up.
    const release = join(dir, 'release')
    const holder = spawn(process.execPath, [BIN, 'lock', 'run', '--', 'sh', '-c', `while [ ! -e '${release}' ]; do sleep 0.05; done`], {
      env,
      cwd: dir,
      stdio: 'ignore',
    })
    await heldBy(join(dir, 'lock', 'host.lock'), holder.pid)
    const waiter = spawn(process.execPath, [BIN, 'lock', 'run', '--wait', '10m', '--', 'true'], {
      env,
      cwd: dir,
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let stderr = ''
    const saysWaiting = new Promise<void>((resolve) =>
      waiter.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString()
        if (stderr.includes('waiting for the host lock')) resolve()
      }),
    )
    const exited = new Promise<number | null>((resolve) => waiter.once('exit', (code) => resolve(code)))
    await saysWaiting
    writeFileSync(release, '')
    expect(await exited, stderr).toBe(0)
    await new Promise((resolve) => (holder.exitCode === null ? holder.once('exit', resolve) : resolve(null)))
  })
})
