import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * The version a bundle was built with (scripts/bundle.mjs and scripts/build-sea.mjs define it):
 * a single executable has no package.json beside it to read. Undefined in the tsc build.
 */
declare const OWNOPS_BUILD_VERSION: string | undefined

let cached: string | undefined
let root: string | undefined

/**
 * The package's root directory: the nearest one above this module that holds ownops'
 * package.json (the sources, the compiled modules and the one-file build sit at different depths).
 */
export function packageRoot(): string {
  if (root === undefined) {
    let dir = dirname(fileURLToPath(import.meta.url))
    for (;;) {
      const file = join(dir, 'package.json')
      if (existsSync(file) && (JSON.parse(readFileSync(file, 'utf8')) as { name?: string }).name === 'ownops') break
      const up = dirname(dir)
      if (up === dir) throw new Error(`no package.json of ownops above ${fileURLToPath(import.meta.url)}`)
      dir = up
    }
    root = dir
  }
  return root
}

/** The package version: the one the bundle was built with, else from ownops' package.json. */
export function ownopsVersion(): string {
  if (cached === undefined) {
    if (typeof OWNOPS_BUILD_VERSION === 'string') {
      cached = OWNOPS_BUILD_VERSION
    } else {
      const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }
      cached = pkg.version
    }
  }
  return cached
}
