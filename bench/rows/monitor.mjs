// One `ownops monitor` run over 50 containers (every fifth with a health check) and 20
// HTTP checks against a server on loopback: peak RSS (goal ≤ 120 MB), wall and CPU.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { join } from 'node:path'
import { bin, cleanEnv, fmtMs, measure, median } from '../lib.mjs'
import { benchName, docker, dockerOrSkip, IMAGE, removeContainers } from './docker.mjs'

export async function* rows(opts) {
  dockerOrSkip()
  const names = []
  const cleanup = async () => removeContainers(names.splice(0))
  opts.onCleanup(cleanup)
  const dir = join(opts.benchDir, 'monitor')
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  const server = createServer((req, res) => res.end(req.url === '/health/7' ? 'degraded' : '{"status":"ok"}'))
  try {
    opts.progress(`monitor: starting ${opts.monitorContainers} containers …`)
    for (let i = 0; i < opts.monitorContainers; i += 10) {
      await Promise.all(
        Array.from({ length: Math.min(10, opts.monitorContainers - i) }, (_, j) => {
          const name = benchName(`mon${i + j}`)
          names.push(name)
          const health = (i + j) % 5 === 0 ? ['--health-cmd', 'true', '--health-interval', '5s'] : []
          return docker('run', '-d', '--name', name, '--label', 'ownops-test=1', '--network', 'none', ...health, IMAGE, 'sleep', '3600')
        }),
      )
    }
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
    const port = server.address().port
    const checks = { containers: { kind: 'containers', ignore: [] } }
    for (let i = 0; i < opts.monitorHttp; i++)
      checks[`http-${i}`] = { kind: 'http', url: `http://127.0.0.1:${port}/health/${i}`, match: 'ok' }
    const config = join(dir, 'ownops.yml')
    writeFileSync(config, JSON.stringify({ monitor: { checks } }))
    const env = cleanEnv({ OWNOPS_STATE_DIR: join(dir, 'state'), OWNOPS_LOCK_DIR: join(dir, 'lock') })
    const runs = []
    for (let i = 0; i < opts.runs + opts.warmup; i++) {
      const m = await measure([opts.node, bin, '--json', '-c', config, 'monitor'], { env, ok: [0, 1, 2], keepStdout: true })
      const report = JSON.parse(m.stdout)
      const seen = report.checks.filter((c) => c.check === 'containers' && names.includes(c.subject)).length
      if (seen !== names.length) throw new Error(`monitor saw ${seen} of the ${names.length} bench containers`)
      if (i >= opts.warmup) runs.push(m)
    }
    const rss = Math.max(...runs.map((m) => m.rssMiB ?? 0))
    yield {
      work: `monitor, ${opts.monitorContainers} containers + ${opts.monitorHttp} HTTP checks`,
      measure: 'peak RSS',
      ownopsText: `${Math.round(rss)} MiB`,
      baselineText: '—',
      goalText: '≤ 120 MB',
      met: rss <= 114.4, // 120 MB
      rssMiB: rss,
      load: median(runs.map((m) => m.load)),
      note: `monitor: wall ${fmtMs(median(runs.map((m) => m.wallMs)))}, CPU ${fmtMs(median(runs.map((m) => m.cpuMs)))} (medians of ${runs.length})`,
    }
  } finally {
    server.close()
    await cleanup()
    rmSync(dir, { recursive: true, force: true })
  }
}
