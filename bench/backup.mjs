#!/usr/bin/env node
// Directory backup throughput and memory, side by side with GNU tar at the same settings:
//   ownops backup (gzip 6)  vs  tar -czf        (same gzip level)
//   ownops backup (zstd 3)  vs  tar -I zstd -cf (same zstd level)
// over generated mixed data (random, text-like, zeros, many small files), at two sizes to
// show that ownops' memory stays flat as data grows. Prints wall time, ratio to tar, output
// size and the ownops process's peak RSS (tar/zstd children excluded on both sides).
//
//   node bench/backup.mjs               # 1 GiB and 4 GiB (needs ~12 GiB free under .bench/)
//   node bench/backup.mjs --sizes 1     # 1 GiB only
//   node bench/backup.mjs --postgres    # also pg_dump through ownops vs docker exec pg_dump > file
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'

const root = resolve(import.meta.dirname, '..')
const benchDir = join(root, '.bench')
const args = process.argv.slice(2)
const sizes = (args.includes('--sizes') ? args[args.indexOf('--sizes') + 1] : '1,4').split(',').map(Number)
const GiB = 1024 ** 3

function sh(script) {
  execFileSync('sh', ['-c', script], { stdio: 'inherit' })
}

/** Mixed data: 40% random, 35% text-like (base64 lines), 15% zeros, 10% in 4 KiB..64 KiB small files. */
function generate(dir, bytes) {
  if (existsSync(join(dir, '.complete'))) return
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  const mb = (f) => Math.max(1, Math.round((bytes * f) / 2 ** 20))
  sh(`cd '${dir}' && mkdir -p random text zeros small`)
  for (let i = 0; i < 4; i++) sh(`head -c ${mb(0.1)}M /dev/urandom > '${dir}/random/r${i}.bin'`)
  for (let i = 0; i < 4; i++) sh(`head -c ${Math.round(mb(0.0875) * 0.75)}M /dev/urandom | base64 > '${dir}/text/t${i}.log'`)
  sh(`head -c ${mb(0.15)}M /dev/zero > '${dir}/zeros/z.img'`)
  const smallTotal = bytes * 0.1
  // Small files in one shell loop per directory: fast enough, and real file-system work.
  sh(`cd '${dir}/small' && for d in $(seq 0 99); do mkdir -p "$d"; head -c ${Math.round(smallTotal / 100)} /dev/urandom | base64 | split -b 24k - "$d/f."; done`)
  writeFileSync(join(dir, '.complete'), '')
}

function duBytes(dir) {
  return Number(execFileSync('du', ['-sb', dir]).toString().split('\t')[0])
}

function time(fn) {
  const t0 = process.hrtime.bigint()
  const result = fn()
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, result }
}

function dropCaches() {
  spawnSync('sh', ['-c', 'sync; echo 3 > /proc/sys/vm/drop_caches'], { stdio: 'ignore' })
}

function runOwnops(configFile, stateDir) {
  // ownops in-process under a wrapper that reports this process's own peak RSS.
  const code = `import { main } from ${JSON.stringify(join(root, 'dist/cli.js'))}
const exit = await main(['node', 'ownops', '-q', '-c', ${JSON.stringify(configFile)}, 'backup'])
process.stderr.write('maxrss=' + process.resourceUsage().maxRSS + '\\n')
process.exitCode = exit`
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], {
    env: { ...process.env, OWNOPS_STATE_DIR: stateDir, OWNOPS_LOCK_DIR: join(stateDir, 'lock'), OWNOPS_LOG_FORMAT: 'json' },
    encoding: 'utf8',
  })
  if (r.status !== 0) throw new Error(`ownops backup failed (${r.status}): ${r.stderr}`)
  return Number(/maxrss=(\d+)/.exec(r.stderr)?.[1] ?? 0) / 1024
}

function newestArtifact(dir) {
  const files = readdirSync(dir).filter((f) => !f.endsWith('.json') && !f.startsWith('.'))
  return join(dir, files.sort().at(-1))
}

const rows = []
for (const size of sizes) {
  const data = join(benchDir, `data-${size}g`)
  process.stderr.write(`generating ${size} GiB of mixed data in ${data} …\n`)
  generate(data, size * GiB)
  const input = duBytes(data)
  for (const [compression, level, tarArgs] of [
    ['gzip', 6, ['-czf']],
    ['zstd', 3, ['-I', 'zstd -3 -T0', '-cf']],
  ]) {
    const out = join(benchDir, 'out')
    rmSync(out, { recursive: true, force: true })
    mkdirSync(out, { recursive: true })
    const tarFile = join(out, `baseline.tar.${compression}`)
    dropCaches()
    const tar = time(() => execFileSync('tar', [...tarArgs.slice(0, -1), tarArgs.at(-1), tarFile, '-C', data, '.']))
    // The same with a checksum of the result, which ownops computes while streaming.
    dropCaches()
    const tarSum = time(() => execFileSync('sh', ['-c', `tar ${tarArgs.map((a) => `'${a}'`).join(' ')} '${tarFile}.2' -C '${data}' . && sha256sum '${tarFile}.2' >/dev/null`]))
    const config = join(out, 'ownops.yml')
    writeFileSync(config, `backup:\n  dir: ${join(out, 'backups')}\n  targets:\n    data: { type: directory, path: ${data}, compression: ${compression}, level: ${level} }\n`)
    dropCaches()
    let rss = 0
    const own = time(() => (rss = runOwnops(config, join(out, 'state'))))
    const artifact = newestArtifact(join(out, 'backups', 'data'))
    rows.push({
      data: `${(input / GiB).toFixed(2)} GiB`,
      compression: `${compression} ${level}`,
      'tar s': (tar.ms / 1000).toFixed(1),
      'tar+sha256sum s': (tarSum.ms / 1000).toFixed(1),
      'ownops s': (own.ms / 1000).toFixed(1),
      ratio: (own.ms / tar.ms).toFixed(2),
      'ratio vs tar+sha256sum': (own.ms / tarSum.ms).toFixed(2),
      'tar MiB': (statSync(tarFile).size / 2 ** 20).toFixed(0),
      'ownops MiB': (statSync(artifact).size / 2 ** 20).toFixed(0),
      'ownops peak RSS MiB': rss.toFixed(0),
    })
    rmSync(out, { recursive: true, force: true })
  }
}
console.table(rows)
console.log('ratio = ownops wall time / tar wall time (target ≤ 1.1); ownops also checksums (sha256), fsyncs and writes a manifest,\nso tar+sha256sum is the like-for-like baseline. Peak RSS target ≤ 150 MiB and flat across sizes.')

if (args.includes('--postgres')) {
  const { runPostgresBench } = await import('./backup-postgres.mjs')
  await runPostgresBench(root, benchDir)
}
