/**
 * Hostile archives against `ownops restore` of a directory target: entries whose names
 * fool a text listing, links out of the destination, and archives that pass the checks but
 * fail half-way through extraction. Nothing is written outside; a failed extraction —
 * in place or with --to — leaves nothing behind; the live data stays as it was.
 */
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import tarStream from 'tar-stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import pino from 'pino'
import { readCatalog } from '../../src/backup/catalog.js'
import { directory, type DirectoryTarget } from '../../src/targets/directory.js'
import { runCli, tempDir, testEnv } from '../helpers/cli.js'

type Entry = { name: string; type?: 'file' | 'directory' | 'symlink' | 'link'; linkname?: string; content?: string; mode?: number }

async function archive(entries: Entry[]): Promise<Buffer> {
  const pack = tarStream.pack()
  const chunks: Buffer[] = []
  pack.on('data', (c: unknown) => void chunks.push(c as Buffer))
  const done = new Promise<void>((resolve) => pack.on('end', () => resolve()))
  for (const e of entries) {
    const { content, ...header } = e
    pack.entry({ mode: 0o644, uid: 0, gid: 0, mtime: new Date('2026-01-01T00:00:00Z'), ...header }, content ?? '')
  }
  pack.finalize()
  await done
  return gzipSync(Buffer.concat(chunks))
}

