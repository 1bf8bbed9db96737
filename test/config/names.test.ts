/**
 * A name that cannot be a target (channel, rule, job…) name says which names are allowed,
 * with its line: it becomes part of file and unit names.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli, tempDir, testEnv } from '../helpers/cli.js'

describe('names of targets, channels, rules and jobs', () => {
  let work: { dir: string; cleanup: () => void }
  beforeAll(() => {
    work = tempDir()
  })
  afterAll(() => work?.cleanup())

  it('a bad name is refused, saying which names are allowed', async () => {
    writeFileSync(
      join(work.dir, 'ownops.yml'),
      `backup:
  targets:
    "../evil": { type: sqlite, path: /srv/x.db }
    "a b": { type: sqlite, path: /srv/y.db }
    good-one_2.x: { type: sqlite, path: /srv/z.db }
notify:
  channels:
    "-x": { url: "json://127.0.0.1:9/x" }
`,
    )
    const r = await runCli(['config', 'validate'], { env: testEnv(work.dir), cwd: work.dir })
    expect(r.code).toBe(78)
    const lines = r.stdout.trim().split('\n')
    expect(lines).toEqual([
      'ownops.yml:3 backup.targets["../evil"]: "../evil" is not a valid name: use letters, digits, "-", "_" and "." only, starting with a letter or digit (it becomes part of file and unit names) (e.g. "evil")',
      'ownops.yml:4 backup.targets["a b"]: "a b" is not a valid name: use letters, digits, "-", "_" and "." only, starting with a letter or digit (it becomes part of file and unit names) (e.g. "a-b")',
      'ownops.yml:8 notify.channels["-x"]: "-x" is not a valid name: use letters, digits, "-", "_" and "." only, starting with a letter or digit (it becomes part of file and unit names) (e.g. "x")',
      'ownops.yml: 3 errors',
    ])
    expect(r.stdout).not.toMatch(/Invalid key in record|got a mapping/)
  })
})
