/**
 * Real non-root users for tests: created with useradd under a unique name, removed with
 * userdel (their crontab too). ownops runs as them through setpriv, with their groups, the way
 * a unit with User= or a cron entry with a user field runs it.
 */
import { execFile, spawnSync } from 'node:child_process'
import { chownSync, mkdirSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { BIN, type CliResult } from './cli.js'

export interface TestUser {
  name: string
  uid: number
  gid: number
  /** Its home directory (owned by it, mode 0700). */
  home: string
  remove(): void
}

export const isRoot = typeof process.getuid === 'function' && process.getuid() === 0

/**
 * Creates a system user with its own group and a home directory under `base`. Tests with real
 * users need root (CI runs as root): without it they fail under CI rather than skip silently.
 */
export function createUser(base: string): TestUser {
  if (!isRoot) throw new Error('tests with real users need root (useradd)')
  const name = `ownops-t-${randomBytes(4).toString('hex')}`
  const home = join(base, name)
  const made = spawnSync('useradd', ['--system', '--user-group', '--no-create-home', '--home-dir', home, '--shell', '/bin/sh', name], {
    encoding: 'utf8',
  })
  if (made.status !== 0) throw new Error(`useradd ${name}: ${made.stderr}`)
  const [uid, gid] = ['-u', '-g'].map((flag) => Number(spawnSync('id', [flag, name], { encoding: 'utf8' }).stdout.trim())) as [
    number,
    number,
  ]
  mkdirSync(home, { mode: 0o700 })
  chownSync(home, uid, gid)
  return {
    name,
    uid,
    gid,
    home,
    remove: () => {
      spawnSync('crontab', ['-r', '-u', name])
      spawnSync('userdel', [name])
    },
  }
}

/** Runs a command as the user (setpriv: its uid, gid and groups), with exactly `env`. */
export function runAs(
  user: TestUser,
  argv: string[],
  options: { env: NodeJS.ProcessEnv; cwd?: string; input?: string },
): Promise<CliResult> {
  return new Promise((done) => {
    const child = execFile(
      'setpriv',
      [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--init-groups', '--', ...argv],
      { env: options.env, cwd: options.cwd ?? user.home, timeout: 60_000 },
      (error, stdout, stderr) => done({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stdout, stderr }),
    )
    if (options.input !== undefined) child.stdin?.end(options.input)
  })
}

/** bin/ownops.js as the user, on the Node that runs the tests. */
export function ownopsAs(user: TestUser, args: string[], options: { env: NodeJS.ProcessEnv; cwd?: string }): Promise<CliResult> {
  return runAs(user, [process.execPath, BIN, ...args], options)
}
