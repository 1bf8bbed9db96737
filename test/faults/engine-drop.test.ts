/**
 * Faults: the connection to the Docker engine drops while ownops stops a container — the
 * engine still stops it, ownops never hears back, and the engine refuses the next few
 * connections (a proxy in front of docker.sock does all of this). Whether it happens in a
 * backup's `stop:` or in the swap of a restore, every container ownops asked to stop runs
 * again at the end (starting is retried until the engine answers), the run fails with a
 * clear message, and no data changes.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { tempDir, testEnv } from '../helpers/cli.js'
import { cleanupAll, describeDocker, getDocker, runContainer, uniqueName, type RunningContainer } from '../helpers/docker.js'
import { startDockerProxy, type DockerProxy } from '../helpers/docker-proxy.js'
import { startHttpPeer, type HttpPeer } from '../helpers/http-peer.js'
import { backupLedger, expectNothingLost, faultsTried, runOwnops, startOwnops, strays } from './helpers.js'

describeDocker('faults: the engine connection drops during a stop', () => {
  let work: { dir: string; cleanup: () => void }
  let app: RunningContainer
  let slow: RunningContainer
  let proxy: DockerProxy
  let peer: HttpPeer
  const data = () => join(work.dir, 'data')
  const running = async (name: string) => (await getDocker().getContainer(name).inspect()).State.Running

  beforeAll(async () => {
    work = tempDir('ownops-fault-engine-')
    mkdirSync(data())
    writeFileSync(join(data(), 'state.txt'), 'version 1')
    proxy = await startDockerProxy(work.dir)
    peer = await startHttpPeer()
    app = await runContainer({ name: uniqueName('drop-app'), cmd: ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 0.2; done'] })
    slow = await runContainer({
      name: uniqueName('drop-slow'),
      cmd: ['sh', '-c', 'trap "sleep 1; exit 0" TERM; while true; do sleep 0.2; done'],
    })
    writeFileSync(
      join(work.dir, 'ownops.yml'),
      `backup:
  dir: ${join(work.dir, 'backups')}
  targets:
    files: { type: directory, path: ${data()}, compression: gzip, stop: [${app.name}, ${slow.name}] }
notify:
  channels:
    hook: { url: "json://127.0.0.1:${peer.port}/hook", levels: [error, critical] }
  retries: 0
`,
    )
  }, 60_000)

  afterAll(async () => {
    await proxy?.close()
    await peer?.close()
    work?.cleanup()
    await cleanupAll()
  })

  const env = () => testEnv(work.dir, { DOCKER_HOST: proxy.host })
  const config = () => ['-c', join(work.dir, 'ownops.yml')]

  it('backup: the connection drops while a stop: container stops; both containers run again, the backup fails cleanly', async (ctx) => {
    const first = await runOwnops([...config(), 'backup', 'files'], env(), work.dir)
    expect(first.code, first.stderr).toBe(0)
    const ledger = backupLedger(join(work.dir, 'backups'))
    const sent = peer.requests.length

    const cut = proxy.cutAt(new RegExp(`^POST (/v[\\d.]+)?/containers/${slow.name}/stop`), 3)
    const run = startOwnops([...config(), '--json', 'backup', 'files'], env(), work.dir)
    faultsTried(ctx)
    const result = await run.done
    expect(await Promise.race([cut, Promise.resolve('the run ended before the cut')]), result.stderr).toMatch(/\/stop/)
    expect(result.code, result.stderr).toBe(1)
    const report = JSON.parse(result.stdout) as { targets: Array<{ ok: boolean; error: string }> }
    expect(report.targets[0]?.ok).toBe(false)
    expect(report.targets[0]?.error).toMatch(new RegExp(`lost the connection to the Docker engine while stopping ${slow.name}`))
    expect(proxy.refused(), 'the engine refused connections, and ownops tried again').toBe(3)
    expect(await running(app.name), `${app.name} runs`).toBe(true)
    expect(await running(slow.name), `${slow.name} runs`).toBe(true)
    expect(strays(join(work.dir, 'backups', 'files'))).toEqual([])
    expect(peer.requests.slice(sent).map((r) => (r.json as { title: string }).title)).toContain('backup of files failed')
    expectNothingLost(ctx, ledger.losses())
  }, 120_000)

  it('restore: the connection drops while the service stops for the swap; it runs again and the live data is untouched', async (ctx) => {
    const ledger = backupLedger(join(work.dir, 'backups'))
    writeFileSync(join(data(), 'state.txt'), 'version 2')
    const cut = proxy.cutAt(new RegExp(`^POST (/v[\\d.]+)?/containers/${app.name}/stop`), 3)
    const run = startOwnops([...config(), 'restore', 'files', 'latest', '--yes', '--no-safety-copy'], env(), work.dir)
    faultsTried(ctx)
    const result = await run.done
    expect(await Promise.race([cut, Promise.resolve('the run ended before the cut')]), result.stderr).toMatch(/\/stop/)
    expect(result.code, result.stderr).not.toBe(0)
    expect(result.code, result.stderr).not.toBe(70)
    expect(result.stderr).toMatch(/the live data was not touched/)
    expect(await running(app.name), `${app.name} runs`).toBe(true)
    expect(await running(slow.name), `${slow.name} runs`).toBe(true)
    expect(readFileSync(join(data(), 'state.txt'), 'utf8')).toBe('version 2')
    expectNothingLost(ctx, ledger.losses())
  }, 120_000)
})
