/**
 * `backups --from DEST`: one clear line per problem (a truncated copy is a damaged copy, not
 * also "not copied yet" and "missing … is gone"), the remote's hash compared where the backend
 * keeps one (S3's md5, through s3rver on loopback), and where it keeps none (a path, a local
 * rclone remote) the listing says that only `verify --from` reads the content.
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { randomBytes } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli, tempDir, testEnv } from '../helpers/cli.js'
import { startS3, toolEnv, writeRcloneConf, type S3Peer } from '../helpers/copies.js'

describe('backups --from: what a destination holds, one line per problem', () => {
  let work: { dir: string; cleanup: () => void }
  let s3: S3Peer
  const config = () => join(work.dir, 'ownops.yml')
  const cli = (args: string[]) => runCli(['-c', config(), ...args], { env: testEnv(work.dir), cwd: work.dir })
  const stored = (dir: string) => join(dir, readdirSync(dir).find((f) => f.endsWith('.tar.gz')) as string)

  beforeAll(async () => {
    work = tempDir()
    s3 = await startS3(join(work.dir, 's3-root'), 'ownops')
    mkdirSync(join(work.dir, 'data'))
    writeFileSync(join(work.dir, 'data', 'random.bin'), randomBytes(200_000))
    writeRcloneConf(join(work.dir, 'rclone.conf'), {
      loc: { type: 'local' },
      s3: {
        type: 's3',
        provider: 'Other',
        access_key_id: 'S3RVER',
        secret_access_key: 'S3RVER',
        endpoint: `http://127.0.0.1:${s3.port}`,
        force_path_style: true,
      },
    })
    writeFileSync(
      config(),
      `backup:
  dir: ${join(work.dir, 'backups')}
  targets:
    files: { type: directory, path: ${join(work.dir, 'data')}, compression: gzip }
  destinations:
    usb: { type: path, path: ${join(work.dir, 'usb')}, retries: 0, schedule: "0 5 * * *" }
    local: { type: rclone, remote: "loc:${join(work.dir, 'local')}", config: ${join(work.dir, 'rclone.conf')}, retries: 0, schedule: "0 5 * * *" }
    s3: { type: rclone, remote: "s3:ownops/box1", config: ${join(work.dir, 'rclone.conf')}, retries: 0, schedule: "0 5 * * *" }
`,
    )
    expect((await cli(['backup'])).code).toBe(0)
    for (const d of ['usb', 'local', 's3']) expect((await cli(['copy', '--to', d])).code).toBe(0)
  }, 60_000)
  afterAll(async () => {
    await s3?.stop()
    work?.cleanup()
  })

  it('a truncated copy is one line: damaged, copied again by the next run (path and rclone destinations)', async () => {
    for (const [dest, dir] of [
      ['usb', join(work.dir, 'usb', 'files')],
      ['local', join(work.dir, 'local', 'files')],
    ] as const) {
      truncateSync(stored(dir), 5000)
      const r = await cli(['backups', '--from', dest])
      expect(r.code, r.stderr).toBe(0)
      const rows = r.stdout.split('\n').filter((l) => l.startsWith('files '))
      expect(rows, r.stdout).toHaveLength(1)
      expect(rows[0]).toMatch(
        /size-mismatch: stored file is 5000 bytes, its manifest says \d+ \(.*\.tar\.gz\); the next copy run copies files-\S+ again/,
      )
      expect(r.stdout).not.toMatch(/not copied yet|missing:/)
      const json = JSON.parse(
        (await runCli(['--json', '-c', config(), 'backups', '--from', dest], { env: testEnv(work.dir), cwd: work.dir })).stdout,
      ) as { pending: unknown[]; oddities: Array<{ kind: string }> }
      expect(json.oddities.map((o) => o.kind)).toEqual(['size-mismatch'])
      expect((await cli(['copy', '--to', dest])).code).toBe(0)
      expect((await cli(['backups', '--from', dest])).stdout).not.toMatch(/size-mismatch/)
    }
  })

  it('a copy changed at the same size: found by the md5 S3 keeps; where no hash is kept, the listing says verify --from reads the content', async () => {
    // Overwrite the object on S3 with other bytes of the same size (through the S3 API: S3 computes the new md5).
    const key = readdirSync(join(work.dir, 'usb', 'files')).find((f) => f.endsWith('.tar.gz')) as string
    const size = readFileSync(join(work.dir, 'usb', 'files', key)).length
    writeFileSync(join(work.dir, 'other.bin'), randomBytes(size))
    // Not execFileSync: s3rver answers from this very process.
    await promisify(execFile)(
      'rclone',
      ['--config', join(work.dir, 'rclone.conf'), 'copyto', join(work.dir, 'other.bin'), `s3:ownops/box1/files/${key}`],
      { env: toolEnv(work.dir) },
    )
    const r = await cli(['backups', '--from', 's3'])
    const rows = r.stdout.split('\n').filter((l) => l.startsWith('files '))
    expect(rows, r.stdout).toHaveLength(1)
    expect(rows[0]).toMatch(/hash-mismatch: md5 \w+ differs from the recorded \w+ \(the copy is damaged\)/)
    expect(r.stdout).toMatch(/checked here: size and md5 of each copy/)

    const local = stored(join(work.dir, 'usb', 'files'))
    writeFileSync(local, randomBytes(size))
    const plain = await cli(['backups', '--from', 'usb'])
    expect(plain.stdout).toMatch(
      /checked here: the size of each copy \(this destination keeps no hashes\); ownops verify --from usb reads the content/,
    )
    const verify = await cli(['verify', '--from', 'usb'])
    expect(verify.code).toBe(1)
    expect(verify.stdout + verify.stderr).toMatch(/sha256/)
  }, 60_000)
})
