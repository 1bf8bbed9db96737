/**
 * Proves the Docker test environment works: the offline busybox image runs, a real
 * PostgreSQL server comes up in it, and everything created is removed again.
 */
import { afterAll, expect, it } from 'vitest'
import {
  NAME_PREFIX,
  TEST_IMAGE,
  cleanupAll,
  containerLogs,
  describeDocker,
  dockerState,
  exec,
  getDocker,
  runContainer,
  startPostgres,
  uniqueName,
  waitForExit,
} from './helpers/docker.js'

// Every object this file creates carries this prefix, so the last test can prove
// that nothing is left behind.
const prefix = uniqueName('env')

describeDocker('test environment', () => {
  afterAll(cleanupAll)

  it('talks to the engine and has the test image', async () => {
    const state = await dockerState()
    expect(state.ok).toBe(true)
    const image = await getDocker().getImage(TEST_IMAGE).inspect()
    expect(image.Config.Labels?.['org.ownops.test-image.rev']).toBeTruthy()
    expect(image.Config.Labels?.['ownops-test']).toBeUndefined()
  })

  it('runs a busybox container', async () => {
    const c = await runContainer({ name: `${prefix}-echo`, cmd: ['echo', 'hello'] })
    expect(c.name.startsWith(NAME_PREFIX)).toBe(true)
    expect(await waitForExit(c.name)).toBe(0)
    expect((await containerLogs(c.name)).trim()).toBe('hello')
    const info = await getDocker().getContainer(c.id).inspect()
    expect(info.HostConfig.NetworkMode).toBe('none')
    expect(info.Config.Labels['ownops-test']).toBe('1')
    await c.remove()
  })

  it('keeps busybox reachable when the host /usr is mounted', async () => {
    const c = await runContainer({
      name: `${prefix}-usr`,
      cmd: ['sh', '-c', 'ls /usr/lib/postgresql >/dev/null && /bin/busybox true && echo ok'],
      hostUsr: true,
    })
    expect(await waitForExit(c.name)).toBe(0)
    expect((await containerLogs(c.name)).trim()).toBe('ok')
  })

  it('starts PostgreSQL, runs SQL and pg_dump through docker exec', async () => {
    const t0 = Date.now()
    const pg = await startPostgres({ name: `${prefix}-pg` })
    const startedMs = Date.now() - t0
    expect(pg.volume).toBe(`${prefix}-pg-data`)

    const one = await exec(pg.container, ['psql', '-U', 'postgres', '-h', '/var/run/postgresql', '-c', 'select 1'])
    expect(one.exitCode, one.stderr).toBe(0)

    const sum = await exec(pg.container, [
      'psql',
      '-U',
      'postgres',
      '-h',
      '/var/run/postgresql',
      '-v',
      'ON_ERROR_STOP=1',
      '-At',
      '-c',
      'create table t(x int); insert into t values (1),(2); select sum(x) from t',
    ])
    expect(sum.exitCode, sum.stderr).toBe(0)
    expect(sum.stdout.trim().split('\n').pop()).toBe('3')

    const dump = await exec(pg.container, ['pg_dump', '-U', 'postgres', '-h', '/var/run/postgresql', '-Fc', 'postgres'])
    expect(dump.exitCode, dump.stderr).toBe(0)
    expect(dump.stdoutBuffer.length).toBeGreaterThan(0)
    expect(dump.stdoutBuffer.subarray(0, 5).toString('latin1')).toBe('PGDMP')

    // The data lives on the named volume and belongs to the container's postgres user.
    const owner = await exec(pg.container, ['stat', '-c', '%U %a', '/var/lib/postgresql/data'])
    expect(owner.stdout.trim()).toBe('postgres 700')
    console.info(`[test-env] PostgreSQL ${pg.pgVersion} ready in ${startedMs} ms`)
  })

  it('leaves nothing behind after cleanupAll()', async () => {
    await cleanupAll()
    const docker = getDocker()
    const containers = await docker.listContainers({ all: true, filters: { name: [prefix] } })
    expect(containers.map((c) => c.Names)).toEqual([])
    const { Volumes } = await docker.listVolumes({ filters: { name: [prefix] } })
    expect((Volumes ?? []).map((v) => v.Name)).toEqual([])
  })
})
