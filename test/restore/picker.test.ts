/**
 * The restore picker, on a real pseudo-terminal (util-linux `script`) and off one: the COPIES
 * column names the destinations that hold each backup, as `ownops backups` does; Ctrl-C at a
 * prompt is an interruption (exit 130), and nothing changes.
 */
import { spawn, spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BIN, runCli, tempDir, testEnv } from '../helpers/cli.js'

describe('the restore picker', () => {
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
      `backup:\n  dir: ${join(work.dir, 'backups')}\n  targets:\n    site: { type: directory, path: ${site()}, compression: gzip }\n  destinations:\n    usb: { type: path, path: ${join(work.dir, 'usb')}, schedule: "0 5 * * *", retries: 0 }\n`,
    )
    env = testEnv(work.dir, { PATH: `${join(work.dir, 'bin')}:${process.env.PATH ?? ''}`, OWNOPS_LOG_FORMAT: 'text', TERM: 'dumb' })
    const at = (iso: string) => () => new Date(iso)
    writeFileSync(join(site(), 'v.txt'), 'first')
    expect((await runCli(['backup', 'site'], { env, cwd: work.dir, clock: at('2026-06-01T03:00:00Z') })).code).toBe(0)
    expect((await runCli(['copy', '--to', 'usb'], { env, cwd: work.dir, clock: at('2026-06-01T05:00:00Z') })).code).toBe(0)
    writeFileSync(join(site(), 'v.txt'), 'second')
    expect((await runCli(['backup', 'site'], { env, cwd: work.dir, clock: at('2026-06-02T03:00:00Z') })).code).toBe(0)
  })
  afterAll(() => work?.cleanup())

  /** Runs `line` on a pseudo-terminal; answers each prompt that appears, in order (raw bytes: \x03 is Ctrl-C). */
  async function onTerminal(line: string, answers: Array<[RegExp, string]>): Promise<{ code: number | null; screen: string }> {
    const child = spawn('script', ['-q', '-e', '-c', line, '/dev/null'], { cwd: work.dir, env, stdio: ['pipe', 'pipe', 'pipe'] })
    let screen = ''
    child.stdout.on('data', (c: Buffer) => (screen += c.toString()))
    child.stderr.on('data', (c: Buffer) => (screen += c.toString()))
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
    let seen = 0
    for (const [prompt, answer] of answers) {
      for (let i = 0; i < 1500 && child.exitCode === null; i++) {
        const m = prompt.exec(screen.slice(seen))
        if (m) {
          seen += m.index + m[0].length
          break
        }
        await new Promise((r) => setTimeout(r, 10))
      }
      child.stdin.write(answer)
    }
    const code = await exited
    child.stdin.end()
    return { code, screen }
  }

  it('off a terminal: COPIES names the destinations that hold the newest backup (--json too)', async () => {
    expect((await runCli(['copy', '--to', 'usb'], { env, cwd: work.dir, clock: () => new Date('2026-06-02T05:00:00Z') })).code).toBe(0)
    const r = spawnSync('sh', ['-c', 'ownops restore < /dev/null'], { cwd: work.dir, env, encoding: 'utf8' })
    expect(r.status, r.stderr).toBe(2)
    expect(r.stdout).toMatch(/site +directory +site-20260602T030000Z .* local, usb +2/)
    const json = await runCli(['--json', 'restore'], { env: { ...env, OWNOPS_LOG_FORMAT: 'json' }, cwd: work.dir })
    expect((JSON.parse(json.stdout) as { targets: Array<{ copies: string[] }> }).targets[0]!.copies).toEqual(['local', 'usb'])
  })

  it('on a terminal: each backup shows where its copies are; Ctrl-C at the prompt exits 130 and changes nothing', async () => {
    writeFileSync(join(site(), 'v.txt'), 'third')
    expect((await runCli(['backup', 'site'], { env, cwd: work.dir, clock: () => new Date('2026-06-03T03:00:00Z') })).code).toBe(0)
    writeFileSync(join(site(), 'v.txt'), 'changed at 3 a.m.')
    const r = await onTerminal('ownops restore', [
      [/Restore which target\? \[1-1/, '1\r'],
      [/Which backup\?/, '\x03'],
    ])
    expect(r.screen).toMatch(/1 +site-20260603T030000Z .* local\s*\r?\n/)
    expect(r.screen).toMatch(/2 +site-20260602T030000Z .* local, usb\s*\r?\n/)
    expect(r.code, r.screen).toBe(130)
    expect(readFileSync(join(site(), 'v.txt'), 'utf8')).toBe('changed at 3 a.m.')
    const first = await onTerminal('ownops restore', [[/Restore which target\?/, '\x03']])
    expect(first.code, first.screen).toBe(130)
    const confirm = await onTerminal('ownops restore site', [[/Restore now\? \[y\/N\]/, '\x03']])
    expect(confirm.code, confirm.screen).toBe(130)
    expect(readFileSync(join(site(), 'v.txt'), 'utf8')).toBe('changed at 3 a.m.')
  }, 60_000)
})
