/**
 * `ownops restore` at 3 a.m., typed exactly as the README shows it, on a real pseudo-terminal
 * (util-linux `script`): the targets and their newest backups, a target and a backup picked
 * by number, the plan, the confirmation. Off a terminal: the same list, the command to run,
 * exit 2. `ownops restore TARGET` alone: the newest verified backup, after plan and confirmation.
 */
import { spawn, spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BIN, runCli, tempDir, testEnv } from '../helpers/cli.js'

describe('ownops restore on a terminal', () => {
  let work: { dir: string; cleanup: () => void }
  let env: NodeJS.ProcessEnv
  const site = () => join(work.dir, 'site')

  beforeAll(async () => {
    work = tempDir()
    mkdirSync(site())
    mkdirSync(join(work.dir, 'bin'))
    symlinkSync(BIN, join(work.dir, 'bin', 'ownops'))
    writeFileSync(
      join(work.dir, 'ownops.yml'),
      `backup:\n  dir: ${join(work.dir, 'backups')}\n  targets:\n    site: { type: directory, path: ${site()}, compression: gzip }\n    notes: { type: directory, path: ${site()}, compression: gzip }\n`,
    )
    env = testEnv(work.dir, { PATH: `${join(work.dir, 'bin')}:${process.env.PATH ?? ''}`, OWNOPS_LOG_FORMAT: 'text', TERM: 'dumb' })
    const at = (iso: string) => () => new Date(iso)
    writeFileSync(join(site(), 'v.txt'), 'first')
    expect((await runCli(['backup', 'site'], { env, cwd: work.dir, clock: at('2026-06-01T03:00:00Z') })).code).toBe(0)
    writeFileSync(join(site(), 'v.txt'), 'second')
    expect((await runCli(['backup', 'site'], { env, cwd: work.dir, clock: at('2026-06-02T03:00:00Z') })).code).toBe(0)
  })
  afterAll(() => work?.cleanup())

  /** Runs `line` in a shell on a pseudo-terminal; answers each prompt that appears, in order. */
  async function onTerminal(line: string, answers: Array<[RegExp, string]>): Promise<{ code: number | null; screen: string }> {
    const child = spawn('script', ['-q', '-e', '-c', line, '/dev/null'], { cwd: work.dir, env, stdio: ['pipe', 'pipe', 'pipe'] })
    let screen = ''
    child.stdout.on('data', (c: Buffer) => (screen += c.toString()))
    child.stderr.on('data', (c: Buffer) => (screen += c.toString()))
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
    let seen = 0
    for (const [prompt, answer] of answers) {
      for (let i = 0; i < 1500 && child.exitCode === null; i++) {
        const rest = screen.slice(seen)
        const m = prompt.exec(rest)
        if (m) {
          seen += m.index + m[0].length
          break
        }
        await new Promise((r) => setTimeout(r, 10))
      }
      child.stdin.write(`${answer}\r`)
    }
    const code = await exited
    child.stdin.end()
    return { code, screen }
  }

  it('script is there (util-linux)', () => {
    expect(spawnSync('script', ['--version']).status).toBe(0)
  })

  it('`ownops restore`: pick a target and an older backup by number, see the plan, confirm', async () => {
    writeFileSync(join(site(), 'v.txt'), 'changed at 3 a.m.')
    const r = await onTerminal('ownops restore', [
      [/Restore which target\? \[1-2/, '1'],
      [/Which backup\?/, '2'],
      [/Restore now\? \[y\/N\]/, 'y'],
    ])
    expect(r.code, r.screen).toBe(0)
    expect(r.screen).toMatch(/TARGET +TYPE +NEWEST BACKUP +AGE +SIZE +VERIFIED +COPIES/)
    expect(r.screen).toMatch(/site +directory +site-20260602T030000Z .* local/)
    expect(r.screen).toMatch(/notes +directory +no backup/)
    expect(r.screen).toMatch(/Backups of site, newest first/)
    expect(r.screen).toMatch(/backup: +site-20260601T030000Z/)
    expect(r.screen).toMatch(/replaces: /)
    expect(readFileSync(join(site(), 'v.txt'), 'utf8')).toBe('first')
  }, 60_000)

  it('`ownops restore site`: the newest verified backup after the plan and a confirmation; "n" changes nothing', async () => {
    writeFileSync(join(site(), 'v.txt'), 'changed again')
    const no = await onTerminal('ownops restore site', [[/Restore now\? \[y\/N\]/, 'n']])
    expect(no.code, no.screen).toBe(1)
    expect(no.screen).toMatch(/cancelled; nothing was changed/)
    expect(readFileSync(join(site(), 'v.txt'), 'utf8')).toBe('changed again')
    const yes = await onTerminal('ownops restore site', [[/Restore now\? \[y\/N\]/, 'y']])
    expect(yes.code, yes.screen).toBe(0)
    expect(yes.screen).toMatch(/backup: +site-20260602T030000Z .*verified/)
    expect(readFileSync(join(site(), 'v.txt'), 'utf8')).toBe('second')
  }, 60_000)

  it('without a backup id, a damaged newest backup is passed over for the newest that verifies, and the plan says so', async () => {
    const dir = join(work.dir, 'backups', 'site')
    const newest = join(dir, 'site-20260602T030000Z.tar.gz')
    const original = readFileSync(newest)
    const flipped = Buffer.from(original)
    flipped.writeUInt8(flipped.readUInt8(40) ^ 0xff, 40)
    writeFileSync(newest, flipped)
    try {
      const r = await runCli(['--json', 'restore', 'site', '--dry-run'], { env: { ...env, OWNOPS_LOG_FORMAT: 'json' }, cwd: work.dir })
      expect(r.code, r.stdout).toBe(0)
      const plan = JSON.parse(r.stdout) as { backup: string; skipped: string[] }
      expect(plan.backup).toBe('site-20260601T030000Z')
      expect(plan.skipped.join('\n')).toMatch(/site-20260602T030000Z: sha256 .* differs from the manifest's/)
      const named = await runCli(['restore', 'site', 'site-20260602T030000Z', '--dry-run'], { env, cwd: work.dir })
      expect(named.code).toBe(1)
    } finally {
      writeFileSync(newest, original)
    }
  })

  it('off a terminal, `ownops restore` prints the list and the command to run, and exits 2', () => {
    const r = spawnSync('sh', ['-c', 'ownops restore < /dev/null'], { cwd: work.dir, env, encoding: 'utf8' })
    expect(r.status, r.stderr).toBe(2)
    expect(r.stdout).toMatch(/site +directory +site-20260602T030000Z/)
    expect(r.stdout).toMatch(/ownops restore site --dry-run/)
    expect(r.stdout).toMatch(/ownops restore site --yes/)
  })
})
