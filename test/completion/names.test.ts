/** The names shell completion reads from the config file alone: what counts, and what never reaches a shell. */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { completionNames } from '../../src/completion/names.js'
import { tempDir } from '../helpers/cli.js'

let dir: string
let cleanup: () => void
beforeAll(() => {
  ;({ dir, cleanup } = tempDir('ownops-test-names-'))
})
afterAll(() => cleanup())

function names(yaml: string, kind: Parameters<typeof completionNames>[0], target?: string): string[] {
  const file = join(dir, 'ownops.yml')
  writeFileSync(file, yaml)
  return completionNames(kind, { config: file, env: {}, cwd: dir, target })
}

describe('completion names', () => {
  it('reads the keys of each section, in the order of the file, with the built-in names first', () => {
    const yaml =
      'backup:\n  targets:\n    world: {}\n    db: {}\ncleanup:\n  rules:\n    logs: {}\nmonitor:\n  checks:\n    api: {}\n    memory: { kind: memory, warn: 90 }\n'
    expect(names(yaml, 'targets')).toEqual(['world', 'db'])
    expect(names(yaml, 'rules')).toEqual(['backups', 'logs'])
    expect(names(yaml, 'checks')).toEqual(['filesystems', 'memory', 'load', 'swap', 'containers', 'api'])
    expect(names(yaml, 'destinations')).toEqual([])
  })

  it('leaves out the built-in checks that monitor.builtins: false turns off', () => {
    expect(names('monitor:\n  builtins: false\n  checks:\n    api: {}\n', 'checks')).toEqual(['api'])
  })

  it('offers only names the config allows: a key that could do something in a shell is left out', () => {
    const yaml = 'backup:\n  targets:\n    "$(touch /tmp/x)": {}\n    "a b": {}\n    ok-name_1.2: {}\n    7: {}\n'
    expect(names(yaml, 'targets')).toEqual(['ok-name_1.2'])
  })

  it('offers nothing, without an error, for a config that is not YAML or has a section of the wrong shape', () => {
    expect(names('backup: [\n', 'targets')).toEqual([])
    expect(names('backup: 3\n', 'targets')).toEqual([])
    expect(names('backup:\n  targets: [db]\n', 'targets')).toEqual([])
    expect(completionNames('targets', { config: join(dir, 'missing.yml'), env: {}, cwd: dir })).toEqual([])
  })

  it("lists a target's backup ids newest first after latest, from backup.dir (relative: to the working directory)", () => {
    mkdirSync(join(dir, 'b', 'db'), { recursive: true })
    for (const name of ['db-20260101T000000Z.json', 'db-20260301T000000Z.json', 'db-20260301T000000Z.tar.zst', '.db-partial.json'])
      writeFileSync(join(dir, 'b', 'db', name), '')
    const yaml = 'backup:\n  dir: b\n  targets:\n    db: {}\n'
    expect(names(yaml, 'backups', 'db')).toEqual(['latest', 'db-20260301T000000Z', 'db-20260101T000000Z'])
    expect(names(yaml, 'backups', 'other')).toEqual(['latest'])
    expect(names(yaml, 'backups', '../b/db')).toEqual(['latest'])
    expect(names('backup:\n  dir: ${BACKUP_ROOT}\n', 'backups', 'db')).toEqual(['latest'])
  })
})
