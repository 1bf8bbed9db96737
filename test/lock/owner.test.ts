/**
 * Nobody but root (or the user running ownops) can hold or fake the host lock: a local user
 * who plants a lock directory or a lock file gets a clear refusal (exit 77 with the fix) from
 * root's runs, never a silent "held by pid 1" (exit 75) forever, and doctor says so. Run with
 * a real second user.
 */
import { chmodSync, chownSync, mkdirSync, statSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { ROOT_LOCK_DIR, defaultLockDir } from '../../src/sys/paths.js'
import { runBin, tempDir, testEnv } from '../helpers/cli.js'
import { createUser, isRoot, ownopsAs, type TestUser } from '../helpers/users.js'

let base: string
let cleanup: () => void
let mallory: TestUser
let n = 0
let dir: string

beforeAll(() => {
  ;({ dir: base, cleanup } = tempDir('ownops-test-lockowner-'))
  chmodSync(base, 0o755)
  mallory = createUser(base)
})
afterAll(() => {
  mallory?.remove()
  cleanup()
})
beforeEach(() => {
  dir = join(base, `case${n++}`)
  mkdirSync(dir, { mode: 0o755 })
})

/** A lock naming pid 1 (always alive, never ownops), as a squatter would write it. */
const FAKE_HOLDER = JSON.stringify({
  pid: 1,
  command: 'backup',
  host: hostname(),
  startedAt: '2020-01-01T00:00:00Z',
  nonce: 'fake',
  stops: [],
})

const rootRun = (lockDir: string, args = ['lock', 'run', '--', 'true']) =>
  runBin(args, { env: testEnv(dir, { OWNOPS_LOCK_DIR: lockDir, OWNOPS_LOG_FORMAT: 'text' }), cwd: dir })

describe.runIf(isRoot || process.env.CI === 'true')('who may hold the host lock', () => {
  it('root default: /run/ownops, in a directory only root can write (not the world-writable /run/lock)', () => {
    expect(defaultLockDir({})).toBe(ROOT_LOCK_DIR)
    expect(statSync('/run').mode & 0o022).toBe(0)
    expect(statSync('/run').uid).toBe(0)
  })

  it('a lock directory another user created in a world-writable place (like /run/lock) is refused: 77 with the fix, not 75', async () => {
    const shared = join(dir, 'run-lock')
    mkdirSync(shared)
    chmodSync(shared, 0o1777)
    // The squatter's directory and lock file, naming pid 1.
    const planted = join(shared, 'ownops')
    mkdirSync(planted, { mode: 0o755 })
    writeFileSync(join(planted, 'host.lock'), FAKE_HOLDER)
    chownSync(planted, mallory.uid, mallory.gid)
    chownSync(join(planted, 'host.lock'), mallory.uid, mallory.gid)
    const result = await rootRun(planted)
    expect(result.code, result.stderr).toBe(77)
    expect(result.stderr).toContain(
      `error: refusing the host lock: the lock directory ${planted} belongs to ${mallory.name} (uid ${mallory.uid}), not to root: its owner could block every ownops run`,
    )
    expect(result.stderr).toContain(`hint: remove it once no ownops run is going (rm -r ${planted}; ownops creates it again)`)
    expect(result.stderr).not.toContain('pid 1')

    const status = await rootRun(planted, ['lock', 'status'])
    expect(status.code).toBe(77)

    const doctor = await runBin(['--json', 'doctor'], {
      env: testEnv(dir, { OWNOPS_LOCK_DIR: planted, DOCKER_HOST: `unix://${join(dir, 'no.sock')}` }),
      cwd: dir,
    })
    const check = JSON.parse(doctor.stdout).checks.find((c: { name: string }) => c.name === 'lock directory')
    expect(check).toMatchObject({ status: 'fail', exitCode: 77 })
    expect(check.detail).toContain(`belongs to ${mallory.name}`)
  })

  it('a root-owned lock directory that every user may write is refused', async () => {
    const open = join(dir, 'open')
    mkdirSync(open)
    chmodSync(open, 0o777)
    const result = await rootRun(open)
    expect(result.code).toBe(77)
    expect(result.stderr).toContain(`the lock directory ${open} is writable by every user (mode 777)`)
    expect(result.stderr).toContain(`hint: chmod 700 ${open}`)
  })

  it("a lock file of another user in root's directory is refused; one that is a directory too (not exit 70)", async () => {
    const lockDir = join(dir, 'lock')
    mkdirSync(lockDir, { mode: 0o755 })
    writeFileSync(join(lockDir, 'host.lock'), FAKE_HOLDER)
    chownSync(join(lockDir, 'host.lock'), mallory.uid, mallory.gid)
    const foreign = await rootRun(lockDir)
    expect(foreign.code).toBe(77)
    expect(foreign.stderr).toContain(`the lock file ${join(lockDir, 'host.lock')} belongs to ${mallory.name}`)

    const other = join(dir, 'lock2')
    mkdirSync(join(other, 'host.lock'), { recursive: true })
    const isDir = await rootRun(other)
    expect(isDir.code).toBe(77)
    expect(isDir.stderr).toContain(`error: refusing the host lock: the lock file ${join(other, 'host.lock')} is a directory`)
    expect(isDir.stderr).toContain(`hint: remove it once no ownops run is going (rm -r ${join(other, 'host.lock')})`)
  })

  it("a user may hold the lock in its own directory; root may use that user's lock too, but the user cannot use root's", async () => {
    const own = join(mallory.home, 'lock')
    const env = {
      PATH: process.env.PATH,
      HOME: mallory.home,
      OWNOPS_STATE_DIR: join(mallory.home, 'state'),
      OWNOPS_LOCK_DIR: own,
      OWNOPS_LOG_FORMAT: 'text',
    }
    const mine = await ownopsAs(mallory, ['lock', 'run', '--', 'true'], { env })
    expect(mine.code, mine.stderr).toBe(0)
    expect(statSync(own)).toMatchObject({ uid: mallory.uid })
    expect(statSync(own).mode & 0o777).toBe(0o700)

    const rootDir = join(dir, 'root-lock')
    mkdirSync(rootDir, { mode: 0o755 })
    const denied = await ownopsAs(mallory, ['lock', 'run', '--', 'true'], { env: { ...env, OWNOPS_LOCK_DIR: rootDir } })
    expect(denied.code).toBe(77)
    expect(denied.stderr).toContain(`error: cannot take the host lock: ${rootDir}`)
    expect(denied.stderr).toContain(`permission denied for ${mallory.name} (uid ${mallory.uid})`)
    expect(denied.stderr).not.toContain('internal error')
  })
})
