#!/usr/bin/env node
// npm run pack: the npm package, release/ownops-VERSION.tgz, to publish (npm publish
// release/ownops-VERSION.tgz) or to install as it is (npm install -g ./ownops-VERSION.tgz).
// The files are those `npm pack` takes (package.json "files", after a build); the package.json
// in it has no scripts, devDependencies or allowScripts: they serve this repository only, and
// npm counts a `prepare` script in a tarball as an install script of the package (it would
// run the build, without the sources or the tools, or be skipped with a warning).
import { execFileSync } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { root } from './bundle-common.mjs'

/** Packs into dest; returns what `npm pack --json` says of it. */
export function pack(dest) {
  // `npm pack --dry-run` runs prepare (the build) and lists the files the package takes.
  const listed = JSON.parse(
    execFileSync('npm', ['pack', '--dry-run', '--json'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }),
  )[0]
  const stage = mkdtempSync(join(tmpdir(), 'ownops-pack-'))
  try {
    for (const { path } of listed.files) if (path !== 'package.json') cpSync(join(root, path), join(stage, path))
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
    delete pkg.scripts
    delete pkg.devDependencies
    delete pkg.allowScripts
    writeFileSync(join(stage, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`)
    mkdirSync(dest, { recursive: true })
    return JSON.parse(
      execFileSync('npm', ['pack', '--json', '--pack-destination', dest], {
        cwd: stage,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      }),
    )[0]
  } finally {
    rmSync(stage, { recursive: true, force: true })
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const packed = pack(join(root, 'release'))
  process.stdout.write(`release/${packed.filename}: ${(packed.size / 1024 / 1024).toFixed(2)} MiB, ${packed.entryCount} files\n`)
}
