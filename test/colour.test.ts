/**
 * Colours and the terminal: the STATUS column is coloured on a terminal only (a real pty
 * through script(1)), never with NO_COLOR set to something (an empty one is unset) or
 * --no-color; FORCE_COLOR colours a pipe. On a terminal, info lines do not come before the
 * result (warnings do; --log-level info brings them back); off it, logging is as before.
 */
import { execFile } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { statusColour, statusPainter, useColour } from '../src/colour.js'
import { renderTable } from '../src/text.js'
import { BIN, runBin, tempDir, testEnv } from './helpers/cli.js'

const ESC = '\u001b['
const plain = (text: string) => text.replace(/\u001b\[[0-9;]*m/g, '')

describe('useColour', () => {
  const cases: Array<[string, boolean, NodeJS.ProcessEnv, boolean, boolean]> = [
    ['a terminal', true, {}, true, true],
    ['a pipe', true, {}, false, false],
    ['--no-color', false, {}, true, false],
    ['NO_COLOR=1', true, { NO_COLOR: '1' }, true, false],
    ['NO_COLOR set but empty: as unset', true, { NO_COLOR: '' }, true, true],
    ['FORCE_COLOR=1 on a pipe', true, { FORCE_COLOR: '1' }, false, true],
    ['FORCE_COLOR=0', true, { FORCE_COLOR: '0' }, false, false],
    ['NO_COLOR wins over FORCE_COLOR', true, { NO_COLOR: 'yes', FORCE_COLOR: '1' }, true, false],
    ['--no-color wins over FORCE_COLOR', false, { FORCE_COLOR: '1' }, false, false],
  ]
  for (const [name, flag, env, isTTY, expected] of cases) it(name, () => expect(useColour({ flag, env, isTTY })).toBe(expected))

  it('status words and their colours', () => {
    expect(['ok', 'critical', 'warning', 'FAILED', 'stale', 'missing', 'never run', 'critical 1/2', 'whatever'].map(statusColour)).toEqual([
      'green',
      'red',
      'yellow',
      'red',
      'yellow',
      'red',
      'red',
      'red',
      undefined,
    ])
  })

  it('a coloured table lines up as the plain one', () => {
    const rows = [
      ['api', 'critical', 'down'],
      ['disk', 'ok', '41%'],
    ]
    const coloured = renderTable(['CHECK', 'STATUS', 'VALUE'], rows, statusPainter(1, true))
    expect(coloured).toContain(`${ESC}31mcritical${ESC}0m  `)
    expect(plain(coloured)).toBe(renderTable(['CHECK', 'STATUS', 'VALUE'], rows))
    expect(renderTable(['CHECK', 'STATUS', 'VALUE'], rows, statusPainter(1, false))).toBe(plain(coloured))
  })
})

/** Runs ownops in a real pseudo-terminal (script -qec), stdout and stderr both on it. */
function onTerminal(args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<{ code: number; output: string }> {
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`
  const command = [process.execPath, BIN, ...args].map(quote).join(' ')
  return new Promise((resolve) => {
    execFile('script', ['-qec', command, '/dev/null'], { env, cwd, timeout: 60_000 }, (error, stdout) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, output: stdout.replace(/\r\n/g, '\n') })
    })
  })
}

describe('on a real terminal', () => {
  let dir: string
  let cleanup: () => void
  let env: NodeJS.ProcessEnv
  beforeEach(() => {
    ;({ dir, cleanup } = tempDir('ownops-colour-'))
    const { OWNOPS_LOG_FORMAT: _format, ...rest } = testEnv(dir, { OWNOPS_CONFIG: join(dir, 'ownops.yml'), TERM: 'xterm' })
    env = rest
    mkdirSync(join(dir, 'data'))
    writeFileSync(join(dir, 'data', 'a.txt'), 'a\n')
    writeFileSync(
      join(dir, 'ownops.yml'),
      `backup:
  dir: ${join(dir, 'backups')}
  targets:
    files: { type: directory, path: ${join(dir, 'data')}, keep: {} }
monitor:
  builtins: false
  checks:
    up: { kind: command, command: ["true"] }
    down: { kind: command, command: ["false"] }
`,
    )
  })
  afterEach(() => cleanup())

  it("monitor's STATUS column is coloured on a terminal, not with NO_COLOR or --no-color, nor off a terminal", async () => {
    const tty = await onTerminal(['monitor'], env, dir)
    expect(tty.code).toBe(1)
    expect(tty.output).toMatch(new RegExp(`down\\s+\\u001b\\[31mCRITICAL 1/2\\u001b\\[0m`))
    expect(tty.output).toMatch(new RegExp(`up\\s+\\u001b\\[32mOK\\u001b\\[0m`))
    expect((await onTerminal(['monitor'], { ...env, NO_COLOR: '' }, dir)).output).toContain(`${ESC}32mOK`)
    for (const run of [
      await onTerminal(['monitor'], { ...env, NO_COLOR: '1' }, dir),
      await onTerminal(['--no-color', 'monitor'], env, dir),
    ]) {
      expect(run.output).toMatch(/down\s+CRITICAL/)
      expect(run.output).not.toContain(ESC)
    }
    const status = await onTerminal(['status'], env, dir)
    expect(status.output).toMatch(new RegExp(`files\\s+directory\\s+\\u001b\\[31mmissing\\u001b\\[0m`))
    expect(status.output).toMatch(new RegExp(`monitor\\s.*\\u001b\\[32mok\\u001b\\[0m`))
    const pipe = await runBin(['monitor'], { env, cwd: dir })
    expect(pipe.stdout).toMatch(/down\s+CRITICAL/)
    expect(pipe.stdout).not.toContain(ESC)
    expect((await runBin(['monitor'], { env: { ...env, FORCE_COLOR: '1' }, cwd: dir })).stdout).toContain(`${ESC}31mCRITICAL`)
  })

  it('on a terminal, no info line before the result; warnings still show; --log-level info and -v bring them back', async () => {
    const quiet = await onTerminal(['backup'], env, dir)
    expect(quiet.code, quiet.output).toBe(0)
    const lines = plain(quiet.output).split('\n')
    expect(lines.some((l) => / INFO /.test(l))).toBe(false)
    expect(lines.some((l) => / WARN .*keep policy has no rule/.test(l))).toBe(true)
    expect(plain(quiet.output)).toMatch(/files\s+ok/)
    for (const flag of ['--log-level=info', '-v']) {
      const loud = await onTerminal([flag, 'backup'], env, dir)
      expect(plain(loud.output), flag).toMatch(/ INFO .*backup/)
    }
    // Off a terminal (cron, systemd): the info lines as before.
    const piped = await runBin(['backup'], { env: { ...env, OWNOPS_LOG_FORMAT: 'text' }, cwd: dir })
    expect(piped.stderr).toMatch(/ INFO /)
    const json = await runBin(['backup'], { env, cwd: dir })
    expect(json.stderr).toContain('"level":30')
  })
})
