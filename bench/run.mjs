#!/usr/bin/env node
// ownops beside the tools it wraps, in one table: start-up, directory backups and restores,
// PostgreSQL dumps and restores, memory as data grows, a monitor run over many containers,
// clean-up. Each row runs ownops and its baseline in interleaved pairs on the same data
// and prints the medians, the ratio, the goal, ownops' peak RSS and the load average.
//
//   node bench/run.mjs                    # every row (needs the Docker engine and the test image for postgres/monitor)
//   node bench/run.mjs --smoke            # every row once on tiny data: checks the bench itself (CI)
//   node bench/run.mjs --only startup,directory   # groups: startup directory postgres memory monitor cleanup
//   options: --runs N (pairs per row, default 11 for start-up, 5 otherwise), --size-mb 220,
//            --pg-scale 100 (pgbench scale; 100 ≈ 1.5 GB), --memory-gib 1,4, --json FILE,
//            --node PATH (the Node that runs ownops and the baseline, e.g. a Node 24 beside Node 20)
//
// Start-up rows compare CPU time (user+sys of the process tree), which a loaded machine
// disturbs far less than wall time; rows that move data compare wall time and show CPU
// beside it. Data lives under .bench/ (kept between runs; delete it to regenerate).
import { writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { fmtMiB, fmtMs, machine, markdownTable, root } from './lib.mjs'

const args = process.argv.slice(2)
const flag = (name) => args.includes(name)
const option = (name, fallback) => {
  const i = args.indexOf(name)
  return i === -1 ? fallback : args[i + 1]
}
const smoke = flag('--smoke')
const groups = ['startup', 'directory', 'postgres', 'memory', 'monitor', 'cleanup']
const only = option('--only', groups.join(',')).split(',')
for (const g of only) if (!groups.includes(g)) throw new Error(`unknown group ${g} (${groups.join(', ')})`)
const runsOption = option('--runs', undefined)
const opts = {
  smoke,
  node: option('--node', process.execPath),
  benchDir: join(root, '.bench', smoke ? 'smoke' : 'full'),
  startupRuns: Number(runsOption ?? (smoke ? 1 : 11)),
  runs: Number(runsOption ?? (smoke ? 1 : 5)),
  warmup: smoke ? 0 : 1,
  sizeBytes: Number(option('--size-mb', smoke ? 4 : 220)) * 2 ** 20,
  pgScale: Number(option('--pg-scale', smoke ? 1 : 100)),
  memoryGiB: option('--memory-gib', smoke ? '0.01,0.02' : '1,4')
    .split(',')
    .map(Number),
  monitorContainers: smoke ? 3 : 50,
  monitorHttp: smoke ? 2 : 20,
  cleanupFiles: smoke ? 500 : 20_000,
  cleanupRows: smoke ? 5_000 : 200_000,
  progress: (text) => process.stderr.write(`${text}\n`),
}

const cleanups = []
const onSignal = async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined)
  process.exit(130)
}
process.on('SIGINT', onSignal)
process.on('SIGTERM', onSignal)
opts.onCleanup = (fn) => cleanups.push(fn)

const started = new Date()
const loadBefore = loadavg()
const rows = []
let failed = 0
for (const group of only) {
  const { rows: run } = await import(`./rows/${group}.mjs`)
  try {
    for await (const row of run(opts)) {
      rows.push(row)
      opts.progress(`  ${row.work}: ${row.ownopsText ?? fmtMs(row.ownops)} vs ${row.baselineText ?? fmtMs(row.baseline)}`)
    }
  } catch (error) {
    failed++
    if (error?.skip) {
      opts.progress(`${group}: skipped — ${error.message}`)
      rows.push({ work: `${group}: skipped`, measure: '', note: error.message })
    } else {
      opts.progress(`${group}: FAILED — ${error?.stack ?? error}`)
      rows.push({ work: `${group}: failed`, measure: '', note: String(error?.message ?? error).split('\n')[0] })
    }
  }
}
for (const c of cleanups.reverse()) await c().catch(() => undefined)

const ratioOf = (r) => (r.ratio !== undefined ? r.ratio : r.ownops !== undefined && r.baseline ? r.ownops / r.baseline : undefined)
const table = rows.map((r) => {
  const ratio = ratioOf(r)
  const met =
    r.met !== undefined ? (r.met ? 'yes' : 'no') : r.goal === undefined || ratio === undefined ? '' : ratio <= r.goal ? 'yes' : 'no'
  return [
    r.work,
    r.measure,
    r.ownopsText ?? fmtMs(r.ownops),
    r.baselineText ?? (r.baselineName ? `${fmtMs(r.baseline)} (${r.baselineName})` : fmtMs(r.baseline)),
    ratio === undefined ? '—' : `${ratio.toFixed(2)}×`,
    r.goalText ?? (r.goal !== undefined ? `≤ ${r.goal.toFixed(1)}×` : '—'),
    met,
    r.cpuRatio !== undefined ? `${r.cpuRatio.toFixed(2)}×` : '—',
    fmtMiB(r.rssMiB),
    r.load !== undefined ? r.load.toFixed(1) : '—',
  ]
})
const header = ['work', 'measure', 'ownops', 'baseline', 'ratio', 'goal', 'met', 'CPU ratio', 'ownops peak RSS', 'load']
const loadAfter = loadavg()
console.log(
  `\n${smoke ? 'SMOKE RUN on tiny data — the figures mean nothing' : 'ownops benchmark'}: ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC`,
)
console.log(`machine: ${machine(opts.node)}`)
console.log(
  `load average (1/5/15 min): ${loadBefore.map((l) => l.toFixed(1)).join(' ')} before, ${loadAfter.map((l) => l.toFixed(1)).join(' ')} after; pairs interleaved, medians of ${opts.startupRuns} (start-up) / ${opts.runs} (others)\n`,
)
console.log(markdownTable(header, table))
const notes = rows.filter((r) => r.note).map((r) => `- ${r.work}: ${r.note}`)
if (notes.length > 0) console.log(`\n${notes.join('\n')}`)
console.log(
  "\nCPU = user+sys of the process tree; wall = elapsed; ratio = ownops / baseline; CPU ratio beside wall rows; load = median 1-min load average during the row; peak RSS = the largest process of ownops' tree.",
)
const option_json = option('--json', undefined)
if (option_json)
  writeFileSync(
    option_json,
    `${JSON.stringify({ time: started.toISOString(), machine: machine(opts.node), smoke, loadBefore, loadAfter, rows }, null, 2)}\n`,
  )
// Medians only count when every row ran; a bench that could not run a row fails (CI runs --smoke).
process.exitCode = failed > 0 ? 1 : 0
