/**
 * Local retention and the copies a destination pruned on purpose: a backup the destination
 * received and later removed by its own keep is not "not yet copied"; only a backup it never
 * received, and that its retention wants, is held on the box.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli, tempDir, testEnv } from '../helpers/cli.js'
import type { BackupEntry } from '../../src/backup/catalog.js'
import type { Manifest } from '../../src/backup/artifact.js'
import { configSchema } from '../../src/config/schema.js'
import { copyHolds } from '../../src/copies/holds.js'

function entry(d: number): BackupEntry {
  const id = `db-202611${String(d).padStart(2, '0')}T030000Z`
  const time = new Date(Date.UTC(2026, 10, d, 3))
  const manifest = { id, target: 'db', file: `${id}.pgdump`, time: time.toISOString(), size: 1, sha256: '0'.repeat(64) } as Manifest
  return { manifest, path: `/b/db/${id}.pgdump`, manifestPath: `/b/db/${id}.json`, time, tags: [] }
}

describe('copyHolds', () => {
  const config = (keep: string) =>
    configSchema.parse({
      backup: {
        targets: { db: { type: 'postgres', container: 'x' } },
        destinations: { usb: { type: 'path', path: '/mnt/usb', keep: JSON.parse(keep) } },
      },
    })
  const state = (received: string[], pruned: string[] = []) => ({
    version: 1 as const,
    destinations: { usb: { targets: { db: { received, pruned } } } },
  })
  const ids = (m: Map<BackupEntry, string[]>) => [...m].map(([b, d]) => [b.manifest.id, d])

  it('holds the newest backup the destination never received and its keep wants; not one it pruned, nor one its keep does not want', () => {
    const backups = [entry(25), entry(24), entry(23)]
    expect(ids(copyHolds(config('{"last":5}'), 'db', backups, state([entry(25).manifest.id])))).toEqual([[entry(24).manifest.id, ['usb']]])
    expect(ids(copyHolds(config('{"last":5}'), 'db', backups, state([entry(25).manifest.id], [entry(24).manifest.id])))).toEqual([
      [entry(23).manifest.id, ['usb']],
    ])
    expect(ids(copyHolds(config('{"last":1}'), 'db', backups, state([entry(25).manifest.id])))).toEqual([])
    expect(ids(copyHolds(config('{"last":1}'), 'db', backups, state([])))).toEqual([[entry(25).manifest.id, ['usb']]])
  })
})

describe('a destination that pruned a backup by its own keep', () => {
  let work: { dir: string; cleanup: () => void }
  let now = new Date(Date.UTC(2026, 10, 20, 3, 0, 0))
  const cli = (args: string[]) =>
    runCli(['--json', '-c', join(work.dir, 'ownops.yml'), ...args], { env: testEnv(work.dir), cwd: work.dir, clock: () => now })
  const writeConfig = (keep: string) =>
    writeFileSync(
      join(work.dir, 'ownops.yml'),
      `backup:
  dir: ${join(work.dir, 'backups')}
  keep: ${keep}
  targets:
    files: { type: directory, path: ${join(work.dir, 'data')}, compression: gzip }
  destinations:
    usb: { type: path, path: ${join(work.dir, 'usb')}, retries: 0, keep: { last: 1 }, schedule: "0 5 * * *" }
`,
    )
  const ids = (dir: string) =>
    readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => f.replace(/\.json$/, ''))
      .sort()

  beforeAll(() => {
    work = tempDir()
    mkdirSync(join(work.dir, 'data'))
    writeFileSync(join(work.dir, 'data', 'a.txt'), 'a\n')
    writeConfig('{ last: 5 }')
  })
  afterAll(() => work?.cleanup())

  it('is not held as "not yet copied"; local retention may remove it', async () => {
    expect((await cli(['backup'])).code).toBe(0)
    const [older] = ids(join(work.dir, 'backups', 'files'))
    expect((await cli(['copy', '--to', 'usb'])).code).toBe(0)
    expect(ids(join(work.dir, 'usb', 'files'))).toEqual([older])
    now = new Date(Date.UTC(2026, 10, 21, 3, 0, 0))
    expect((await cli(['backup'])).code).toBe(0)
    const newer = ids(join(work.dir, 'backups', 'files')).find((id) => id !== older)
    // usb keeps the last one: it receives the newer backup and removes the older one.
    const copy = JSON.parse((await cli(['copy', '--to', 'usb'])).stdout) as {
      destinations: Array<{ targets: Array<{ removed: string[] }> }>
    }
    expect(copy.destinations[0]!.targets[0]!.removed).toEqual([older])
    expect(ids(join(work.dir, 'usb', 'files'))).toEqual([newer])

    const listed = JSON.parse((await cli(['backups'])).stdout) as { targets: Array<{ backups: Array<{ id: string; copies?: string }> }> }
    expect(listed.targets[0]!.backups.map((b) => [b.id, b.copies])).toEqual([
      [newer, 'at usb'],
      [older, undefined],
    ])
    writeConfig('{ last: 1 }')
    const cleanup = await cli(['cleanup', 'backups'])
    expect(cleanup.code, cleanup.stdout).toBe(0)
    expect(existsSync(join(work.dir, 'backups', 'files', `${older}.json`))).toBe(false)
    expect(ids(join(work.dir, 'backups', 'files'))).toEqual([newer])
  }, 60_000)
})
