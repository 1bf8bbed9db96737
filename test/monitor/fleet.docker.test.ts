/**
 * The fleet view's alerting rules (contrib/prometheus/ownops-rules.yml) under
 * `promtool test rules`, fed with what real ownops runs wrote in this test: backup and
 * monitor textfiles from runs on an injected clock (Unix time 0 onwards, as promtool's
 * evaluation starts at 0), read back as node_exporter would serve them from host box1, and a
 * second host (box2) whose node_exporter has no ownops metrics.
 */
import { execFile, execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { parseExposition } from '../../src/monitor/exposition.js'
import { runCli, tempDir, testEnv } from '../helpers/cli.js'
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

const RULES = resolve(import.meta.dirname, '../../contrib/prometheus/ownops-rules.yml')
const STEP_S = 60 // Prometheus scrapes node_exporter every minute
const RUNS = [0, 10, 20] // monitor runs at these minutes, then stops
const END_S = 28 * 3600

let dir: string
let cleanup: () => void
let web: HttpPeer
const own: string[] = []

beforeAll(async () => {
  ;({ dir, cleanup } = tempDir('ownops-fleet-'))
  web = await startHttpPeer()
  web.reply({ status: 500, body: 'down' })
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
  await web.close()
  cleanup()
})

function promtool(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolvePromise, reject) => {
    execFile('promtool', args, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') return reject(error) // not installed: fail, never skip
      resolvePromise({ code: error ? (error.code as number) : 0, out: `${stdout}${stderr}` })
    })
  })
}

async function restartCount(name: string): Promise<number> {
  return (await getDocker().getContainer(name).inspect()).RestartCount
}

/** promtool's series notation: runs of equal values as `v+0xN`, missing ones as `_xN`. */
function notation(values: Array<number | undefined>): string {
  const parts: string[] = []
  for (let i = 0; i < values.length;) {
    let j = i
    while (j + 1 < values.length && values[j + 1] === values[i]) j++
    const n = j - i + 1
    const v = values[i]
    parts.push(v === undefined ? `_x${n}` : n === 1 ? String(v) : `${v}+0x${n - 1}`)
    i = j + 1
  }
  return parts.join(' ')
}

function seriesName(name: string, labels: Record<string, string>): string {
  return `${name}{${Object.entries(labels)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(',')}}`
}

