/**
 * Per-container resources against real containers: a process that allocates on a timer
 * raises the memory-growth alert once the runs (an injected clock, an hour apart) span the
 * configured window, a flat one does not; the table, the digest and the textfile show it.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, expect, it } from 'vitest'
import type { MonitorReport, ReportRow } from '../../src/monitor/report.js'
import { tempDir, testEnv } from '../helpers/cli.js'
import { monitorRun } from '../helpers/monitor.js'
import { startHttpPeer, type HttpPeer } from '../helpers/http-peer.js'
import {
  cleanupAll,
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
let env: NodeJS.ProcessEnv
let configFile: string
let hook: HttpPeer
const own: string[] = []

beforeAll(async () => {
  ;({ dir, cleanup } = tempDir('ownops-resources-docker-'))
  configFile = join(dir, 'ownops.yml')
  env = testEnv(dir, { OWNOPS_CONFIG: configFile })
  hook = await startHttpPeer()
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
  await hook.close()
  cleanup()
})

const MiB = 1024 * 1024

/** A container with a memory limit and a label the check selects by. */
async function start(name: string, script: string, group: string): Promise<void> {
  const container = await getDocker().createContainer({
    name,
    Image: TEST_IMAGE,
    Cmd: ['sh', '-c', script],
    Env: [`PATH=${IMAGE_PATH}`],
    Labels: { [TEST_LABEL]: '1', [RUN_LABEL]: dockerEnv.runId, 'ownops-test.group': group },
    HostConfig: { NetworkMode: 'none', Memory: 256 * MiB },
  })
  own.push(name)
  await container.start()
}

/** Memory in use now, as the engine reports it. */
async function memoryOf(name: string): Promise<number> {
  const stats = (await getDocker().getContainer(name).stats({ stream: false, 'one-shot': true })) as {
    memory_stats: { usage: number; stats: Record<string, number> }
  }
  const s = stats.memory_stats
  return s.usage - (s.stats.total_inactive_file ?? s.stats.inactive_file ?? 0)
}

/** Waits until the container's memory grew by `bytes` beyond `from` (the machine's speed decides how long that takes, not the test). */
async function grownBy(name: string, from: number, bytes: number): Promise<number> {
  for (let i = 0; i < 600; i++) {
    const now = await memoryOf(name)
    if (now >= from + bytes) return now
    await sleep(100)
  }
  throw new Error(`${name} did not grow by ${bytes} bytes`)
}

const monitor = (at: number) => monitorRun({ env, cwd: dir }, () => new Date(at))

describeDocker('container resources against real containers', () => {
  it('a steadily growing container raises the growth alert after the window, a flat one does not', async () => {
    const group = uniqueName('res')
    const leaky = uniqueName('res-leak')
    const flat = uniqueName('res-flat')
    // Appends 128 KiB to a shell variable every 0.1 s: a leak of about a megabyte a second.
    await start(leaky, 'c=$(printf "%0131072d" 0); s=; while :; do s="$s$c"; sleep 0.1; done', group)
    await start(flat, 'exec sleep 600', group)
    const prom = join(dir, 'textfile', 'ownops.prom')
    writeFileSync(
      configFile,
      JSON.stringify({
        hostname: 'box1',
        notify: { channels: { ops: { url: `json://127.0.0.1:${hook.port}/hook` } } },
        monitor: {
          builtins: false,
          prometheus: { textfile: prom },
          checks: {
            app: { kind: 'container', label: `ownops-test.group=${group}`, memoryGrowth: '1MB/h over 3h', failuresBeforeAlert: 1 },
          },
        },
      }),
    )
    const t0 = Date.parse('2026-03-02T00:00:00Z')
    const hour = 3_600_000
    let memory = await memoryOf(leaky)
    const seen: MonitorReport[] = []
    for (let run = 0; run <= 3; run++) {
      // Between two runs an hour passes on the injected clock, and the leak grows by at least 2 MiB.
      if (run > 0) memory = await grownBy(leaky, memory, 2 * MiB)
      const { report, row } = await monitor(t0 + run * hour)
      seen.push(report)
      expect(row(`app:${flat}`).status).toBe('ok')
      if (run < 3) expect(row(`app:${leaky}`).status, `run ${run}: the runs do not span the 3h window yet`).toBe('ok')
    }
    const last = seen[3] as MonitorReport
    const leakRow = last.checks.find((r) => r.id === `app:${leaky}`) as ReportRow
    const flatRow = last.checks.find((r) => r.id === `app:${flat}`) as ReportRow
    expect(leakRow).toMatchObject({ status: 'warning', alerting: true, threshold: 'mem warn 90%, crit 95%; growth 1MB/h over 3h' })
    expect(leakRow.value).toMatch(
      /^running, up \S+; mem \S+ MiB of 256 MiB limit \([\d.]+%\), \+\S+ MiB\/h over 3h, cpu [\d.]+% of \d+ cores$/,
    )
    expect(leakRow.message).toMatch(
      new RegExp(
        `^${leaky}'s memory grew \\S+ MiB/h over the last 3h \\(now \\S+ MiB; its limit is reached in about \\S+ at this rate\\)$`,
      ),
    )
    expect(flatRow.value).toMatch(/; mem \S+ (KiB|MiB) of 256 MiB limit \([\d.]+%\), [+-]\S+ (B|KiB)\/h over 3h, cpu [\d.]+% of \d+ cores$/)
    // The digest: one alert, with the growth.
    const alerts = hook.requests.map((r) => r.json as { title: string; level: string }).filter((j) => j.title.includes(leaky))
    expect(alerts).toHaveLength(1)
    expect(alerts[0]).toMatchObject({ level: 'warning', title: expect.stringContaining('memory grew') })
    // The textfile: usage, limit, growth and the CPU counter per container.
    const text = readFileSync(prom, 'utf8')
    const growth = Number(
      new RegExp(
        `^ownops_monitor_container_memory_growth_bytes_per_second\\{check="app",kind="container",subject="${leaky}"\\} (\\S+)$`,
        'm',
      ).exec(text)?.[1],
    )
    expect(growth).toBeGreaterThan(((2 * MiB) / 3600) * 0.9)
    expect(text).toMatch(
      new RegExp(`^ownops_monitor_container_memory_limit_bytes\\{check="app",kind="container",subject="${flat}"\\} ${256 * MiB}$`, 'm'),
    )
    expect(text).toMatch(
      new RegExp(`^ownops_monitor_container_memory_usage_bytes\\{check="app",kind="container",subject="${leaky}"\\} \\d+$`, 'm'),
    )
    expect(text).toMatch(/^# TYPE ownops_monitor_container_cpu_seconds_total counter$/m)
    // The state stays small: the readings of the window, not of every run.
    const state = JSON.parse(readFileSync(join(dir, 'state', 'monitor.json'), 'utf8')) as {
      checks: Record<string, { memo?: { res?: { samples: unknown[] } } }>
    }
    expect(state.checks[`app:${leaky}`]?.memo?.res?.samples).toHaveLength(4)
  })
})
