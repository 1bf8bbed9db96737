/**
 * The progress line end to end: bin/ownops.js under a real pseudo-terminal (`script`)
 * draws it on stderr and erases it before the result; through a pipe, with --json or
 * with -q there is none of it.
 */
import { execFile } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BIN, tempDir, testEnv } from '../helpers/cli.js'

const ERASE = '\r\x1b[K'

let dir: string
let cleanup: () => void
let config: string

/** Runs a shell command line; stdout and stderr together, as a terminal shows them. */
function sh(line: string, env: NodeJS.ProcessEnv): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile('sh', ['-c', `${line} 2>&1`], { env, cwd: dir, timeout: 60_000 }, (error, stdout) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, output: stdout })
    })
  })
}

/** `ownops ARGS` under a pseudo-terminal: stdin, stdout and stderr are the terminal. */
function onTerminal(args: string, env: NodeJS.ProcessEnv) {
  return sh(`script -qec '${process.execPath} ${BIN} -c ${config} ${args}' /dev/null`, env)
}

function env(): NodeJS.ProcessEnv {
  // Text logs, as on a terminal; a wide terminal, so that no line is cut.
  return { ...testEnv(dir), OWNOPS_LOG_FORMAT: 'text', NO_COLOR: '1', COLUMNS: '200' }
}

beforeAll(() => {
  ;({ dir, cleanup } = tempDir('ownops-progress-'))
  mkdirSync(join(dir, 'data'))
  writeFileSync(join(dir, 'data', 'a.txt'), 'hello\n'.repeat(10_000))
  config = join(dir, 'ownops.yml')
  writeFileSync(
    config,
    `backup:\n  dir: ${join(dir, 'backups')}\n  targets:\n    files:\n      type: directory\n      path: ${join(dir, 'data')}\n`,
  )
})

afterAll(() => cleanup())

describe('progress on a terminal', () => {
  it('backup draws the progress line, then erases it before the result table', async () => {
    const first = await onTerminal('backup', env())
    expect(first.code).toBe(0)
    expect(first.output).toContain(`${ERASE}backup files  0 B`)
    // The result table starts on a clean line: the progress line was erased before it.
    expect(first.output).toMatch(/\r\x1b\[K(\d\d:\d\d:\d\d +INFO +backup of files done[^\n]*\n)?TARGET +STATUS/)
    // A second backup estimates its total from the first one's size.
    const second = await onTerminal('backup', env())
    expect(second.code).toBe(0)
    expect(second.output).toMatch(/\r\x1b\[Kbackup files {2}0 B \/ ~[\d.]+ (B|KiB) {2}0%/)
  })

  it('verify and restore show their reads of the backup', async () => {
    const verify = await onTerminal('verify files', env())
    expect(verify.code).toBe(0)
    expect(verify.output).toMatch(/\r\x1b\[Kchecksum files-\d{8}T\d{6}Z/)
    expect(verify.output).toMatch(/\r\x1b\[Kread files-\d{8}T\d{6}Z/)
    const restore = await onTerminal(`restore files --to ${join(dir, 'copy')} --yes`, env())
    expect(restore.code).toBe(0)
    expect(restore.output).toMatch(/\r\x1b\[Kverify files-\d{8}T\d{6}Z/)
    expect(restore.output).toMatch(/\r\x1b\[Krestore files-\d{8}T\d{6}Z/)
  })

  it('a restore in place shows its safety copy', async () => {
    const restore = await onTerminal('restore files --yes', env())
    expect(restore.code).toBe(0)
    expect(restore.output).toContain(`${ERASE}safety copy files`)
  })

  it('none with --json or -q, even on a terminal', async () => {
    for (const flag of ['--json', '-q']) {
      const run = await onTerminal(`backup ${flag}`, env())
      expect(run.code).toBe(0)
      expect(run.output).not.toContain('\x1b[K')
    }
  })

  it('none through a pipe (cron, systemd, a log file)', async () => {
    const run = await sh(`${process.execPath} ${BIN} -c ${config} backup | cat`, env())
    expect(run.code).toBe(0)
    expect(run.output).toContain('TARGET')
    expect(run.output).not.toContain('\x1b[K')
    expect(run.output).not.toContain('\r')
  })
})
