/**
 * Faults: SIGTERM to a real ownops process while it waits for a container to stop — a
 * backup's `stop:`, a restore's stop before the swap, a restart — where the container
 * ignores its stop signal and asks for a ten-minute grace (its own stop timeout, or the
 * restart's stopTimeout). The run does not sit out the grace: it ends on its own with 143
 * well before it (the deadline here is generous, and far below the grace), and leaves a
 * safe state: every container it stopped runs again, the one it had not reached yet was
 * never stopped, the host lock is released, the backup left no partial file, the restore
 * left the data as it was, and a notification says the run was interrupted and what was
 * started again.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { tempDir, testEnv } from '../helpers/cli.js'
import { cleanupAll, describeDocker, getDocker, runContainer, uniqueName, type RunningContainer } from '../helpers/docker.js'
import { startHttpPeer, type HttpPeer } from '../helpers/http-peer.js'
import { faultsTried, runOwnops, startOwnops, strays, until, type ProcessResult } from './helpers.js'

/** Far below the ten-minute grace, far above what putting things back takes. */
const DEADLINE_MS = 90_000
const GRACE_SEC = 600

describeDocker('faults: SIGTERM while a container is being stopped', () => {
  let work: { dir: string; cleanup: () => void }
  let quick: RunningContainer
  let stubborn: RunningContainer
  let later: RunningContainer
  let peer: HttpPeer
  const marks = () => join(work.dir, 'marks')
  const site = () => join(work.dir, 'site')
  const config = () => join(work.dir, 'ownops.yml')
  const state = async (name: string) => (await getDocker().getContainer(name).inspect()).State

  beforeAll(async () => {
    work = tempDir('ownops-fault-stop-')
    mkdirSync(marks(), { mode: 0o777 })
    mkdirSync(site())
    writeFileSync(join(site(), 'data.txt'), 'keep me')
    peer = await startHttpPeer()
    const loop = 'while true; do sleep 0.2; done'
    quick = await runContainer({ name: uniqueName('stop-quick'), cmd: ['sh', '-c', `trap "exit 0" TERM; ${loop}`] })
    // Ignores its stop signal (and says it got it), and asks for ten minutes before the kill.
    stubborn = await runContainer({
      name: uniqueName('stop-stubborn'),
      cmd: ['sh', '-c', `trap "touch /marks/term" TERM; ${loop}`],
      volumes: [`${marks()}:/marks`],
      stopTimeoutSec: GRACE_SEC,
    })
    later = await runContainer({ name: uniqueName('stop-later'), cmd: ['sh', '-c', `trap "exit 0" TERM; ${loop}`] })
    const common = `notify:
  retries: 0
  channels:
    hook: { url: "json://127.0.0.1:${peer.port}/hook", levels: [info, warning, error, critical] }
restart:
  services:
    stubborn: { container: ${stubborn.name}, stopTimeout: ${GRACE_SEC / 60}m }
`
    writeFileSync(
      config(),
      `backup:\n  dir: ${join(work.dir, 'backups')}\n  targets:\n    site: { type: directory, path: ${site()}, compression: gzip, stop: [${quick.name}, ${stubborn.name}, ${later.name}] }\n${common}`,
    )
    // The backup the restore restores, made without stopping anything.
    writeFileSync(
      join(work.dir, 'plain.yml'),
      `backup:\n  dir: ${join(work.dir, 'backups')}\n  targets:\n    site: { type: directory, path: ${site()}, compression: gzip }\n`,
    )
    const b = await runOwnops(['-c', join(work.dir, 'plain.yml'), 'backup', 'site'], testEnv(work.dir), work.dir)
    expect(b.code, b.stderr).toBe(0)
  }, 120_000)

  afterAll(async () => {
    await peer?.close()
    await cleanupAll()
    work?.cleanup()
  })

  const cases = [
    {
      name: 'backup with stop:',
      args: ['backup', 'site'],
      stops: () => [quick.name, stubborn.name],
      untouched: () => [later.name],
      title: /^backup of site interrupted/,
    },
    {
      name: 'restore',
      args: ['restore', 'site', '--yes', '--no-safety-copy'],
      stops: () => [quick.name, stubborn.name],
      untouched: () => [later.name],
      title: /^restore of site interrupted/,
    },
    {
      name: 'restart',
      args: ['restart', 'stubborn'],
      stops: () => [stubborn.name],
      untouched: () => [quick.name, later.name],
      title: /^restart of stubborn interrupted/,
    },
  ]

  it.for(cases)(
    '$name: ends with 143 before the grace is out; what it stopped runs again, the lock is free, it is notified',
    { timeout: DEADLINE_MS + 60_000 },
    async (c, ctx) => {
      rmSync(join(marks(), 'term'), { force: true })
      const env = testEnv(work.dir)
      const before = new Map<string, string>()
      for (const name of [quick.name, stubborn.name, later.name]) before.set(name, (await state(name)).StartedAt)
      const sent = peer.requests.length

      const { child, done } = startOwnops(['-c', config(), ...c.args], env, work.dir)
      try {
        // The engine has given the container its stop signal: ownops waits for the stop.
        await until(`${stubborn.name} getting its stop signal`, () => existsSync(join(marks(), 'term')), 1200)
      } catch (error) {
        child.kill('SIGKILL')
        throw new Error(`${(error as Error).message}; the run said:\n${(await done).stderr}`, { cause: error })
      }
      faultsTried(ctx)
      child.kill('SIGTERM')
      let timer: NodeJS.Timeout | undefined
      const result = await Promise.race([
        done,
        new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), DEADLINE_MS))),
      ])
      clearTimeout(timer)
      if (result === undefined) {
        child.kill('SIGKILL')
        throw new Error(
          `ownops ${c.args[0]} was still running ${DEADLINE_MS / 1000} s after the SIGTERM (the container's grace is ${GRACE_SEC} s); it said:\n${(await done).stderr}`,
        )
      }
      const ended: ProcessResult = result

      expect(ended.code, ended.stderr).toBe(143)
      expect(existsSync(join(env.OWNOPS_LOCK_DIR!, 'host.lock')), 'the host lock is released').toBe(false)
      for (const name of c.stops()) {
        const now = await state(name)
        expect(now.Running, `${name} runs again`).toBe(true)
        expect(now.StartedAt, `${name} was stopped and started again`).not.toBe(before.get(name))
      }
      for (const name of c.untouched()) {
        const now = await state(name)
        expect(now.Running, `${name} runs`).toBe(true)
        expect(now.StartedAt, `${name} was never stopped`).toBe(before.get(name))
      }
      const notes = peer.requests.slice(sent).map((r) => r.json as { level: string; title: string; body: string })
      const note = notes.find((n) => c.title.test(n.title))
      expect(note, `${JSON.stringify(notes, null, 2)}\n${ended.stderr}`).toBeDefined()
      expect(note?.level).toBe('error')
      expect(note?.body).toMatch(new RegExp(`${stubborn.name}.*(again|running)`))
      if (c.args[0] === 'backup') expect(strays(join(work.dir, 'backups', 'site')), 'no partial file left').toEqual([])
      if (c.args[0] === 'restore') {
        expect(readFileSync(join(site(), 'data.txt'), 'utf8')).toBe('keep me')
        expect(
          readdirSync(work.dir).filter((n) => n.startsWith('site') && n !== 'site'),
          'no staged or kept copy left',
        ).toEqual([])
      }
    },
  )
})
