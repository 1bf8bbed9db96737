import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { checkConfig, interpolate, keysAt, loadConfig, locateConfig } from '../../src/config/load.js'
import { formatProblem } from '../../src/config/problems.js'
import { configJsonSchema, configSchema } from '../../src/config/schema.js'
import { parseEnvFile } from '../../src/config/env-file.js'
import { isOwnopsError } from '../../src/errors.js'
import { runBin, runCli, tempDir, testEnv } from '../helpers/cli.js'

const ROOT = resolve(import.meta.dirname, '../..')
let dir: string
let cleanup: () => void

beforeEach(() => {
  ;({ dir, cleanup } = tempDir())
})
afterEach(() => cleanup())

function write(name: string, text: string): string {
  const file = join(dir, name)
  writeFileSync(file, text)
  return file
}

const noEnvFile = () => join(dir, 'no-such.env')

describe('config validate', () => {
  it('reports every mistake with file, line, key path and a hint', () => {
    const file = write(
      'ownops.yml',
      [
        'notify:', //                              1
        '  channels:', //                          2
        '    ops:', //                             3
        '      url: discord://1/2', //             4
        '      levels: [info, warnig]', //         5
        'backup:', //                              6
        '  targets:', //                           7
        '    db:', //                              8
        '      type: postgress', //                9
        '      container: app-db', //             10
        'lock:', //                               11
        '  wiat: 5m', //                          12
      ].join('\n'),
    )
    const result = checkConfig({ path: file, env: {}, cwd: dir, defaultEnvFile: noEnvFile() })
    const lines = result.problems.map(formatProblem)
    expect(lines).toEqual([
      'ownops.yml:5 notify.channels.ops.levels[1]: expected one of info|warning|error|critical, got "warnig" (did you mean "warning"?)',
      'ownops.yml:9 backup.targets.db.type: expected one of postgres|mysql|mariadb|sqlite|directory, got "postgress" (did you mean "postgres"?)',
      'ownops.yml:12 lock.wiat: unknown key (did you mean "wait"?)',
    ])
    expect(result.loaded).toBeUndefined()
  })

  it('exits 78 from the command line and prints all three problems; 0 on the example config', async () => {
    write('bad.yml', 'backup:\n  dir: 5\n  targets:\n    w:\n      type: directory\n      volume: v\n      compression: lz4\nbogus: 1\n')
    const env = testEnv(dir)
    const bad = await runBin(['-c', 'bad.yml', 'config', 'validate'], { env, cwd: dir })
    expect(bad.code).toBe(78)
    expect(bad.stdout).toContain('bad.yml:2 backup.dir: expected string, got number 5')
    expect(bad.stdout).toContain('bad.yml:7 backup.targets.w.compression: expected one of zstd|gzip|none, got "lz4"')
    expect(bad.stdout).toContain('bad.yml:8 bogus: unknown key')
    expect(bad.stdout).toContain('3 errors')

    const good = await runBin(['-c', join(ROOT, 'ownops.example.yml'), 'config', 'validate'], { env, cwd: dir })
    expect(good.stdout).toContain('valid')
    expect(good.code).toBe(0)
  })

  it('--json gives the problems as data', async () => {
    write('ownops.yml', 'backup:\n  targets:\n    db: { type: sqlite }\n')
    const result = await runCli(['--json', 'config', 'validate'], { env: testEnv(dir), cwd: dir })
    expect(result.code).toBe(78)
    const report = JSON.parse(result.stdout)
    expect(report.valid).toBe(false)
    expect(report.problems).toHaveLength(1)
    expect(report.problems[0]).toMatchObject({ path: 'backup.targets.db.path', line: 3, message: 'missing required key (expected string)' })
  })

  it('reports YAML syntax errors with their line', () => {
    const file = write('ownops.yml', 'backup:\n  dir: /x\nlock:\n  wait: "10m\n')
    const [problem] = checkConfig({ path: file, env: {}, cwd: dir }).problems
    expect(problem && formatProblem(problem)).toMatch(/^ownops\.yml:5: YAML syntax: Missing closing "quote/)
  })

  it('applies cross-field rules and reports them with lines', () => {
    const file = write(
      'ownops.yml',
      'backup:\n  targets:\n    db:\n      type: postgres\n      database: app\n    files:\n      type: directory\n',
    )
    const lines = checkConfig({ path: file, env: {}, cwd: dir, defaultEnvFile: noEnvFile() }).problems.map(formatProblem)
    expect(lines).toEqual([
      'ownops.yml:3 backup.targets.db: a postgres target needs "container" (pg_dump runs inside it) or "url" (add container: <name of the database container>)',
      'ownops.yml:6 backup.targets.files: a directory target needs exactly one source: "path", "volume", or "container" with "path" (e.g. volume: mc-data)',
    ])
  })

  it('durations and sizes are numbers once loaded; config show writes them back as the config does, and what it shows loads to the same config', async () => {
    const file = write(
      'ownops.yml',
      'lock: { wait: 90s }\nnotify: { timeout: 1500ms }\ncleanup:\n  rules:\n    logs: { type: logs, path: /var/log/app/*.log, compressAfter: 7d, maxTotalSize: 500MB }\n',
    )
    const { config } = loadConfig({ path: file, env: {}, cwd: dir, defaultEnvFile: noEnvFile() })
    expect(config.lock.wait).toBe(90_000)
    expect(config.notify.timeout).toBe(1500)
    expect(config.notify.budget).toBe(60_000) // the schema's default, parsed like the rest
    expect(config.cleanup.rules.logs).toMatchObject({ compressAfter: 7 * 86_400_000, minAge: 600_000, maxTotalSize: 500_000_000 })
    const shown = await runCli(['-c', file, 'config', 'show'], { env: testEnv(dir), cwd: dir })
    expect(shown.code).toBe(0)
    expect(shown.stdout).toMatch(/^ {2}wait: 90s$/m)
    expect(shown.stdout).toMatch(/^ {2}timeout: 1500ms$/m)
    expect(shown.stdout).toMatch(/^ {6}maxTotalSize: 500MB$/m)
    const again = write('shown.yml', shown.stdout)
    expect(loadConfig({ path: again, env: {}, cwd: dir, defaultEnvFile: noEnvFile() }).config).toEqual(config)
  })

  it("checks a maintenance window's cron expression and zone as the schedules check theirs, with their lines", () => {
    const file = write(
      'ownops.yml',
      'monitor:\n  maintenance:\n    - cron: "0 25 * * *"\n      duration: 1h\n    - cron: "0 4 * * *"\n      duration: 1h\n      timezone: Europe/Berln\n',
    )
    const problems = checkConfig({ path: file, env: {}, cwd: dir, defaultEnvFile: noEnvFile() }).problems
    expect(problems.map((p) => [p.path.join('.'), p.line])).toEqual([
      ['monitor.maintenance.0.cron', 3],
      ['monitor.maintenance.1.timezone', 7],
    ])
    expect(problems[0]?.message).toMatch(/hour/)
    expect(problems[1]).toMatchObject({ message: 'unknown time zone "Europe/Berln" (did you mean "Europe/Berlin"?)' })
  })

  it('reports a bad retention span or count with its line, and warns about a keep policy without rules', () => {
    const file = write(
      'ownops.yml',
      [
        'backup:', //                                  1
        '  keep: { daily: 0 }', //                     2
        '  targets:', //                               3
        '    db:', //                                  4
        '      type: sqlite', //                       5
        '      path: /srv/app.db', //                  6
        '      keep:', //                              7
        '        within: 7x', //                       8
        '        withinDaily: 1d2d', //                9
        '        weekly: -2', //                       10
        '        tags: [manual]', //                   11
      ].join('\n'),
    )
    const lines = checkConfig({ path: file, env: {}, cwd: dir, defaultEnvFile: noEnvFile() }).problems.map(formatProblem)
    const span = 'expected a span such as 7d, 36h, 6m or 1y2m3d4h: y years, m months, d days, h hours, each unit once'
    expect(lines).toEqual([
      `ownops.yml:8 backup.targets.db.keep.within: ${span}, got "7x"`,
      `ownops.yml:9 backup.targets.db.keep.withinDaily: ${span}, got "1d2d"`,
      'ownops.yml:10 backup.targets.db.keep.weekly: expected number to be >=-1, got number -2',
    ])
    const fixed = write('fixed.yml', readFileSync(file, 'utf8').replace('7x', '7d').replace('1d2d', '2m').replace('-2', '4'))
    expect(checkConfig({ path: fixed, env: {}, cwd: dir, defaultEnvFile: noEnvFile() }).problems.map(formatProblem)).toEqual([
      'ownops.yml:2 warning: backup.keep: this keep policy has no rule, so every backup is kept forever (e.g. keep: { daily: 7, weekly: 4, monthly: 12 })'.replace(
        'ownops.yml',
        'fixed.yml',
      ),
    ])
  })

  it('names a missing explicit config file', async () => {
    const result = await runCli(['-c', 'nope.yml', 'config', 'validate'], { env: testEnv(dir), cwd: dir })
    expect(result.code).toBe(78)
    expect(result.stdout).toContain('nope.yml: file not found (check the path given with --config or $OWNOPS_CONFIG)')
  })

  it('loadConfig throws exit 78 with every problem as details', () => {
    const file = write('ownops.yml', 'lock: { wait: soon }\nlog: { level: loud }\n')
    try {
      loadConfig({ path: file, env: {}, cwd: dir })
      expect.unreachable()
    } catch (error) {
      expect(isOwnopsError(error) && error.exitCode).toBe(78)
      expect(isOwnopsError(error) && error.details).toHaveLength(2)
    }
  })
})

describe('config lookup', () => {
  it('uses --config, then $OWNOPS_CONFIG, then ./ownops.yml, then /etc/ownops/ownops.yml', () => {
    const etc = write('etc.yml', '{}')
    const search = ['./ownops.yml', etc]
    expect(locateConfig({ env: {}, cwd: dir, searchPaths: search }).file).toBe(etc)
    const local = write('ownops.yml', '{}')
    expect(locateConfig({ env: {}, cwd: dir, searchPaths: search }).file).toBe(local)
    const fromEnv = write('env.yml', '{}')
    expect(locateConfig({ env: { OWNOPS_CONFIG: fromEnv }, cwd: dir, searchPaths: search }).file).toBe(fromEnv)
    expect(locateConfig({ path: 'flag.yml', env: { OWNOPS_CONFIG: fromEnv }, cwd: dir, searchPaths: search }).file).toBe(
      join(dir, 'flag.yml'),
    )
  })

  it('runs on built-in defaults without any config file', () => {
    const result = checkConfig({ env: {}, cwd: dir, searchPaths: [] })
    expect(result.file).toBeUndefined()
    expect(result.loaded?.config.backup.dir).toBe('/var/backups/ownops')
    expect(result.loaded?.config.lock.wait).toBe(0)
  })
})

describe('interpolation and the env file', () => {
  it('resolves ${VAR}, ${VAR:-default}, ${VAR-default} and $$', () => {
    const lookup = (name: string) => ({ SET: 'value', EMPTY: '' })[name]
    expect(interpolate('a ${SET} b', lookup).value).toBe('a value b')
    expect(interpolate('${UNSET:-fallback}', lookup).value).toBe('fallback')
    expect(interpolate('${EMPTY:-fallback}', lookup).value).toBe('fallback')
    expect(interpolate('${EMPTY-fallback}', lookup).value).toBe('')
    expect(interpolate('cost $$5 ${SET}', lookup).value).toBe('cost $5 value')
    expect(interpolate('${UNSET}', lookup)).toMatchObject({ missing: ['UNSET'] })
  })

  it('reads the env file named by envFile:, with the process environment taking precedence', () => {
    const envFile = write('ownops.env', '# secrets\nHOOK="discord://111/from-file"\nPASS=\'p@ss: #word\'\nOVERRIDE=file\n')
    const file = write(
      'ownops.yml',
      `envFile: ${envFile}\nnotify:\n  channels:\n    a: { url: "\${HOOK}" }\n    b: { url: "json://\${OVERRIDE}/x" }\nbackup:\n  targets:\n    db:\n      type: mysql\n      container: db\n      password: \${PASS}\n`,
    )
    const result = checkConfig({ path: file, env: { OVERRIDE: 'env' }, cwd: dir })
    expect(result.problems).toEqual([])
    const config = result.loaded!.config
    expect(config.notify.channels.a?.url).toBe('discord://111/from-file')
    expect(config.notify.channels.b?.url).toBe('json://env/x')
    const db = config.backup.targets.db
    expect(db?.type === 'mysql' && db.password).toBe('p@ss: #word')
    expect(result.loaded!.secretValues).toContain('p@ss: #word')
  })

  it('reports an unset variable once, at its line, with how to set it', () => {
    const file = write('ownops.yml', 'notify:\n  channels:\n    d:\n      url: ${DISCORD_URL}\n')
    const lines = checkConfig({ path: file, env: {}, cwd: dir, defaultEnvFile: noEnvFile() }).problems.map(formatProblem)
    expect(lines).toEqual([
      `ownops.yml:4 notify.channels.d.url: \${DISCORD_URL} is not set (set DISCORD_URL in the environment or in ${noEnvFile()}, or write \${DISCORD_URL:-default})`,
    ])
  })

  it('uses /etc/ownops/ownops.env (here: the default env file) when envFile is not set', () => {
    const envFile = write('default.env', 'TOKEN=abcd1234\n')
    const file = write('ownops.yml', 'notify:\n  channels:\n    n: { url: "ntfy://${TOKEN}@ntfy.sh/alerts" }\n')
    const result = checkConfig({ path: file, env: {}, cwd: dir, defaultEnvFile: envFile })
    expect(result.loaded?.config.notify.channels.n?.url).toBe('ntfy://abcd1234@ntfy.sh/alerts')
    expect(result.loaded?.envFile).toBe(envFile)
  })

  it('keeps a value with YAML syntax in it as a plain string', () => {
    const file = write('ownops.yml', 'backup:\n  targets:\n    db: { type: mysql, container: db, password: "${P}" }\n')
    const result = checkConfig({ path: file, env: { P: "x\n  evil: [1, 2]\n# '" }, cwd: dir, defaultEnvFile: noEnvFile() })
    const db = result.loaded?.config.backup.targets.db
    expect(db?.type === 'mysql' && db.password).toBe("x\n  evil: [1, 2]\n# '")
  })

  it('parses env files like systemd does (an inline # stays in the value), and reports bad lines', () => {
    const { vars, problems } = parseEnvFile('A=1\n B = two words # comment\nC="q\\"uote"\nbad line\n')
    expect(vars).toEqual({ A: '1', B: 'two words # comment', C: 'q"uote' })
    expect(problems.map((p) => [p.line, p.severity])).toEqual([
      [2, 'warning'],
      [4, 'error'],
    ])
    expect(problems[1]?.message).toBe('expected KEY=value, got "bad line": systemd ignores this line')
  })
})

describe('schema', () => {
  it('the example config stays valid', () => {
    const result = checkConfig({ path: join(ROOT, 'ownops.example.yml'), env: {}, cwd: ROOT, defaultEnvFile: noEnvFile() })
    expect(result.problems.filter((p) => p.severity === 'error')).toEqual([])
    expect(Object.keys(result.loaded!.config.backup.targets)).toEqual(['db', 'world', 'jobs'])
  })

  it('the committed ownops.schema.json equals `ownops config schema`', async () => {
    const committed = JSON.parse(readFileSync(join(ROOT, 'ownops.schema.json'), 'utf8'))
    expect(committed).toEqual(configJsonSchema())
    const printed = await runCli(['config', 'schema'], { env: testEnv(dir), cwd: dir })
    expect(JSON.parse(printed.stdout)).toEqual(committed)
  })

  it('the JSON Schema describes the targets and rejects unknown keys', () => {
    const schema = configJsonSchema() as {
      properties: Record<string, { properties?: Record<string, unknown> }>
      additionalProperties: boolean
    }
    expect(schema.additionalProperties).toBe(false)
    expect(Object.keys(schema.properties)).toEqual(expect.arrayContaining(['backup', 'notify', 'lock', 'envFile']))
    expect(JSON.stringify(schema.properties.backup)).toContain('"postgres"')
  })

  it('knows the keys at a path for suggestions', () => {
    expect(keysAt(configSchema, ['lock'])).toEqual(['dir', 'wait'])
    expect(keysAt(configSchema, ['backup', 'targets', 'x'], { backup: { targets: { x: { type: 'sqlite' } } } })).toContain('path')
  })

  it('refuses a world-readable state of mind: warns about an env file others can read (doctor)', async () => {
    const envFile = write('ownops.env', 'A=1\n')
    chmodSync(envFile, 0o644)
    write('ownops.yml', `envFile: ${envFile}\n`)
    mkdirSync(join(dir, 'state'))
    const result = await runCli(['--json', 'doctor'], { env: testEnv(dir, { DOCKER_HOST: `unix://${join(dir, 'none.sock')}` }), cwd: dir })
    const report = JSON.parse(result.stdout)
    expect(report.checks.find((c: { name: string }) => c.name === 'env file')).toMatchObject({ status: 'warn' })
  })
})
