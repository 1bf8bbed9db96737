/** The pure parts of restore: which backup is chosen, and which archive entries are refused. */
import { describe, expect, it } from 'vitest'
import type { BackupEntry } from '../../src/backup/catalog.js'
import { parseAt, selectBackup } from '../../src/restore/select.js'
import { unsafeEntries, type TarEntry } from '../../src/restore/tar-safety.js'

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
    expect(() => selectBackup(backups, 'db', undefined, new Date('2026-06-01T00:00:00Z'))).toThrow(
      /no backup of db at or before .*the oldest is db-1|no backup of db at or before/,
    )
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

const e = (type: TarEntry['type'], path: string, target?: string): TarEntry => ({ type, path, ...(target !== undefined ? { target } : {}) })

describe('archive safety', () => {
  it.each<[string, TarEntry[], RegExp]>([
    ['an absolute path', [e('file', '/etc/cron.d/x')], /absolute path/],
    ['../ at the start', [e('file', './../../x')], /"\.\." in the path/],
    ['.. inside', [e('file', 'a/../../x')], /"\.\." in the path/],
    ['a symlink to /etc', [e('symlink', './etc', '/etc')], /symbolic link to \/etc, outside/],
    ['a symlink named "x -> y" to /etc', [e('symlink', 'x -> y', '/etc')], /x -> y: symbolic link to \/etc, outside/],
    ['a symlink up and out', [e('symlink', './up', '../../x')], /symbolic link to \.\.\/\.\.\/x, outside/],
    ['a hard link out', [e('link', './h', '../outside')], /hard link to \.\.\/outside, which is not a file of the archive/],
    ['a hard link to /etc/passwd', [e('link', './h', '/etc/passwd')], /hard link to \/etc\/passwd/],
    ['a hard link to etc/passwd not in the archive', [e('link', './h', 'etc/passwd')], /hard link to etc\/passwd, which is not a file/],
    ['a hard link to a symlink of the archive', [e('symlink', './s', '/etc/passwd'), e('link', './h', './s')], /hard link to \.\/s/],
    ['a character device', [e('character-device', './null')], /device file/],
    ['a block device', [e('block-device', './sda')], /device file/],
    ['an unknown entry type', [e('other', './x')], /an entry type ownops does not restore/],
  ])('refuses %s', (_what, entries, problem) => {
    expect(unsafeEntries(entries).join('\n')).toMatch(problem)
  })

  it('refuses an entry written through a symbolic link of the archive, even when outside links are allowed', () => {
    const entries = [e('symlink', './conf', '/etc'), e('file', './conf/passwd')]
    expect(unsafeEntries(entries, { allowOutsideLinks: true })).toEqual(['./conf/passwd: written through the symbolic link conf'])
  })

  it('accepts an ordinary tree, links inside it, and (when allowed) links pointing outside', () => {
    const ok = [
      e('directory', './'),
      e('file', './a/b.txt'),
      e('symlink', './a/c', 'b.txt'),
      e('symlink', './d', 'a/../a/b.txt'),
      e('link', './e', './a/b.txt'),
      e('fifo', './fifo'),
    ]
    expect(unsafeEntries(ok)).toEqual([])
    expect(unsafeEntries([e('symlink', './etc', '/etc')], { allowOutsideLinks: true })).toEqual([])
  })
})

describe('retargetDump', () => {
  it('renames the database of a single-database dump, across chunk boundaries, touching nothing else', async () => {
    const { retargetDump } = await import('../../src/targets/mysql.js')
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
        dump
          .replace('IF NOT EXISTS*/ `shop`', 'IF NOT EXISTS*/ `shop__ownops_restore`')
          .replace('\nUSE `shop`;', '\nUSE `shop__ownops_restore`;'),
      )
    }
  })
})

describe('retargetDump of several databases', () => {
  it('renames each database and leaves out the sections mapped to null (mysql), in both passes of the dump', async () => {
    const { retargetDump } = await import('../../src/targets/mysql.js')
    const { Readable } = await import('node:stream')
    const dump = [
      '--',
      '-- Current Database: `a`',
      '--',
      'CREATE DATABASE /*!32312 IF NOT EXISTS*/ `a`;',
      'USE `a`;',
      'CREATE TABLE t (x int);',
      '-- Current Database: `mysql`',
      'CREATE DATABASE /*!32312 IF NOT EXISTS*/ `mysql`;',
      'USE `mysql`;',
      'CREATE TABLE user (x int);',
      '-- Current Database: `a`',
      'USE `a`;',
      'CREATE PROCEDURE p() SELECT 1;',
      '-- Current Database: `mysql`',
      'USE `mysql`;',
      'CREATE PROCEDURE q() SELECT 1;',
      '',
    ].join('\n')
    const seen: string[] = []
    const out: Buffer[] = []
    for await (const c of Readable.from([Buffer.from(dump)]).pipe(retargetDump((db) => (db === 'mysql' ? null : `${db}__x`), seen)))
      out.push(c as Buffer)
    expect(Buffer.concat(out).toString()).toBe(
      [
        '--',
        '-- Current Database: `a`',
        '--',
        'CREATE DATABASE /*!32312 IF NOT EXISTS*/ `a__x`;',
        'USE `a__x`;',
        'CREATE TABLE t (x int);',
        '-- Current Database: `a`',
        'USE `a__x`;',
        'CREATE PROCEDURE p() SELECT 1;',
        '',
      ].join('\n'),
    )
    expect(seen).toEqual(['a', 'mysql'])
  })
})
