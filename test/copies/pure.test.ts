/**
 * The pure parts of copies off the box: what a destination holds from a listing, what to
 * upload and what its retention removes, which local backups retention must keep for a
 * destination, the metrics, the schedule's maxAge, and rclone's helpers.
 */
import { describe, expect, it } from 'vitest'
import type { BackupEntry } from '../../src/backup/catalog.js'
import type { Manifest } from '../../src/backup/artifact.js'
import { listingFromFiles, planRemoteRetention, planUploads, missingOddities, joinRemote } from '../../src/copies/layout.js'
import { renderCopyMetrics } from '../../src/copies/metrics.js'
import { copyHolds } from '../../src/copies/holds.js'
import { emptyCopiesState, type CopiesState } from '../../src/copies/state.js'
import { copyWritePaths, destinationMaxAgeMs } from '../../src/copies/units.js'
import { parseListRemotes, rcloneMessage, remoteName } from '../../src/copies/destinations/rclone.js'
import { listingFromSnapshots } from '../../src/copies/destinations/restic.js'
import { resticRate } from '../../src/copies/schema.js'
import { configSchema, type Config } from '../../src/config/schema.js'

const day = (d: number) => new Date(Date.UTC(2026, 10, d, 3, 0, 0))

function entry(d: number, tags: string[] = []): BackupEntry {
  const id = `db-202611${String(d).padStart(2, '0')}T030000Z`
  const manifest = {
    manifestVersion: 1,
    id,
    target: 'db',
    type: 'postgres',
    file: `${id}.pgdump`,
    time: day(d).toISOString(),
    durationMs: 1,
    size: 100 + d,
    sha256: `${d}`.padStart(64, '0'),
    compression: 'custom',
    ownopsVersion: '0',
    host: 'h',
    source: {},
    warnings: [],
    tags,
  } as Manifest
  return { manifest, path: `/b/db/${id}.pgdump`, manifestPath: `/b/db/${id}.json`, time: day(d), tags }
}

function config(destinations: Record<string, unknown>, extra: Record<string, unknown> = {}): Config {
  return configSchema.parse({
    backup: { targets: { db: { type: 'postgres', container: 'x' }, files: { type: 'directory', path: '/srv' } }, destinations },
    ...extra,
  })
}

describe('listingFromFiles', () => {
  const manifest = (id: string, file: string, size: number, extra: Record<string, unknown> = {}) => ({
    manifestVersion: 1,
    id,
    target: 'db',
    type: 'postgres',
    file: file.replace(/\.age$/, ''),
    time: '2026-11-20T03:00:00.000Z',
    size: 10,
    sha256: 'a'.repeat(64),
    copy: { file, size, sha256: 'b'.repeat(64), md5: 'c'.repeat(32), encryption: 'age', ...extra },
  })

  it('a copy is a manifest with its stored file of the recorded size; everything else is odd', () => {
    const files = [
      { path: 'db/db-1.pgdump.age', size: 20 },
      { path: 'db/db-1.json', size: 1 },
      { path: 'db/db-2.json', size: 1 },
      { path: 'db/db-3.pgdump.age', size: 99 },
      { path: 'db/db-3.json', size: 1 },
      { path: 'db/db-4.pgdump', size: 5 },
      { path: 'db/.db-5.pgdump.age.4242.partial', size: 5 },
      { path: 'db/.db-6.pgdump.age.777.partial', size: 5 },
      { path: 'db/db-7.json', size: 1 },
      { path: 'db/db-8.pgdump.age', size: 20, hashes: { md5: 'd'.repeat(32) } },
      { path: 'db/db-8.json', size: 1 },
      { path: 'other/x.json', size: 1 },
    ]
    const manifests = new Map<string, unknown>([
      ['db/db-1.json', manifest('db-1', 'db-1.pgdump.age', 20)],
      ['db/db-2.json', manifest('db-2', 'db-2.pgdump.age', 20)],
      ['db/db-3.json', manifest('db-3', 'db-3.pgdump.age', 20)],
      ['db/db-7.json', { not: 'a manifest' }],
      ['db/db-8.json', manifest('db-8', 'db-8.pgdump.age', 20)],
    ])
    const listing = listingFromFiles(files, manifests, ['db'], (pid) => pid !== 777)
    expect(listing.copies.map((c) => c.id)).toEqual(['db-1'])
    expect(listing.oddities.map((o) => [o.kind, o.path, o.stale ?? null]).sort((a, b) => String(a[1]).localeCompare(String(b[1])))).toEqual(
      [
        ['unfinished', 'db/.db-5.pgdump.age.4242.partial', true],
        ['unfinished', 'db/.db-6.pgdump.age.777.partial', false],
        ['no-artifact', 'db/db-2.json', null],
        ['size-mismatch', 'db/db-3.pgdump.age', null],
        ['no-manifest', 'db/db-4.pgdump', null],
        ['bad-manifest', 'db/db-7.json', null],
        ['hash-mismatch', 'db/db-8.pgdump.age', null],
      ],
    )
  })

  it('a state that says a backup was received, and a listing without it: missing', () => {
    const listing = listingFromFiles([], new Map(), ['db'], () => true)
    expect(missingOddities({ db: ['db-1'] }, listing)).toEqual([
      expect.objectContaining({ kind: 'missing', target: 'db', path: 'db/db-1' }),
    ])
  })
})

