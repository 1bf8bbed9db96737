import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import {
  createWriteStream,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { planLogSteps, planSizeCap, rotationSet, unrotated } from '../../src/cleanup/logs.js'
import { globBase, refusedRoot } from '../../src/cleanup/roots.js'
import { sqlStatements } from '../../src/cleanup/sql.js'
import { parseStamp } from '../../src/targets/leftovers.js'
import { timestampId } from '../../src/backup/artifact.js'
import { parseByteSize } from '../../src/text.js'
import { runCli, tempDir, testEnv } from '../helpers/cli.js'

const DAY = 86_400_000
/** The time every run of this file sees (ages below are exact: no test reads the clock as it runs). */
const NOW = Date.now()
const clock = () => new Date(NOW)

function age(path: string, ms: number, now = NOW): void {
  const t = new Date(now - ms)
  utimesSync(path, t, t)
}

function write(path: string, content: string | Buffer, ageMs = 0): string {
  mkdirSync(join(path, '..'), { recursive: true })
  writeFileSync(path, content)
  if (ageMs > 0) age(path, ageMs)
  return path
}

interface Report {
  ok: boolean
  dryRun: boolean
  freed: number
  rows: number
  rules: Array<{
    rule: string
    ok: boolean
    error?: string
    actions: Array<{ action: string; what: string; reason: string; bytes: number; rows?: number; skipped?: string }>
    kept?: Array<{ target: string; id: string; reasons: string[] }>
    warnings: string[]
    rows?: number
  }>
}

function parse(stdout: string): Report {
  return JSON.parse(stdout) as Report
}

function listTree(dir: string): string[] {
  const out: string[] = []
  const walk = (d: string, rel: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name)
      const r = rel ? `${rel}/${name}` : name
      out.push(r)
      if (lstatSync(p).isDirectory()) walk(p, r)
    }
  }
  walk(dir, '')
  return out
}

