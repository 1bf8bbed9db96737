#!/usr/bin/env node
// Directory restore side by side with GNU tar: `ownops restore --to DIR` (which lists and
// checks the archive before extracting, then extracts with tar) vs `tar -xzf` / `tar -I zstd
// -xf` of the same artifact. Uses the mixed data of bench/backup.mjs (.bench/data-1g;
// run that first). Prints wall times and the ratio.
//
//   node bench/restore.mjs
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'

const root = resolve(import.meta.dirname, '..')
const data = join(root, '.bench', 'data-1g')
if (!existsSync(join(data, '.complete'))) {
  console.error('run `node bench/backup.mjs --sizes 1` first: it generates .bench/data-1g')
  process.exit(1)
}
const out = join(root, '.bench', 'restore')
const rows = []
for (const [compression, flags] of [['gzip', ['-xzf']], ['zstd', ['-I', 'zstd', '-xf']]]) {
  rmSync(out, { recursive: true, force: true })
  mkdirSync(out, { recursive: true })
  const config = join(out, 'ownops.yml')
  writeFileSync(config, `backup:\n  dir: ${join(out, 'backups')}\n  targets:\n    data: { type: directory, path: ${data}, compression: ${compression} }\n`)
  const env = { ...process.env, OWNOPS_STATE_DIR: join(out, 'state'), OWNOPS_LOCK_DIR: join(out, 'lock'), OWNOPS_LOG_FORMAT: 'json' }
  execFileSync(process.execPath, [join(root, 'bin/ownops.js'), '-q', '-c', config, 'backup'], { env })
  const artifact = join(out, 'backups', 'data', readdirSync(join(out, 'backups', 'data')).find((f) => f.includes('.tar')))
  spawnSync('sh', ['-c', 'sync; echo 3 > /proc/sys/vm/drop_caches'])
  mkdirSync(join(out, 'tar'))
  let t = process.hrtime.bigint()
  execFileSync('tar', [...flags, artifact, '-C', join(out, 'tar')])
  const tarMs = Number(process.hrtime.bigint() - t) / 1e6
  spawnSync('sh', ['-c', 'sync; echo 3 > /proc/sys/vm/drop_caches'])
  t = process.hrtime.bigint()
  execFileSync(process.execPath, [join(root, 'bin/ownops.js'), '-q', '-c', config, 'restore', 'data', '--to', join(out, 'ownops'), '--yes'], { env })
  const ownMs = Number(process.hrtime.bigint() - t) / 1e6
  rows.push({ compression, 'tar -x s': (tarMs / 1000).toFixed(1), 'ownops restore --to s': (ownMs / 1000).toFixed(1), ratio: (ownMs / tarMs).toFixed(2) })
}
rmSync(out, { recursive: true, force: true })
console.table(rows)
console.log('ownops also verifies the sha256 and lists the archive for unsafe entries before it extracts.')
