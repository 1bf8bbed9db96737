/**
 * doctor looks at the Node that systemd units and cron lines find on their PATH, and at the
 * programs installed units still run: a Node installed by nvm, fnm or volta is not on those
 * PATHs, and goes away with an upgrade.
 */
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { checkInstalledRuntime, checkNodeOnPath, CRON_PATH, SYSTEMD_PATH } from '../../src/doctor/run.js'
import { runCli, tempDir, testEnv } from '../helpers/cli.js'

let dir: string
let cleanup: () => void
const ctx = { log: pino({ level: 'silent' }) }

beforeAll(() => {
  ;({ dir, cleanup } = tempDir('ownops-test-doctor-node-'))
})
afterAll(() => cleanup())

/** A directory holding a `node` that answers --version like Node does. */
function fakeNode(name: string, version: string): string {
  const bin = join(dir, name)
  mkdirSync(bin, { recursive: true })
  writeFileSync(join(bin, 'node'), `#!/bin/sh\n[ "$1" = --version ] && echo ${version}\n`)
  chmodSync(join(bin, 'node'), 0o755)
  return bin
}

/** An ownops executable that finds node on the PATH, as `npm install -g` makes it. */
function envNodeBin(): string {
  const file = join(dir, 'ownops-env-node')
  writeFileSync(file, '#!/usr/bin/env node\nimport("./dist/cli.js")\n')
  chmodSync(file, 0o755)
  return file
}

describe('the node on the PATH of units and cron', () => {
  it('none there: generated units are fine (absolute path); a schedule.bin that needs #!/usr/bin/env node is not', async () => {
    const empty = join(dir, 'empty')
    mkdirSync(empty, { recursive: true })
    const fine = await checkNodeOnPath('node for units', empty, undefined, ctx)
    expect(fine).toMatchObject({ status: 'info' })
    expect(fine.detail).toContain(`ownops' own systemd units run ${process.execPath} by its absolute path`)
    const broken = await checkNodeOnPath('node for cron', empty, envNodeBin(), ctx)
    expect(broken).toMatchObject({ status: 'fail', exitCode: 69 })
    expect(broken.detail).toContain('no node on the PATH of cron lines')
    expect(broken.detail).toContain('starts with #!/usr/bin/env node')
  })

  it('a single executable (npm run build:sea): its units run it, Node inside; an old node on the PATH does not matter', async () => {
    const old = fakeNode('old-sea', 'v18.19.0')
    const check = await checkNodeOnPath('node for units', old, undefined, ctx, true)
    expect(check).toMatchObject({ status: 'ok', data: { sea: true, node: null } })
    expect(check.detail).toContain(`run ${process.execPath}, a single executable with its own Node`)
    // schedule.bin of one's own is still looked at
    expect((await checkNodeOnPath('node for units', old, envNodeBin(), ctx, true)).status).toBe('fail')
  })

  it('an old one there (v18): a warning, a failure when schedule.bin relies on it', async () => {
    const old = fakeNode('old', 'v18.19.0')
    const warn = await checkNodeOnPath('node for units', old, undefined, ctx)
    expect(warn).toMatchObject({ status: 'warn' })
    expect(warn.detail).toBe(
      `${join(old, 'node')} is v18.19.0, older than ownops needs (20.19); ownops' own systemd units run ${process.execPath} by its absolute path`,
    )
    expect((await checkNodeOnPath('node for units', old, envNodeBin(), ctx)).status).toBe('fail')
  })

  it('another new enough Node: said so; the same Node as ownops: ok', async () => {
    const other = await checkNodeOnPath('node for units', fakeNode('new', 'v24.1.0'), undefined, ctx)
    expect(other.status).toBe('info')
    expect(other.detail).toContain('(v24.1.0), not the Node running ownops')
    const same = join(dir, 'same')
    mkdirSync(same, { recursive: true })
    symlinkSync(process.execPath, join(same, 'node'))
    expect(await checkNodeOnPath('node for units', same, undefined, ctx)).toMatchObject({
      status: 'ok',
      detail: `${join(same, 'node')} (v${process.versions.node}), the Node running ownops`,
    })
  })

  it("doctor reports both PATHs: systemd's default and cron's", async () => {
    expect(SYSTEMD_PATH).toBe('/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin')
    expect(CRON_PATH).toBe('/usr/bin:/bin')
    const result = await runCli(['--json', 'doctor'], { env: testEnv(dir, { DOCKER_HOST: `unix://${join(dir, 'none.sock')}` }), cwd: dir })
    const names = JSON.parse(result.stdout).checks.map((c: { name: string }) => c.name)
    expect(names).toEqual(expect.arrayContaining(['node for units', 'node for cron']))
  })
})

describe('installed units still find their Node', () => {
  it('a generated unit whose Node is gone (an nvm upgrade) fails the check, naming it and the fix', async () => {
    const root = join(dir, 'root')
    const units = join(root, 'etc/systemd/system')
    mkdirSync(units, { recursive: true })
    const gone = '/home/u/.nvm/versions/node/v20.1.0/bin/node'
    writeFileSync(
      join(units, 'ownops-backup.service'),
      `# Generated by ownops (job backup) from x.\n[Service]\nExecStart=${gone} /home/u/ownops/bin/ownops.js backup\n`,
    )
    writeFileSync(join(units, 'ownops-mine.service'), '[Service]\nExecStart=/nonexistent/own-unit\n')
    const [check] = await checkInstalledRuntime(root)
    expect(check).toMatchObject({ name: 'installed jobs', status: 'fail', exitCode: 69 })
    expect(check?.detail).toBe(
      `/etc/systemd/system/ownops-backup.service runs ${gone} and /home/u/ownops/bin/ownops.js, which no longer exist: those jobs fail to start`,
    )
    expect(check?.hint).toContain('ownops schedule install')

    mkdirSync(join(root, 'usr/bin'), { recursive: true })
    writeFileSync(join(root, 'usr/bin/node'), '')
    writeFileSync(
      join(units, 'ownops-backup.service'),
      '# Generated by ownops (job backup) from x.\n[Service]\nExecStart=/usr/bin/node /usr/lib/ownops/bin/ownops.js backup\n',
    )
    expect((await checkInstalledRuntime(root))[0]?.detail).toContain('/usr/lib/ownops/bin/ownops.js, which no longer exists')
    mkdirSync(join(root, 'usr/lib/ownops/bin'), { recursive: true })
    writeFileSync(join(root, 'usr/lib/ownops/bin/ownops.js'), '')
    writeFileSync(
      join(units, 'ownops-backup.service'),
      '# Generated by ownops (job backup) from x.\n[Service]\nExecStart=/usr/bin/node /usr/lib/ownops/bin/ownops.js backup\n',
    )
    expect((await checkInstalledRuntime(root))[0]).toMatchObject({ status: 'ok' })
    expect(await checkInstalledRuntime(join(dir, 'nothing-installed'))).toEqual([])
  })
})
