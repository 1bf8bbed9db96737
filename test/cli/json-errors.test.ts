/**
 * With --json, failures are data in one shape on stdout, `{ok: false, error: {message,
 * exitCode, hint}}`: a thrown error, a command that stops for a question it cannot ask
 * (`restore` without a target off a terminal), and a usage error commander finds.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runBin, runCli, tempDir, testEnv } from '../helpers/cli.js'

interface Failure {
  ok: false
  error: { message: string; exitCode: number; hint?: string }
}

describe('--json failures', () => {
  let work: { dir: string; cleanup: () => void }
  beforeAll(() => {
    work = tempDir()
    writeFileSync(
      join(work.dir, 'ownops.yml'),
      `backup:\n  dir: ${join(work.dir, 'b')}\n  targets:\n    site: { type: directory, path: ${work.dir} }\n`,
    )
  })
  afterAll(() => work?.cleanup())

  it('restore without a target, off a terminal: exit 2 and the error object (the targets beside it)', async () => {
    const r = await runCli(['--json', 'restore'], { env: testEnv(work.dir), cwd: work.dir })
    expect(r.code).toBe(2)
    const out = JSON.parse(r.stdout) as Failure & { targets: Array<{ target: string }> }
    expect(out).toMatchObject({
      ok: false,
      error: {
        message: expect.stringMatching(/which target\?/),
        exitCode: 2,
        hint: expect.stringMatching(/ownops restore (site|TARGET) --dry-run/),
      },
    })
    expect(out.targets.map((t) => t.target)).toEqual(['site'])
  })

  it('usage errors found by the parser: the same object on stdout (exit 2)', async () => {
    for (const args of [
      ['--json', 'backup', '--no-such-flag'],
      ['backup', '--json', '--no-such-flag'],
      ['--json', 'restore', '--at'],
    ]) {
      const r = await runBin(args, { env: testEnv(work.dir), cwd: work.dir })
      expect(r.code, args.join(' ')).toBe(2)
      const out = JSON.parse(r.stdout) as Failure
      expect(out.ok).toBe(false)
      expect(out.error.exitCode).toBe(2)
      expect(out.error.message).toMatch(/unknown option|argument missing/)
      expect(out.error.hint).toMatch(/--help/)
    }
  })

  it('a thrown error keeps its shape (exit 2: an unknown target)', async () => {
    const r = await runCli(['--json', 'backup', 'nope'], { env: testEnv(work.dir), cwd: work.dir })
    expect(r.code).toBe(2)
    expect(JSON.parse(r.stdout)).toMatchObject({
      ok: false,
      error: { message: 'no backup target named "nope"', exitCode: 2, hint: 'configured targets: site' },
    })
  })
})
