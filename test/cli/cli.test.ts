import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CommandUnknownOpts } from '@commander-js/extra-typings'
import { buildProgram } from '../../src/cli.js'
import { formatDuration, parseDuration, parseDurationValue } from '../../src/duration.js'
import { didYouMean } from '../../src/text.js'
import { runBin, runCli, tempDir, testEnv } from '../helpers/cli.js'

const pkg = JSON.parse(readFileSync(resolve(import.meta.dirname, '../../package.json'), 'utf8'))
let dir: string
let cleanup: () => void
beforeAll(() => {
  ;({ dir, cleanup } = tempDir())
})
afterAll(() => cleanup())

const SUBCOMMANDS = ['doctor', 'config', 'lock', 'backup', 'backups', 'restore', 'verify', 'monitor', 'restart', 'notify', 'cleanup', 'schedule']

describe('ownops (process)', () => {
  it('--version prints the package version', async () => {
    const result = await runBin(['--version'], { env: testEnv(dir), cwd: dir })
    expect(result).toMatchObject({ code: 0, stdout: `${pkg.version}\n` })
  })

  it('--help lists every subcommand with its purpose, examples and exit statuses', async () => {
    const { code, stdout } = await runBin(['--help'], { env: testEnv(dir), cwd: dir })
    expect(code).toBe(0)
    for (const name of SUBCOMMANDS) expect(stdout).toMatch(new RegExp(`^  ${name}\\b.* {2,}\\S`, 'm'))
    expect(stdout).toContain('Examples:')
    expect(stdout).toContain('Exit status:')
    expect(stdout).toContain('78  configuration invalid')
    for (const option of ['--config', '--json', '--log-level', '--quiet', '--no-color']) expect(stdout).toContain(option)
  })

  it('usage errors exit 2', async () => {
    expect((await runBin(['--bogus'], { env: testEnv(dir), cwd: dir })).code).toBe(2)
    expect((await runBin(['nosuchcommand'], { env: testEnv(dir), cwd: dir })).code).toBe(2)
    const level = await runBin(['--log-level', 'loud', 'doctor'], { env: testEnv(dir), cwd: dir })
    expect(level.code).toBe(2)
    expect(level.stderr).toContain('Allowed choices are trace, debug')
  })

  it('every command and subcommand --help shows its examples and ends with its exit statuses', async () => {
    const paths: string[][] = []
    const walk = (command: CommandUnknownOpts, path: string[]) => {
      for (const sub of command.commands) {
        paths.push([...path, sub.name()])
        walk(sub, [...path, sub.name()])
      }
    }
    walk(buildProgram(async () => undefined), [])
    expect(paths.map((p) => p.join(' '))).toEqual(expect.arrayContaining(['doctor', 'config validate', 'config schema', 'lock run', 'schedule list', 'restart', 'verify']))
    for (const path of paths) {
      const { code, stdout } = await runCli([...path, '--help'], { env: testEnv(dir), cwd: dir })
      expect(code, path.join(' ')).toBe(0)
      expect(stdout, path.join(' ')).toMatch(/\nExamples:\n {2}\$ (sudo )?ownops /)
      expect(stdout, path.join(' ')).toMatch(/\nExit status:\n {2}0 {3}success\n/)
    }
  })

  it('errors in --json mode are data on stdout too', async () => {
    const result = await runBin(['--json', 'lock', 'run', '--wait', 'soon', '--', 'true'], { env: testEnv(dir), cwd: dir })
    expect(result.code).toBe(2)
    expect(JSON.parse(result.stdout)).toMatchObject({ ok: false, error: { exitCode: 2, message: '--wait: not a duration: soon' } })
  })
})

describe('small helpers', () => {
  it('parses and formats durations', () => {
    expect(parseDuration('90s')).toBe(90_000)
    expect(parseDuration('1h30m')).toBe(5_400_000)
    expect(parseDuration('2w')).toBe(1_209_600_000)
    expect(parseDuration('15')).toBe(15_000)
    expect(parseDurationValue(2)).toBe(2000)
    expect(parseDuration('soon')).toBeUndefined()
    expect(parseDuration('5x')).toBeUndefined()
    expect(formatDuration(5_400_000)).toBe('1h30m')
    expect(formatDuration(61_000)).toBe('1m1s')
    expect(formatDuration(250)).toBe('250ms')
  })

  it('suggests close matches only', () => {
    expect(didYouMean('postgress', ['postgres', 'mysql'])).toBe('postgres')
    expect(didYouMean('zzz', ['postgres', 'mysql'])).toBeUndefined()
    expect(didYouMean('postgres', ['postgres'])).toBeUndefined()
  })
})
