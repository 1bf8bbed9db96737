/**
 * Durations and sizes written as bare numbers. A duration is a number of seconds wherever
 * the config takes one — `timeout: 30`, quoted (`"30"`), or from a ${VAR} of the env file,
 * whose value is text — as `--wait 600` is on the command line; a size is a number of bytes.
 * A retention span (`keep.within: 30`) has calendar units where `m` is months: a bare
 * number there is refused with the line, the key and the fix. A wrong value inside a
 * mapping that may also be written as text (`memoryGrowth: { warn: 50, … }`) names that key.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { checkConfig } from '../../src/config/load.js'
import { formatProblem } from '../../src/config/problems.js'
import { tempDir } from '../helpers/cli.js'

describe('bare numbers in the config', () => {
  let work: { dir: string; cleanup: () => void }
  beforeAll(() => {
    work = tempDir()
  })
  afterAll(() => work.cleanup())

  const check = (yaml: string, env: NodeJS.ProcessEnv = {}) => {
    writeFileSync(join(work.dir, 'ownops.yml'), yaml)
    return checkConfig({ path: join(work.dir, 'ownops.yml'), env, cwd: work.dir })
  }

  it('a duration is seconds, as a number, as quoted text and from the env file', () => {
    const result = check(
      `backup:
  dir: /srv/backups
  targets:
    db: { type: postgres, container: db, timeout: 3600, before: { run: ["true"], timeout: "30" } }
restore:
  healthTimeout: \${HEALTH_TIMEOUT}
lock:
  wait: 600
restart:
  services:
    mc: { stopTimeout: "90", ifEmpty: { interval: 300 } }
monitor:
  checks:
    app: { kind: container, name: app, memoryGrowth: { warn: 50MB/h, over: 21600 } }
    app2: { kind: container, name: app2, memoryGrowth: "50MB/h over 3600" }
cleanup:
  rules:
    tmp: { type: files, root: /srv/tmp, olderThan: "86400" }
    applogs: { type: logs, path: /srv/app/logs, maxTotalSize: 1000000 }
`,
      { HEALTH_TIMEOUT: '120' },
    )
    expect(result.problems.map(formatProblem)).toEqual([])
    const config = result.loaded?.config
    const db = config?.backup.targets.db as { timeout?: number; before?: { timeout?: number } }
    expect(db.timeout).toBe(3_600_000)
    expect(db.before?.timeout).toBe(30_000)
    expect(config?.restore.healthTimeout).toBe(120_000)
    expect(config?.lock.wait).toBe(600_000)
    expect(config?.restart.services.mc?.stopTimeout).toBe(90_000)
    expect(config?.restart.services.mc?.ifEmpty.interval).toBe(300_000)
    expect((config?.monitor.checks.app as { memoryGrowth?: { overMs: number } }).memoryGrowth?.overMs).toBe(21_600_000)
    expect((config?.monitor.checks.app2 as { memoryGrowth?: { overMs: number } }).memoryGrowth?.overMs).toBe(3_600_000)
    expect((config?.cleanup.rules.tmp as { olderThan?: number }).olderThan).toBe(86_400_000)
    expect((config?.cleanup.rules.applogs as { maxTotalSize?: number }).maxTotalSize).toBe(1_000_000)
  })

  it('a retention span without its unit is refused with the line, the key and the fix; nothing else is said about that policy', () => {
    const result = check(`backup:
  dir: /srv/backups
  keep:
    within: 30
  targets:
    db: { type: postgres, container: db, keep: { withinDaily: "14" } }
`)
    expect(result.problems.map(formatProblem)).toEqual([
      expect.stringMatching(/^ownops\.yml:4 backup\.keep\.within: a span needs its unit: .*, got number 30 \(use "30d"/),
      expect.stringMatching(/^ownops\.yml:6 backup\.targets\.db\.keep\.withinDaily: a span needs its unit: .*, got "14" \(use "14d"/),
    ])
  })

  it('a wrong value in a mapping that may also be text names its key, not "got a mapping"', () => {
    const result = check(`monitor:
  checks:
    app: { kind: container, name: app, memoryGrowth: { warn: 50, over: 6h } }
backup:
  targets:
    db: { type: postgres, container: db, before: { command: ["true"] } }
`)
    const lines = result.problems.map(formatProblem)
    expect(lines).toContainEqual(
      expect.stringMatching(/^ownops\.yml:3 monitor\.checks\.app\.memoryGrowth\.warn: expected a rate such as 50MB\/h/),
    )
    expect(lines).toContainEqual(expect.stringMatching(/^ownops\.yml:6 backup\.targets\.db\.before\.command: unknown key/))
    expect(lines.join('\n')).not.toMatch(/got a mapping/)
  })

  it('a negative duration, or text that is none, says what a duration looks like', () => {
    const result = check(`backup:
  targets:
    db: { type: postgres, container: db, timeout: -5 }
    site: { type: directory, path: /srv/site, timeout: 30 sec }
`)
    expect(result.problems.map(formatProblem)).toEqual([
      expect.stringMatching(/^ownops\.yml:3 backup\.targets\.db\.timeout: a duration cannot be negative/),
      expect.stringMatching(/^ownops\.yml:4 backup\.targets\.site\.timeout: expected a duration such as 30s, .*a bare number is seconds/),
    ])
  })
})
