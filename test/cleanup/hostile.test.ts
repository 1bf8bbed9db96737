/**
 * Cleanup with what users actually have on disk: file names that are not UTF-8 or carry a
 * newline or a terminal escape sequence, winston's numbered log files, and a backup
 * directory reached through a symlink inside a cleanup root.
 */
import { mkdirSync, readdirSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { rotationSets } from '../../src/cleanup/logs.js'
import { printable } from '../../src/text.js'
import { runCli, tempDir, testEnv } from '../helpers/cli.js'

const DAY = 86_400_000

function write(path: string | Buffer, content: string, ageDays = 0): void {
  writeFileSync(path, content)
  if (ageDays > 0) {
    const t = new Date(Date.now() - ageDays * DAY)
    utimesSync(path, t, t)
  }
}

interface Report {
  rules: Array<{
    rule: string
    ok: boolean
    error?: string
    warnings: string[]
    actions: Array<{ action: string; what: string; skipped?: string }>
  }>
}

let dir: string
let done: () => void
beforeEach(() => ({ dir, cleanup: done } = tempDir('ownops-cleanup-hostile-')))
afterEach(() => done())

const cli = (args: string[]) => runCli(['-c', join(dir, 'ownops.yml'), ...args], { env: testEnv(dir), cwd: dir })

describe('file names are bytes', () => {
  const bytes = (dirPath: string, name: Buffer) => Buffer.concat([Buffer.from(`${dirPath}/`), name])
  const hostile = {
    invalid: Buffer.from([0x62, 0x61, 0x64, 0xff, 0xfe, 0x2e, 0x74, 0x6d, 0x70]), // "bad\xff\xfe.tmp"
    newline: Buffer.from('new\nline.tmp'),
    escape: Buffer.from('\u001b[31mred\u001b[0m.tmp'),
  }

  it('printable: valid UTF-8 stays, bytes that are not UTF-8 and control characters are escaped', () => {
    expect(printable(hostile.invalid)).toBe('bad\\xff\\xfe.tmp')
    expect(printable(hostile.newline)).toBe('new\\nline.tmp')
    expect(printable(hostile.escape)).toBe('\\x1b[31mred\\x1b[0m.tmp')
    expect(printable(Buffer.from('日本語 ok.tmp'))).toBe('日本語 ok.tmp')
    expect(printable(Buffer.from('a\\b'))).toBe('a\\\\b')
    expect(printable(Buffer.from([0xc0, 0x80]))).toBe('\\xc0\\x80') // overlong NUL
    expect(printable(Buffer.from([0xed, 0xa0, 0x80]))).toBe('\\xed\\xa0\\x80') // a surrogate
  })

  it('the files rule removes old entries whatever their names, and prints them escaped', async () => {
    const root = join(dir, 'scratch')
    mkdirSync(root)
    for (const name of Object.values(hostile)) write(bytes(root, name), 'old', 10)
    const sub = Buffer.concat([Buffer.from('job-'), Buffer.from([0xe9])]) // a Latin-1 "é" directory
    mkdirSync(bytes(root, sub))
    write(Buffer.concat([bytes(root, sub), Buffer.from('/out\n.csv')]), 'old', 10)
    utimesSync(bytes(root, sub), new Date(Date.now() - 10 * DAY), new Date(Date.now() - 10 * DAY))
    write(join(root, 'fresh.tmp'), 'new')
    writeFileSync(
      join(dir, 'ownops.yml'),
      `backup: { dir: ${dir}/backups }\ncleanup:\n  backups: false\n  rules:\n    scratch: { type: files, root: ${root}, match: "**", olderThan: 1d }\n`,
    )

    const dry = await cli(['cleanup', '--dry-run'])
    expect(dry.code, dry.stderr).toBe(0)
    expect(dry.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f]/) // no raw escape, no newline inside a row
    expect(dry.stdout).toContain('\\x1b[31mred\\x1b[0m.tmp')
    expect(dry.stdout).toContain('new\\nline.tmp')
    expect(dry.stdout).toContain('bad\\xff\\xfe.tmp')

    const real = await cli(['--json', 'cleanup'])
    expect(real.code, real.stderr).toBe(0)
    const what = (JSON.parse(real.stdout) as Report).rules[0]?.actions
      .filter((a) => a.skipped === undefined)
      .map((a) => a.what.slice(root.length + 1))
      .sort()
    expect(what).toEqual(['\\x1b[31mred\\x1b[0m.tmp', 'bad\\xff\\xfe.tmp', 'job-\\xe9/', 'new\\nline.tmp'])
    expect(readdirSync(root)).toEqual(['fresh.tmp'])
  })

  it('the logs rule compresses and deletes logs whatever their names', async () => {
    const logs = join(dir, 'logs')
    mkdirSync(logs)
    const base = Buffer.concat([Buffer.from('caf'), Buffer.from([0xe9]), Buffer.from('.log')]) // Latin-1 "café.log"
    write(bytes(logs, base), 'current')
    write(bytes(logs, Buffer.concat([base, Buffer.from('.1')])), 'a week ago\n'.repeat(50), 8)
    write(bytes(logs, Buffer.concat([base, Buffer.from('.2')])), 'a month ago', 40)
    writeFileSync(
      join(dir, 'ownops.yml'),
      `cleanup:\n  backups: false\n  rules:\n    logs: { type: logs, path: ${logs}/*.log, compressAfter: 7d, deleteAfter: 30d }\n`,
    )
    const real = await cli(['--json', 'cleanup'])
    expect(real.code, real.stderr).toBe(0)
    const actions = (JSON.parse(real.stdout) as Report).rules[0]?.actions.map((a) => [a.action, a.what.slice(logs.length + 1), a.skipped])
    expect(actions).toEqual([
      ['remove', 'caf\\xe9.log.2', undefined],
      ['compress', 'caf\\xe9.log.1', undefined],
    ])
    expect(
      readdirSync(logs, { encoding: 'buffer' })
        .map((n) => printable(n))
        .sort(),
    ).toEqual(['caf\\xe9.log', 'caf\\xe9.log.1.gz'])
  })
})

