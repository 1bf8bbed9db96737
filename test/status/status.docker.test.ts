/**
 * `ownops status` with a real PostgreSQL backup, and with a pending restart: a real
 * `ownops restart app --in 2h` counting down in its own process, against a real container;
 * status lists it while the countdown runs, and no longer once the process is gone — without
 * touching its state file.
 */
import { spawn } from 'node:child_process'
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import type { StatusReport } from '../../src/status/assess.js'
import { BIN, runCli, tempDir, testEnv } from '../helpers/cli.js'
import {
  cleanupAll,
  describeDocker,
  execOk,
  runContainer,
  startPostgres,
  uniqueName,
  type PostgresContainer,
  type RunningContainer,
} from '../helpers/docker.js'

async function until(what: string, test: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!(await test())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

describeDocker('ownops status: pending restarts', () => {
  let dir: string
  let done: () => void
  let app: RunningContainer

  beforeAll(async () => {
    ;({ dir, cleanup: done } = tempDir('ownops-status-restart-'))
    app = await runContainer({ name: uniqueName('status-app'), cmd: ['sh', '-c', 'trap "exit 0" TERM; while :; do sleep 1; done'] })
    writeFileSync(join(dir, 'ownops.yml'), `restart:\n  services:\n    app: { container: ${app.name} }\n`)
  })
  afterAll(async () => {
    await cleanupAll()
    done?.()
  })

  it('a countdown in another process is pending; once that process is gone, it is not', async () => {
    const env = testEnv(dir, { TZ: 'UTC' })
    const child = spawn(process.execPath, [BIN, 'restart', 'app', '--in', '2h', '--reason', 'kernel update'], {
      env,
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)))
    const record = join(dir, 'state', 'restart-app.json')
    await until('the pending restart', () => existsSync(record))

    const result = await runCli(['status', '--json'], { env, cwd: dir })
    const report = JSON.parse(result.stdout) as StatusReport
    expect(report.restarts).toEqual([
      expect.objectContaining({ service: 'app', phase: 'countdown', pid: child.pid, reason: 'kernel update' }),
    ])
    const text = await runCli(['status'], { env, cwd: dir })
    expect(text.stdout).toMatch(
      /Restarts pending\n\s+SERVICE\s+AT\s+PHASE\s+BY\s+REASON\n\s+app\s+\S+ \S+ \(in (?:1h59m|2h)\)\s+countdown\s+pid \d+\s+kernel update/,
    )

    child.kill('SIGINT') // cancels the countdown; the container keeps running
    expect(await exited).toBe(130)
    const after = JSON.parse((await runCli(['status', '--json'], { env, cwd: dir })).stdout) as StatusReport
    expect(after.restarts).toEqual([])
  }, 90_000)
})

describeDocker('ownops status: a PostgreSQL target', () => {
  let dir: string
  let done: () => void
  let pg: PostgresContainer | undefined

  beforeAll(async () => {
    ;({ dir, cleanup: done } = tempDir('ownops-status-pg-'))
    pg = await startPostgres({ name: uniqueName('status-pg') })
    await execOk(pg.container, ['psql', '-U', 'postgres', '-h', '/var/run/postgresql', '-c', 'create database shop'])
    writeFileSync(
      join(dir, 'ownops.yml'),
      `backup:\n  dir: ${join(dir, 'backups')}\n  targets:\n    shop: { type: postgres, container: ${pg.container}, database: shop }\n`,
    )
  }, 180_000)
  afterAll(async () => {
    await pg?.remove()
    done?.()
  })

  it('no backup yet, then the newest real dump: its age and size, verified, fresh until its scheduled run is missed', async () => {
    const env = testEnv(dir, { TZ: 'UTC' })
    let now = new Date('2026-03-01T02:00:00Z')
    const cli = (args: string[]) => runCli(args, { env, cwd: dir, clock: () => now })
    const report = async () => JSON.parse((await cli(['status', '--json'])).stdout) as StatusReport
    expect((await report()).targets).toEqual([expect.objectContaining({ target: 'shop', type: 'postgres', status: 'missing' })])
    now = new Date('2026-03-01T03:01:00Z')
    const backup = await cli(['backup'])
    expect(backup.code, backup.stderr).toBe(0)
    expect((await cli(['verify', 'shop'])).code).toBe(0)
    now = new Date('2026-03-01T12:00:00Z')
    const fresh = (await report()).targets[0]
    expect(fresh).toMatchObject({ status: 'ok', newest: { time: '2026-03-01T03:01:00.000Z', ageSeconds: 8 * 3600 + 59 * 60 } })
    expect(fresh?.newest?.size).toBeGreaterThan(0)
    expect(fresh?.newest?.verified?.how).toBe('readable')
    now = new Date('2026-03-02T05:00:00Z')
    expect((await report()).targets[0]?.status).toBe('stale')
  }, 120_000)
})
