#!/usr/bin/env node
// Start-up cost of ownops, side by side with a bare `node -e 0`.
// cron and timers start ownops every minute or five, so this is its constant cost.
//   node bench/startup.mjs [runs]        (default 30 runs per command, after 3 warm-ups)
// Target: `ownops --version` ≤ 1.3× `node -e 0`.
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const runs = Number(process.argv[2] ?? 30)
const bin = fileURLToPath(new URL('../bin/ownops.js', import.meta.url))
const cases = [
  ['node -e 0 (baseline)', ['-e', '0']],
  ['ownops --version', [bin, '--version']],
  ['ownops --help', [bin, '--help']],
  ['ownops monitor --help', [bin, 'monitor', '--help']],
  ['ownops config validate', [bin, 'config', 'validate']],
]

function time(args) {
  const start = process.hrtime.bigint()
  const result = spawnSync(process.execPath, args, { stdio: 'ignore', env: { ...process.env, OWNOPS_CONFIG: fileURLToPath(new URL('../ownops.example.yml', import.meta.url)) } })
  if (result.error) throw result.error
  return Number(process.hrtime.bigint() - start) / 1e6
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}

const results = []
for (const [name, args] of cases) {
  for (let i = 0; i < 3; i++) time(args)
  const samples = Array.from({ length: runs }, () => time(args))
  results.push({ name, median: median(samples), min: Math.min(...samples) })
}
const base = results[0].median
console.log(`node ${process.version}, ${runs} runs each (median / min, ms)\n`)
for (const r of results) {
  console.log(`${r.name.padEnd(26)} ${r.median.toFixed(1).padStart(7)} ${r.min.toFixed(1).padStart(7)}   ${(r.median / base).toFixed(2)}×`)
}
const version = results.find((r) => r.name === 'ownops --version')
console.log(`\n--version: ${(version.median / base).toFixed(2)}× node -e 0 (target ≤ 1.30×)`)
