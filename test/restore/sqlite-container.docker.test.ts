/**
 * A SQLite target with `container:` (the README's `jobs:` example): the container that
 * mounts the file is stopped for the swap (and shown in the plan), started again after, and
 * a restore that fails and rolls back leaves no safety copy behind.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, expect, it } from 'vitest'
import { runCli, tempDir, testEnv } from '../helpers/cli.js'
import { cleanupAll, describeDocker, getDocker, runContainer, uniqueName } from '../helpers/docker.js'

afterAll(cleanupAll)

const LOOP = ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 1; done']

function setup(container: string, extra = '') {
  const work = tempDir()
  const data = join(work.dir, 'data')
  mkdirSync(data)
  const db = join(data, 'jobs.db')
  execFileSync('sqlite3', [db, 'create table t(x); insert into t values (1);'])
  const config = join(work.dir, 'ownops.yml')
  writeFileSync(
    config,
    `backup:\n  dir: ${join(work.dir, 'backups')}\n  targets:\n    jobs: { type: sqlite, container: ${container}, path: /app/data/jobs.db }\n${extra}`,
  )
  const cli = (args: string[]) => runCli(['--json', '-c', config, ...args], { env: testEnv(work.dir), cwd: work.dir })
  const count = () => execFileSync('sqlite3', [db, 'select count(*) from t']).toString().trim()
  const backups = async () =>
    (JSON.parse((await cli(['backups', 'jobs'])).stdout) as { targets: Array<{ backups: Array<{ id: string; safetyCopy?: boolean }> }> })
      .targets[0]?.backups ?? []
  return { work, data, db, cli, count, backups }
}

describeDocker('restore: SQLite in a container', () => {
  it('stops the container that mounts the file (in the plan), swaps, starts it again; restore --all too', async () => {
    const name = uniqueName('jobmanager')
    const { work, data, cli, count } = setup(name)
    const app = await runContainer({ name, cmd: LOOP, volumes: [`${data}:/app/data`] })
    try {
      const docker = getDocker()
      expect((await cli(['backup', 'jobs'])).code).toBe(0)
      execFileSync('sqlite3', [join(data, 'jobs.db'), 'insert into t values (2);'])
      const plan = await cli(['restore', 'jobs', '--dry-run'])
      expect(plan.code, plan.stdout).toBe(0)
      expect((JSON.parse(plan.stdout) as { stops: string[] }).stops).toEqual([app.name])
      const text = await runCli(['-c', join(work.dir, 'ownops.yml'), 'restore', 'jobs', '--dry-run'], {
        env: testEnv(work.dir),
        cwd: work.dir,
      })
      expect(text.stdout).toContain(`stops:    ${app.name} (uses the data) — started again afterwards`)
      const before = (await docker.getContainer(app.name).inspect()).State.StartedAt
      const r = await cli(['restore', 'jobs', '--yes'])
      expect(r.code, r.stdout).toBe(0)
      expect(count()).toBe('1')
      const after = (await docker.getContainer(app.name).inspect()).State
      expect(after.Running).toBe(true)
      expect(after.StartedAt).not.toBe(before)
      execFileSync('sqlite3', [join(data, 'jobs.db'), 'insert into t values (3);'])
      const all = await cli(['restore', '--all', '--yes'])
      expect(all.code, all.stdout).toBe(0)
      expect(count()).toBe('1')
      expect((await docker.getContainer(app.name).inspect()).State.Running).toBe(true)
    } finally {
      await app.remove()
      work.cleanup()
    }
  }, 90_000)

  it('a restore that fails and rolls back leaves no safety copy of its own: trying again does not pile them up', async () => {
    const name = uniqueName('jobsick')
    const { work, data, cli, count, backups } = setup(name, 'restore: { healthTimeout: 2s }\n')
    // Healthy enough to run, but its health check never passes: the restore rolls back.
    const app = await runContainer({
      name,
      cmd: LOOP,
      volumes: [`${data}:/app/data`],
      healthcheck: { test: ['CMD-SHELL', 'false'], intervalMs: 500, retries: 1 },
    })
    try {
      expect((await cli(['backup', 'jobs'])).code).toBe(0)
      execFileSync('sqlite3', [join(data, 'jobs.db'), 'insert into t values (2);'])
      for (let attempt = 0; attempt < 2; attempt++) {
        const r = await cli(['restore', 'jobs', '--yes'])
        expect(r.code, r.stdout).toBe(1)
        expect(r.stdout).toMatch(/rolled back: the data is as it was before the restore/)
        expect(r.stdout).toMatch(/the safety copy jobs-\S+ of this attempt was removed/)
        expect(count()).toBe('2')
        expect((await backups()).filter((b) => b.safetyCopy === true)).toEqual([])
      }
      expect(await backups()).toHaveLength(1)
      expect((await getDocker().getContainer(app.name).inspect()).State.Running).toBe(true)
    } finally {
      await app.remove()
      work.cleanup()
    }
  }, 90_000)
})
