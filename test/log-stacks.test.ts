/**
 * Stack traces only with --log-level debug: at the default level an expected failure — a
 * clean-up root that resolves to /etc, a backup disk that fills up (ENOSPC) — is its message,
 * in JSON lines (cron, pipes) as on a terminal.
 */
import { randomBytes } from 'node:crypto'
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runBin, tempDir, testEnv } from './helpers/cli.js'
import { mountTmpfs } from './faults/helpers.js'

const STACK = /"stack"|\n\s+at [^\n]+\.(js|ts):\d+/

describe('stack traces at the default log level', () => {
  let work: { dir: string; cleanup: () => void }
  let unmount: (() => void) | undefined
  beforeAll(() => {
    work = tempDir()
  })
  afterAll(() => {
    unmount?.()
    work?.cleanup()
  })

  it('a refused clean-up root: the message alone; --log-level debug adds the stack', async () => {
    symlinkSync('/etc', join(work.dir, 'etc-link'))
    writeFileSync(
      join(work.dir, 'cleanup.yml'),
      `cleanup:\n  backups: false\n  rules:\n    t: { type: files, root: ${join(work.dir, 'etc-link')}, match: "*.nope", olderThan: 1d }\n`,
    )
    for (const format of ['json', 'text']) {
      const r = await runBin(['-c', join(work.dir, 'cleanup.yml'), 'cleanup'], {
        env: testEnv(work.dir, { OWNOPS_LOG_FORMAT: format }),
        cwd: work.dir,
      })
      expect(r.code).toBe(1)
      expect(r.stderr).toMatch(/refusing root .*etc-link \(\/etc\): \/etc is a system directory/)
      expect(r.stderr, format).not.toMatch(STACK)
    }
    const debug = await runBin(['--log-level', 'debug', '-c', join(work.dir, 'cleanup.yml'), 'cleanup'], {
      env: testEnv(work.dir),
      cwd: work.dir,
    })
    expect(debug.stderr).toMatch(/"stack":"Error: refusing root/)
  })

  it('a full backup disk (ENOSPC): the message alone', async (ctx) => {
    if (process.getuid?.() !== 0) ctx.skip()
    const backups = join(work.dir, 'backups')
    unmount = mountTmpfs(backups, '1m')
    mkdirSync(join(work.dir, 'data'))
    writeFileSync(join(work.dir, 'data', 'noise.bin'), randomBytes(3 << 20))
    writeFileSync(
      join(work.dir, 'backup.yml'),
      `backup:\n  dir: ${backups}\n  targets:\n    data: { type: directory, path: ${join(work.dir, 'data')}, compression: gzip }\n`,
    )
    for (const format of ['json', 'text']) {
      const r = await runBin(['-c', join(work.dir, 'backup.yml'), 'backup'], {
        env: testEnv(work.dir, { OWNOPS_LOG_FORMAT: format }),
        cwd: work.dir,
      })
      expect(r.code).toBe(1)
      expect(r.stderr + r.stdout).toMatch(/ENOSPC|no space left|disk is full/i)
      expect(r.stderr, format).not.toMatch(STACK)
    }
  })
})