describe('rotating sets', () => {
  it('recognises name.N, nameN.ext (winston), name-DATE.ext, name.ext-DATE and .gz of each; a rotated-looking file alone is a loner', () => {
    const { sets, loners } = rotationSets([
      '/l/combined.log',
      '/l/combined1.log',
      '/l/combined2.log.gz',
      '/l/app.log',
      '/l/app.log.1',
      '/l/app.log.2.gz',
      '/l/web-2026-11-20.log',
      '/l/web-2026-11-21.log.gz',
      '/l/api.log-20261120',
      '/l/api.log-20261121.gz',
      '/l/pm2-out__2026-11-20_00-00-00.log',
      '/l/pm2-out.log',
      '/l/server1.log', // no server.log: not rotated from anything here
      '/l/worker.log',
      '/l/old.log.7', // its set has nothing else
    ])
    expect(sets.get('/l/combined1.log')).toBe('/l/combined.log')
    expect(sets.get('/l/combined2.log.gz')).toBe('/l/combined.log')
    expect(sets.get('/l/app.log.2.gz')).toBe('/l/app.log')
    expect(sets.get('/l/web-2026-11-21.log.gz')).toBe('/l/web.log')
    expect(sets.get('/l/web-2026-11-20.log')).toBe('/l/web.log')
    expect(sets.get('/l/api.log-20261121.gz')).toBe('/l/api.log')
    expect(sets.get('/l/pm2-out__2026-11-20_00-00-00.log')).toBe('/l/pm2-out.log')
    expect(sets.get('/l/server1.log')).toBe('/l/server1.log')
    expect(sets.get('/l/worker.log')).toBe('/l/worker.log')
    expect(loners.sort()).toEqual(['/l/old.log.7', '/l/server1.log'])
  })

  it("winston's numbered files: the older ones are compressed and expired, the newest stays; a loner is reported", async () => {
    const logs = join(dir, 'logs')
    mkdirSync(logs)
    write(join(logs, 'combined.log'), 'first file, full\n'.repeat(100), 40)
    write(join(logs, 'combined1.log'), 'second file, full\n'.repeat(100), 20)
    write(join(logs, 'combined2.log'), 'current\n')
    write(join(logs, 'server1.log'), 'a server of its own\n', 50)
    writeFileSync(
      join(dir, 'ownops.yml'),
      `cleanup:\n  backups: false\n  rules:\n    logs: { type: logs, path: ${logs}/*.log, compressAfter: 7d, deleteAfter: 30d }\n`,
    )
    const real = await cli(['--json', 'cleanup'])
    expect(real.code, real.stderr).toBe(0)
    const rule = (JSON.parse(real.stdout) as Report).rules[0]
    expect(rule?.actions.map((a) => [a.action, a.what.slice(logs.length + 1)])).toEqual([
      ['remove', 'combined.log'],
      ['compress', 'combined1.log'],
    ])
    expect(rule?.warnings).toEqual([
      `${logs}/server1.log looks rotated but joins no set of rotated files (the file it was rotated from is not there): left alone`,
    ])
    expect(readdirSync(logs).sort()).toEqual(['combined1.log.gz', 'combined2.log', 'server1.log'])
  })
})

describe('the backup directory through a symlink', () => {
  it('a files rule whose root holds backup.dir by way of a symlink is refused, and no backup is touched', async () => {
    const app = join(dir, 'app')
    mkdirSync(join(app, 'data', 'backups', 'db'), { recursive: true })
    write(join(app, 'data', 'backups', 'db', 'db-20200101T000000Z.pgdump'), 'a backup', 400)
    write(join(app, 'tmp.old'), 'x', 400)
    symlinkSync(join(app, 'data'), join(dir, 'link'))
    writeFileSync(
      join(dir, 'ownops.yml'),
      `backup: { dir: ${dir}/link/backups }\ncleanup:\n  backups: false\n  rules:\n    app: { type: files, root: ${app}, match: "**", olderThan: 30d }\n    logs: { type: logs, path: "${app}/**/*", deleteAfter: 30d }\n`,
    )
    const r = await cli(['--json', 'cleanup'])
    expect(r.code).toBe(1)
    const rules = (JSON.parse(r.stdout) as Report).rules
    expect(rules.find((x) => x.rule === 'app')?.error).toBe(
      `refusing root ${app}: ${app} holds the backup directory ${dir}/link/backups (${app}/data/backups) (backups have their own retention)`,
    )
    expect(rules.find((x) => x.rule === 'logs')?.error).toMatch(/holds the backup directory/)
    expect(readdirSync(join(app, 'data', 'backups', 'db'))).toEqual(['db-20200101T000000Z.pgdump'])
  })

  it('and so is a root given through a symlink that holds backup.dir', async () => {
    mkdirSync(join(dir, 'real', 'backups'), { recursive: true })
    symlinkSync(join(dir, 'real'), join(dir, 'data'))
    writeFileSync(
      join(dir, 'ownops.yml'),
      `backup: { dir: ${dir}/real/backups }\ncleanup:\n  backups: false\n  rules:\n    data: { type: files, root: ${dir}/data, olderThan: 30d }\n`,
    )
    const r = await cli(['--json', 'cleanup'])
    expect((JSON.parse(r.stdout) as Report).rules[0]?.error).toMatch(/holds the backup directory/)
  })
})
