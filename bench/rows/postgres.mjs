// PostgreSQL backups and restores beside the raw tools on a real PostgreSQL in a container
// seeded with pgbench (scale 100 ≈ 1.5 GB):
//   ownops backup                     vs  docker exec C pg_dump -Fc DB > FILE
//   ownops restore TARGET --to NEWDB  vs  docker exec C createdb NEWDB && docker exec -i C pg_restore -d NEWDB < FILE
// ownops' dump goes through the Docker exec API and is hashed, fsync'd and given a manifest;
// its restore verifies the checksum first and counts the rows of every restored table.
// Wall time: the dump and the load run under the engine, not in either side's process tree.
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { bin, cleanEnv, measure, MiB, pairs, quote } from '../lib.mjs'
import { docker, dockerOrSkip, startPostgres } from './docker.mjs'

export async function* rows(opts) {
  dockerOrSkip()
  const pg = await startPostgres(opts.onCleanup)
  const dir = join(opts.benchDir, 'postgres')
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  try {
    opts.progress(`postgres: seeding pgbench scale ${opts.pgScale} in ${pg.name} …`)
    await docker('exec', pg.name, 'createdb', 'bench')
    await docker('exec', pg.name, 'pgbench', '-i', '-q', '-s', String(opts.pgScale), 'bench')
    const size = (await docker('exec', pg.name, 'psql', '-At', '-c', "select pg_size_pretty(pg_database_size('bench'))", 'bench')).trim()
    const backups = join(dir, 'backups')
    const config = join(dir, 'ownops.yml')
    writeFileSync(config, `backup:\n  dir: ${backups}\n  targets:\n    bench: { type: postgres, container: ${pg.name}, database: bench }\n`)
    const env = cleanEnv({ OWNOPS_STATE_DIR: join(dir, 'state'), OWNOPS_LOCK_DIR: join(dir, 'lock') })
    const raw = join(dir, 'raw.pgdump')
    let ownSize = 0
    const backup = await pairs(
      opts.runs,
      {
        prepare: () => rmSync(backups, { recursive: true, force: true }),
        run: () => measure([opts.node, bin, '-q', '-c', config, 'backup'], { env }),
        after: () =>
          (ownSize = statSync(
            join(
              backups,
              'bench',
              readdirSync(join(backups, 'bench')).find((f) => f.endsWith('.pgdump')),
            ),
          ).size),
      },
      { run: () => measure(['sh', '-c', `docker exec ${pg.name} pg_dump -Fc bench > ${quote(raw)}`], { env }) },
      { warmup: opts.warmup },
    )
    yield {
      work: `PostgreSQL backup, ${size} database (pgbench -s ${opts.pgScale})`,
      measure: 'wall',
      ownops: backup.ownops.wallMs,
      baseline: backup.baseline.wallMs,
      baselineName: '`docker exec pg_dump -Fc`',
      goal: 1.1,
      rssMiB: backup.ownops.rssMiB,
      load: backup.load,
      note: `dump ${(ownSize / MiB).toFixed(1)} MiB (ownops) vs ${(statSync(raw).size / MiB).toFixed(1)} MiB (raw)`,
    }

    let n = 0
    const drop = (db) => docker('exec', pg.name, 'dropdb', '--if-exists', db)
    const restore = await pairs(
      opts.runs,
      {
        run: () => measure([opts.node, bin, '-q', '-c', config, 'restore', 'bench', '--to', `bench_own_${n}`, '--yes'], { env }),
        after: () => drop(`bench_own_${n++}`),
      },
      {
        run: () =>
          measure(
            [
              'sh',
              '-c',
              `docker exec ${pg.name} createdb bench_raw_${n} && docker exec -i ${pg.name} pg_restore --exit-on-error -d bench_raw_${n} < ${quote(raw)}`,
            ],
            { env },
          ),
        after: () => drop(`bench_raw_${n++}`),
      },
      { warmup: opts.warmup },
    )
    yield {
      work: `PostgreSQL restore, ${size} database`,
      measure: 'wall',
      ownops: restore.ownops.wallMs,
      baseline: restore.baseline.wallMs,
      baselineName: '`docker exec pg_restore`',
      goal: 1.1,
      rssMiB: restore.ownops.rssMiB,
      load: restore.load,
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
    await pg.cleanup()
  }
}
