/**
 * Container logs that fill the disk, against real containers: a json-file log without
 * max-size is reported with its size by the docker-logs check and by doctor, a bounded one
 * is not; the cleanup rule empties the unbounded log while the container keeps writing, and
 * what it writes next is whole (no hole, no half line) and readable by `docker logs`.
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { runCli, tempDir, testEnv } from '../helpers/cli.js'
import {
  cleanupAll,
  containerLogs,
  describeDocker,
  dockerEnv,
  getDocker,
  IMAGE_PATH,
  RUN_LABEL,
  TEST_IMAGE,
  TEST_LABEL,
  uniqueName,
} from '../helpers/docker.js'

let dir: string
let cleanup: () => void
const own: string[] = []

beforeAll(() => {
  ;({ dir, cleanup } = tempDir('ownops-docker-logs-'))
})
afterAll(async () => {
  await Promise.all(
    own.map((name) =>
      getDocker()
        .getContainer(name)
        .remove({ force: true })
        .catch(() => undefined),
    ),
  )
  await cleanupAll()
  cleanup()
})

/** Prints about 400 KB at once, then a line every 0.1 s. */
const CHATTY =
  'i=0; while [ $i -lt 3000 ]; do echo "line $i padding-padding-padding-padding-padding-padding-padding-padding"; i=$((i+1)); done; while :; do echo "tick $i"; i=$((i+1)); sleep 0.1; done'

async function start(name: string, logConfig: Record<string, string> | undefined): Promise<string> {
  const container = await getDocker().createContainer({
    name,
    Image: TEST_IMAGE,
    Cmd: ['sh', '-c', CHATTY],
    Env: [`PATH=${IMAGE_PATH}`],
    Labels: { [TEST_LABEL]: '1', [RUN_LABEL]: dockerEnv.runId },
    HostConfig: { NetworkMode: 'none', LogConfig: { Type: 'json-file', Config: logConfig ?? {} } },
  })
  own.push(name)
  await container.start()
  const info = await container.inspect()
  return (info as unknown as { LogPath: string }).LogPath
}

async function until(what: string, test: () => boolean): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (test()) return
    await sleep(100)
  }
  throw new Error(`timed out waiting for ${what}`)
}

describeDocker('container logs without a size limit', () => {
  it('are reported with their size by monitor and doctor, and emptied safely by cleanup while the container writes', async () => {
    const loud = uniqueName('log-loud')
    const capped = uniqueName('log-capped')
    const loudLog = await start(loud, undefined)
    await start(capped, { 'max-size': '1m', 'max-file': '2' })
    // The burst is whole once the first tick follows it.
    await until('the burst to reach the log', () => statSync(loudLog).size > 300_000 && readFileSync(loudLog, 'utf8').includes('tick'))

    const config = join(dir, 'ownops.yml')
    const prom = join(dir, 'ownops.prom')
    writeFileSync(
      config,
      JSON.stringify({
        monitor: {
          builtins: false,
          failuresBeforeAlert: 1,
          prometheus: { textfile: prom },
          checks: { logs: { kind: 'docker-logs', size: { critical: '100MB' } } },
        },
        cleanup: { backups: false, rules: { 'docker-logs': { type: 'docker', logs: { truncateOver: '200kB', name: [loud, capped] } } } },
      }),
    )
    const env = testEnv(dir, { OWNOPS_CONFIG: config })

    // monitor: the unbounded log is a warning with its size; the capped one has no row.
    const mon = await runCli(['--json', 'monitor'], { env, cwd: dir })
    const rows = (
      JSON.parse(mon.stdout) as { checks: Array<{ id: string; status: string; value: string; message: string; threshold?: string }> }
    ).checks
    const row = rows.find((r) => r.id === `logs:${loud}`)
    expect(row).toMatchObject({
      status: 'warning',
      value: expect.stringMatching(/^json-file, no size limit: \d+ KiB$/),
      threshold: 'a size limit, crit 100MB',
    })
    expect(row?.message).toMatch(
      new RegExp(
        `^the log of ${loud} has no size limit \\(json-file, no size limit\\); it is \\d+ KiB: set "log-opts": \\{"max-size": "10m", "max-file": "3"\\} in /etc/docker/daemon.json`,
      ),
    )
    expect(rows.some((r) => r.id === `logs:${capped}`)).toBe(false)
    const text = readFileSync(prom, 'utf8')
    expect(
      Number(
        new RegExp(`^ownops_monitor_container_log_size_bytes\\{check="logs",kind="docker-logs",subject="${loud}"\\} (\\d+)$`, 'm').exec(
          text,
        )?.[1],
      ),
    ).toBeGreaterThan(300_000)
    expect(text).toMatch(new RegExp(`^ownops_monitor_container_log_bounded\\{check="logs",kind="docker-logs",subject="${loud}"\\} 0$`, 'm'))

    // doctor: one line naming it with its size.
    const doc = await runCli(['--json', 'doctor'], { env, cwd: dir })
    const line = (
      JSON.parse(doc.stdout) as {
        checks: Array<{ name: string; status: string; detail: string; data?: { unbounded: Array<{ name: string; bytes?: number }> } }>
      }
    ).checks.find((c) => c.name === 'container logs')
    expect(line?.status).toBe('warn')
    expect(line?.detail).toMatch(/containers log without a size limit \(json-file without max-size\)/)
    expect(line?.data?.unbounded.find((u) => u.name === loud)?.bytes).toBeGreaterThan(300_000)
    expect(line?.data?.unbounded.some((u) => u.name === capped)).toBe(false)

    // cleanup --dry-run: what it would truncate, and nothing changes.
    const before = statSync(loudLog).size
    const dry = await runCli(['--json', 'cleanup', '--dry-run', 'docker-logs'], { env, cwd: dir })
    const planned =
      (JSON.parse(dry.stdout) as { rules: Array<{ actions: Array<{ action: string; what: string; bytes: number }> }> }).rules[0]?.actions ??
      []
    expect(planned).toEqual([
      {
        action: 'truncate',
        what: `log of container ${loud}`,
        reason: expect.stringMatching(/^\d+ KiB, over 200kB, no size limit/),
        bytes: expect.any(Number),
      },
    ])
    expect(statSync(loudLog).size).toBeGreaterThanOrEqual(before)

    // The real run: the log is emptied while the container keeps writing.
    const real = await runCli(['--json', 'cleanup', 'docker-logs'], { env, cwd: dir })
    expect(real.code, real.stderr).toBe(0)
    const done = (JSON.parse(real.stdout) as { rules: Array<{ freed: number }> }).rules[0]
    expect(done?.freed).toBeGreaterThan(300_000)
    await until('new lines after the truncation', () => statSync(loudLog).size > 0 && readFileSync(loudLog, 'utf8').includes('tick'))
    await sleep(300)
    const after = readFileSync(loudLog)
    expect(after.length).toBeLessThan(100_000)
    expect(after.includes(0)).toBe(false) // no hole of zeros where the old content was
    for (const l of after.toString('utf8').trimEnd().split('\n')) expect(() => JSON.parse(l), l).not.toThrow()
    expect(await containerLogs(loud)).toMatch(/^tick \d+\n/)
    expect(await containerLogs(loud)).not.toContain('line 0 ')
  })
})
