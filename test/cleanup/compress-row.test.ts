/**
 * The row of a compressed log says what the README shows: SIZE is the file's size, the arrow
 * its size compressed; what the run frees (or would free) is the difference.
 */
import { writeFileSync, utimesSync, mkdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli, tempDir, testEnv } from '../helpers/cli.js'
import { formatBytes } from '../../src/text.js'

describe('cleanup: the compress row', () => {
  let work: { dir: string; cleanup: () => void }
  beforeAll(() => {
    work = tempDir()
    mkdirSync(join(work.dir, 'logs'))
    const old = new Date(Date.UTC(2026, 5, 1))
    // Compressible, but not to nothing: half text that repeats, half counters.
    const lines = Array.from(
      { length: 4000 },
      (_, i) => `2026-06-01T00:00:${String(i % 60).padStart(2, '0')}Z job ${(i * 7919) % 10007} done in ${i % 997}ms\n`,
    ).join('')
    writeFileSync(join(work.dir, 'logs', 'app.log.1'), lines)
    utimesSync(join(work.dir, 'logs', 'app.log.1'), old, old)
    writeFileSync(join(work.dir, 'logs', 'app.log'), 'current\n')
    writeFileSync(
      join(work.dir, 'ownops.yml'),
      `cleanup:\n  backups: false\n  rules:\n    logs: { type: logs, path: "${join(work.dir, 'logs')}/*.log*", compressAfter: 7d }\n`,
    )
  })
  afterAll(() => work?.cleanup())

  it('SIZE is the original size, the arrow the compressed one, the total the bytes saved', async () => {
    const original = statSync(join(work.dir, 'logs', 'app.log.1')).size
    const env = testEnv(work.dir)
    const json = JSON.parse(
      (await runCli(['--json', 'cleanup', '--dry-run'], { env, cwd: work.dir, clock: () => new Date(Date.UTC(2026, 6, 1)) })).stdout,
    ) as { rules: Array<{ actions: Array<{ bytes: number; size?: number; compressedSize?: number }> }> }
    const action = json.rules[0]!.actions[0]!
    expect(action.size).toBe(original)
    expect(action.compressedSize).toBeGreaterThan(0)
    expect(action.bytes).toBe(original - (action.compressedSize as number))
    const r = await runCli(['cleanup', '--dry-run'], { env, cwd: work.dir, clock: () => new Date(Date.UTC(2026, 6, 1)) })
    const row = r.stdout.split('\n').find((l) => l.startsWith('logs ')) as string
    expect(row).toMatch(
      new RegExp(
        `app\\.log\\.1 +${formatBytes(original).replace('.', '\\.')} +modified .* → ${formatBytes(action.compressedSize as number).replace('.', '\\.')}$`,
      ),
    )
    expect(r.stdout).toContain(`would free ${formatBytes(action.bytes)}`)
  })
})
