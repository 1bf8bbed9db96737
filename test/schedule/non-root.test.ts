/**
 * A job with `user:` runs as that user, as its unit starts it: a real second user, the
 * unit's User=, Environment= and ExecStart=, the variables of the env file passed in the
 * environment (systemd reads EnvironmentFile= as root), and the directories systemd makes for
 * it (StateDirectory=, RuntimeDirectory=). It works when the user can read its config and
 * write its directories; what it cannot read or write is exit 77 with the path and the fix.
 */
import { chmodSync, chownSync, existsSync, mkdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config/load.js'
import { planSchedule } from '../../src/schedule/jobs.js'
import { renderSystemdUnits } from '../../src/schedule/units.js'
import { ownopsRuntime } from '../../src/sys/runtime.js'
import { tempDir } from '../helpers/cli.js'
import { createUser, isRoot, runAs, type TestUser } from '../helpers/users.js'

let dir: string
let cleanup: () => void
let cam: TestUser
const made: string[] = []

beforeAll(() => {
  if (!isRoot && process.env.CI !== 'true') return
  ;({ dir, cleanup } = tempDir('ownops-test-nonroot-'))
  chmodSync(dir, 0o755)
  cam = createUser(dir)
})
afterAll(() => {
  for (const path of made) rmSync(path, { recursive: true, force: true })
  cam?.remove()
  cleanup?.()
})

interface Unit {
  user: string | undefined
  env: Record<string, string>
  argv: string[]
  stateDirectory: string | undefined
  runtimeDirectory: string | undefined
}

/** The parts of a generated service that say how systemd starts the job. */
function parseUnit(text: string): Unit {
  const value = (key: string) =>
    text
      .split('\n')
      .find((l) => l.startsWith(`${key}=`))
      ?.slice(key.length + 1)
  const env = Object.fromEntries(
    (value('Environment') ?? '')
      .split(' ')
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  )
  return {
    user: value('User'),
    env,
    argv: (value('ExecStart') ?? '').split(' '),
    stateDirectory: value('StateDirectory'),
    runtimeDirectory: value('RuntimeDirectory'),
  }
}

/** Creates what systemd creates for the unit before it starts: its state and runtime directories, owned by the user. */
function systemdDirs(unit: Unit, user: TestUser): void {
  for (const path of [unit.stateDirectory && `/var/lib/${unit.stateDirectory}`, unit.runtimeDirectory && `/run/${unit.runtimeDirectory}`]) {
    if (!path) continue
    mkdirSync(path, { recursive: true, mode: 0o700 })
    chownSync(path, user.uid, user.gid)
    made.push(path)
  }
}

function setup(name: string, envFileText: string) {
  const base = join(dir, name)
  const results = join(base, 'results')
  mkdirSync(results, { recursive: true })
  chmodSync(base, 0o755)
  chownSync(results, cam.uid, cam.gid)
  const old = new Date(Date.UTC(2020, 0, 1))
  for (const f of ['a.out', 'b.out']) {
    writeFileSync(join(results, f), 'x')
    chownSync(join(results, f), cam.uid, cam.gid)
    utimesSync(join(results, f), old, old)
  }
  const envFile = join(base, 'ownops.env')
  writeFileSync(envFile, envFileText, { mode: 0o600 })
  const config = join(base, 'ownops.yml')
  writeFileSync(
    config,
    `envFile: ${envFile}\nnotify:\n  channels:\n    hook: { url: "json://127.0.0.1:9/\${HOOK_TOKEN}", levels: [critical] }\ncleanup:\n  backups: false\n  rules:\n    results: { type: files, root: ${results}, match: "*.out", olderThan: 1d, enabled: false }\nschedule:\n  jobs:\n    prune:\n      command: [cleanup, results]\n      schedule: "0 4 * * *"\n      user: ${cam.name}\n`,
    { mode: 0o644 },
  )
  const plan = planSchedule(loadConfig({ path: config, env: {} }).config, { configFile: config, runtime: ownopsRuntime() })
  const unit = parseUnit(renderSystemdUnits(plan).find((f) => f.name === 'ownops-prune.service')?.content ?? '')
  return { base, results, envFile, config, unit }
}

/** Runs the unit's ExecStart as its User=, with its Environment= and the env file's variables. */
const start = (unit: Unit, env: Record<string, string>) =>
  runAs(cam, unit.argv, {
    env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', OWNOPS_LOG_FORMAT: 'text', ...unit.env, ...env },
    cwd: '/',
  })

describe.runIf(isRoot || process.env.CI === 'true')('a job run as a user', () => {
  it('the unit runs it as the user, with directories of its own, and it works: the env file it cannot read is no error', async () => {
    const { results, unit } = setup('works', 'HOOK_TOKEN=s3cret-token\n')
    expect(unit.user).toBe(cam.name)
    expect(unit.env).toEqual({ OWNOPS_STATE_DIR: `/var/lib/ownops-${cam.name}`, OWNOPS_LOCK_DIR: `/run/ownops-${cam.name}` })
    expect(unit.runtimeDirectory).toBe(`ownops-${cam.name}`)
    expect(unit.argv.slice(0, 2)).toEqual(ownopsRuntime())
    systemdDirs(unit, cam)
    // systemd reads EnvironmentFile= as root and passes the variables.
    const result = await start(unit, { HOOK_TOKEN: 's3cret-token' })
    expect(result.stderr).not.toContain('EACCES')
    expect(result.code, result.stderr).toBe(0)
    expect(existsSync(join(results, 'a.out'))).toBe(false)
    expect(existsSync(join(results, 'b.out'))).toBe(false)
  })

  it('a variable that is neither in the environment nor in a readable env file: 77, naming the file and the fix', async () => {
    const { envFile, unit } = setup('novar', 'HOOK_TOKEN=s3cret-token\n')
    systemdDirs(unit, cam)
    const result = await start(unit, {})
    expect(result.code).toBe(77)
    expect(result.stderr).toContain(`error: permission denied: cannot read ${envFile}`)
    expect(result.stderr).toContain(
      `\${HOOK_TOKEN} is not set, and the env file ${envFile} cannot be read by this user (permission denied)`,
    )
    expect(result.stderr).toContain('EnvironmentFile= passes the variables')
    expect(result.stderr).not.toContain('s3cret')
  })

  it('a lock directory it may not write: 77 with the path and the fix, never 70', async () => {
    const { base, unit } = setup('lockdir', 'HOOK_TOKEN=x\n')
    systemdDirs(unit, cam)
    const rootLock = join(base, 'root-lock')
    mkdirSync(rootLock, { mode: 0o755 })
    const result = await start({ ...unit, env: { ...unit.env, OWNOPS_LOCK_DIR: rootLock } }, { HOOK_TOKEN: 'x' })
    expect(result.code).toBe(77)
    expect(result.stderr).toContain(`error: cannot take the host lock: ${rootLock}`)
    expect(result.stderr).toContain(`permission denied for ${cam.name}`)
    expect(result.stderr).toMatch(/hint: run as root, let this user write .* or set lock\.dir/)
    expect(result.stderr).not.toContain('internal error')
  })

  it('a config it may not read: 77 with the path and the fix', async () => {
    const { config, unit } = setup('noconfig', 'HOOK_TOKEN=x\n')
    systemdDirs(unit, cam)
    chmodSync(config, 0o600)
    const result = await start(unit, { HOOK_TOKEN: 'x' })
    expect(result.code).toBe(77)
    expect(result.stderr).toContain(`permission denied: cannot read ${config}`)
    expect(result.stderr).toContain(`chmod 640 ${config}`)
  })
})