describeDocker('the fleet view on textfiles ownops wrote', () => {
  it('promtool check rules and promtool test rules: stale backups and copies, failed backups, critical checks, restarts, a silent monitor, a host without ownops', async () => {
    expect((await promtool(['check', 'rules', RULES])).out).toContain('SUCCESS')

    const loop = uniqueName('fleet-loop')
    const created = await getDocker().createContainer({
      name: loop,
      Image: TEST_IMAGE,
      Cmd: ['sh', '-c', 'sleep 0.05; exit 1'],
      Env: [`PATH=${IMAGE_PATH}`],
      Labels: { [TEST_LABEL]: '1', [RUN_LABEL]: dockerEnv.runId, 'ownops-test.fleet': loop },
      HostConfig: { NetworkMode: 'none', RestartPolicy: { Name: 'always' } },
    })
    own.push(loop)
    await created.start()

    const db = join(dir, 'app.db')
    execFileSync('sqlite3', [db, 'create table t(x); insert into t values (1);'])
    const backupProm = join(dir, 'textfile', 'ownops_backup.prom')
    const monitorProm = join(dir, 'textfile', 'ownops.prom')
    const config = join(dir, 'ownops.yml')
    writeFileSync(
      config,
      JSON.stringify({
        hostname: 'box1',
        backup: {
          dir: join(dir, 'backups'),
          prometheus: backupProm,
          targets: { db: { type: 'sqlite', path: db }, broken: { type: 'sqlite', path: join(dir, 'missing', 'gone.db') } },
          destinations: { usb: { type: 'path', path: join(dir, 'usb') } }, // copied to by the backup run
        },
        monitor: {
          builtins: false,
          prometheus: { textfile: monitorProm },
          checks: {
            api: { kind: 'http', url: `${web.url}/health` },
            disk: { kind: 'filesystem', paths: [dir], warn: 0, critical: 100 },
            app: { kind: 'container', label: `ownops-test.fleet=${loop}`, memory: { warn: 100, critical: 100 } },
          },
          // The restart-looping container is in a maintenance window: critical or not at the
          // moment a run looks, a quiet check is not alerted on (its restarts still count).
          maintenance: [{ cron: '0 0 * * *', timezone: 'UTC', duration: '23h', checks: ['app'] }],
        },
      }),
    )
    const env = testEnv(dir, { OWNOPS_CONFIG: config })
    const at = (minute: number) => () => new Date(minute * 60_000)

    // Minute 0 (Unix time 0): the nightly backup (db succeeds, broken fails), its copy off the box, and a monitor run.
    mkdirSync(join(dir, 'usb'))
    expect((await runCli(['backup'], { env, cwd: dir, clock: at(0) })).code).toBe(1)
    const backupText = readFileSync(backupProm, 'utf8')
    const copyText = readFileSync(join(dir, 'textfile', 'ownops_copy.prom'), 'utf8')
    expect(copyText).toMatch(/^ownops_copy_last_success_timestamp_seconds\{destination="usb"\} 0$/m)
    const monitorTexts: string[] = []
    let restarts = await restartCount(loop)
    for (const [i, minute] of RUNS.entries()) {
      if (i > 0) {
        // Between two monitor runs the container restarts at least twice more.
        const want = restarts + 2
        for (let i = 0; (restarts = await restartCount(loop)) < want; i++) {
          if (i > 600) throw new Error(`${loop} did not restart`)
          await sleep(100)
        }
      }
      const r = await runCli(['monitor'], { env, cwd: dir, clock: at(minute) })
      expect([0, 1]).toContain(r.code)
      monitorTexts.push(readFileSync(monitorProm, 'utf8'))
    }
    // After minute 20 the monitor stops running; the collector keeps serving the last files.

    // The textfiles as Prometheus scrapes them from box1's node_exporter.
    const steps = END_S / STEP_S + 1
    const series = new Map<string, Array<number | undefined>>()
    const put = (text: string, from: number, to: number) => {
      for (const s of parseExposition(text).samples) {
        const key = seriesName(s.name, { ...s.labels, instance: 'box1:9100', job: 'node' })
        const values = series.get(key) ?? new Array<number | undefined>(steps).fill(undefined)
        for (let i = from; i < to; i++) values[i] = s.value
        series.set(key, values)
      }
    }
    put(backupText, 0, steps)
    put(copyText, 0, steps)
    monitorTexts.forEach((text, i) =>
      put(text, ((RUNS[i] as number) * 60) / STEP_S, i === RUNS.length - 1 ? steps : ((RUNS[i + 1] as number) * 60) / STEP_S),
    )
    series.set(seriesName('up', { instance: 'box1:9100', job: 'node' }), new Array(steps).fill(1))
    series.set(seriesName('up', { instance: 'box2:9100', job: 'node' }), new Array(steps).fill(1))
    expect([...series.keys()].some((k) => k.startsWith('ownops_monitor_container_restarts_total{'))).toBe(true)

    const box1 = { instance: 'box1:9100', job: 'node' }
    const api = { ...box1, check: 'api', kind: 'http' }
    const tests = {
      rule_files: [RULES],
      evaluation_interval: '1m',
      tests: [
        {
          interval: `${STEP_S}s`,
          input_series: [...series].map(([name, values]) => ({ series: name, values: notation(values) })),
          alert_rule_test: [
            {
              eval_time: '5m',
              alertname: 'OwnopsBackupFailed',
              exp_alerts: [
                {
                  exp_labels: { ...box1, target: 'broken', severity: 'warning' },
                  exp_annotations: {
                    summary: 'The last backup of broken on box1:9100 failed',
                    description: 'On the host: journalctl -u ownops-backup; ownops backup broken runs it again.',
                  },
                },
              ],
            },
            { eval_time: '5m', alertname: 'OwnopsCheckCritical', exp_alerts: [] },
            {
              eval_time: '15m',
              alertname: 'OwnopsCheckCritical',
              exp_alerts: [
                {
                  exp_labels: { ...api, severity: 'critical' },
                  exp_annotations: {
                    summary: 'api is critical on box1:9100',
                    description: 'ownops monitor on box1:9100 has seen it critical for 10 minutes. On the host: ownops monitor api',
                  },
                },
              ],
            },
            {
              eval_time: '45m',
              alertname: 'OwnopsCheckWarning',
              exp_alerts: [
                {
                  exp_labels: { ...box1, check: 'disk', kind: 'filesystem', subject: dir, severity: 'warning' },
                  exp_annotations: {
                    summary: `disk ${dir} is in warning on box1:9100`,
                    description: 'ownops monitor on box1:9100 has seen it in warning for 30 minutes. On the host: ownops monitor disk',
                  },
                },
              ],
            },
            {
              eval_time: '25m',
              alertname: 'OwnopsContainerRestarting',
              exp_alerts: [
                {
                  exp_labels: { ...box1, check: 'app', kind: 'container', subject: loop, severity: 'warning' },
                  exp_annotations: {
                    summary: `${loop} on box1:9100 restarted more than 3 times in the last hour`,
                    description: `Its restart policy keeps starting it again. On the host: docker logs --tail 50 ${loop}`,
                  },
                },
              ],
            },
            { eval_time: '30m', alertname: 'OwnopsMonitorNotRunning', exp_alerts: [] },
            {
              eval_time: '1h',
              alertname: 'OwnopsMonitorNotRunning',
              exp_alerts: [
                {
                  exp_labels: { ...box1, severity: 'critical' },
                  exp_annotations: {
                    summary: 'ownops monitor has not run on box1:9100 for 40m 0s',
                    description:
                      "Its timer or cron entry stopped, or every run fails before it writes. On the host: systemctl list-timers 'ownops-*'; journalctl -u ownops-monitor",
                  },
                },
              ],
            },
            {
              eval_time: '1h',
              alertname: 'OwnopsMetricsMissing',
              exp_alerts: [
                {
                  exp_labels: { instance: 'box2:9100', job: 'node', severity: 'warning' },
                  exp_annotations: {
                    summary: 'box2:9100 exports no ownops metrics',
                    description:
                      'node_exporter answers, but its textfile collector has no ownops_monitor metrics: set monitor.prometheus.textfile to a file in its --collector.textfile.directory.',
                  },
                },
              ],
            },
            {
              eval_time: '2h',
              alertname: 'OwnopsBackupMissing',
              exp_alerts: [
                {
                  exp_labels: { ...box1, target: 'broken', severity: 'critical' },
                  exp_annotations: {
                    summary: 'No valid backup of broken on box1:9100',
                    description: 'The backup directory of box1:9100 holds no valid backup of broken. On the host: ownops backups broken',
                  },
                },
              ],
            },
            { eval_time: '25h', alertname: 'OwnopsBackupTooOld', exp_alerts: [] },
            { eval_time: '25h', alertname: 'OwnopsCopyTooOld', exp_alerts: [] },
            {
              eval_time: '27h',
              alertname: 'OwnopsCopyTooOld',
              exp_alerts: [
                {
                  exp_labels: { ...box1, destination: 'usb', severity: 'critical' },
                  exp_annotations: {
                    summary: 'No copy from box1:9100 to usb for over 26h',
                    description:
                      'The last successful copy run to usb ended 1d 3h 0m 0s ago: if box1:9100 is lost, so are the backups since. On the host: ownops copy --to usb',
                  },
                },
              ],
            },
            { eval_time: '5m', alertname: 'OwnopsCopyFailed', exp_alerts: [] },
            {
              eval_time: '27h',
              alertname: 'OwnopsBackupTooOld',
              exp_alerts: [
                {
                  exp_labels: { ...box1, target: 'db', severity: 'critical' },
                  exp_annotations: {
                    summary: 'No backup of db on box1:9100 for over 26h',
                    description:
                      'The newest valid backup of db on box1:9100 is 1d 3h 0m 0s old. On the host: ownops backups db; journalctl -u ownops-backup',
                  },
                },
              ],
            },
          ],
        },
      ],
    }
    const file = join(dir, 'ownops-rules.test.yml')
    writeFileSync(file, JSON.stringify(tests, null, 1))
    const result = await promtool(['test', 'rules', file])
    expect(result.out).toContain('SUCCESS')
    expect(result.code).toBe(0)
  })
})