describe('pure parts', () => {
  it('sizes', () => {
    expect(parseByteSize('1GB')).toBe(1_000_000_000)
    expect(parseByteSize('1GiB')).toBe(1024 ** 3)
    expect(parseByteSize('1G')).toBe(1024 ** 3)
    expect(parseByteSize('500 MB')).toBe(500_000_000)
    expect(parseByteSize('1.5k')).toBe(1536)
    expect(parseByteSize(42)).toBe(42)
    expect(parseByteSize('12')).toBe(12)
    expect(parseByteSize('1 parsec')).toBeUndefined()
    expect(parseByteSize('-5MB')).toBeUndefined()
  })

  it('refuses system directories and the backup directory as roots', () => {
    for (const root of ['/', '/etc', '/home', '/var', '/var/lib', '/usr', '/etc/', '/var//lib/docker'])
      expect(refusedRoot(root), root).toBeDefined()
    expect(refusedRoot('/srv/app/tmp')).toBeUndefined()
    expect(refusedRoot('/tmp')).toBeUndefined()
    expect(refusedRoot('/home/alice/results')).toBeUndefined()
    expect(refusedRoot('/data', '/data/backups')).toMatch(/backup directory/)
    expect(refusedRoot('/data/backups', '/data/backups')).toMatch(/backup directory/)
    expect(refusedRoot('/data/app', '/data/backups')).toBeUndefined()
    expect(refusedRoot('/data/backupsX', '/data/backups')).toBeUndefined()
    expect(refusedRoot('relative/dir')).toMatch(/absolute/)
    expect(globBase('/srv/app/logs/*.log')).toBe('/srv/app/logs')
    expect(globBase('/srv/app/**/*.log')).toBe('/srv/app')
    expect(globBase('/srv/app/logs/app.log')).toBe('/srv/app/logs')
  })

  it('groups rotated log files into sets', () => {
    expect(rotationSet('/l/app.log.2.gz')).toBe('/l/app.log')
    expect(rotationSet('/l/app.log.1')).toBe('/l/app.log')
    expect(rotationSet('/l/app-2026-11-20.log')).toBe('/l/app.log')
    expect(rotationSet('/l/app.log-20261120.gz')).toBe('/l/app.log')
    expect(rotationSet('/l/worker.log')).toBe('/l/worker.log')
    expect(unrotated('/l/app.log.3.gz')).toBe('/l/app.log')
    expect(unrotated('/l/app-2026-11-20.log')).toBe('/l/app-2026-11-20.log')
  })

  it('plans log steps: the newest of a set and fresh files stay, old ones are deleted, older than compressAfter compressed', () => {
    const now = NOW
    const f = (path: string, days: number, size = 100) => ({ path, size, mtime: now - days * DAY })
    const files = [
      f('/l/app.log', 20),
      f('/l/app.log.1', 21),
      f('/l/app.log.2.gz', 40),
      f('/l/app.log.3', 10),
      f('/l/other.log', 50),
      f('/l/fresh.log', 0),
      f('/l/fresh.log.1', 0.001),
    ]
    const { steps, protectedFiles } = planLogSteps(files, { compressAfter: 7 * DAY, deleteAfter: 30 * DAY, minAge: 10 * 60_000 }, now)
    // app.log.3 (10 days) is the newest of the app set; other.log is alone in its set.
    expect([...protectedFiles].sort()).toEqual(['/l/app.log.3', '/l/fresh.log', '/l/fresh.log.1', '/l/other.log'])
    expect(steps.map((s) => [s.file.path, s.do])).toEqual([
      ['/l/app.log.2.gz', 'delete'],
      ['/l/app.log.1', 'compress'],
      ['/l/app.log', 'compress'],
    ])
    const cap = planSizeCap(files, 350, protectedFiles)
    expect(cap.remove.map((x) => x.path)).toEqual(['/l/app.log.2.gz', '/l/app.log.1', '/l/app.log'])
    expect(cap.total).toBe(400) // the protected ones alone are over the cap
  })

  it('builds batch statements per database', () => {
    const rule = {
      table: 'public.frames',
      where: "detected = 0 AND captured_at < now() - interval '14 days'",
      batch: 10_000,
      vacuum: true,
      analyze: true,
    }
    const pg = sqlStatements('postgres', rule)
    expect(pg.batch).toBe(
      `WITH d AS (DELETE FROM ONLY "public"."frames" WHERE ctid = ANY(ARRAY(SELECT ctid FROM ONLY "public"."frames" WHERE (${rule.where}) LIMIT 10000)) RETURNING 1) SELECT count(*) FROM d`,
    )
    expect(pg.count).toBe(`SELECT count(*) FROM "public"."frames" WHERE (${rule.where})`)
    expect(pg.after).toEqual(['VACUUM (ANALYZE) "public"."frames"'])
    expect(sqlStatements('postgres', { ...rule, key: 'id' }).batch).toContain(
      'DELETE FROM "public"."frames" WHERE "id" = ANY(ARRAY(SELECT "id" FROM "public"."frames"',
    )
    expect(sqlStatements('mysql', { ...rule, table: 'frames' }).batch).toBe(
      `DELETE FROM \`frames\` WHERE (${rule.where}) LIMIT 10000; SELECT ROW_COUNT()`,
    )
    expect(sqlStatements('mysql', { ...rule, table: 'frames' }).after).toEqual(['OPTIMIZE TABLE `frames`', 'ANALYZE TABLE `frames`'])
    expect(sqlStatements('sqlite', { ...rule, table: 'frames', vacuum: false }).batch).toBe(
      `DELETE FROM "frames" WHERE rowid IN (SELECT rowid FROM "frames" WHERE (${rule.where}) LIMIT 10000); SELECT changes();`,
    )
  })

  it('parses the restore stamps it removes by', () => {
    const t = new Date('2026-11-24T03:04:05Z')
    expect(parseStamp(timestampId(t))?.toISOString()).toBe(t.toISOString())
    expect(parseStamp('yesterday')).toBeUndefined()
  })
})

