/**
 * Faults: SIGKILL, SIGTERM and SIGINT at every phase of a backup of a PostgreSQL target
 * with `stop:` containers — while the `before` hook runs, while a container is being
 * stopped, while pg_dump runs (held up by a table lock, so it is still running when the
 * signal comes), and while the `after` hook runs.
 *
 * SIGTERM and SIGINT: the run ends with 143/130 after putting everything back — the
 * stopped containers run again, no pg_dump is left in the database container, no partial
 * file is left. SIGKILL: nothing can run in the killed process, so the next run that takes
 * the host lock finds what the killed one recorded in it: it ends the pg_dump left behind,
 * starts the containers again and says so in a notification. In every case every earlier
 * backup is intact and the next backup works.
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { tempDir, testEnv } from '../helpers/cli.js'
import {
  cleanupAll,
  describeDocker,
  execOk,
  getDocker,
  runContainer,
  startPostgres,
  uniqueName,
  type PostgresContainer,
  type RunningContainer,
} from '../helpers/docker.js'
import { startHttpPeer, type HttpPeer } from '../helpers/http-peer.js'
import { backupLedger, expectNothingLost, faultsTried, runOwnops, startOwnops, strays, until } from './helpers.js'

const PSQL = ['psql', '-U', 'postgres', '-h', '/var/run/postgresql', '-v', 'ON_ERROR_STOP=1', '-At']
type Phase = 'before hook' | 'stopping a container' | 'pg_dump' | 'after hook'
const phases: Phase[] = ['before hook', 'stopping a container', 'pg_dump', 'after hook']
const signals = ['SIGKILL', 'SIGTERM', 'SIGINT'] as const

describeDocker('faults: a signal at every phase of a backup', () => {
  let work: { dir: string; cleanup: () => void }
  let pg: PostgresContainer
  let app: RunningContainer
  let slow: RunningContainer
  let peer: HttpPeer
  const marks = () => join(work.dir, 'marks')
  const sql = (q: string) => execOk(pg.container, [...PSQL, '-d', 'shop', '-c', q]).then((s) => s.trim())
  const running = async (name: string) => (await getDocker().getContainer(name).inspect()).State.Running
  const dumpsInContainer = async () => (await execOk(pg.container, ['ps', '-o', 'pid,args'])).split('\n').filter((l) => /pg_dump/.test(l))

  beforeAll(async () => {
    work = tempDir('ownops-fault-sig-')
    mkdirSync(marks(), { mode: 0o777 })
    peer = await startHttpPeer()
    pg = await startPostgres({ name: uniqueName('sig-pg') })
    await execOk(pg.container, [...PSQL, '-c', 'create database shop'])
    await sql("create table notes(id int primary key, body text); insert into notes values (1, 'keep me')")
    // Two services the backup stops: one stops at once, one takes a moment (and says when it starts stopping).
    app = await runContainer({ name: uniqueName('sig-app'), cmd: ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 0.2; done'] })
    slow = await runContainer({
      name: uniqueName('sig-slow'),
      cmd: ['sh', '-c', 'trap "touch /marks/stopping; sleep 1; exit 0" TERM; while true; do sleep 0.2; done'],
      volumes: [`${marks()}:/marks`],
    })
    const hook = (name: string) => `[sh, -c, "touch ${marks()}/in-${name}; while [ -e ${marks()}/block-${name} ]; do sleep 0.1; done"]`
    writeFileSync(
      join(work.dir, 'ownops.yml'),
      `backup:
  dir: ${join(work.dir, 'backups')}
  targets:
    shop:
      type: postgres
      container: ${pg.container}
      database: shop
      stop: [${app.name}, ${slow.name}]
      before: ${hook('before')}
      after: ${hook('after')}
notify:
  channels:
    hook: { url: "json://127.0.0.1:${peer.port}/hook", levels: [info, warning, error, critical] }
  retries: 0
`,
    )
  }, 120_000)

  afterAll(async () => {
    await peer?.close()
    await pg?.remove()
    work?.cleanup()
    await cleanupAll()
  })

  const cases = phases.flatMap((phase) => signals.map((signal) => [`${signal} while ${phase}`, phase, signal] as const))
  it.for(cases)(
    '%s: the services run again, nothing is left behind, nothing is lost',
    { timeout: 120_000 },
    async ([, phase, signal], ctx) => {
      const env = testEnv(work.dir)
      const config = ['-c', join(work.dir, 'ownops.yml')]
      for (const f of ['in-before', 'in-after', 'stopping']) rmSync(join(marks(), f), { force: true })
      const ledger = backupLedger(join(work.dir, 'backups'))

      // Hold the phase open: a hook that blocks, or a table lock that makes pg_dump wait.
      if (phase === 'before hook') writeFileSync(join(marks(), 'block-before'), '')
      if (phase === 'after hook') writeFileSync(join(marks(), 'block-after'), '')
      if (phase === 'pg_dump') {
        const locker = await getDocker()
          .getContainer(pg.container)
          .exec({
            Cmd: [...PSQL, '-d', 'shop', '-c', 'begin; lock table notes in access exclusive mode; select pg_sleep(600) /* fault-locker */'],
            AttachStdout: false,
            AttachStderr: false,
          })
        await locker.start({ Detach: true })
        await until(
          'the table lock',
          async () =>
            (await sql(
              "select count(*) from pg_locks l join pg_class c on c.oid = l.relation where c.relname = 'notes' and l.mode = 'AccessExclusiveLock' and l.granted",
            )) === '1',
        )
      }
      const releaseLocker = () =>
        sql("select count(pg_terminate_backend(pid)) from pg_stat_activity where query like '%fault-locker%' and pid <> pg_backend_pid()")

      const { child, done } = startOwnops([...config, 'backup', 'shop'], env, work.dir)
      try {
        if (phase === 'before hook') await until('the before hook', () => existsSync(join(marks(), 'in-before')))
        if (phase === 'stopping a container') await until(`${slow.name} stopping`, () => existsSync(join(marks(), 'stopping')))
        if (phase === 'pg_dump')
          await until(
            'pg_dump waiting for the table lock',
            async () =>
              (await sql("select count(*) from pg_stat_activity where application_name = 'pg_dump' and wait_event_type = 'Lock'")) === '1',
          )
        if (phase === 'after hook') await until('the after hook', () => existsSync(join(marks(), 'in-after')))
      } catch (error) {
        child.kill('SIGKILL')
        throw new Error(`${(error as Error).message}; the run said:\n${(await done).stderr}`, { cause: error })
      }
      faultsTried(ctx)
      const sent = peer.requests.length
      child.kill(signal)
      const result = await done
      rmSync(join(marks(), 'block-before'), { force: true })
      rmSync(join(marks(), 'block-after'), { force: true })

      if (signal === 'SIGKILL') {
        expect(result.signal).toBe('SIGKILL')
        if (phase === 'pg_dump') {
          // Until then, monitor says why the service is down.
          const mon = await runOwnops([...config, '--json', 'monitor', 'containers'], env, work.dir)
          const rows = (JSON.parse(mon.stdout) as { checks: Array<{ subject?: string; status: string; message: string }> }).checks
          expect(
            rows.find((r) => r.subject === app.name),
            mon.stderr,
          ).toMatchObject({
            status: 'critical',
            message: expect.stringMatching(/was stopped by ownops backup .* killed before it started it again/),
          })
          const status = await runOwnops([...config, 'lock', 'status'], env, work.dir)
          expect(status.stdout, status.stderr).toMatch(
            new RegExp(`ownops backup \\(pid ${child.pid}\\) was killed with ${app.name}, ${slow.name} stopped`),
          )
        }
        // The next run that takes the host lock puts back what the killed one left.
        const next = await runOwnops([...config, 'lock', 'run', '--', 'true'], env, work.dir)
        expect(next.code, next.stderr).toBe(0)
        if (phase === 'stopping a container' || phase === 'pg_dump') {
          const notes = peer.requests.slice(sent).map((r) => r.json as { level: string; title: string; body: string })
          expect(notes.map((n) => `${n.title}: ${n.body}`).join('\n')).toMatch(new RegExp(`started .*${app.name}.* again`))
        }
      } else {
        expect(result.code, result.stderr).toBe(signal === 'SIGTERM' ? 143 : 130)
        expect(existsSync(join(env.OWNOPS_LOCK_DIR!, 'host.lock')), 'the host lock is released').toBe(false)
      }
      expect(await running(app.name), `${app.name} runs`).toBe(true)
      expect(await running(slow.name), `${slow.name} runs`).toBe(true)
      expect(await dumpsInContainer(), 'no pg_dump left in the database container').toEqual([])
      if (phase === 'pg_dump') await releaseLocker()
      if (signal !== 'SIGKILL') expect(strays(join(work.dir, 'backups', 'shop')), 'no partial file left').toEqual([])
      expectNothingLost(ctx, ledger.losses())
      expect(await sql('select body from notes')).toBe('keep me')

      // The next backup works and leaves nothing odd behind.
      const again = await runOwnops([...config, 'backup', 'shop'], env, work.dir)
      expect(again.code, again.stderr).toBe(0)
      expect(strays(join(work.dir, 'backups', 'shop'))).toEqual([])
      expectNothingLost(ctx, ledger.losses())
    },
  )
})
