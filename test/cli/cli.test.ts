import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs'
import module from 'node:module'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CommandUnknownOpts } from '@commander-js/extra-typings'
import { buildProgram } from '../../src/cli.js'
import { formatDuration, parseDuration, parseDurationValue } from '../../src/duration.js'
import { compareNames, didYouMean } from '../../src/text.js'
import { runBin, runCli, tempDir, testEnv } from '../helpers/cli.js'

const pkg = JSON.parse(readFileSync(resolve(import.meta.dirname, '../../package.json'), 'utf8'))
let dir: string
let cleanup: () => void
beforeAll(() => {
  ;({ dir, cleanup } = tempDir())
})
afterAll(() => cleanup())

const SUBCOMMANDS = [
  'doctor',
  'config',
  'lock',
  'backup',
  'backups',
  'restore',
  'verify',
  'monitor',
  'restart',
  'notify',
  'cleanup',
  'schedule',
  'completion',
  'help',
]

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
    for (const option of ['--config', '--json', '--log-level', '-v, --verbose', '--quiet', '--no-color']) expect(stdout).toContain(option)
    expect(stdout).not.toContain('__complete')
  })

  it('run bare, ownops and each command group print their help on stdout and exit 0', async () => {
    const bare = await runBin([], { env: testEnv(dir), cwd: dir })
    expect(bare).toMatchObject({ code: 0, stderr: '' })
    expect(bare.stdout).toMatch(/^Usage: ownops \[options\] \[command\]\n/)
    expect(bare.stdout).toContain('Exit status:')
    for (const group of ['config', 'lock', 'schedule']) {
      const result = await runCli([group], { env: testEnv(dir), cwd: dir })
      expect(result, group).toMatchObject({ code: 0, stderr: '' })
      expect(result.stdout, group).toMatch(new RegExp(`^Usage: ownops ${group} \\[options\\] \\[command\\]\\n`))
      expect(result.stdout, group).toContain('\nCommands:\n')
    }
    // Global options alone are no command either.
    expect(await runCli(['--json'], { env: testEnv(dir), cwd: dir })).toMatchObject({ code: 0, stderr: '' })
  })

  it('usage errors exit 2', async () => {
    expect((await runBin(['--bogus'], { env: testEnv(dir), cwd: dir })).code).toBe(2)
    expect((await runBin(['nosuchcommand'], { env: testEnv(dir), cwd: dir })).code).toBe(2)
    const level = await runBin(['--log-level', 'loud', 'doctor'], { env: testEnv(dir), cwd: dir })
    expect(level.code).toBe(2)
    expect(level.stderr).toContain('Allowed choices are trace, debug')
  })

  it.each([
    [['bakup'], 'bakup', 'backup'],
    [['help', 'bakup'], 'bakup', 'backup'],
    [['schedule', 'instal'], 'instal', 'install'],
    [['help', 'schedule', 'instal'], 'instal', 'install'],
    [['schedule', 'help', 'lst'], 'lst', 'list'],
  ])('ownops %j: an unknown command is a usage error that names the closest one', async (args, unknown, close) => {
    const result = await runCli(args, { env: testEnv(dir), cwd: dir })
    expect(result.code).toBe(2)
    expect(result.stdout).toBe('')
    expect(result.stderr).toContain(`error: unknown command '${unknown}'\n(Did you mean ${close}?)\n`)
  })

  it('an unknown command far from every name gets no suggestion, and hidden commands are never suggested', async () => {
    const result = await runCli(['frobnicate'], { env: testEnv(dir), cwd: dir })
    expect(result.code).toBe(2)
    expect(result.stderr).toContain("error: unknown command 'frobnicate'\n(run with --help for usage)")
    const near = await runCli(['__completx'], { env: testEnv(dir), cwd: dir })
    expect(near.code).toBe(2)
    expect(near.stderr).not.toContain('Did you mean')
  })

  it('-v, --verbose logs at debug level (an error with its stack); --log-level wins over it; -v with -q is a usage error', async () => {
    const args = ['-c', join(dir, 'missing.yml'), 'config', 'show']
    const plain = await runBin(args, { env: testEnv(dir), cwd: dir })
    expect(plain.code).toBe(78)
    expect(plain.stderr).not.toContain('"stack"')
    for (const flag of ['-v', '--verbose']) {
      const verbose = await runCli([...args, flag], { env: testEnv(dir), cwd: dir })
      expect(verbose.code, flag).toBe(78)
      expect(verbose.stderr, flag).toContain('"stack"')
    }
    const level = await runCli(['--log-level', 'info', '-v', ...args], { env: testEnv(dir), cwd: dir })
    expect(level.code).toBe(78)
    expect(level.stderr).not.toContain('"stack"')
    const both = await runCli(['-v', '-q', 'doctor'], { env: testEnv(dir), cwd: dir })
    expect(both.code).toBe(2)
    expect(both.stderr).toContain("option '-v, --verbose' cannot be used with option '-q, --quiet'")
  })

  it('every command and subcommand: --help and `ownops help` show its examples, its global options, no default of a flag, and end with its exit statuses', async () => {
    const paths: string[][] = []
    const walk = (command: CommandUnknownOpts, path: string[]) => {
      for (const sub of command.commands) {
        if (sub.name().startsWith('__')) continue // hidden (shell completion)
        paths.push([...path, sub.name()])
        walk(sub, [...path, sub.name()])
      }
    }
    walk(
      buildProgram(async () => undefined),
      [],
    )
    expect(paths.map((p) => p.join(' '))).toEqual(
      expect.arrayContaining([
        'doctor',
        'config validate',
        'config schema',
        'lock run',
        'schedule list',
        'schedule help',
        'restart',
        'verify',
        'completion',
        'help',
      ]),
    )
    for (const path of paths) {
      const name = path.join(' ')
      const { code, stdout, stderr } = await runCli([...path, '--help'], { env: testEnv(dir), cwd: dir })
      expect(code, name).toBe(0)
      expect(stderr, name).toBe('')
      expect(stdout, name).toMatch(/\nExamples:\n {2}\$ (sudo )?ownops /)
      expect(stdout, name).toMatch(/\nExit status:\n {2}0 {3}success\n/)
      const globals = /\nGlobal options:\n((?: {2}.*\n)+)/.exec(stdout)?.[1] ?? ''
      for (const option of ['-c, --config <file>', '--json', '--log-level <level>', '-v, --verbose', '-q, --quiet', '--no-color'])
        expect(globals, `${name}: ${option}`).toContain(option)
      expect(globals, name).not.toContain('--version')
      expect(stdout, name).not.toMatch(/\(default: (false|\[\])\)/)
      expect(stdout, name).not.toMatch(/default: false|default: \[\]/)
      // `ownops help schedule list` is `ownops schedule list --help`.
      const help = await runCli(['help', ...path], { env: testEnv(dir), cwd: dir })
      expect(help, name).toEqual({ code: 0, stdout, stderr: '' })
    }
  })

  it('Node 22+ keeps compiled code in the state directory (not in /tmp, which a unit makes private per run), never creating that directory', async () => {
    const state = join(dir, 'cc-state')
    const tmp = join(dir, 'cc-tmp')
    mkdirSync(tmp)
    const env = testEnv(dir, { OWNOPS_STATE_DIR: state, TMPDIR: tmp })
    // No state directory yet: nothing cached, and no directory made for it.
    expect((await runBin(['lock', 'status'], { env, cwd: dir })).code).toBe(0)
    expect(existsSync(state)).toBe(false)
    mkdirSync(state, { mode: 0o700 })
    expect((await runBin(['lock', 'status'], { env, cwd: dir })).code).toBe(0)
    const cached = existsSync(join(state, 'compile-cache')) ? readdirSync(join(state, 'compile-cache')) : []
    // Node 20 has no compile cache (the unit tests run on Node 24 too).
    expect(cached.length > 0).toBe(typeof (module as { enableCompileCache?: unknown }).enableCompileCache === 'function')
    expect(readdirSync(tmp)).toEqual([])
  })

  it('errors in --json mode are data on stdout too', async () => {
    const result = await runBin(['--json', 'lock', 'run', '--wait', 'soon', '--', 'true'], { env: testEnv(dir), cwd: dir })
    expect(result.code).toBe(2)
    expect(JSON.parse(result.stdout)).toMatchObject({ ok: false, error: { exitCode: 2, message: '--wait: not a duration: soon' } })
  })
})

describe('small helpers', () => {
  it('orders names case aside, the same whatever the locale', () => {
    const names = ['web', 'backup-world', 'Backup', 'backup', 'app2', 'app10', 'backup-db', 'monitor', 'ä']
    expect([...names].sort(compareNames)).toEqual(['app10', 'app2', 'Backup', 'backup', 'backup-db', 'backup-world', 'monitor', 'web', 'ä'])
  })

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