describe('faults: hostile archives', () => {
  let work: { dir: string; cleanup: () => void }
  let live: string
  let n = 0
  const cli = (args: string[]) => runCli(['--json', '-c', join(work.dir, 'ownops.yml'), ...args], { env: testEnv(work.dir), cwd: work.dir })

  /** Puts `data` in the backup directory as a valid-looking backup (manifest with its checksum); returns its id. */
  function plant(data: Buffer): string {
    n++
    const id = `site-2026010${n}T000000Z`
    const dir = join(work.dir, 'backups', 'site')
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    writeFileSync(join(dir, `${id}.tar.gz`), data)
    writeFileSync(
      join(dir, `${id}.json`),
      JSON.stringify({
        manifestVersion: 1,
        id,
        target: 'site',
        type: 'directory',
        file: `${id}.tar.gz`,
        time: `2026-01-0${n}T00:00:00.000Z`,
        durationMs: 1,
        size: data.length,
        sha256: createHash('sha256').update(data).digest('hex'),
        compression: 'gzip',
        ownopsVersion: '0',
        host: 'x',
        source: {},
        warnings: [],
      }),
    )
    return id
  }

  beforeAll(() => {
    work = tempDir()
    live = join(work.dir, 'site')
    mkdirSync(live)
    writeFileSync(join(live, 'keep.txt'), 'live')
    writeFileSync(
      join(work.dir, 'ownops.yml'),
      `backup:\n  dir: ${join(work.dir, 'backups')}\n  targets:\n    site: { type: directory, path: ${live}, compression: gzip }\n`,
    )
  })
  afterAll(() => work?.cleanup())

  const untouched = () => {
    expect(readdirSync(live)).toEqual(['keep.txt'])
    expect(readFileSync(join(live, 'keep.txt'), 'utf8')).toBe('live')
    expect(readdirSync(work.dir).filter((f) => f.startsWith('site.') || f.startsWith('.site.'))).toEqual([])
  }

  it.each<[string, Entry[], RegExp]>([
    [
      'a symlink named "x -> y" that points at /etc',
      [
        { name: './', type: 'directory' },
        { name: 'x -> y', type: 'symlink', linkname: '/etc' },
      ],
      /x -> y: symbolic link to \/etc, outside the destination/,
    ],
    [
      'a hard link to /etc/passwd',
      [{ name: 'passwd', type: 'link', linkname: '/etc/passwd' }],
      /passwd: hard link to \/etc\/passwd, which is not a file of the archive/,
    ],
    [
      'a hard link to etc/passwd (what tar makes of /etc/passwd)',
      [{ name: 'passwd', type: 'link', linkname: 'etc/passwd' }],
      /hard link to etc\/passwd, which is not a file of the archive/,
    ],
    [
      'a file written through a symlink of the archive',
      [
        { name: 'conf', type: 'symlink', linkname: '/tmp' },
        { name: 'conf/owned', content: 'x' },
      ],
      /written through the symbolic link conf/,
    ],
    [
      'a name with a newline that looks like a safe line',
      [{ name: 'a\n-rw-r--r-- 0/0 0 2026-01-01 00:00 ok', type: 'symlink', linkname: '/etc/shadow' }],
      /symbolic link to \/etc\/shadow, outside/,
    ],
    [
      '.. in a link target of a hard link',
      [
        { name: 'f', content: 'x' },
        { name: 'h', type: 'link', linkname: 'f/../../outside' },
      ],
      /hard link to f\/\.\.\/\.\.\/outside/,
    ],
  ])('refuses %s and writes nothing', async (_what, entries, problem) => {
    const id = plant(await archive(entries))
    for (const to of [[], ['--to', join(work.dir, `side-${n}`)]]) {
      const r = await cli(['restore', 'site', id, '--yes', '--no-safety-copy', ...to])
      expect(r.code, r.stdout).toBe(1)
      expect(r.stdout).toMatch(/refusing to extract/)
      expect(r.stdout).toMatch(problem)
      untouched()
      expect(existsSync(join(work.dir, `side-${n}`))).toBe(false)
    }
  })

  it('an archive that passes the checks but fails half-way leaves nothing behind, in place or with --to (outside links allowed)', async () => {
    const id = plant(
      await archive([
        { name: './', type: 'directory', mode: 0o755 },
        { name: 'ok.txt', content: 'first' },
        { name: 'out', type: 'symlink', linkname: '/etc' },
        { name: 'file', content: 'a file' },
        // "file" is a file: tar cannot create file/below, and fails.
        { name: 'file/below', content: 'x' },
      ]),
    )
    const side = join(work.dir, 'side-partial')
    const inPlace = await cli(['restore', 'site', id, '--yes', '--no-safety-copy', '--allow-outside-links'])
    expect(inPlace.code, inPlace.stdout).toBe(1)
    expect(inPlace.stdout).toMatch(/extracting .* failed/)
    untouched()
    const r = await cli(['restore', 'site', id, '--yes', '--allow-outside-links', '--to', side])
    expect(r.code, r.stdout).toBe(1)
    expect(existsSync(side)).toBe(false)
    expect(readdirSync(work.dir).filter((f) => f.startsWith('side-partial'))).toEqual([])
    // An existing empty --to directory is left as it was: empty.
    mkdirSync(side)
    const again = await cli(['restore', 'site', id, '--yes', '--allow-outside-links', '--to', side])
    expect(again.code).toBe(1)
    expect(readdirSync(side)).toEqual([])
    untouched()
  })

  it('a backup replaced after its verification is read and checked again before anything is extracted', async () => {
    const id = plant(
      await archive([
        { name: './', type: 'directory' },
        { name: 'ok.txt', content: 'fine' },
      ]),
    )
    const entry = (await readCatalog(join(work.dir, 'backups'), 'site')).backups.find((b) => b.manifest.id === id)!
    const target = { type: 'directory', path: live, compression: 'gzip', exclude: [] } as unknown as DirectoryTarget
    const env = {
      target: 'site',
      log: pino({ level: 'silent' }),
      signal: new AbortController().signal,
      docker: () => Promise.reject(new Error('no engine here')),
      env: {},
      stamp: '20260101T000000Z',
    }
    const restorer = await directory.restorer(target, env)
    expect(await restorer.verify?.(entry)).toMatchObject({ ok: true })
    // Between the plan and the extraction the file (and what the manifest says of it) changes
    // under the same name: a link out of the destination, then a file written through it.
    const evil = await archive([
      { name: 'conf', type: 'symlink', linkname: work.dir },
      { name: 'conf/planted', content: 'x' },
    ])
    writeFileSync(`${entry.path}.new`, evil)
    renameSync(`${entry.path}.new`, entry.path)
    Object.assign(entry.manifest, { size: evil.length, sha256: createHash('sha256').update(evil).digest('hex') })
    const side = join(work.dir, 'side-replaced')
    await expect(restorer.stage(entry, side)).rejects.toThrow(/refusing to extract/)
    expect(existsSync(side)).toBe(false)
    expect(existsSync(join(work.dir, 'planted'))).toBe(false)
    untouched()
  })
})
