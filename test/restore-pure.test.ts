/** The pure parts of restore: which backup is chosen, and which archive entries are refused. */
import { describe, expect, it } from 'vitest'
import type { BackupEntry } from '../src/backup/catalog.js'
import { parseAt, selectBackup } from '../src/restore/select.js'
import { parseListing, unsafeEntries } from '../src/restore/tar-safety.js'

function entry(id: string, time: string, tags: string[] = []): BackupEntry {
  return { manifest: { id, file: `${id}.pgdump` } as BackupEntry['manifest'], path: '', manifestPath: '', time: new Date(time), tags }
}

const backups = [
  entry('db-4', '2026-06-16T03:00:00Z', ['pre-restore']),
  entry('db-3', '2026-06-15T03:00:00Z'),
  entry('db-2', '2026-06-14T03:00:00Z'),
  entry('db-1', '2026-06-13T03:00:00Z'),
]

describe('selectBackup', () => {
  it('latest skips pre-restore safety copies; an id picks exactly; --at picks the newest at or before', () => {
    expect(selectBackup(backups, 'db', 'latest').manifest.id).toBe('db-3')
    expect(selectBackup(backups, 'db', undefined).manifest.id).toBe('db-3')
    expect(selectBackup(backups, 'db', 'db-4').manifest.id).toBe('db-4')
    expect(selectBackup(backups, 'db', 'db-2.pgdump').manifest.id).toBe('db-2')
    expect(selectBackup(backups, 'db', undefined, new Date('2026-06-14T03:00:00Z')).manifest.id).toBe('db-2')
    expect(selectBackup(backups, 'db', undefined, new Date('2026-06-14T02:59:59Z')).manifest.id).toBe('db-1')
    expect(() => selectBackup(backups, 'db', undefined, new Date('2026-06-01T00:00:00Z'))).toThrow(/no backup of db at or before .*the oldest is db-1|no backup of db at or before/)
    expect(() => selectBackup(backups, 'db', 'db-9')).toThrow(/no backup db-9 of db/)
    expect(() => selectBackup([], 'db', 'latest')).toThrow(/no valid backup of db/)
  })

  it('--at reads local times, dates (end of day) and ISO times; refuses nonsense', () => {
    expect(parseAt('2026-06-15 18:00').getTime()).toBe(new Date(2026, 5, 15, 18, 0).getTime())
    expect(parseAt('2026-06-15').getTime()).toBe(new Date(2026, 5, 15, 23, 59, 59).getTime())
    expect(parseAt('2026-06-15T18:00:00Z').toISOString()).toBe('2026-06-15T18:00:00.000Z')
    expect(() => parseAt('yesterday')).toThrow(/--at: not a time/)
  })
})

const listing = (lines: string[]) => parseListing(lines.map((l) => l.replace(/^(\S+) (.*)$/, '$1 0/0 0 2026-11-24 11:43:08 $2')).join('\n'))

describe('archive safety', () => {
  it('parses GNU tar listings: files, links with their targets, devices', () => {
    expect(parseListing('lrwxrwxrwx 0/0               0 2026-11-24 11:43:08 ./up -> ../../x\nhrw-r--r-- 0/0 0 2026-11-24 11:43:08 ./a link to ./hard\ncrw-r--r-- 0/0 1,3 2026-11-24 11:43:08 ./null\n')).toEqual([
      { type: 'l', path: './up', target: '../../x' },
      { type: 'h', path: './a', target: './hard' },
      { type: 'c', path: './null' },
    ])
  })

  it.each([
    ['-rw-r--r-- /etc/cron.d/x', /absolute path/],
    ['-rw-r--r-- ./../../x', /"\.\." in the path/],
    ['-rw-r--r-- a/../../x', /"\.\." in the path/],
    ['lrwxrwxrwx ./etc -> /etc', /symbolic link to \/etc, outside/],
    ['lrwxrwxrwx ./up -> ../../x', /symbolic link to \.\.\/\.\.\/x, outside/],
    ['hrw-r--r-- ./h link to ../outside', /hard link to \.\.\/outside/],
    ['crw-r--r-- ./null', /device file/],
    ['brw-r--r-- ./sda', /device file/],
  ])('refuses %s', (line, problem) => {
    expect(unsafeEntries(listing([line])).join('\n')).toMatch(problem)
  })

  it('refuses an entry written through a symbolic link of the archive, even when outside links are allowed', () => {
    const entries = listing(['lrwxrwxrwx ./conf -> /etc', '-rw-r--r-- ./conf/passwd'])
    expect(unsafeEntries(entries, { allowOutsideLinks: true })).toEqual(['./conf/passwd: written through the symbolic link conf'])
  })

  it('accepts an ordinary tree, links inside it, and (when allowed) links pointing outside', () => {
    const ok = listing(['drwxr-xr-x ./', '-rw-r--r-- ./a/b.txt', 'lrwxrwxrwx ./a/c -> b.txt', 'lrwxrwxrwx ./d -> a/../a/b.txt', 'hrw-r--r-- ./e link to ./a/b.txt', 'prw-r--r-- ./fifo'])
    expect(unsafeEntries(ok)).toEqual([])
    expect(unsafeEntries(listing(['lrwxrwxrwx ./etc -> /etc']), { allowOutsideLinks: true })).toEqual([])
  })
})

describe('retargetDump', () => {
  it('renames the database of a single-database dump, across chunk boundaries, touching nothing else', async () => {
    const { retargetDump } = await import('../src/restore/restorers.js')
    const { Readable } = await import('node:stream')
    const dump = [
      '-- Current Database: `shop`',
      'CREATE DATABASE /*!32312 IF NOT EXISTS*/ `shop` /*!40100 DEFAULT CHARACTER SET utf8mb4 */;',
      'USE `shop`;',
      "INSERT INTO `items` VALUES (1,'USE `shop`;'),(2,'CREATE DATABASE `x`');",
      'CREATE TABLE `t` (x int);',
      '',
    ].join('\n')
    for (const size of [1, 7, 64, 4096]) {
      const chunks: Buffer[] = []
      for (let i = 0; i < dump.length; i += size) chunks.push(Buffer.from(dump.slice(i, i + size)))
      const out: Buffer[] = []
      for await (const c of Readable.from(chunks).pipe(retargetDump('shop__ownops_restore'))) out.push(c as Buffer)
      expect(Buffer.concat(out).toString()).toBe(
        dump.replace('IF NOT EXISTS*/ `shop`', 'IF NOT EXISTS*/ `shop__ownops_restore`').replace('\nUSE `shop`;', '\nUSE `shop__ownops_restore`;'),
      )
    }
  })
})