describe('planUploads and planRemoteRetention', () => {
  it('uploads, newest first, what the policy keeps and the destination lacks; never a pre-restore safety copy', () => {
    const local = [entry(25), entry(24, ['pre-restore']), entry(23), entry(22), entry(21)]
    const remote = [{ id: entry(22).manifest.id, time: day(22), tags: [] }]
    expect(planUploads(local, remote, undefined).map((b) => b.manifest.id)).toEqual(
      [entry(25), entry(23), entry(21)].map((b) => b.manifest.id),
    )
    expect(planUploads(local, remote, { last: 2 }).map((b) => b.manifest.id)).toEqual([entry(25), entry(23)].map((b) => b.manifest.id))
    expect(planUploads(local, [{ id: entry(23).manifest.id, time: day(23), tags: [] }], { last: 2 }).map((b) => b.manifest.id)).toEqual([
      entry(25).manifest.id,
    ])
    expect(planUploads(local, [], { last: 2 }).map((b) => b.manifest.id)).toEqual([entry(25), entry(23)].map((b) => b.manifest.id))
  })

  it('retention at the destination keeps the newest whatever the policy, and everything without one', () => {
    const copies = [day(25), day(24), day(23)].map((time, i) => ({ id: String(i), time, tags: [] as string[] }))
    expect(planRemoteRetention(copies, { last: 1 }).remove.map((c) => c.id)).toEqual(['1', '2'])
    expect(planRemoteRetention(copies, { tags: ['x'] }).remove.map((c) => c.id)).toEqual(['1', '2'])
    expect(planRemoteRetention(copies, undefined).remove).toEqual([])
  })
})

describe('copyHolds', () => {
  const state = (received: string[]): CopiesState => ({ version: 1, destinations: { usb: { targets: { db: { received } } } } })

  it('keeps, per destination that takes the target, the newest backup it has not received', () => {
    const c = config({ usb: { type: 'path', path: '/mnt/usb' }, cloud: { type: 'rclone', remote: 'x:', targets: ['files'] } })
    const backups = [entry(25), entry(24), entry(23)]
    const holds = copyHolds(c, 'db', backups, state([entry(25).manifest.id, entry(23).manifest.id]))
    expect([...holds].map(([b, d]) => [b.manifest.id, d])).toEqual([[entry(24).manifest.id, ['usb']]])
    expect(copyHolds(c, 'db', backups, state(backups.map((b) => b.manifest.id))).size).toBe(0)
    expect(copyHolds(c, 'files', backups, emptyCopiesState()).size).toBe(1)
    expect([...copyHolds(c, 'db', [entry(26, ['pre-restore']), ...backups], emptyCopiesState()).keys()].map((b) => b.manifest.id)).toEqual([
      entry(25).manifest.id,
    ])
  })
})

describe('restic snapshots', () => {
  it('copies from tagged snapshots; a snapshot without its tags is odd; other targets are left out', () => {
    const snaps = [
      {
        id: 'a'.repeat(64),
        short_id: 'aaaaaaaa',
        time: '2026-11-20T03:00:00Z',
        tags: ['ownops', 'target:db', 'backup:db-1', `sha256:${'1'.repeat(64)}`, 'size:10', 'tag:keep'],
        paths: ['/b/db/db-1.pgdump', '/b/db/db-1.json'],
      },
      { id: 'b'.repeat(64), short_id: 'bbbbbbbb', time: '2026-11-21T03:00:00Z', tags: ['ownops', 'target:db'], paths: ['/x'] },
      {
        id: 'c'.repeat(64),
        time: '2026-11-21T03:00:00Z',
        tags: ['ownops', 'target:files', 'backup:f-1', `sha256:${'2'.repeat(64)}`, 'size:3'],
        paths: ['/b/f/f-1.tar.zst', '/b/f/f-1.json'],
      },
    ]
    const l = listingFromSnapshots(snaps, ['db'])
    expect(l.copies).toEqual([
      expect.objectContaining({
        id: 'db-1',
        size: 10,
        tags: ['keep'],
        location: 'a'.repeat(64),
        paths: { artifact: '/b/db/db-1.pgdump', manifest: '/b/db/db-1.json' },
      }),
    ])
    expect(l.oddities).toEqual([expect.objectContaining({ kind: 'bad-manifest', path: 'bbbbbbbb' })])
  })

  it('bandwidth in KiB/s for --limit-upload', () => {
    expect([resticRate('10M'), resticRate('512K'), resticRate('800'), resticRate('1.5G'), resticRate('08:00,512k 23:00,off')]).toEqual([
      10240,
      512,
      800,
      1572864,
      undefined,
    ])
  })
})

