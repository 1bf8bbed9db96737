/**
 * Copies on this machine's disks get the modes of the backups they copy — files 0600,
 * directories 0700 — when ownops runs from a shell with umask 022: a path destination, an
 * rclone local remote and an rclone destination that is a plain local path.
 */
import { execFile } from 'node:child_process'
import { lstatSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BIN, tempDir, testEnv } from '../helpers/cli.js'
import { writeRcloneConf } from '../helpers/copies.js'

/** bin/ownops.js from a login shell's umask (022). */
function fromShell(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stderr: string }> {
  return new Promise((done) =>
    execFile(
      'sh',
      ['-c', 'umask 022 && exec "$@"', 'sh', process.execPath, BIN, ...args],
      { env, timeout: 60_000 },
      (error, _stdout, stderr) => done({ code: error === null ? 0 : Number(error.code), stderr }),
    ),
  )
}

function modes(root: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const rel of ['', ...readdirSync(root, { recursive: true }).map(String)].sort()) {
    const s = lstatSync(join(root, rel))
    out[rel || '.'] = `${s.isDirectory() ? 'dir' : 'file'} ${(s.mode & 0o777).toString(8)}`
  }
  return out
}

describe('the modes of copies on local disks', () => {
  let work: { dir: string; cleanup: () => void }
  beforeAll(() => {
    work = tempDir()
    mkdirSync(join(work.dir, 'data'))
    writeFileSync(join(work.dir, 'data', 'secret.txt'), 'customer data\n')
    writeRcloneConf(join(work.dir, 'rclone.conf'), { loc: { type: 'local' } })
    writeFileSync(
      join(work.dir, 'ownops.yml'),
      `backup:
  dir: ${join(work.dir, 'backups')}
  targets:
    files: { type: directory, path: ${join(work.dir, 'data')}, compression: gzip }
  destinations:
    usb: { type: path, path: ${join(work.dir, 'usb', 'ownops')}, retries: 0 }
    nas: { type: rclone, remote: "loc:${join(work.dir, 'nas', 'ownops')}", config: ${join(work.dir, 'rclone.conf')}, retries: 0 }
    disk: { type: rclone, remote: "${join(work.dir, 'disk', 'ownops')}", config: ${join(work.dir, 'rclone.conf')}, retries: 0 }
`,
    )
  })
  afterAll(() => work?.cleanup())

  it('are 0600 files in 0700 directories, as the backups are', async () => {
    const r = await fromShell(['-c', join(work.dir, 'ownops.yml'), 'backup'], testEnv(work.dir))
    expect(r.code, r.stderr).toBe(0)
    for (const dest of ['usb', 'nas', 'disk']) {
      const found = modes(join(work.dir, dest, 'ownops'))
      expect(Object.keys(found).length, dest).toBe(4)
      for (const [rel, mode] of Object.entries(found))
        expect(`${dest}/${rel}: ${mode}`).toBe(`${dest}/${rel}: ${mode.startsWith('dir') ? 'dir 700' : 'file 600'}`)
    }
  })
})
