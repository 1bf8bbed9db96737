import { spawn, spawnSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { HostLock, currentLockHolder } from '../src/sys/lock.js'
import { createLogger } from '../src/log.js'
import { Redactor } from '../src/redact.js'
import { isOwnopsError } from '../src/errors.js'
import { BIN, runBin, tempDir, testEnv } from './helpers/cli.js'

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
    const waiting = HostLock.acquire({ dir: lockDir, command: 'monitor', waitMs: 10_000, pollMs: 20, log })
    await sleep(100)
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
    writeFileSync(join(lockDir, 'host.lock'), JSON.stringify({ pid, command: 'backup db', host: (await import('node:os')).hostname(), startedAt: new Date().toISOString(), nonce: 'dead', stops: [] }))
    const { log, lines } = logCapture()
    const lock = await HostLock.acquire({ dir: lockDir, command: 'restore', log })
    expect(lines.join('')).toContain('took over a stale host lock')
    expect(lines.join('')).toContain(`"stalePid":${pid}`)
    await lock.release()
  })

  it('treats a reused pid (same pid, other start time) as stale', async () => {
    const lockDir = join(dir, 'lock')
    mkdirSync(lockDir)
    writeFileSync(join(lockDir, 'host.lock'), JSON.stringify({ pid: process.pid, startTime: 1, command: 'old', host: (await import('node:os')).hostname(), startedAt: '2020-01-01T00:00:00Z', nonce: 'old', stops: [] }))
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
    writeFileSync(join(lockDir, 'host.lock'), JSON.stringify({ pid: deadPid(), command: 'x', host: (await import('node:os')).hostname(), startedAt: '2020-01-01T00:00:00Z', nonce: 'n', stops: [] }))
    const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => HostLock.acquire({ dir: lockDir, command: `c${i}` })))
    const won = results.filter((r) => r.status === 'fulfilled')
    expect(won).toHaveLength(1)
    expect(results.filter((r) => r.status === 'rejected').every((r) => isOwnopsError((r as PromiseRejectedResult).reason))).toBe(true)
  })
})

describe('host lock (two real ownops processes)', () => {
  it('the second run exits 75 and names the holder; a lock left by a killed process is recovered', async () => {
    const env = testEnv(dir)
    const holder = spawn(process.execPath, [BIN, 'lock', 'run', '--', 'sleep', '30'], { env, cwd: dir, stdio: 'ignore' })
    const lockFile = join(dir, 'lock', 'host.lock')
    for (let i = 0; i < 100 && !existsSync(lockFile); i++) await sleep(50)
    expect(existsSync(lockFile)).toBe(true)

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
    const holder = spawn(process.execPath, [BIN, 'lock', 'run', '--', 'sleep', '1'], { env, cwd: dir, stdio: 'ignore' })
    const lockFile = join(dir, 'lock', 'host.lock')
    for (let i = 0; i < 100 && !existsSync(lockFile); i++) await sleep(50)
    const waited = await runBin(['lock', 'run', '--wait', '20s', '--', 'true'], { env, cwd: dir })
    expect(waited.code).toBe(0)
    expect(waited.stderr).toContain('waiting for the host lock')
    await new Promise((resolve) => (holder.exitCode === null ? holder.once('exit', resolve) : resolve(null)))
  })
})
