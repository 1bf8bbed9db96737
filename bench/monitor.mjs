#!/usr/bin/env node
// One `ownops monitor` cycle over 50 containers and 20 HTTP checks on loopback: wall time
// and peak memory of the whole process (start-up included), and the cycle's own time.
//   node bench/monitor.mjs [runs]        (default 3 runs, after the containers are up)
// Targets: under 2 s and 120 MB. Needs the test engine and image (scripts/test-env.sh up);
// the containers are named ownops-bench-* and removed at the end, also on Ctrl-C.
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Docker from 'dockerode'

const runs = Number(process.argv[2] ?? 3)
const CONTAINERS = 50
const HTTP_CHECKS = 20
const IMAGE = 'ownops-test/busybox:1'
const bin = fileURLToPath(new URL('../bin/ownops.js', import.meta.url))
const docker = new Docker()
const tag = `ownops-bench-${process.pid}-${randomBytes(3).toString('hex')}`
const dir = mkdtempSync(join(tmpdir(), 'ownops-bench-'))
const names = []

async function cleanup() {
  await Promise.all(names.map((n) => docker.getContainer(n).remove({ force: true }).catch(() => undefined)))
  rmSync(dir, { recursive: true, force: true })
}
process.on('SIGINT', () => cleanup().finally(() => process.exit(130)))

async function main() {
  await docker.getImage(IMAGE).inspect().catch(() => {
    throw new Error(`image ${IMAGE} missing: run bash scripts/test-env.sh up`)
  })
  process.stdout.write(`starting ${CONTAINERS} containers… `)
  const started = Date.now()
  for (let i = 0; i < CONTAINERS; i += 10) {
    await Promise.all(
      Array.from({ length: Math.min(10, CONTAINERS - i) }, async (_, j) => {
        const name = `${tag}-${i + j}`
        names.push(name)
        const healthy = (i + j) % 5 === 0
        const c = await docker.createContainer({
          name,
          Image: IMAGE,
          Cmd: ['sleep', '3600'],
          Labels: { 'ownops-test': '1', 'ownops-bench': tag },
          HostConfig: { NetworkMode: 'none' },
          ...(healthy ? { Healthcheck: { Test: ['CMD', 'true'], Interval: 5e9 } } : {}),
        })
        await c.start()
      }),
    )
  }
  console.log(`${((Date.now() - started) / 1000).toFixed(1)}s`)

  const server = createServer((req, res) => res.end(req.url === '/health/7' ? 'degraded' : '{"status":"ok"}'))
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = server.address().port
  const checks = { containers: { kind: 'containers', ignore: [] } }
  for (let i = 0; i < HTTP_CHECKS; i++) checks[`http-${i}`] = { kind: 'http', url: `http://127.0.0.1:${port}/health/${i}`, match: 'ok' }
  const config = join(dir, 'ownops.yml')
  writeFileSync(config, JSON.stringify({ monitor: { checks } }))
  const env = { ...process.env, OWNOPS_CONFIG: config, OWNOPS_STATE_DIR: join(dir, 'state'), OWNOPS_LOCK_DIR: join(dir, 'lock'), OWNOPS_LOG_FORMAT: 'json' }

  const results = []
  for (let run = 0; run < runs; run++) {
    const t0 = process.hrtime.bigint()
    const { code, stdout, stderr } = await new Promise((resolve) => {
      const child = spawn(process.execPath, ['--import', 'data:text/javascript,process.on("exit",()=>process.stderr.write(`\\nmaxrss=${process.resourceUsage().maxRSS}\\n`))', bin, '--json', 'monitor'], { env })
      let out = ''
      let err = ''
      child.stdout.on('data', (d) => (out += d))
      child.stderr.on('data', (d) => (err += d))
      child.on('exit', (c) => resolve({ code: c, stdout: out, stderr: err }))
    })
    const wallMs = Number(process.hrtime.bigint() - t0) / 1e6
    const rssKb = Number(/maxrss=(\d+)/.exec(stderr)?.[1] ?? 0)
    let report
    try {
      report = JSON.parse(stdout)
    } catch {
      throw new Error(`monitor printed no report (exit ${code}):\n${stderr.slice(-2000)}`)
    }
    const ours = report.checks.filter((c) => c.check === 'containers' && c.subject?.startsWith(tag)).length
    const http = report.checks.filter((c) => c.kind === 'http').length
    results.push({ wallMs, rssMb: rssKb / 1024, cycleMs: report.durationMs, rows: report.checks.length, ours, http, code })
  }
  server.close()
  console.log(`node ${process.version}; ${CONTAINERS} bench containers (${results[0].ours} seen) + other containers on the engine, ${results[0].http} HTTP checks; ${results[0].rows} rows\n`)
  console.log('run  wall (ms)  cycle (ms)  peak RSS (MB)  exit')
  results.forEach((r, i) => console.log(`${String(i + 1).padEnd(4)} ${r.wallMs.toFixed(0).padStart(9)}  ${String(r.cycleMs).padStart(10)}  ${r.rssMb.toFixed(1).padStart(13)}  ${r.code}`))
  const worstWall = Math.max(...results.map((r) => r.wallMs))
  const worstRss = Math.max(...results.map((r) => r.rssMb))
  console.log(`\nworst: ${worstWall.toFixed(0)} ms (target < 2000), ${worstRss.toFixed(1)} MB (target < 120)`)
}

main()
  .catch((error) => {
    console.error(error.message ?? error)
    process.exitCode = 1
  })
  .finally(cleanup)
