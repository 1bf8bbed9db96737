#!/usr/bin/env node
// One line over the fault-injection suite (test/faults/) from vitest JSON reports: how many
// faults its tests injected, and how much data they found lost — which must be none.
//
//   node test/faults/summary.mjs REPORT.json [REPORT.json…]
//
// Exits 1 when data was lost, a fault test failed, none ran, or (with CI=true) one was skipped.
import { readFileSync } from 'node:fs'

let tests = 0
let faults = 0
let lost = 0
let failed = 0
let skipped = 0
const losses = []
for (const file of process.argv.slice(2)) {
  const report = JSON.parse(readFileSync(file, 'utf8'))
  for (const result of report.testResults ?? []) {
    if (!/[\\/]test[\\/]faults[\\/]/.test(result.name)) continue
    for (const test of result.assertionResults ?? []) {
      tests++
      // A test that does not say how many faults it injected injected one.
      faults += test.meta?.faults ?? 1
      lost += test.meta?.dataLost ?? 0
      for (const what of test.meta?.lost ?? []) losses.push(`${test.fullName}: ${what}`)
      if (test.status === 'failed') failed++
      else if (test.status !== 'passed') skipped++
    }
  }
}
console.log(
  `fault injection: ${faults} faults tried in ${tests} tests, data lost: ${lost}${failed > 0 ? `, ${failed} failed` : ''}${skipped > 0 ? `, ${skipped} skipped` : ''}`,
)
for (const line of losses) console.log(`  lost: ${line}`)
const ci = process.env.CI === 'true'
if (lost > 0 || failed > 0 || tests === 0 || faults === 0 || (ci && skipped > 0)) process.exit(1)
