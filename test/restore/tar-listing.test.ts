/** GNU tar's listing, as the archive checks read it: real `tar -tv` output of real archives. */
import { execFileSync } from 'node:child_process'
import { chmodSync, linkSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseListing, type TarEntry } from '../../src/restore/tar-safety.js'
import { tempDir } from '../helpers/cli.js'

let dir: string
let cleanup: () => void

function listed(args: string[]): TarEntry[] {
  const out = execFileSync('tar', ['-t', '-v', '-P', '--numeric-owner', '--full-time', '--quoting-style=c', ...args], {
    env: { PATH: process.env.PATH, LC_ALL: 'C' },
    encoding: 'utf8',
  })
  return out
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const e = parseListing(line)
      if (e === undefined) throw new Error(`not parsed: ${line}`)
      return e
    })
}

beforeAll(() => {
  ;({ dir, cleanup } = tempDir('ownops-listing-'))
  const d = join(dir, 'd')
  mkdirSync(join(d, 'sub'), { recursive: true })
  writeFileSync(join(d, 'a -> b'), 'x')
  chmodSync(join(d, 'a -> b'), 0o4755)
  writeFileSync(join(d, 'new\nline "q" \\'), 'y')
  writeFileSync(join(d, Buffer.from([0x63, 0x61, 0x66, 0xc3, 0xa9]).toString()), 'z')
  symlinkSync('/etc/passwd', join(d, 'out'))
  symlinkSync('../x', join(d, 'sub', 'rel'))
  linkSync(join(d, 'a -> b'), join(d, 'hard'))
  execFileSync('mkfifo', [join(d, 'ff')])
})

afterAll(() => cleanup())

describe('parseListing', () => {
  it('reads names, types, link targets, modes and owners exactly, whatever bytes the names hold', () => {
    execFileSync('tar', ['-c', '-f', join(dir, 't.tar'), '--format=posix', '-C', join(dir, 'd'), '.'])
    const entries = listed(['-f', join(dir, 't.tar')])
    const by = new Map(entries.map((e) => [e.path, e]))
    expect(by.get('./')?.type).toBe('directory')
    expect(by.get('./sub/')?.type).toBe('directory')
    expect(by.get('./a -> b')).toMatchObject({ type: 'file', mode: 0o4755, size: 1 })
    expect(by.get('./new\nline "q" \\')).toMatchObject({ type: 'file', size: 1 })
    expect(by.get('./café')?.type).toBe('file')
    expect(by.get('./out')).toMatchObject({ type: 'symlink', target: '/etc/passwd' })
    expect(by.get('./sub/rel')).toMatchObject({ type: 'symlink', target: '../x' })
    expect(by.get('./hard')).toMatchObject({ type: 'link', target: './a -> b' })
    expect(by.get('./ff')?.type).toBe('fifo')
    expect(entries.every((e) => e.uid === process.getuid?.())).toBe(true)
  })

  it('keeps absolute names as they are (-P), for the checks to refuse', () => {
    execFileSync('tar', ['-c', '-P', '-f', join(dir, 'abs.tar'), join(dir, 'd', 'out')])
    expect(listed(['-f', join(dir, 'abs.tar')])).toEqual([expect.objectContaining({ path: join(dir, 'd', 'out'), type: 'symlink' })])
  })

  it('any modification time, however far from now', () => {
    expect(parseListing('-rw-r--r-- 0/0               0 36812-02-20 00:36:16 "big"')).toMatchObject({ path: 'big', type: 'file' })
    expect(parseListing('-rw-r--r-- 0/0               0 1969-12-31 23:59:55 "neg"')).toMatchObject({ path: 'neg', type: 'file' })
  })

  it('a device file is a device file', () => {
    const line = 'crw-rw-rw- 0/0             1,3 2026-12-02 14:49:39 "/dev/null"'
    expect(parseListing(line)).toMatchObject({ type: 'character-device', path: '/dev/null', size: 0 })
  })

  it('an entry tar cannot name the type of is refused as other; a line that is no entry is not one', () => {
    expect(parseListing('V--------- 0/0               0 2026-12-02 14:49:39 "label"--Volume Header--')?.type).toBe('other')
    expect(parseListing("tar: Removing leading `/' from member names")).toBeUndefined()
    expect(parseListing('-rw-r--r-- 0/0 1 2026-12-02 14:49:39 "unterminated')).toBeUndefined()
  })
})