describe('cleanup config', () => {
  let dir: string
  let cleanup: () => void
  beforeEach(() => ({ dir, cleanup } = tempDir('ownops-cleanup-cfg-')))
  afterEach(() => cleanup())

  it('names file, line, key and fix for a dangerous root, a missing filter and an unknown target', async () => {
    writeFileSync(
      join(dir, 'ownops.yml'),
      [
        'backup:',
        `  dir: ${dir}/backups`,
        '  targets:',
        '    files: { type: directory, path: /srv/files }',
        'cleanup:',
        '  rules:',
        '    wipe:',
        '      type: files',
        '      root: /home',
        '      olderThan: 1d',
        '    leftovers:',
        '      type: docker',
        '      containers: { olderThan: 7d }',
        '    rows:',
        '      type: sql',
        '      target: fils',
        '      table: frames',
        '      where: "1=1; DROP TABLE x"',
        '    mine:',
        `      type: files`,
        `      root: ${dir}`,
        '      olderThan: 1d',
      ].join('\n'),
    )
    const r = await runCli(['config', 'validate'], { env: testEnv(dir), cwd: dir, clock })
    expect(r.code).toBe(78)
    expect(r.stderr + r.stdout).toMatch(/ownops\.yml:9 cleanup\.rules\.wipe\.root: refusing root \/home: \/home is a system directory/)
    expect(r.stderr + r.stdout).toMatch(/force: true/)
    expect(r.stderr + r.stdout).toMatch(
      /ownops\.yml:13 cleanup\.rules\.leftovers\.containers: removing stopped containers needs a label or name filter/,
    )
    expect(r.stderr + r.stdout).toMatch(
      /ownops\.yml:16 cleanup\.rules\.rows\.target: no backup target named "fils" \(did you mean "files"\?\)/,
    )
    expect(r.stderr + r.stdout).toMatch(/cleanup\.rules\.rows\.where: the condition contains ";"/)
    expect(r.stderr + r.stdout).toMatch(/cleanup\.rules\.mine\.root: refusing root .*holds the backup directory/)
  })

  it('accepts a system root with force: true', async () => {
    writeFileSync(
      join(dir, 'ownops.yml'),
      ['cleanup:', '  rules:', '    tmp: { type: files, root: /var, match: "tmp/abaqus_*", olderThan: 1d, force: true }'].join('\n'),
    )
    const r = await runCli(['config', 'validate'], { env: testEnv(dir), cwd: dir, clock })
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
  })

  it('an unknown rule name or type is a usage error that lists what exists', async () => {
    writeFileSync(join(dir, 'ownops.yml'), `cleanup:\n  rules:\n    results: { type: files, root: ${dir}/r, olderThan: 90d }\n`)
    const a = await runCli(['cleanup', 'resutls', '--dry-run'], { env: testEnv(dir), cwd: dir, clock })
    expect(a.code).toBe(2)
    expect(a.stderr).toMatch(/no cleanup rule named \\"resutls\\" \(did you mean \\"results\\"\?\)/)
    const b = await runCli(['cleanup', '--only', 'log', '--dry-run'], { env: testEnv(dir), cwd: dir, clock })
    expect(b.code).toBe(2)
    expect(b.stderr).toMatch(/did you mean \\"logs\\"/)
  })
})

