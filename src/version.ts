import { readFileSync } from 'node:fs'

let cached: string | undefined

/** The package version, read from package.json beside `src/` or `dist/`. */
export function ownopsVersion(): string {
  if (cached === undefined) {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
    cached = pkg.version
  }
  return cached
}
