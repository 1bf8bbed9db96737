#!/usr/bin/env node
// Clean-up side by side with what it replaces:
//  - files: `ownops cleanup` (files rule, match "**", olderThan 90d) vs
//    `find ROOT -mindepth 1 -mtime +90 -delete` on two identical trees of N files in
//    N/100 job directories, half of them older than 90 days;
//  - sql: a batched delete of 1,000,000 old rows of 1,200,000 from a SQLite table
//    (batch 10,000) vs one `DELETE … WHERE` in the sqlite3 shell.
// Prints wall times, the ratio and ownops' peak RSS.
//
//   node bench/cleanup.mjs [--files 100000] [--rows 1000000]
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'

const arg = (name, fallback) => {
  const i = process.argv.indexOf(name)
  return i === -1 ? fallback : Number(process.argv[i + 1])
}
const FILES = arg('--files', 100_000)
const ROWS = arg('--rows', 1_000_000)
const root = resolve(import.meta.dirname, '..')
const out = join(root, '.bench', 'cleanup')
const bin = join(root, 'bin/ownops.js')
rmSync(out, { recursive: true, force: true })
mkdirSync(out, { recursive: true })
const env = { ...process.env, OWNOPS_STATE_DIR: join(out, 'state'), OWNOPS_LOCK_DIR: join(out, 'lock'), OWNOPS_LOG_FORMAT: 'json' }
const old = new Date(Date.now() - 120 * 86_400_000)

function makeTree(dir) {
  for (let j = 0; j < FILES / 100; j++) {
    const job = join(dir, `job-${j}`)
    mkdirSync(job, { recursive: true })
    for (let f = 0; f < 100; f++) writeFileSync(join(job, `out-${f}.csv`), 'x'.repeat(200))
    if (j % 2 === 0) {
      for (let f = 0; f < 100; f++) utimesSync(join(job, `out-${f}.csv`), old, old)
      utimesSync(job, old, old)
    }
  }
}

/** Runs a command under /usr/bin/time -v: wall ms and max RSS in MiB. */
function timed(cmd, args, options = {}) {
  const r = spawnSync('/usr/bin/time', ['-v', cmd, ...args], { ...options, encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr}`)
  const wall = /Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):(\d+(?:\.\d+)?)/.exec(r.stderr)
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr)
  const ms = wall ? ((Number(wall[1] ?? 0) * 60 + Number(wall[2])) * 60 + Number(wall[3])) * 1000 : NaN
  return { ms, rssMiB: rss ? Number(rss[1]) / 1024 : NaN }
}

const rows = []
{
  const a = join(out, 'tree-find')
  const b = join(out, 'tree-ownops')
  makeTree(a)
  makeTree(b)
  writeFileSync(join(out, 'files.yml'), `backup: { dir: ${join(out, 'backups')} }\ncleanup:\n  backups: false\n  rules:\n    results: { type: files, root: ${b}, match: "**", olderThan: 90d }\n`)
  spawnSync('sh', ['-c', 'sync; echo 3 > /proc/sys/vm/drop_caches'])
  const find = timed('find', [a, '-mindepth', '1', '-mtime', '+90', '-delete'])
  spawnSync('sh', ['-c', 'sync; echo 3 > /proc/sys/vm/drop_caches'])
  const own = timed(process.execPath, [bin, '-q', '-c', join(out, 'files.yml'), 'cleanup'], { env })
  const left = (dir) => Number(execFileSync('sh', ['-c', `find ${dir} -type f | wc -l`]).toString().trim())
  rows.push({ job: `files: ${FILES} files, half old`, baseline: 'find -mtime +90 -delete', 'baseline s': (find.ms / 1000).toFixed(2), 'ownops s': (own.ms / 1000).toFixed(2), ratio: (own.ms / find.ms).toFixed(2), 'ownops RSS MiB': own.rssMiB.toFixed(0), 'files left (find / ownops)': `${left(a)} / ${left(b)}` })
}
{
  const make = (db) =>
    execFileSync('sqlite3', [
      db,
      `PRAGMA journal_mode=WAL; CREATE TABLE frames (id INTEGER PRIMARY KEY, detected INTEGER, captured_at TEXT, payload TEXT);
       WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${Math.round(ROWS * 1.2)})
       INSERT INTO frames (detected, captured_at, payload) SELECT 0, CASE WHEN i <= ${ROWS} THEN datetime('now', '-20 days') ELSE datetime('now') END, hex(randomblob(32)) FROM n;`,
    ])
  const a = join(out, 'one.db')
  const b = join(out, 'batched.db')
  make(a)
  make(b)
  writeFileSync(join(out, 'sql.yml'), `backup:\n  dir: ${join(out, 'backups')}\n  targets:\n    cam: { type: sqlite, path: ${b} }\ncleanup:\n  backups: false\n  rules:\n    rows: { type: sql, target: cam, table: frames, where: "captured_at < datetime('now', '-14 days')", batch: 10000 }\n`)
  const one = timed('sqlite3', [a, "DELETE FROM frames WHERE captured_at < datetime('now', '-14 days')"])
  const own = timed(process.execPath, [bin, '-q', '-c', join(out, 'sql.yml'), 'cleanup'], { env })
  const count = (db) => execFileSync('sqlite3', [db, 'SELECT count(*) FROM frames']).toString().trim()
  rows.push({ job: `sql: ${ROWS} of ${Math.round(ROWS * 1.2)} rows`, baseline: 'one DELETE (sqlite3)', 'baseline s': (one.ms / 1000).toFixed(2), 'ownops s': (own.ms / 1000).toFixed(2), ratio: (own.ms / one.ms).toFixed(2), 'ownops RSS MiB': own.rssMiB.toFixed(0), 'files left (find / ownops)': `rows left ${count(a)} / ${count(b)}` })
}
rmSync(out, { recursive: true, force: true })
console.table(rows)
