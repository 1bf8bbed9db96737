/**
 * The committed man pages (man/) are golden files: exactly what `npm run man` makes from the
 * command definitions. They render with groff and man without a warning, and the package
 * ships them.
 */
import { execFile } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { describe, expect, it, type TestContext } from 'vitest'
import { buildProgram } from '../../src/cli.js'
import { manPages, roff } from '../../src/help/man.js'
import { describeCommand } from '../../src/help/model.js'
import { ownopsVersion } from '../../src/version.js'

const ROOT = resolve(import.meta.dirname, '../..')
const MAN = join(ROOT, 'man')
const pages = manPages(describeCommand(buildProgram(async () => undefined)), ownopsVersion())

function run(file: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(file, args, { env: { PATH: process.env.PATH, LANG: 'C.UTF-8', ...env }, timeout: 60_000 }, (error, stdout, stderr) => {
      done({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stdout, stderr })
    })
  })
}

async function need(ctx: TestContext, tool: string, pkg: string): Promise<void> {
  if ((await run('sh', ['-c', `command -v ${tool}`])).code === 0) return
  if (process.env.CI === 'true') throw new Error(`${tool} is not installed: scripts/test-env.sh install puts it on a CI machine`)
  ctx.skip(`${tool} is not installed (apt-get install ${pkg})`)
}

describe('man/', () => {
  it('holds exactly the pages npm run man makes from the command definitions', () => {
    const committed = Object.fromEntries(
      readdirSync(MAN)
        .filter((f) => f.endsWith('.1'))
        .sort()
        .map((f) => [f, readFileSync(join(MAN, f), 'utf8')]),
    )
    const generated = Object.fromEntries(pages.map((p) => [p.file, p.content]).sort(([a = ''], [b = '']) => a.localeCompare(b)))
    expect(committed, 'refresh it: npm run man').toEqual(generated)
  })

  it('has ownops(1) and a page for every command, naming its options, examples and exit statuses', () => {
    const files = pages.map((p) => p.file)
    expect(files).toEqual(
      expect.arrayContaining(['ownops.1', 'ownops-backup.1', 'ownops-restore.1', 'ownops-schedule.1', 'ownops-completion.1']),
    )
    expect(files).not.toContain('ownops-help.1')
    const backup = pages.find((p) => p.file === 'ownops-backup.1')?.content ?? ''
    expect(backup).toContain('.SH NAME\nownops\\-backup \\- back up databases')
    for (const text of [
      '\\fB\\-n\\fR, \\fB\\-\\-dry\\-run\\fR',
      '.SH GLOBAL OPTIONS',
      '\\fB\\-v\\fR, \\fB\\-\\-verbose\\fR',
      '$ ownops backup db \\-\\-tag pre\\-upgrade',
      '.SH EXIT STATUS\n.TP\n.B 0\nsuccess',
    ])
      expect(backup).toContain(text)
    const schedule = pages.find((p) => p.file === 'ownops-schedule.1')?.content ?? ''
    for (const section of ['.SH SCHEDULE GENERATE', '.SH SCHEDULE INSTALL', '.SH SCHEDULE REMOVE', '.SH SCHEDULE LIST'])
      expect(schedule).toContain(section)
    const main = pages.find((p) => p.file === 'ownops.1')?.content ?? ''
    for (const page of files.filter((f) => f !== 'ownops.1'))
      expect(main).toContain(`\\fB${page.replace(/\.1$/, '').replace(/-/g, '\\-')}\\fR(1)`)
  })

  it('escapes what roff would read as requests or escapes', () => {
    expect(roff('.hidden')).toBe('\\&.hidden')
    expect(roff("'quoted")).toBe("\\&'quoted")
    expect(roff('a\\b')).toBe('a\\eb')
    expect(roff('use --dry-run, not clean-up — or -n')).toBe('use \\-\\-dry\\-run, not clean-up \\[u2014] or \\-n')
  })

  it('is shipped by the npm package and named in package.json "man"', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      files: string[]
      man: string[]
      scripts: Record<string, string>
    }
    expect(pkg.files).toContain('man')
    expect([...pkg.man].sort()).toEqual(pages.map((p) => `./man/${p.file}`).sort())
    expect(pkg.scripts.man).toContain('scripts/man.mjs')
  })

  it.for(pages.map((p) => p.file))('%s renders with groff and man without a warning', async (file, ctx) => {
    await need(ctx, 'groff', 'groff-base')
    const groff = await run('groff', ['-man', '-Tutf8', '-ww', '-z', join(MAN, file)])
    expect(groff).toEqual({ code: 0, stdout: '', stderr: '' })
    await need(ctx, 'man', 'man-db')
    const man = await run('man', ['-l', join(MAN, file)], { MANWIDTH: '80', MAN_KEEP_FORMATTING: '', MANPAGER: 'cat', PAGER: 'cat' })
    expect(man.stderr).toBe('')
    expect(man.code).toBe(0)
    expect(man.stdout).toMatch(/^NAME\n {7}ownops/m)
    expect(man.stdout).toMatch(/^EXIT STATUS\n {7}0 +success/m)
  })
})
