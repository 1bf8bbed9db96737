/**
 * The Prometheus textfiles of monitor and backup: every check's (every target's) last
 * result survives a partial run, and the files pass `promtool check metrics` (Debian's
 * prometheus package; scripts/test-env.sh installs it).
 */
import { execFile, execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { renderBackupMetrics } from '../../src/backup/metrics.js'
import { runCli, tempDir, testEnv } from '../helpers/cli.js'
import { startHttpPeer, type HttpPeer } from '../helpers/http-peer.js'

let dir: string
let cleanup: () => void
const peers: HttpPeer[] = []
beforeEach(() => {
  ;({ dir, cleanup } = tempDir('ownops-test-metrics-'))
})
afterEach(async () => {
  await Promise.all(peers.splice(0).map((p) => p.close()))
  cleanup()
})

/** `promtool check metrics` on the text: resolves with its complaints ('' when there are none). */
function promtool(text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile('promtool', ['check', 'metrics'], (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') return reject(error) // not installed: the test fails, it does not skip
      resolve(`${stdout}${stderr}`.trim())
    })
    child.stdin?.end(text)
  })
}

/** The sample lines of the text, by series (name and labels) → value. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const at = line.lastIndexOf(' ')
    out.set(line.slice(0, at), Number(line.slice(at + 1)))
  }
  return out
}

describe('monitor textfile', () => {
  it("a partial run (`monitor api`) keeps every check's last result; the file passes promtool", async () => {
    const web = await startHttpPeer()
    peers.push(web)
    web.reply((req) => ({ status: req.path === '/ok' ? 200 : 500 }))
    const prom = join(dir, 'textfile', 'ownops.prom')
    writeFileSync(
      join(dir, 'ownops.yml'),
      JSON.stringify({
        monitor: {
          builtins: false,
          prometheus: { textfile: prom },
          checks: {
            api: { kind: 'http', url: `${web.url}/ok` },
            db: { kind: 'http', url: `${web.url}/fail` },
            disk: { kind: 'filesystem', paths: [dir] },
            job: { kind: 'command', command: ['true'] },
          },
        },
      }),
    )
    const env = testEnv(dir, { DOCKER_HOST: `unix://${join(dir, 'no-docker.sock')}` })
    let now = Date.parse('2026-03-01T03:00:00Z')
    const clock = () => new Date(now)
    const full = await runCli(['monitor'], { env, cwd: dir, clock })
    expect(full.code, full.stderr).toBe(1) // db is critical
    const first = readFileSync(prom, 'utf8')
    expect(await promtool(first)).toBe('')

    now += 5 * 60_000
    const partial = await runCli(['monitor', 'api'], { env, cwd: dir, clock })
    expect(partial.code, partial.stderr).toBe(0)
    const text = readFileSync(prom, 'utf8')
    expect(await promtool(text)).toBe('')
    const s = samples(text)
    // Every check is still there, each with the time it last ran.
    expect(s.get('ownops_monitor_status{check="api",kind="http"}')).toBe(0)
    expect(s.get('ownops_monitor_status{check="db",kind="http"}')).toBe(2)
    expect(s.get('ownops_monitor_status{check="job",kind="command"}')).toBe(0)
    expect(s.get(`ownops_monitor_status{check="disk",kind="filesystem",subject="${dir}"}`)).toBe(0)
    expect(s.get('ownops_monitor_check_timestamp_seconds{check="api",kind="http"}')).toBe(now / 1000)
    expect(s.get('ownops_monitor_check_timestamp_seconds{check="db",kind="http"}')).toBe(now / 1000 - 300)
    expect(s.get('ownops_monitor_http_status_code{check="db",kind="http"}')).toBe(500)
    expect(s.get('ownops_monitor_last_run_timestamp_seconds')).toBe(now / 1000)
    expect(s.get('ownops_monitor_checks{status="critical"}')).toBe(1)
    // Conventions: ratios 0–1, no percent, no empty label, HELP and TYPE for every family.
    const ratio = s.get(`ownops_monitor_used_ratio{check="disk",kind="filesystem",subject="${dir}"}`) as number
    expect(ratio).toBeGreaterThan(0)
    expect(ratio).toBeLessThanOrEqual(1)
    expect(text).not.toMatch(/percent|=""/)
    const names = new Set([...s.keys()].map((k) => k.split('{')[0]))
    for (const name of names) {
      expect(text).toMatch(new RegExp(`^# HELP ${name} \\S.{10,}$`, 'm'))
      expect(text).toMatch(new RegExp(`^# TYPE ${name} (gauge|counter)$`, 'm'))
    }

    // A check removed from the config leaves the file with the next run.
    const config = JSON.parse(readFileSync(join(dir, 'ownops.yml'), 'utf8')) as { monitor: { checks: Record<string, unknown> } }
    delete config.monitor.checks.db
    writeFileSync(join(dir, 'ownops.yml'), JSON.stringify(config))
    now += 5 * 60_000
    await runCli(['monitor', 'api'], { env, cwd: dir, clock })
    expect(readFileSync(prom, 'utf8')).not.toContain('check="db"')
  })
})

describe('backup textfile', () => {
  it("`backup b` after `backup a` keeps a's last result; the file passes promtool", async () => {
    const prom = join(dir, 'backup.prom')
    for (const name of ['a', 'b']) execFileSync('sqlite3', [join(dir, `${name}.db`), 'create table t(x); insert into t values (1);'])
    writeFileSync(
      join(dir, 'ownops.yml'),
      `backup:\n  dir: ${join(dir, 'backups')}\n  prometheus: ${prom}\n  targets:\n    a: { type: sqlite, path: ${join(dir, 'a.db')} }\n    b: { type: sqlite, path: ${join(dir, 'b.db')} }\n    c: { type: sqlite, path: ${join(dir, 'missing', 'c.db')} }\n`,
    )
    const env = testEnv(dir)
    expect((await runCli(['backup', 'a'], { env, cwd: dir })).code).toBe(0)
    expect((await runCli(['backup', 'c'], { env, cwd: dir })).code).toBe(1)
    const r = await runCli(['backup', 'b'], { env, cwd: dir })
    expect(r.code, r.stderr).toBe(0)
    const text = readFileSync(prom, 'utf8')
    expect(await promtool(text)).toBe('')
    const s = samples(text)
    expect(s.get('ownops_backup_last_run_success{target="a"}')).toBe(1)
    expect(s.get('ownops_backup_last_run_success{target="b"}')).toBe(1)
    expect(s.get('ownops_backup_last_run_success{target="c"}')).toBe(0) // the failure is not forgotten either
    expect(s.get('ownops_backup_kept{target="a"}')).toBe(1)
    expect(s.get('ownops_backup_kept{target="c"}')).toBe(0)
  })

  it('the rendered file passes promtool, with and without backups', async () => {
    expect(await promtool(renderBackupMetrics([{ target: 'db', dir: '', backups: [], oddities: [] }], []))).toBe('')
  })
})
