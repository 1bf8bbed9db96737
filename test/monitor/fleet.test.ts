/**
 * The fleet view's files: the alerting rules pass `promtool check rules`; every query of the
 * Grafana dashboard is valid PromQL (checked by promtool as recording rules) and names only
 * metrics ownops writes. (test/monitor/fleet.docker.test.ts runs the rules on real textfiles.)
 */
import { execFile } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { expect, it } from 'vitest'
import { tempDir } from '../helpers/cli.js'

const ROOT = resolve(import.meta.dirname, '../..')

function promtool(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolvePromise, reject) => {
    execFile('promtool', args, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') return reject(error) // not installed: fail, never skip
      resolvePromise({ code: error ? (error.code as number) : 0, out: `${stdout}${stderr}` })
    })
  })
}

interface Panel {
  title: string
  targets: Array<{ expr: string }>
}

it('the alerting rules pass promtool check rules', async () => {
  const result = await promtool(['check', 'rules', join(ROOT, 'contrib/prometheus/ownops-rules.yml')])
  expect(result.out).toMatch(/SUCCESS: \d+ rules found/)
  expect(result.code).toBe(0)
})

it('every dashboard query is valid PromQL over metrics ownops writes', async () => {
  const dashboard = JSON.parse(readFileSync(join(ROOT, 'contrib/grafana/ownops-fleet.json'), 'utf8')) as {
    uid: string
    panels: Panel[]
    templating: { list: Array<{ name: string; definition?: string }> }
  }
  expect(dashboard.uid).toBe('ownops-fleet')
  const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr))
  expect(exprs.length).toBeGreaterThan(10)
  // Grafana's variables become what they stand for; then promtool parses each as a recording rule.
  const rules = exprs.map(
    (expr, i) => `      - record: dashboard:query_${i}\n        expr: ${JSON.stringify(expr.replaceAll('$instance', '.*'))}`,
  )
  const dir = tempDir('ownops-test-dashboard-')
  try {
    const file = join(dir.dir, 'queries.yml')
    writeFileSync(file, `groups:\n  - name: dashboard\n    rules:\n${rules.join('\n')}\n`)
    const result = await promtool(['check', 'rules', file])
    expect(result.out).toContain(`SUCCESS: ${exprs.length} rules found`)
  } finally {
    dir.cleanup()
  }
  // Only names ownops writes (and node_exporter's up).
  const written = ['src/monitor/report.ts', 'src/backup/metrics.ts', 'src/copies/metrics.ts']
    .map((f) => readFileSync(join(ROOT, f), 'utf8'))
    .join('\n')
  const names = new Set([...exprs.join(' ').matchAll(/\bownops_[a-z_]+/g)].map((m) => m[0]))
  for (const name of names) expect(written, name).toContain(`'${name}'`)
  expect(names.size).toBeGreaterThan(10)
})
