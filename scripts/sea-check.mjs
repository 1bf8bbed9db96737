#!/usr/bin/env node
// node scripts/sea-check.mjs release/ownops-linux-x64 [--qemu] [--basic]: runs the single
// executable (npm run build:sea) away from the source tree — --version, doctor, a backup of a
// directory, verify, restore, units that run the executable itself (scripts/smoke.mjs).
// --qemu runs an arm64 binary on another machine through qemu-user (qemu-aarch64-static, with
// the arm64 loader and libraries of libc6-arm64-cross and libstdc++6-arm64-cross);
// --basic runs --version, doctor, backup, verify and the units' command only.
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { version } from './bundle-common.mjs'
import { smoke } from './smoke.mjs'

const args = process.argv.slice(2)
const binary = args.find((a) => !a.startsWith('--'))
if (binary === undefined) {
  process.stderr.write('usage: node scripts/sea-check.mjs BINARY [--qemu] [--basic]\n')
  process.exit(2)
}
const bin = resolve(binary)
const qemu = args.includes('--qemu') ? ['qemu-aarch64-static', '-L', '/usr/aarch64-linux-gnu'] : []
const work = mkdtempSync(join(tmpdir(), 'ownops-sea-check-'))
const started = Date.now()
try {
  process.stdout.write(`${bin}: ${(statSync(bin).size / 1024 / 1024).toFixed(1)} MiB${qemu.length > 0 ? ', under qemu-user' : ''}\n`)
  smoke({
    command: [...qemu, bin],
    work,
    version,
    runtime: bin,
    example: resolve(import.meta.dirname, '..', 'ownops.example.yml'),
    level: args.includes('--basic') ? 'basic' : 'full',
  })
  process.stdout.write(`sea-check: ${binary} passed in ${((Date.now() - started) / 1000).toFixed(1)} s\n`)
} finally {
  rmSync(work, { recursive: true, force: true })
}
