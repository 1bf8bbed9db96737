/**
 * A restart planned further ahead than a timer can hold (Node fires a timer of more than
 * 24.8 days at once): `ownops restart app --in 25d` must wait, not restart now.
 */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { tempDir, testEnv } from '../helpers/cli.js'
import { cleanupAll, describeDocker, getDocker, runContainer, uniqueName, type RunningContainer } from '../helpers/docker.js'
import { startOwnops, until } from '../faults/helpers.js'

describeDocker('restart: a delay longer than a timer can hold', () => {
  let work: { dir: string; cleanup: () => void }
  let app: RunningContainer
  beforeAll(async () => {
    work = tempDir('ownops-restart-long-')
    app = await runContainer({ name: uniqueName('long-app'), cmd: ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 0.2; done'] })
  }, 60_000)
  afterAll(async () => {
    work?.cleanup()
    await cleanupAll()
  })

  it('--in 25d counts down instead of restarting at once; SIGTERM cancels it and the container never stopped', async () => {
    const started = (await getDocker().getContainer(app.name).inspect()).State.StartedAt
    let stderr = ''
    const run = startOwnops(['restart', app.name, '--in', '25d'], testEnv(work.dir), work.dir)
    run.child.stderr?.on('data', (c: Buffer) => void (stderr += c.toString()))
    await until('the countdown', () => /restart of .* in .*Ctrl-C cancels/.test(stderr))
    run.child.kill('SIGTERM')
    const result = await run.done
    expect(result.code, result.stderr).toBe(143)
    expect(result.stderr).not.toMatch(/TimeoutOverflowWarning/)
    expect(result.stderr).not.toMatch(/restarting now|stopping/)
    const now = (await getDocker().getContainer(app.name).inspect()).State
    expect(now.Running).toBe(true)
    expect(now.StartedAt).toBe(started)
  }, 60_000)
})
