#!/usr/bin/env node
// Upload throughput of `ownops copy` next to `rclone copy` of the same files: a backup of
// random (incompressible) data, copied to an rclone remote — an SFTP server on 127.0.0.1
// (`rclone serve sftp`, the default), an S3-compatible server (s3rver, --s3), or a local path
// (--local) — by ownops (temporary name, the local sha256 checked against the manifest while
// rclone uploads and checks the transfer, rename, manifest last) and by plain `rclone copy`
// of the artifact and its manifest. Each side runs --runs times, alternating; the medians
// are printed with the overhead of ownops (target: at most 10 %).
//
//   node bench/copy.mjs                      # 1 GiB to SFTP on loopback
//   node bench/copy.mjs --size 256M --s3     # 256 MiB to s3rver
//   node bench/copy.mjs --local              # to a local path (no network: the fixed cost shows most)
//   node bench/copy.mjs --size 4M --runs 1 --max-overhead 0   # a smoke run (CI)
import { execFileSync, spawn } from 'node:child_process'
import { createWriteStream, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { join, resolve } from 'node:path'

const root = resolve(import.meta.dirname, '..')
const args = process.argv.slice(2)
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 ? args[i + 1] : fallback
}
const units = { K: 1 << 10, M: 1 << 20, G: 1 << 30 }
const sizeText = opt('size', '1G')
const size = Number(sizeText.replace(/[KMG]$/i, '')) * (units[sizeText.slice(-1).toUpperCase()] ?? 1)
const runs = Number(opt('runs', '3'))
const maxOverhead = Number(opt('max-overhead', '10'))
const s3 = args.includes('--s3')
const local = args.includes('--local')

const work = join(root, '.bench', 'copy')
rmSync(work, { recursive: true, force: true })
mkdirSync(join(work, 'data'), { recursive: true })
const env = {
  PATH: process.env.PATH,
  HOME: work,
  LC_ALL: 'C',
  OWNOPS_STATE_DIR: join(work, 'state'),
  OWNOPS_LOCK_DIR: join(work, 'lock'),
  OWNOPS_LOG_FORMAT: 'json',
}

// Random data, written in 1 MiB blocks.
await new Promise((done) => {
  const out = createWriteStream(join(work, 'data', 'random.bin'))
  let left = size
  const more = () => {
    while (left > 0) {
      const n = Math.min(left, 1 << 20)
      left -= n
      if (!out.write(randomBytes(n))) return void out.once('drain', more)
    }
    out.end(done)
  }
  more()
})

let server
let remoteRoot = join(work, 'remote')
const conf = join(work, 'rclone.conf')
if (s3) {
  const { default: S3rver } = await import('s3rver')
  server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: join(work, 's3'), configureBuckets: [{ name: 'bench' }] })
  const { port } = await server.run()
  writeFileSync(
    conf,
    `[s3]\ntype = s3\nprovider = Other\naccess_key_id = S3RVER\nsecret_access_key = S3RVER\nendpoint = http://127.0.0.1:${port}\nforce_path_style = true\n`,
  )
  remoteRoot = 's3:bench'
} else if (local) {
  writeFileSync(conf, '[loc]\ntype = local\n')
  remoteRoot = `loc:${remoteRoot}`
} else {
  mkdirSync(join(work, 'sftp'))
  const child = spawn('rclone', ['serve', 'sftp', join(work, 'sftp'), '--addr', '127.0.0.1:0', '--user', 'bench', '--pass', 'bench'], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  const port = await new Promise((done, fail) => {
    let text = ''
    child.stderr.on('data', (c) => {
      text += c
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(text)
      if (m) done(Number(m[1]))
    })
    child.once('exit', () => fail(new Error(text)))
  })
  server = { close: async () => void child.kill() }
  const pass = execFileSync('rclone', ['obscure', 'bench'], { env }).toString().trim()
  writeFileSync(conf, `[sftp]\ntype = sftp\nhost = 127.0.0.1\nport = ${port}\nuser = bench\npass = ${pass}\n`)
  remoteRoot = 'sftp:'
}
const config = join(work, 'ownops.yml')
const ownops = (...a) =>
  execFileSync(process.execPath, [join(root, 'bin/ownops.js'), '-q', '-c', config, ...a], { env, stdio: ['ignore', 'pipe', 'inherit'] })
writeFileSync(
  config,
  `backup:\n  dir: ${join(work, 'backups')}\n  targets:\n    data: { type: directory, path: ${join(work, 'data')}, compression: none }\n  destinations:\n    bench: { type: rclone, remote: "${remoteRoot}${remoteRoot.endsWith(':') ? '' : '/'}ownops", config: ${conf}, schedule: "0 5 * * *", retries: 0 }\n`,
)
ownops('backup')
const artifactDir = join(work, 'backups', 'data')
const bytes = readdirSync(artifactDir).length > 0 ? size : 0

const time = (fn) => {
  const t = process.hrtime.bigint()
  fn()
  return Number(process.hrtime.bigint() - t) / 1e6
}
const clearRemote = (path) => execFileSync('rclone', ['--config', conf, 'purge', path], { env, stdio: 'ignore' })
const own = []
const plain = []
for (let i = 0; i < runs; i++) {
  own.push(time(() => ownops('copy', '--to', 'bench')))
  clearRemote(`${remoteRoot}${remoteRoot.endsWith(':') ? '' : '/'}ownops`)
  plain.push(
    time(() =>
      execFileSync('rclone', ['--config', conf, 'copy', artifactDir, `${remoteRoot}${remoteRoot.endsWith(':') ? '' : '/'}rclone/data`], {
        env,
        stdio: 'inherit',
      }),
    ),
  )
  clearRemote(`${remoteRoot}${remoteRoot.endsWith(':') ? '' : '/'}rclone`)
}
await server?.close()
rmSync(work, { recursive: true, force: true })

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const ownMs = median(own)
const rcloneMs = median(plain)
const mibs = (ms) => (bytes / (1 << 20) / (ms / 1000)).toFixed(1)
const overhead = ((ownMs - rcloneMs) / rcloneMs) * 100
console.table([
  { what: 'rclone copy', 'wall s': (rcloneMs / 1000).toFixed(2), 'MiB/s': mibs(rcloneMs) },
  { what: 'ownops copy', 'wall s': (ownMs / 1000).toFixed(2), 'MiB/s': mibs(ownMs) },
])
console.log(
  `${sizeText} to ${s3 ? 's3rver on 127.0.0.1' : local ? 'a local rclone remote' : 'rclone serve sftp on 127.0.0.1'}, median of ${runs}: ownops overhead ${overhead.toFixed(1)} % (${maxOverhead > 0 ? `target ≤ ${maxOverhead} %` : 'smoke run, no target'}; ownops also checks the sha256 on the remote, renames, and writes the manifest)`,
)
if (maxOverhead > 0 && overhead > maxOverhead) process.exitCode = 1