describe('files rule', () => {
  let dir: string
  let cleanup: () => void
  beforeEach(() => ({ dir, cleanup } = tempDir('ownops-cleanup-files-')))
  afterEach(() => cleanup())

  it('removes old entries under the root only; links are removed, never followed; dry run and real run agree', async () => {
    const root = join(dir, 'results')
    const outside = join(dir, 'outside')
    write(join(outside, 'precious.dat'), 'keep me', 400 * DAY)
    age(outside, 400 * DAY)
    write(join(root, 'job-1', 'out.csv'), 'a'.repeat(1000), 100 * DAY)
    write(join(root, 'job-1', 'sub', 'log.txt'), 'b'.repeat(500), 95 * DAY)
    age(join(root, 'job-1', 'sub'), 95 * DAY)
    age(join(root, 'job-1'), 95 * DAY)
    write(join(root, 'job-2', 'out.csv'), 'old', 100 * DAY) // a job dir with one fresh file stays whole
    write(join(root, 'job-2', 'new.csv'), 'new')
    write(join(root, 'old.tmp'), 'x'.repeat(10), 91 * DAY)
    write(join(root, 'recent.tmp'), 'y', 89 * DAY)
    write(join(root, 'keep.lock'), 'excluded', 300 * DAY)
    symlinkSync(outside, join(root, 'link-out'))
    const linkTime = new Date(NOW - 200 * DAY)
    execFileSync('touch', ['-h', '-d', linkTime.toISOString(), join(root, 'link-out')])
    // A file being written right now.
    const writing = createWriteStream(join(root, 'writing.dat'))
    writing.write('partial…')
    await new Promise<void>((resolve) => writing.once('ready', () => resolve()))
    writeFileSync(
      join(dir, 'ownops.yml'),
      `backup: { dir: ${dir}/backups }\ncleanup:\n  rules:\n    results: { type: files, root: ${root}, olderThan: 90d, exclude: ["*.lock"] }\n`,
    )

    const before = listTree(dir)
    const dry = await runCli(['--json', 'cleanup', '--dry-run'], { env: testEnv(dir), cwd: dir, clock })
    expect(dry.code).toBe(0)
    expect(listTree(dir)).toEqual(before) // nothing changed
    const planned = parse(dry.stdout).rules.find((r) => r.rule === 'results')?.actions ?? []
    expect(planned.map((a) => a.what)).toEqual([join(root, 'job-1') + '/', join(root, 'link-out'), join(root, 'old.tmp')])
    expect(planned.map((a) => a.bytes)).toEqual([1500, 0, 10])
    expect(parse(dry.stdout).freed).toBe(1510)
    const text = await runCli(['cleanup', '--dry-run'], { env: testEnv(dir), cwd: dir, clock })
    expect(text.stdout).toMatch(/would free 1\.5 KiB/)
    expect(text.stdout).toMatch(/newest entry modified 95d ago \(older than 90d\)/)

    const real = await runCli(['--json', 'cleanup'], { env: testEnv(dir), cwd: dir, clock })
    expect(real.code).toBe(0)
    const done = parse(real.stdout).rules.find((r) => r.rule === 'results')?.actions ?? []
    expect(done.map((a) => [a.what, a.bytes, a.skipped])).toEqual(planned.map((a) => [a.what, a.bytes, undefined]))
    await new Promise<void>((resolve) => writing.end(resolve))
    expect(listTree(root)).toEqual(['job-2', 'job-2/new.csv', 'job-2/out.csv', 'keep.lock', 'recent.tmp', 'writing.dat'])
    expect(readFileSync(join(outside, 'precious.dat'), 'utf8')).toBe('keep me')

    const again = await runCli(['--json', 'cleanup'], { env: testEnv(dir), cwd: dir, clock })
    expect(parse(again.stdout).rules.flatMap((r) => r.actions)).toEqual([])
  })

  it('a root that is a link to a system directory is refused at run time', async () => {
    symlinkSync('/etc', join(dir, 'sneaky'))
    writeFileSync(
      join(dir, 'ownops.yml'),
      `cleanup:\n  backups: false\n  rules:\n    sneaky: { type: files, root: ${dir}/sneaky, olderThan: 1d }\n`,
    )
    const r = await runCli(['--json', 'cleanup', '--dry-run'], { env: testEnv(dir), cwd: dir, clock })
    expect(r.code).toBe(1)
    expect(parse(r.stdout).rules[0]?.error).toMatch(/refusing root .*sneaky \(\/etc\): \/etc is a system directory/)
  })
})

