import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { Ctx } from '../../src/context.js'
import { isOwnopsError } from '../../src/errors.js'
import { runBin, tempDir, testEnv } from '../helpers/cli.js'
import { describeDocker, dockerEnv, runContainer, cleanupAll, uniqueName } from '../helpers/docker.js'

let dir: string
let cleanup: () => void
beforeAll(() => {
  ;({ dir, cleanup } = tempDir())
})
afterAll(async () => {
  cleanup()
  await cleanupAll()
})

describeDocker('doctor and Docker access against the test engine', () => {
  it('doctor --json reports the engine reachable with its version, and exits 0', async () => {
    const result = await runBin(['--json', 'doctor'], { env: testEnv(dir), cwd: dir })
    const report = JSON.parse(result.stdout)
    const docker = report.checks.find((c: { name: string }) => c.name === 'docker')
    expect(docker).toMatchObject({ status: 'ok', data: { reachable: true } })
    expect(dockerEnv.ok && docker.data.version).toBe(dockerEnv.ok ? dockerEnv.version : 'unreachable')
    expect(result.code).toBe(0)
    expect(report.ok).toBe(true)
  })

  it("ctx.docker() gives a client that sees the engine's containers", async () => {
    const name = uniqueName('doctor')
    await runContainer({ name, cmd: ['sleep', '30'] })
    const ctx = new Ctx({ options: { json: false, quiet: true, color: false }, env: testEnv(dir), cwd: dir, logWrite: () => undefined })
    const docker = await ctx.docker()
    const containers = await docker.listContainers({ all: true, filters: { name: [name] } })
    expect(containers.map((c) => c.Names[0])).toEqual([`/${name}`])
  })
})

it('with DOCKER_HOST at a dead socket: doctor reports unreachable and exits 69; ctx.docker() throws exit 69', async () => {
  const env = testEnv(dir, { DOCKER_HOST: `unix://${join(dir, 'dead.sock')}` })
  const result = await runBin(['--json', 'doctor'], { env, cwd: dir })
  expect(result.code).toBe(69)
  const docker = JSON.parse(result.stdout).checks.find((c: { name: string }) => c.name === 'docker')
  expect(docker).toMatchObject({ status: 'fail', exitCode: 69, data: { reachable: false } })
  expect(docker.detail).toContain(`the Docker engine is unreachable at unix://${join(dir, 'dead.sock')} (ENOENT)`)

  const ctx = new Ctx({ options: { json: false, quiet: true, color: false }, env, cwd: dir, logWrite: () => undefined })
  const error = await ctx.docker().catch((e: unknown) => e)
  expect(isOwnopsError(error) && error.exitCode).toBe(69)
  expect(isOwnopsError(error) && error.hint).toContain('systemctl status docker')
})
