#!/usr/bin/env node
// Writes the man pages (man/ownops.1, man/ownops-<command>.1) from the command definitions
// of the built CLI, and lists them in package.json "man": `npm run man` (which builds
// first). test/help/man.test.ts fails when the committed pages differ from what this writes.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildProgram } from '../dist/cli.js'
import { manPages } from '../dist/help/man.js'
import { describeCommand } from '../dist/help/model.js'
import { ownopsVersion } from '../dist/version.js'

const dir = fileURLToPath(new URL('../man/', import.meta.url))
mkdirSync(dir, { recursive: true })
const pages = manPages(describeCommand(buildProgram(async () => {})), ownopsVersion())
const names = new Set(pages.map((p) => p.file))
for (const file of readdirSync(dir)) {
  if (file.endsWith('.1') && !names.has(file)) rmSync(join(dir, file))
}
for (const page of pages) writeFileSync(join(dir, page.file), page.content)
const pkgFile = fileURLToPath(new URL('../package.json', import.meta.url))
const pkg = JSON.parse(readFileSync(pkgFile, 'utf8'))
pkg.man = pages.map((p) => `./man/${p.file}`)
writeFileSync(pkgFile, `${JSON.stringify(pkg, null, 2)}\n`)
console.log(`man/: ${pages.map((p) => p.file).join(' ')}`)