describe('logs rule', () => {
  let dir: string
  let cleanup: () => void
  beforeEach(() => ({ dir, cleanup } = tempDir('ownops-cleanup-logs-')))
  afterEach(() => cleanup())

  it('compresses atomically with mode and mtime kept, deletes expired files, caps the total, never touches the newest', async () => {
    const logs = join(dir, 'logs')
    const body = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => `line ${i} of a log file with some text\n`).join(''))
    write(join(logs, 'app.log'), body(2000), 1 * DAY) // newest of its set, stays even though old
    write(join(logs, 'app.log.1'), body(3000), 8 * DAY)
    write(join(logs, 'app.log.2'), body(3000), 15 * DAY)
    write(join(logs, 'app.log.3.gz'), Buffer.alloc(5000, 1), 40 * DAY)
    write(join(logs, 'worker.log'), body(100), 60 * DAY) // alone in its set: the newest
    write(join(logs, 'notes.txt'), 'not a log', 90 * DAY)
    execFileSync('chmod', ['0640', join(logs, 'app.log.1')])
    const mtime1 = statSync(join(logs, 'app.log.1')).mtimeMs
    const original1 = readFileSync(join(logs, 'app.log.1'))
    writeFileSync(
      join(dir, 'ownops.yml'),
      `cleanup:\n  backups: false\n  rules:\n    logs: { type: logs, path: ${logs}/*.log, compressAfter: 7d, deleteAfter: 30d, maxTotalSize: 90KB }\n`,
    )

    const before = listTree(dir)
    const dry = parse((await runCli(['--json', 'cleanup', '--dry-run'], { env: testEnv(dir), cwd: dir, clock })).stdout)
    expect(listTree(dir)).toEqual(before)
    const real = parse((await runCli(['--json', 'cleanup'], { env: testEnv(dir), cwd: dir, clock })).stdout)
    expect(real.ok).toBe(true)
    const summary = (r: Report) => r.rules[0]?.actions.map((a) => [a.action, a.what.replace(logs + '/', ''), a.bytes]) ?? []
    expect(summary(real)).toEqual(summary(dry))
    expect(summary(real).map(([action, what]) => [action, what])).toEqual([
      ['remove', 'app.log.3.gz'],
      ['compress', 'app.log.2'],
      ['compress', 'app.log.1'],
      ['remove', 'app.log.2.gz'], // the cap: oldest first, until at most 90 KB
    ])
    expect(readdirSync(logs).sort()).toEqual(['app.log', 'app.log.1.gz', 'notes.txt', 'worker.log'])
    const gz = join(logs, 'app.log.1.gz')
    expect(gunzipSync(readFileSync(gz)).equals(original1)).toBe(true)
    expect(statSync(gz).mode & 0o777).toBe(0o640)
    expect(Math.round(statSync(gz).mtimeMs / 1000)).toBe(Math.round(mtime1 / 1000))
    const total = readdirSync(logs)
      .filter((n) => n !== 'notes.txt')
      .reduce((s, n) => s + statSync(join(logs, n)).size, 0)
    expect(total).toBeLessThanOrEqual(90_000)
    expect(total).toBeGreaterThan(80_000) // and no more than needed
    expect(readdirSync(logs).some((n) => n.includes('ownops'))).toBe(false)

    const again = parse((await runCli(['--json', 'cleanup'], { env: testEnv(dir), cwd: dir, clock })).stdout)
    expect(again.rules[0]?.actions).toEqual([])
  })

  it('leaves a file alone when NAME.gz exists already', async () => {
    const logs = join(dir, 'logs')
    write(join(logs, 'app.log'), 'current')
    write(join(logs, 'app.log.1'), 'old contents', 10 * DAY)
    write(join(logs, 'app.log.1.gz'), 'someone else made this', 9 * DAY)
    writeFileSync(
      join(dir, 'ownops.yml'),
      `cleanup:\n  backups: false\n  rules:\n    logs: { type: logs, path: ${logs}/*.log, compressAfter: 7d }\n`,
    )
    const r = parse((await runCli(['--json', 'cleanup'], { env: testEnv(dir), cwd: dir, clock })).stdout)
    expect(r.rules[0]?.actions.map((a) => [a.what.replace(logs + '/', ''), a.skipped])).toEqual([
      ['app.log.1', 'app.log.1.gz exists already'],
    ])
    expect(readFileSync(join(logs, 'app.log.1'), 'utf8')).toBe('old contents')
    expect(readFileSync(join(logs, 'app.log.1.gz'), 'utf8')).toBe('someone else made this')
  })
})

