/**
 * The grace a container is given when a backup or a restore stops it is the one it asks for
 * (`docker run --stop-timeout`, compose's `stop_grace_period`), as `docker stop` and
 * `docker compose stop` give it — not a fixed 30 s that cuts a database's longer shutdown
 * short or holds a quick one up. Seen from the container: one that asks for 1 s and takes 3 s
 * to shut down is killed before it finishes (with 30 s it would finish).
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { runCli, tempDir, testEnv } from '../helpers/cli.js'
import { cleanupAll, describeDocker, getDocker, runContainer, uniqueName, type RunningContainer } from '../helpers/docker.js'

describeDocker('the stop grace of a container', () => {
  let work: { dir: string; cleanup: () => void }
  let app: RunningContainer
  const marks = () => join(work.dir, 'marks')

  beforeAll(async () => {
    work = tempDir()
    mkdirSync(marks(), { mode: 0o777 })
    mkdirSync(join(work.dir, 'site'))
    writeFileSync(join(work.dir, 'site', 'data.txt'), 'data')
    // Shuts down in 3 s, and says when it is done; asks for 1 s.
    app = await runContainer({
      name: uniqueName('grace'),
      cmd: ['sh', '-c', 'trap "sleep 3; touch /marks/clean; exit 0" TERM; while true; do sleep 0.2; done'],
      volumes: [`${marks()}:/marks`],
      stopTimeoutSec: 1,
    })
    writeFileSync(
      join(work.dir, 'ownops.yml'),
      `backup:\n  dir: ${join(work.dir, 'backups')}\n  targets:\n    site: { type: directory, path: ${join(work.dir, 'site')}, compression: gzip, stop: [${app.name}] }\n`,
    )
  }, 60_000)
  afterAll(async () => {
    await cleanupAll()
    work?.cleanup()
  })

  it.for([
    ['backup', 'site'],
    ['restore', 'site', '--yes', '--no-safety-copy'],
  ])('%s stops it with its own stop timeout, and starts it again', async (args) => {
    rmSync(join(marks(), 'clean'), { force: true })
    const before = (await getDocker().getContainer(app.name).inspect()).State.StartedAt
    const run = await runCli(['-c', join(work.dir, 'ownops.yml'), ...args], { env: testEnv(work.dir), cwd: work.dir })
    expect(run.code, run.stderr).toBe(0)
    const after = (await getDocker().getContainer(app.name).inspect()).State
    expect(after.Running).toBe(true)
    expect(after.StartedAt, 'it was stopped and started again').not.toBe(before)
    expect(existsSync(join(marks(), 'clean')), 'killed after its 1 s, before its 3 s shutdown was over').toBe(false)
  })
})
