/**
 * The committed systemd/ and cron.d/ folders are golden files: exactly what `schedule generate`
 * makes from ownops.example.yml for --bin /usr/local/bin/ownops and /etc/ownops/ownops.yml.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli, tempDir, testEnv } from '../helpers/cli.js'

const ROOT = resolve(import.meta.dirname, '../..')
let dir: string
let cleanup: () => void
beforeAll(() => {
  ;({ dir, cleanup } = tempDir('ownops-test-folders-'))
})
afterAll(() => cleanup())

function files(folder: string): Record<string, string> {
  return Object.fromEntries(
    readdirSync(folder)
      .filter((name) => name !== 'README.md')
      .sort()
      .map((name) => [name, readFileSync(join(folder, name), 'utf8')]),
  )
}

describe.each([
  ['systemd', []],
  ['cron.d', ['--cron']],
])('%s/', (folder, flags) => {
  it('holds exactly what schedule generate makes from ownops.example.yml', async () => {
    const out = join(dir, folder)
    const env = testEnv(dir, { PATH: process.env.PATH })
    const args = [
      '-c',
      join(ROOT, 'ownops.example.yml'),
      'schedule',
      'generate',
      ...flags,
      '--out',
      out,
      '--config-path',
      '/etc/ownops/ownops.yml',
      '--bin',
      '/usr/local/bin/ownops',
    ]
    const result = await runCli(args, { env, cwd: dir })
    expect(result.code, result.stderr).toBe(0)
    const generated = files(out)
    expect(Object.keys(generated).length).toBeGreaterThan(0)
    expect(
      files(join(ROOT, folder)),
      `refresh it: ownops ${args.slice(0, -6).join(' ').replace(join(ROOT, ''), '')} --out ${folder} --config-path /etc/ownops/ownops.yml --bin /usr/local/bin/ownops`,
    ).toEqual(generated)
  })

  it('has a README that names the command that refreshes it and what it holds', () => {
    const readme = readFileSync(join(ROOT, folder, 'README.md'), 'utf8')
    expect(readme).toContain(
      `ownops -c ownops.example.yml schedule generate ${flags.length > 0 ? '--cron ' : ''}--out ${folder} --config-path /etc/ownops/ownops.yml --bin /usr/local/bin/ownops`,
    )
    const names = readdirSync(join(ROOT, folder)).filter((n) => n !== 'README.md')
    if (folder === 'systemd') {
      for (const name of ['ownops-notify@.service', 'ownops-boot-app.service']) expect(names).toContain(name)
      for (const name of names.filter((n) => n.startsWith('ownops-backup-world') || n.startsWith('ownops-boot-')))
        expect(readme).toContain(name.replace(/\.(service|timer)$/, ''))
    } else {
      expect(names).toEqual(['ownops'])
    }
  })
})