describe('backups rule', () => {
  let dir: string
  let cleanup: () => void
  beforeEach(() => ({ dir, cleanup } = tempDir('ownops-cleanup-backups-')))
  afterEach(() => cleanup())

  function makeBackup(target: string, time: Date): string {
    const id = `${target}-${timestampId(time)}`
    const tdir = join(dir, 'backups', target)
    mkdirSync(tdir, { recursive: true })
    const content = `backup ${id}\n`
    writeFileSync(join(tdir, `${id}.tar.zst`), content)
    const manifest = {
      manifestVersion: 1,
      id,
      target,
      type: 'directory',
      file: `${id}.tar.zst`,
      time: time.toISOString(),
      durationMs: 1,
      size: content.length,
      sha256: createHash('sha256').update(content).digest('hex'),
      compression: 'zstd',
      ownopsVersion: '0.0.0',
      host: 'test',
      source: {},
      warnings: [],
    }
    writeFileSync(join(tdir, `${id}.json`), JSON.stringify(manifest))
    return id
  }

  /**
   * restic's forget, written out plainly: per rule, the newest backup of each of the n
   * newest buckets; a rule not used up by then also keeps the oldest backup.
   */
  function expectedKeep(times: Date[], policy: Record<'daily' | 'weekly' | 'monthly' | 'yearly', number>): Set<number> {
    const isoWeek = (d: Date) => {
      const t = new Date(Date.UTC(d.getFullYear(), d.getMonth(), d.getDate()))
      const day = t.getUTCDay() || 7
      t.setUTCDate(t.getUTCDate() + 4 - day)
      const year = t.getUTCFullYear()
      return `${year}-W${Math.ceil(((t.getTime() - Date.UTC(year, 0, 1)) / DAY + 1) / 7)}`
    }
    const buckets = {
      daily: (d: Date) => `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`,
      weekly: isoWeek,
      monthly: (d: Date) => `${d.getFullYear()}-${d.getMonth()}`,
      yearly: (d: Date) => `${d.getFullYear()}`,
    }
    const keep = new Set<number>()
    for (const [rule, n] of Object.entries(policy) as Array<[keyof typeof buckets, number]>) {
      const seen = new Set<string>()
      times.forEach((t, i) => {
        const b = buckets[rule](t)
        if (seen.size >= n) return
        if (!seen.has(b) || i === times.length - 1) keep.add(i)
        seen.add(b)
      })
    }
    return keep
  }

  it('400 daily backups: keeps exactly what the policy says, removes the rest; a second run removes nothing', async () => {
    const now = NOW
    const times = Array.from({ length: 400 }, (_, i) => new Date(now - 60_000 - i * DAY)) // newest first
    const ids = times.map((t) => makeBackup('files', t))
    const policy = { daily: 7, weekly: 4, monthly: 12, yearly: 5 }
    writeFileSync(
      join(dir, 'ownops.yml'),
      `backup:\n  dir: ${dir}/backups\n  targets:\n    files: { type: directory, path: ${dir}/data, keep: ${JSON.stringify(policy)} }\n`,
    )
    const keep = expectedKeep(times, policy)
    expect(keep.size).toBeGreaterThan(15)
    const expectedRemoved = ids.filter((_, i) => !keep.has(i))

    const dry = parse((await runCli(['--json', 'cleanup', 'backups', '--dry-run'], { env: testEnv(dir), cwd: dir, clock })).stdout)
    expect(readdirSync(join(dir, 'backups', 'files'))).toHaveLength(800)
    const real = parse((await runCli(['--json', 'cleanup', 'backups'], { env: testEnv(dir), cwd: dir, clock })).stdout)
    const removed = (r: Report) => r.rules[0]?.actions.map((a) => a.what.replace(/^files\//, '').replace(/\.tar\.zst$/, '')) ?? []
    expect(removed(dry).sort()).toEqual([...expectedRemoved].sort())
    expect(removed(real)).toEqual(removed(dry))
    expect(real.freed).toBe(expectedRemoved.reduce((s, id) => s + `backup ${id}\n`.length, 0))
    const left = readdirSync(join(dir, 'backups', 'files'))
      .filter((n) => n.endsWith('.json'))
      .map((n) => n.slice(0, -5))
      .sort()
    expect(left).toEqual(ids.filter((_, i) => keep.has(i)).sort())
    // A reason for every kept backup.
    const kept = real.rules[0]?.kept ?? []
    expect(kept).toHaveLength(keep.size)
    expect(kept.every((k) => k.reasons.length > 0)).toBe(true)
    expect(kept.find((k) => k.id === ids[0])?.reasons).toContain('daily snapshot')

    const again = parse((await runCli(['--json', 'cleanup', 'backups'], { env: testEnv(dir), cwd: dir, clock })).stdout)
    expect(again.rules[0]?.actions).toEqual([])
  })

  it('removes stale partial files and expired data kept by restores; keeps fresh ones and the newest backup', async () => {
    const now = NOW
    makeBackup('jobs', new Date(now - 40 * DAY)) // the only backup, older than any policy: stays
    const tdir = join(dir, 'backups', 'jobs')
    write(join(tdir, '.jobs-20250101T000000Z.sqlite.gz.999999.partial'), 'x'.repeat(100), 2 * DAY)
    write(join(tdir, `.jobs-20250102T000000Z.sqlite.gz.${process.pid}.partial`), 'in progress', 2 * DAY) // its process is alive
    write(join(tdir, '.jobs-20250103T000000Z.sqlite.gz.999998.partial'), 'fresh', 0)
    const data = join(dir, 'data')
    write(join(data, 'jobs.db'), 'live')
    const oldStamp = timestampId(new Date(now - 10 * DAY))
    const newStamp = timestampId(new Date(now - 2 * DAY))
    write(join(data, `jobs.db.pre-restore-${oldStamp}`), 'old data 1')
    write(join(data, `jobs.db.pre-restore-${oldStamp}-wal`), 'wal')
    write(join(data, `jobs.db.pre-restore-${newStamp}`), 'recent old data')
    write(join(data, `jobs.db.undone-${oldStamp}`), 'undone data')
    write(join(data, `jobs.db.ownops-restore-${newStamp}`), 'staging left by a killed restore')
    write(join(data, `jobsX.db.pre-restore-${oldStamp}`), 'another file, not ours')
    mkdirSync(join(dir, 'state'), { recursive: true })
    writeFileSync(
      join(dir, 'state', 'restore-jobs.json'),
      JSON.stringify({
        target: 'jobs',
        time: new Date(now - 10 * DAY).toISOString(),
        backup: 'x',
        live: join(data, 'jobs.db'),
        kept: join(data, `jobs.db.pre-restore-${oldStamp}`),
      }),
    )
    writeFileSync(
      join(dir, 'ownops.yml'),
      `backup:\n  dir: ${dir}/backups\n  targets:\n    jobs: { type: sqlite, path: ${data}/jobs.db, keep: { within: 7d } }\n`,
    )

    const r = parse((await runCli(['--json', 'cleanup'], { env: testEnv(dir), cwd: dir, clock })).stdout)
    expect(r.ok).toBe(true)
    const what = r.rules[0]?.actions.map((a) => a.what.replace(dir + '/', '')) ?? []
    expect(what.sort()).toEqual(
      [
        'backups/jobs/.jobs-20250101T000000Z.sqlite.gz.999999.partial',
        `data/jobs.db.ownops-restore-${newStamp}`,
        `data/jobs.db.pre-restore-${oldStamp}`,
        `data/jobs.db.pre-restore-${oldStamp}-wal`,
        `data/jobs.db.undone-${oldStamp}`,
      ].sort(),
    )
    expect(readdirSync(data).sort()).toEqual(['jobs.db', `jobs.db.pre-restore-${newStamp}`, `jobsX.db.pre-restore-${oldStamp}`].sort())
    expect(readdirSync(tdir)).toHaveLength(4) // backup + manifest + 2 partials
    expect(existsSync(join(dir, 'state', 'restore-jobs.json'))).toBe(false)
  })
})

describe('sql rule on SQLite', () => {
  let dir: string
  let cleanup: () => void
  beforeEach(() => ({ dir, cleanup } = tempDir('ownops-cleanup-sql-')))
  afterEach(() => cleanup())

  it('25,000 old rows and 5,000 new: the dry run counts, the real run deletes exactly the old ones in 3 batches', async () => {
    const db = join(dir, 'cam.db')
    execFileSync('sqlite3', [
      db,
      `CREATE TABLE frames (id INTEGER PRIMARY KEY, detected INTEGER, captured_at TEXT, payload TEXT);
       WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 30000)
       INSERT INTO frames (detected, captured_at, payload)
       SELECT CASE WHEN i % 7 = 0 THEN 1 ELSE 0 END,
              CASE WHEN i <= 25000 THEN datetime('now', '-20 days') ELSE datetime('now', '-1 days') END,
              hex(randomblob(16)) FROM n;
       UPDATE frames SET detected = 0 WHERE captured_at < datetime('now', '-14 days');`,
    ])
    writeFileSync(
      join(dir, 'ownops.yml'),
      [
        'backup:',
        `  dir: ${dir}/backups`,
        '  targets:',
        `    cam: { type: sqlite, path: ${db} }`,
        'cleanup:',
        '  backups: false',
        '  rules:',
        '    rows:',
        '      type: sql',
        '      target: cam',
        '      table: frames',
        `      where: "detected = 0 AND captured_at < datetime('now', '-14 days')"`,
        '      batch: 10000',
        '      vacuum: true',
        '      analyze: true',
      ].join('\n'),
    )
    const count = () =>
      execFileSync('sqlite3', [db, "SELECT count(*), min(captured_at) > datetime('now', '-14 days') FROM frames"]).toString().trim()
    const dry = parse((await runCli(['--json', 'cleanup', 'rows', '--dry-run'], { env: testEnv(dir), cwd: dir, clock })).stdout)
    expect(dry.rows).toBe(25_000)
    expect(dry.rules[0]?.actions[0]?.reason).toMatch(/25000 rows match, 3 batches of 10000/)
    expect(count()).toBe('30000|0')
    const real = await runCli(['--json', 'cleanup', 'rows'], { env: testEnv(dir), cwd: dir, clock })
    expect(real.code).toBe(0)
    const report = parse(real.stdout)
    expect(report.rows).toBe(25_000)
    expect(report.rules[0]?.actions[0]?.reason).toMatch(/25000 rows in 3 batches of 10000/)
    expect(count()).toBe('5000|1')
    expect(execFileSync('sqlite3', [db, 'PRAGMA integrity_check']).toString().trim()).toBe('ok')
    const again = parse((await runCli(['--json', 'cleanup', 'rows'], { env: testEnv(dir), cwd: dir, clock })).stdout)
    expect(again.rows).toBe(0)
  })

  it("a bad condition fails the rule with the database's own message; other rules still run", async () => {
    const db = join(dir, 'cam.db')
    execFileSync('sqlite3', [db, 'CREATE TABLE frames (id INTEGER PRIMARY KEY, captured_at TEXT)'])
    mkdirSync(join(dir, 'tmp'))
    write(join(dir, 'tmp', 'old'), 'x', 3 * DAY)
    writeFileSync(
      join(dir, 'ownops.yml'),
      `backup:\n  targets:\n    cam: { type: sqlite, path: ${db} }\ncleanup:\n  backups: false\n  rules:\n    rows: { type: sql, target: cam, table: frames, where: "capturedat < 5" }\n    tmp: { type: files, root: ${dir}/tmp, olderThan: 1d }\n`,
    )
    const r = await runCli(['--json', 'cleanup'], { env: testEnv(dir), cwd: dir, clock })
    expect(r.code).toBe(1)
    const report = parse(r.stdout)
    expect(report.rules.map((x) => [x.rule, x.ok])).toEqual([
      ['rows', false],
      ['tmp', true],
    ])
    expect(report.rules[0]?.error).toMatch(/no such column: capturedat/)
    expect(existsSync(join(dir, 'tmp', 'old'))).toBe(false)
  })
})
