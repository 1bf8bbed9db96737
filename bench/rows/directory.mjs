// Directory backups and restores beside GNU tar at the same settings, on mixed data:
//   ownops backup (zstd 3)   vs  tar -I "zstd -3 -T0" -cf
//   ownops backup (gzip 6)   vs  tar -czf
//   ownops restore --to DIR  vs  tar -I zstd -xf  (of the same artifact)
// ownops also checksums, fsyncs and writes a manifest; its restore verifies the checksum and
// checks every entry of the archive before anything is extracted, and counts what it restored.
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { bin, cleanEnv, duBytes, measure, MiB, mixedData, pairs, quote, sh } from '../lib.mjs'

export async function* rows(opts) {
  const mb = Math.round(opts.sizeBytes / MiB)
  const data = await mixedData(join(opts.benchDir, `data-${mb}m`), opts.sizeBytes)
  const size = `${Math.round((await duBytes(data)) / MiB)} MB mixed`
  const dir = join(opts.benchDir, 'directory')
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  const env = cleanEnv({ OWNOPS_STATE_DIR: join(dir, 'state'), OWNOPS_LOCK_DIR: join(dir, 'lock') })
  const ownopsConfig = (name, compression, backups) => {
    const file = join(dir, `${name}.yml`)
    writeFileSync(
      file,
      `backup:\n  dir: ${backups}\n  targets:\n    data: { type: directory, path: ${data}, compression: ${compression} }\n`,
    )
    return file
  }
  // Warm the page cache for both sides alike.
  await sh(`tar -cf - -C ${quote(data)} . > /dev/null`)

  for (const [compression, tarArgs, ext] of [
    ['zstd', ['-I', 'zstd -3 -T0', '-cf'], 'tar.zst'],
    ['gzip', ['-czf'], 'tar.gz'],
  ]) {
    const backups = join(dir, `backups-${compression}`)
    const config = ownopsConfig(compression, compression, backups)
    const out = join(dir, `baseline.${ext}`)
    let ownSize = 0
    let tarSize = 0
    const r = await pairs(
      opts.runs,
      {
        prepare: () => rmSync(backups, { recursive: true, force: true }),
        run: () => measure([opts.node, bin, '-q', '-c', config, 'backup'], { env }),
        after: () => (ownSize = artifactSize(join(backups, 'data'))),
      },
      {
        prepare: () => rmSync(out, { force: true }),
        run: () => measure(['tar', ...tarArgs, out, '-C', data, '.'], { env }),
        after: () => (tarSize = statSync(out).size),
      },
      { warmup: opts.warmup },
    )
    rmSync(out, { force: true })
    yield {
      work: `directory backup, ${size}, ${compression}`,
      measure: 'wall',
      ownops: r.ownops.wallMs,
      baseline: r.baseline.wallMs,
      baselineName: compression === 'zstd' ? '`tar -I "zstd -3 -T0" -cf`' : '`tar -czf`',
      goal: compression === 'zstd' ? 1.2 : 1.0,
      cpuRatio: r.ownops.cpuMs / r.baseline.cpuMs,
      rssMiB: r.ownops.rssMiB,
      load: r.load,
      note: `${compression}: output ${(ownSize / MiB).toFixed(1)} MiB (ownops) vs ${(tarSize / MiB).toFixed(1)} MiB (tar); CPU ${Math.round(r.ownops.cpuMs)} vs ${Math.round(r.baseline.cpuMs)} ms`,
    }
  }

  // Restore of the zstd artifact.
  const backups = join(dir, 'backups-zstd')
  const config = ownopsConfig('restore', 'zstd', backups)
  const artifact = join(
    backups,
    'data',
    readdirSync(join(backups, 'data')).find((f) => f.endsWith('.tar.zst')),
  )
  const ownDest = join(dir, 'restored-ownops')
  const tarDest = join(dir, 'restored-tar')
  const r = await pairs(
    opts.runs,
    {
      prepare: () => rmSync(ownDest, { recursive: true, force: true }),
      run: () => measure([opts.node, bin, '-q', '-c', config, 'restore', 'data', '--to', ownDest, '--yes'], { env }),
    },
    {
      prepare: () => {
        rmSync(tarDest, { recursive: true, force: true })
        mkdirSync(tarDest)
      },
      run: () => measure(['tar', '-I', 'zstd', '-xf', artifact, '-C', tarDest], { env }),
    },
    { warmup: opts.warmup },
  )
  // Both sides restored the same tree.
  await sh(`diff -r ${quote(data)} ${quote(ownDest)} && diff -r ${quote(ownDest)} ${quote(tarDest)}`)
  rmSync(ownDest, { recursive: true, force: true })
  rmSync(tarDest, { recursive: true, force: true })
  yield {
    work: `directory restore, ${size}, zstd`,
    measure: 'wall',
    ownops: r.ownops.wallMs,
    baseline: r.baseline.wallMs,
    baselineName: '`tar -I zstd -xf`',
    goal: 1.2,
    cpuRatio: r.ownops.cpuMs / r.baseline.cpuMs,
    rssMiB: r.ownops.rssMiB,
    load: r.load,
  }
  rmSync(dir, { recursive: true, force: true })
}

export function artifactSize(dir) {
  const file = readdirSync(dir).find((f) => /\.(tar|pgdump|sql)/.test(f) && !f.endsWith('.json') && !f.startsWith('.'))
  if (file === undefined) throw new Error(`no artifact in ${dir}`)
  return statSync(join(dir, file)).size
}
