/** writeFileExclusive: a new file with exactly its mode, never over an existing one. */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { writeFileExclusive } from '../../src/sys/atomic.js'

describe('writeFileExclusive', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ownops-atomic-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('creates the file and its directories, with exactly the mode asked, whatever the umask', async () => {
    const file = join(dir, 'a', 'b', 'secrets.env')
    const old = process.umask(0o077)
    try {
      await writeFileExclusive(file, 'A=1\n', { mode: 0o640, dirMode: 0o755 })
    } finally {
      process.umask(old)
    }
    expect(readFileSync(file, 'utf8')).toBe('A=1\n')
    expect(statSync(file).mode & 0o777).toBe(0o640)
  })

  it('fails with EEXIST on an existing file and leaves it as it was', async () => {
    const file = join(dir, 'there.yml')
    writeFileSync(file, 'mine\n')
    await expect(writeFileExclusive(file, 'theirs\n')).rejects.toMatchObject({ code: 'EEXIST' })
    expect(readFileSync(file, 'utf8')).toBe('mine\n')
  })

  it('defaults to mode 0600', async () => {
    const file = join(dir, 'default')
    await writeFileExclusive(file, 'x')
    expect(statSync(file).mode & 0o777).toBe(0o600)
  })
})
