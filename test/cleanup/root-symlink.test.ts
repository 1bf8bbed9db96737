/**
 * `config validate` resolves symlinks in clean-up roots as the run does: a root that is a
 * symlink to /etc, a logs directory that is one, and a backup directory reached through a
 * symlink into a root are refused before any run, with the real path named.
 */
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli, tempDir, testEnv } from '../helpers/cli.js'

describe('clean-up roots through symlinks', () => {
  let work: { dir: string; cleanup: () => void }
  beforeAll(() => {
    work = tempDir()
    symlinkSync('/etc', join(work.dir, 'etc-link'))
    mkdirSync(join(work.dir, 'data', 'backups'), { recursive: true })
    symlinkSync(join(work.dir, 'data', 'backups'), join(work.dir, 'backups-link'))
  })
  afterAll(() => work?.cleanup())

  const validate = (yaml: string) => {
    writeFileSync(join(work.dir, 'ownops.yml'), yaml)
    return runCli(['config', 'validate'], { env: testEnv(work.dir), cwd: work.dir })
  }

  it('a root that is a symlink to /etc is refused by config validate (exit 78)', async () => {
    const r = await validate(
      `cleanup:\n  rules:\n    tmp: { type: files, root: ${join(work.dir, 'etc-link')}, match: "*.conf", olderThan: 1d }\n`,
    )
    expect(r.code, r.stdout).toBe(78)
    expect(r.stdout).toContain(
      `ownops.yml:3 cleanup.rules.tmp.root: refusing root ${join(work.dir, 'etc-link')}: ${join(work.dir, 'etc-link')} resolves to /etc: /etc is a system directory`,
    )
  })

  it('a logs directory that is a symlink to /etc is refused too', async () => {
    const r = await validate(`cleanup:\n  rules:\n    l: { type: logs, path: "${join(work.dir, 'etc-link')}/*.log", compressAfter: 7d }\n`)
    expect(r.code, r.stdout).toBe(78)
    expect(r.stdout).toMatch(/cleanup\.rules\.l\.path: refusing .*etc-link\/\*\.log: .*resolves to \/etc: \/etc is a system directory/)
  })

  it('a backup directory reached through a symlink into the root is refused', async () => {
    const r = await validate(
      `backup:\n  dir: ${join(work.dir, 'backups-link')}\ncleanup:\n  rules:\n    old: { type: files, root: ${join(work.dir, 'data')}, match: "**", olderThan: 90d }\n`,
    )
    expect(r.code, r.stdout).toBe(78)
    expect(r.stdout).toContain(`holds the backup directory ${join(work.dir, 'backups-link')} (${join(work.dir, 'data', 'backups')})`)
  })

  it('a plain directory passes', async () => {
    const r = await validate(
      `cleanup:\n  rules:\n    old: { type: files, root: ${join(work.dir, 'data')}, match: "*.tmp", olderThan: 90d }\n`,
    )
    expect(r.code, r.stdout).toBe(0)
  })
})
