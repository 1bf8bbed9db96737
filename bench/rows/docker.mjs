// Containers for the bench, made with the docker CLI the way test/helpers/docker.ts makes
// them: the offline test image, the host's /usr, /lib, /lib64 read-only (PostgreSQL runs
// from the host's binaries), network none, named ownops-test-bench-* and labelled
// ownops-test=1 so that `scripts/test-env.sh down` finds what an interrupted bench left.
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { sh } from '../lib.mjs'

export const IMAGE = 'ownops-test/busybox:1'
const IMAGE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

export function dockerOrSkip() {
  const r = spawnSync('docker', ['image', 'inspect', IMAGE], { stdio: 'ignore' })
  if (r.error || r.status !== 0) {
    const error = new Error(`needs the Docker engine and the test image ${IMAGE} (bash scripts/test-env.sh up)`)
    if (process.env.OWNOPS_REQUIRE_DOCKER !== '1' && process.env.CI !== 'true') error.skip = true
    throw error
  }
}

export function benchName(what) {
  return `ownops-test-bench-${what}-${process.pid}-${Math.random().toString(16).slice(2, 8)}`
}

export const docker = (...args) => sh(`docker ${args.map((a) => `'${String(a).replace(/'/g, "'\\''")}'`).join(' ')}`)

export function removeContainers(names) {
  if (names.length > 0) spawnSync('docker', ['rm', '-f', '-v', ...names], { stdio: 'ignore' })
}

/** PostgreSQL (the host's major version) in a container, ready to take connections. */
export async function startPostgres(onCleanup) {
  const versions = existsSync('/usr/lib/postgresql')
    ? readdirSync('/usr/lib/postgresql').filter((v) => existsSync(`/usr/lib/postgresql/${v}/bin/postgres`))
    : []
  const version = versions.sort((a, b) => Number(b) - Number(a))[0]
  if (version === undefined) throw new Error('no PostgreSQL server on the host (apt-get install postgresql)')
  const name = benchName('pg')
  const volume = `${name}-data`
  const cleanup = async () => {
    spawnSync('docker', ['rm', '-f', '-v', name], { stdio: 'ignore' })
    spawnSync('docker', ['volume', 'rm', '-f', volume], { stdio: 'ignore' })
  }
  onCleanup(cleanup)
  await docker('volume', 'create', '--label', 'ownops-test=1', volume)
  const binds = ['/usr', '/lib', '/lib64'].filter((p) => existsSync(p)).flatMap((p) => ['-v', `${p}:${p}:ro`])
  const script = `set -e; if [ ! -s "$PGDATA/PG_VERSION" ]; then initdb -D "$PGDATA" --auth=trust -U postgres -E UTF8 --locale=C --no-sync >/dev/null; fi; exec postgres -D "$PGDATA" -k /var/run/postgresql -c listen_addresses= -c fsync=off`
  await docker(
    'run',
    '-d',
    '--name',
    name,
    '--label',
    'ownops-test=1',
    '--network',
    'none',
    '--user',
    'postgres',
    ...binds,
    '-v',
    `${volume}:/var/lib/postgresql/data`,
    '-e',
    `PATH=/usr/lib/postgresql/${version}/bin:${IMAGE_PATH}`,
    '-e',
    'PGDATA=/var/lib/postgresql/data',
    '-e',
    'PGHOST=/var/run/postgresql',
    '-e',
    'PGUSER=postgres',
    '-e',
    'TZ=UTC',
    IMAGE,
    'sh',
    '-c',
    script,
  )
  for (let i = 0; ; i++) {
    if (spawnSync('docker', ['exec', name, 'pg_isready', '-q'], { stdio: 'ignore' }).status === 0) break
    if (i > 300) throw new Error(`PostgreSQL in ${name} did not become ready`)
    await new Promise((r) => setTimeout(r, 200))
  }
  return { name, version, cleanup }
}
