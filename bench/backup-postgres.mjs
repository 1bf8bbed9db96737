// PostgreSQL backup through ownops (pg_dump -Fc over the Docker exec API, streamed to a
// checksummed artifact) side by side with `docker exec pg_dump -Fc > file`, on a real
// PostgreSQL 15 in a container (the host's binaries, as the tests run it) seeded with
// pgbench. Needs the Docker engine and the test image (scripts/test-env.sh up).
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

const docker = (...args) => execFileSync('docker', args, { encoding: 'utf8', maxBuffer: 1 << 26 }).trim()

export async function runPostgresBench(root, benchDir, scale = Number(process.env.PG_SCALE ?? 50)) {
  const name = `ownops-test-bench-pg-${process.pid}`
  const pgBin = readdirSync('/usr/lib/postgresql').sort().at(-1)
  const binds = ['/usr', '/lib', '/lib64'].flatMap((p) => ['-v', `${p}:${p}:ro`])
  docker('volume', 'create', '--label', 'ownops-test=1', `${name}-data`)
  try {
    docker('run', '-d', '--name', name, '--label', 'ownops-test=1', '--network', 'none', '--user', 'postgres', ...binds, '-v', `${name}-data:/var/lib/postgresql/data`,
      '-e', `PATH=/usr/lib/postgresql/${pgBin}/bin:/usr/local/bin:/usr/bin:/bin`, '-e', 'PGDATA=/var/lib/postgresql/data', 'ownops-test/busybox:1',
      'sh', '-c', 'initdb -D $PGDATA --auth=trust -U postgres --no-sync >/dev/null && exec postgres -D $PGDATA -k /var/run/postgresql -c listen_addresses= -c fsync=off')
    for (let i = 0; i < 100; i++) {
      if (spawnSync('docker', ['exec', name, 'pg_isready', '-q', '-h', '/var/run/postgresql']).status === 0) break
      await new Promise((r) => setTimeout(r, 300))
    }
    process.stderr.write(`seeding pgbench scale ${scale} …\n`)
    docker('exec', name, 'createdb', '-U', 'postgres', '-h', '/var/run/postgresql', 'bench')
    docker('exec', name, 'pgbench', '-i', '-q', '-s', String(scale), '-U', 'postgres', '-h', '/var/run/postgresql', 'bench')
    const size = docker('exec', name, 'psql', '-At', '-U', 'postgres', '-h', '/var/run/postgresql', '-c', "select pg_size_pretty(pg_database_size('bench'))")
    const out = join(benchDir, 'pg')
    rmSync(out, { recursive: true, force: true })
    mkdirSync(out, { recursive: true })
    const t0 = process.hrtime.bigint()
    execFileSync('sh', ['-c', `docker exec ${name} pg_dump -U postgres -h /var/run/postgresql -Fc bench > '${out}/raw.pgdump'`])
    const rawMs = Number(process.hrtime.bigint() - t0) / 1e6
    writeFileSync(join(out, 'ownops.yml'), `backup:\n  dir: ${join(out, 'backups')}\n  targets:\n    bench: { type: postgres, container: ${name}, database: bench }\n`)
    const code = `import { main } from ${JSON.stringify(join(root, 'dist/cli.js'))}
const exit = await main(['node', 'ownops', '-q', '-c', ${JSON.stringify(join(out, 'ownops.yml'))}, 'backup'])
process.stderr.write('maxrss=' + process.resourceUsage().maxRSS + '\\n'); process.exitCode = exit`
    const t1 = process.hrtime.bigint()
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { env: { ...process.env, OWNOPS_STATE_DIR: join(out, 'state'), OWNOPS_LOCK_DIR: join(out, 'lock') }, encoding: 'utf8' })
    const ownMs = Number(process.hrtime.bigint() - t1) / 1e6
    if (r.status !== 0) throw new Error(`ownops backup failed: ${r.stderr}`)
    const artifact = readdirSync(join(out, 'backups', 'bench')).find((f) => f.endsWith('.pgdump'))
    console.table([{
      database: size,
      'docker exec pg_dump s': (rawMs / 1000).toFixed(1),
      'ownops s': (ownMs / 1000).toFixed(1),
      ratio: (ownMs / rawMs).toFixed(2),
      'raw MiB': (statSync(join(out, 'raw.pgdump')).size / 2 ** 20).toFixed(0),
      'ownops MiB': (statSync(join(out, 'backups', 'bench', artifact)).size / 2 ** 20).toFixed(0),
      'ownops peak RSS MiB': (Number(/maxrss=(\d+)/.exec(r.stderr)?.[1] ?? 0) / 1024).toFixed(0),
    }])
    console.log('ratio target ≤ 1.1 (ownops also hashes, fsyncs and writes a manifest).')

    // Restore: pg_restore of the raw dump into a new database vs ownops restore --to.
    docker('exec', name, 'createdb', '-U', 'postgres', '-h', '/var/run/postgresql', 'bench_raw')
    const t2 = process.hrtime.bigint()
    execFileSync('sh', ['-c', `docker exec -i ${name} pg_restore -U postgres -h /var/run/postgresql --exit-on-error -d bench_raw < '${out}/raw.pgdump'`])
    const rawRestoreMs = Number(process.hrtime.bigint() - t2) / 1e6
    const t3 = process.hrtime.bigint()
    execFileSync(process.execPath, [join(root, 'bin/ownops.js'), '-q', '-c', join(out, 'ownops.yml'), 'restore', 'bench', '--to', 'bench_ownops', '--yes'], { env: { ...process.env, OWNOPS_STATE_DIR: join(out, 'state'), OWNOPS_LOCK_DIR: join(out, 'lock') } })
    const ownRestoreMs = Number(process.hrtime.bigint() - t3) / 1e6
    console.table([{ 'docker exec pg_restore s': (rawRestoreMs / 1000).toFixed(1), 'ownops restore --to s': (ownRestoreMs / 1000).toFixed(1), ratio: (ownRestoreMs / rawRestoreMs).toFixed(2) }])
    console.log('ownops restore also verifies the sha256 first and reads every restored table.')
    rmSync(out, { recursive: true, force: true })
  } finally {
    spawnSync('docker', ['rm', '-f', name], { stdio: 'ignore' })
    spawnSync('docker', ['volume', 'rm', '-f', `${name}-data`], { stdio: 'ignore' })
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { resolve } = await import('node:path')
  const root = resolve(import.meta.dirname, '..')
  await runPostgresBench(root, join(root, '.bench'))
}
