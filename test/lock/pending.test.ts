/**
 * What a run must put back if it dies, in the host lock record: containers it stopped,
 * processes it started in containers. A killed run's record goes to whoever takes over the
 * lock; a run that could not start its containers again leaves its record behind.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { flagLeftStopped } from '../../src/monitor/left-stopped.js'
import type { Observation } from '../../src/monitor/types.js'
import { abandonedLock, heldHostLock, HostLock, leftBehind } from '../../src/sys/lock.js'
import { tempDir } from '../helpers/cli.js'

let dir: string
let cleanup: () => void
beforeEach(() => {
  ;({ dir, cleanup } = tempDir())
})
afterEach(() => cleanup())

function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString())
}

function killedRun(lockDir: string, extra: Record<string, unknown>): number {
  mkdirSync(lockDir, { recursive: true })
  const pid = deadPid()
  writeFileSync(
    join(lockDir, 'host.lock'),
    JSON.stringify({
      pid,
      command: 'backup db',
      host: hostname(),
      startedAt: '2026-11-24T03:00:00.000Z',
      nonce: 'dead',
      stops: ['db'],
      ...extra,
    }),
  )
  return pid
}

describe('host lock: what a run leaves to put back', () => {
  it('a killed holder that stopped containers and left a process running hands them to the run that takes over', async () => {
    const lockDir = join(dir, 'lock')
    const pid = killedRun(lockDir, { stopped: ['app', 'worker'], execs: [{ container: 'db', id: 'abc123' }] })
    expect(await abandonedLock(lockDir)).toMatchObject({ pid, stopped: ['app', 'worker'] })
    const lock = await HostLock.acquire({ dir: lockDir, command: 'cleanup' })
    expect(lock.inherited).toMatchObject({
      pid,
      command: 'backup db',
      stopped: ['app', 'worker'],
      execs: [{ container: 'db', id: 'abc123' }],
    })
    expect(heldHostLock()).toBe(lock)
    await lock.release()
    expect(heldHostLock()).toBeUndefined()
    expect(existsSync(join(lockDir, 'host.lock'))).toBe(false)
  })

  it('a killed holder that left nothing to put back is simply taken over', async () => {
    const lockDir = join(dir, 'lock')
    killedRun(lockDir, { stopped: [], execs: [] })
    expect(await abandonedLock(lockDir)).toBeUndefined()
    const lock = await HostLock.acquire({ dir: lockDir, command: 'cleanup' })
    expect(lock.inherited).toBeUndefined()
    await lock.release()
  })

  it('records stops in the lock file as they happen; a release with a container still stopped leaves the record for the next run', async () => {
    const lockDir = join(dir, 'lock')
    const lock = await HostLock.acquire({ dir: lockDir, command: 'backup db' })
    await lock.update((p) => void p.stopped.push('app'))
    await lock.update((p) => void p.execs.push({ container: 'db', id: 'e1' }))
    const onDisk = JSON.parse(readFileSync(join(lockDir, 'host.lock'), 'utf8'))
    expect(onDisk).toMatchObject({ pid: process.pid, nonce: lock.info.nonce, stopped: ['app'], execs: [{ container: 'db', id: 'e1' }] })
    await lock.update((p) => void (p.execs = []))
    expect(leftBehind(lock.info)).toEqual({ stopped: ['app'], execs: [] })
    await lock.release()
    expect(JSON.parse(readFileSync(join(lockDir, 'host.lock'), 'utf8'))).toMatchObject({ stopped: ['app'] })
  })

  it('a release after every container was started again removes the lock', async () => {
    const lockDir = join(dir, 'lock')
    const lock = await HostLock.acquire({ dir: lockDir, command: 'backup db' })
    await lock.update((p) => void p.stopped.push('app'))
    await lock.update((p) => void (p.stopped = p.stopped.filter((n) => n !== 'app')))
    await lock.release()
    expect(existsSync(join(lockDir, 'host.lock'))).toBe(false)
  })
})

describe('monitor: containers a killed run left stopped', () => {
  const row = (name: string, state: string): Observation => ({
    check: 'containers',
    kind: 'containers',
    subject: name,
    id: `containers:${name}`,
    status: 'ok',
    value: 'exited (0)',
    message: `${name} exited 0`,
    container: { id: name, name, state },
  })

  it('a stopped container the dead holder lists is critical, naming the run; others are left as they are', () => {
    const abandoned = {
      pid: 42,
      command: 'backup db',
      host: 'h',
      startedAt: '2026-11-24T03:00:00.000Z',
      nonce: 'n',
      stops: [],
      stopped: ['app'],
    }
    const out = flagLeftStopped([row('app', 'exited'), row('other', 'exited'), row('worker', 'running')], abandoned)
    expect(out[0]).toMatchObject({
      status: 'critical',
      message: expect.stringMatching(/stopped by ownops backup db \(pid 42.*killed before it started it again.*docker start app/),
    })
    expect(out[1]?.status).toBe('ok')
    expect(out[2]?.status).toBe('ok')
    expect(flagLeftStopped([row('app', 'exited')], undefined)[0]?.status).toBe('ok')
  })
})
