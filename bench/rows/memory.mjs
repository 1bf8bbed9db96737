// Memory as data grows: ownops' peak RSS backing up 1 GiB and 4 GiB of mixed data (zstd,
// the default, and gzip, whose stream passes through Node). It must stay flat, under 150 MB.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { bin, cleanEnv, fmtMs, GiB, measure, mixedData } from '../lib.mjs'

export async function* rows(opts) {
  const dir = join(opts.benchDir, 'memory')
  const [small, large] = opts.memoryGiB
  const label = (g) => (g >= 1 ? `${g} GiB` : `${Math.round(g * 1024)} MiB`)
  const data = {}
  for (const g of [small, large]) {
    opts.progress(`memory: mixed data of ${label(g)} …`)
    data[g] = await mixedData(join(opts.benchDir, `data-${label(g).replace(' ', '')}`), g * GiB)
  }
  for (const compression of ['zstd', 'gzip']) {
    const result = {}
    for (const g of [small, large]) {
      rmSync(dir, { recursive: true, force: true })
      mkdirSync(dir, { recursive: true })
      const config = join(dir, 'ownops.yml')
      writeFileSync(
        config,
        `backup:\n  dir: ${join(dir, 'backups')}\n  targets:\n    data: { type: directory, path: ${data[g]}, compression: ${compression} }\n`,
      )
      const env = cleanEnv({ OWNOPS_STATE_DIR: join(dir, 'state'), OWNOPS_LOCK_DIR: join(dir, 'lock') })
      result[g] = await measure([opts.node, bin, '-q', '-c', config, 'backup'], { env })
    }
    rmSync(dir, { recursive: true, force: true })
    yield {
      work: `memory, directory backup ${label(small)} → ${label(large)}, ${compression}`,
      measure: 'peak RSS',
      ownopsText: `${Math.round(result[large].rssMiB)} MiB at ${label(large)}`,
      baselineText: `${Math.round(result[small].rssMiB)} MiB at ${label(small)}`,
      ratio: result[large].rssMiB / result[small].rssMiB,
      goalText: '≤ 150 MB, flat',
      // 150 MB = 143 MiB; flat: within 15 MiB of the smaller run.
      met: result[large].rssMiB <= 143 && result[large].rssMiB <= result[small].rssMiB + 15,
      rssMiB: result[large].rssMiB,
      load: (result[small].load + result[large].load) / 2,
      note: `${compression}: ${fmtMs(result[small].wallMs)} for ${label(small)}, ${fmtMs(result[large].wallMs)} for ${label(large)}`,
    }
  }
}