describe('rclone helpers', () => {
  it('remote names, listremotes, joined paths and messages without log prefixes', () => {
    expect(remoteName('gdrive:backups/box1')).toEqual({ name: 'gdrive', inlineType: undefined })
    expect(remoteName('/mnt/nas/ownops')).toEqual({ name: undefined, inlineType: 'local' })
    expect(remoteName(':s3,provider=Minio:bucket')).toEqual({ name: undefined, inlineType: 's3' })
    expect(parseListRemotes('gdrive: drive\nsecret:  crypt\n')).toEqual(
      new Map([
        ['gdrive', 'drive'],
        ['secret', 'crypt'],
      ]),
    )
    expect(joinRemote('gdrive:', 'db', 'x.json')).toBe('gdrive:db/x.json')
    expect(joinRemote('gdrive:backups/', 'db')).toBe('gdrive:backups/db')
    expect(joinRemote('s3:bucket/box', 'db')).toBe('s3:bucket/box/db')
    expect(
      rcloneMessage(
        '2026/12/02 14:54:19 ERROR : f: Failed to copy: full\n2026/12/02 14:54:19 ERROR : Attempt 1/1 failed with 1 errors and: full\n2026/12/02 14:54:19 Failed to copyto: full\n',
      ),
    ).toBe('f: Failed to copy: full / Failed to copyto: full')
  })
})

describe('schedule and monitor pieces', () => {
  it('monitor maxAge: configured, the longest gap of the schedule plus 2h, or 26h', () => {
    const c = config({
      weekly: { type: 'path', path: '/mnt/a', schedule: '30 4 * * 0' },
      after: { type: 'path', path: '/mnt/b' },
      set: { type: 'path', path: '/mnt/c', maxAge: '3d' },
    })
    const now = day(20)
    expect(destinationMaxAgeMs(c.backup.destinations.weekly!, now)).toBe((7 * 24 + 2) * 3_600_000)
    expect(destinationMaxAgeMs(c.backup.destinations.after!, now)).toBe(26 * 3_600_000)
    expect(destinationMaxAgeMs(c.backup.destinations.set!, now)).toBe(3 * 24 * 3_600_000)
  })

  it('writable paths: a copy job gets its own destination only, backup those without a schedule', () => {
    const c = config({
      usb: { type: 'path', path: '/mnt/usb/ownops', schedule: '0 5 * * *' },
      nas: { type: 'rclone', remote: '/mnt/nas/ownops' },
      cloud: { type: 'rclone', remote: 'gdrive:x', config: '/etc/ownops/rclone/rclone.conf', schedule: '0 6 * * *' },
      repo: { type: 'restic', repository: '/srv/restic', password: 'x' },
    })
    expect(copyWritePaths(c, ['copy', '--to', 'usb'])).toEqual(['/mnt/usb/ownops'])
    expect(copyWritePaths(c, ['copy', '--to', 'cloud'])).toEqual(['/etc/ownops/rclone'])
    expect(copyWritePaths(c, ['backup', '--unscheduled'])).toEqual(['/mnt/nas/ownops', '/root/.config/rclone', '/srv/restic'])
    expect(copyWritePaths(c, ['monitor'])).toEqual([])
  })

  it('metrics: the last success and the last run per destination, the newest copy per destination and target', () => {
    const c = config({ usb: { type: 'path', path: '/mnt/usb' } }, {})
    const text = renderCopyMetrics(c, {
      version: 1,
      destinations: {
        usb: {
          lastRun: '2026-11-21T03:00:00.000Z',
          lastOk: false,
          lastSuccess: '2026-11-20T03:05:00.000Z',
          targets: { db: { received: ['db-1'], newest: { id: 'db-1', time: '2026-11-20T03:00:00.000Z' } } },
        },
      },
    })
    expect(text).toContain(`ownops_copy_last_success_timestamp_seconds{destination="usb"} ${Date.UTC(2026, 10, 20, 3, 5) / 1000}`)
    expect(text).toContain('ownops_copy_last_run_success{destination="usb"} 0')
    expect(text).toContain(
      `ownops_copy_newest_backup_timestamp_seconds{destination="usb",target="db"} ${Date.UTC(2026, 10, 20, 3, 0) / 1000}`,
    )
  })
})
