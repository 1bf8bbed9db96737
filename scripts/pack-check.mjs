#!/usr/bin/env node
// node scripts/pack-check.mjs: the npm package as a user gets it. npm run pack (which builds),
// what is in the tarball (and what must not be: sources, tests, source maps), then
// `npm install -g` of the tarball into a temporary prefix — no install script may run or be
// skipped, nothing compiled — and every command run from there, away from the source tree
// (scripts/smoke.mjs). Prints the packed size, the file count and the installed dependencies.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { root, version } from './bundle-common.mjs'
import { pack } from './pack.mjs'
import { smoke } from './smoke.mjs'

const tmp = mkdtempSync(join(tmpdir(), 'ownops-pack-check-'))
const started = Date.now()
const mib = (n) => `${(n / 1024 / 1024).toFixed(2)} MiB`

function npm(args, options = {}) {
  const r = spawnSync('npm', args, { encoding: 'utf8', maxBuffer: 64 << 20, ...options })
  if (r.status !== 0) throw new Error(`npm ${args.join(' ')}: exit ${r.status}\n${r.stdout}\n${r.stderr}`)
  return r
}

try {
  // 1. The tarball.
  const packed = pack(tmp)
  const paths = packed.files.map((f) => f.path)
  process.stdout.write(
    `== ${packed.filename}: ${mib(packed.size)} packed, ${mib(packed.unpackedSize)} unpacked, ${packed.entryCount} files\n`,
  )
  const top = new Map()
  for (const f of packed.files) {
    const key = f.path.includes('/') ? `${f.path.split('/')[0]}/` : f.path
    top.set(key, (top.get(key) ?? 0) + f.size)
  }
  for (const [key, size] of [...top].sort((a, b) => b[1] - a[1]))
    process.stdout.write(`  ${key.padEnd(22)} ${(size / 1024).toFixed(0).padStart(6)} KiB\n`)
  for (const needed of [
    'LICENSE',
    'README.md',
    'package.json',
    'ownops.example.yml',
    'ownops.schema.json',
    'bin/ownops.js',
    'dist/bundle/ownops.mjs',
    'dist/bundle/THIRD-PARTY-NOTICES.txt',
    'dist/index.js',
    'dist/index.d.ts',
  ]) {
    if (!paths.includes(needed)) throw new Error(`the package lacks ${needed}`)
  }
  const unwanted = paths.filter((p) => /\.map$|^src\/|^test\/|^scripts\/|^bench\/|^release\/|^node_modules\//.test(p))
  if (unwanted.length > 0) throw new Error(`the package holds what it should not: ${unwanted.slice(0, 10).join(', ')}`)
  const first = readFileSync(join(root, 'ownops.example.yml'), 'utf8').split('\n')[0]
  const schema = /\$schema=\.\/(\S+)/.exec(first)?.[1]
  if (schema === undefined || !paths.includes(schema))
    throw new Error(`the example config's first line names ${schema ?? 'no schema'}, not in the package`)
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
  if (pkg.dependencies === undefined) throw new Error('package.json has no dependencies')
  for (const page of pkg.man ?? [])
    if (!paths.includes(page.replace(/^\.\//, ''))) throw new Error(`man page ${page} is not in the package`)

  // 2. Installed globally, into a prefix of its own.
  const prefix = join(tmp, 'prefix')
  const t = Date.now()
  const install = npm(['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', join(tmp, packed.filename)], { cwd: tmp })
  const output = `${install.stdout}\n${install.stderr}`
  if (/install-scripts|gyp|install script/i.test(output)) throw new Error(`npm install -g ran or skipped install scripts:\n${output}`)
  const pkgDir = join(prefix, 'lib', 'node_modules', 'ownops')
  const deps = existsSync(join(pkgDir, 'node_modules'))
    ? readdirSync(join(pkgDir, 'node_modules')).flatMap((n) =>
        n.startsWith('@') ? readdirSync(join(pkgDir, 'node_modules', n)) : n.startsWith('.') ? [] : [n],
      )
    : []
  process.stdout.write(
    `== npm install -g --prefix TMP: ${((Date.now() - t) / 1000).toFixed(1)} s, ${deps.length} packages beside ownops, no install script, man pages in share/man/man1\n`,
  )

  // 3. Every command from there: the working directory is empty, PATH has the prefix first.
  const bin = join(prefix, 'bin', 'ownops')
  const work = join(tmp, 'work')
  mkdirSync(work)
  const node = realpathSync(process.execPath)
  process.env.PATH = `${join(prefix, 'bin')}:${dirname(node)}:${process.env.PATH}`
  smoke({
    command: [bin],
    work,
    version,
    runtime: `${node} ${join(pkgDir, 'bin', 'ownops.js')}`,
    example: join(pkgDir, 'ownops.example.yml'),
  })
  process.stdout.write(`pack-check: passed in ${((Date.now() - started) / 1000).toFixed(1)} s\n`)
} finally {
  rmSync(tmp, { recursive: true, force: true })
}
