/**
 * `ownops status` and a pending restart: a real `ownops restart app --in 2h` counting down in
 * its own process, against a real container; status lists it while the countdown runs, and
 * no longer once the process is gone — without touching its state file.
 */
import { spawn } from 'node:child_process'
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import type { StatusReport } from '../../src/status/assess.js'
import { BIN, runCli, tempDir, testEnv } from '../helpers/cli.js'
import { cleanupAll, describeDocker, runContainer, uniqueName, type RunningContainer } from '../helpers/docker.js'

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
