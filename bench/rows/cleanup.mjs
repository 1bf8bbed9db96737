// Clean-up beside what it replaces:
//  - files: `ownops cleanup` (files rule, match "**", olderThan 90d) vs
//    `find ROOT -mindepth 1 -mtime +90 -delete`, on identical trees (100 files per job
//    directory, half of them older than 90 days), made afresh for every run;
//  - rows: a batched delete (batch 10,000) of 5/6 of a SQLite table's rows vs one
//    `DELETE … WHERE` in the sqlite3 shell.
import { execFileSync } from 'node:child_process'
import { mkdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { bin, cleanEnv, measure, pairs } from '../lib.mjs'

export async function* rows(opts) {
  const dir = join(opts.benchDir, 'cleanup')
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  const env = cleanEnv({ OWNOPS_STATE_DIR: join(dir, 'state'), OWNOPS_LOCK_DIR: join(dir, 'lock') })
  const old = new Date(Date.now() - 120 * 86_400_000)
  const makeTree = (tree) => {
    rmSync(tree, { recursive: true, force: true })
    for (let j = 0; j < opts.cleanupFiles / 100; j++) {
      const job = join(tree, `job-${j}`)
      mkdirSync(job, { recursive: true })
      for (let f = 0; f < 100; f++) writeFileSync(join(job, `out-${f}.csv`), 'x'.repeat(200))
      if (j % 2 === 0) {
        for (let f = 0; f < 100; f++) utimesSync(join(job, `out-${f}.csv`), old, old)
        utimesSync(job, old, old)
      }
    }
  }
  const count = (cmd) => execFileSync('sh', ['-c', cmd]).toString().trim()
  try {
    const a = join(dir, 'tree-find')
    const b = join(dir, 'tree-ownops')
    const filesConfig = join(dir, 'files.yml')
    writeFileSync(
      filesConfig,
      `backup: { dir: ${join(dir, 'backups')} }\ncleanup:\n  backups: false\n  rules:\n    results: { type: files, root: ${b}, match: "**", olderThan: 90d }\n`,
    )
    const files = await pairs(
      opts.runs,
      { prepare: () => makeTree(b), run: () => measure([opts.node, bin, '-q', '-c', filesConfig, 'cleanup'], { env }) },
      { prepare: () => makeTree(a), run: () => measure(['find', a, '-mindepth', '1', '-mtime', '+90', '-delete'], { env }) },
      { warmup: 0 },
    )
    const left = [count(`find ${a} -type f | wc -l`), count(`find ${b} -type f | wc -l`)]
    if (left[0] !== left[1]) throw new Error(`find left ${left[0]} files, ownops ${left[1]}`)
    yield {
      work: `clean-up, ${opts.cleanupFiles} files, half old`,
      measure: 'wall',
      ownops: files.ownops.wallMs,
      baseline: files.baseline.wallMs,
      baselineName: '`find -mtime +90 -delete`',
      cpuRatio: files.ownops.cpuMs / files.baseline.cpuMs,
      rssMiB: files.ownops.rssMiB,
      load: files.load,
    }

    const total = Math.round(opts.cleanupRows * 1.2)
    const makeDb = (db) => {
      rmSync(db, { force: true })
      for (const suffix of ['-wal', '-shm']) rmSync(db + suffix, { force: true })
      execFileSync('sqlite3', [
        db,
        `PRAGMA journal_mode=WAL; CREATE TABLE frames (id INTEGER PRIMARY KEY, detected INTEGER, captured_at TEXT, payload TEXT);
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${total})
         INSERT INTO frames (detected, captured_at, payload) SELECT 0, CASE WHEN i <= ${opts.cleanupRows} THEN datetime('now', '-20 days') ELSE datetime('now') END, hex(randomblob(32)) FROM n;`,
      ])
    }
    const one = join(dir, 'one.db')
    const batched = join(dir, 'batched.db')
    const sqlConfig = join(dir, 'sql.yml')
    writeFileSync(
      sqlConfig,
      `backup:\n  dir: ${join(dir, 'backups')}\n  targets:\n    cam: { type: sqlite, path: ${batched} }\ncleanup:\n  backups: false\n  rules:\n    rows: { type: sql, target: cam, table: frames, where: "captured_at < datetime('now', '-14 days')", batch: 10000 }\n`,
    )
    const sql = await pairs(
      opts.runs,
      { prepare: () => makeDb(batched), run: () => measure([opts.node, bin, '-q', '-c', sqlConfig, 'cleanup'], { env }) },
      {
        prepare: () => makeDb(one),
        run: () => measure(['sqlite3', one, "DELETE FROM frames WHERE captured_at < datetime('now', '-14 days')"], { env }),
      },
      { warmup: 0 },
    )
    const rowsLeft = [count(`sqlite3 ${one} 'SELECT count(*) FROM frames'`), count(`sqlite3 ${batched} 'SELECT count(*) FROM frames'`)]
    if (rowsLeft[0] !== rowsLeft[1]) throw new Error(`one DELETE left ${rowsLeft[0]} rows, ownops ${rowsLeft[1]}`)
    yield {
      work: `clean-up, ${opts.cleanupRows} of ${total} SQLite rows`,
      measure: 'wall',
      ownops: sql.ownops.wallMs,
      baseline: sql.baseline.wallMs,
      baselineName: 'one `DELETE` (sqlite3)',
      cpuRatio: sql.ownops.cpuMs / sql.baseline.cpuMs,
      rssMiB: sql.ownops.rssMiB,
      load: sql.load,
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
