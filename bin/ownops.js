#!/usr/bin/env node
// ownops command-line entry. `--version` is answered without loading the CLI: cron and
// timers start ownops often, and start-up time is its constant cost.
import { existsSync, readFileSync } from 'node:fs'
import module from 'node:module'
import { join } from 'node:path'

const args = process.argv.slice(2)
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
  process.stdout.write(`${pkg.version}\n`)
} else {
  // Node 22.1+: keep the compiled code between runs, in ownops' own state directory when it
  // exists: Node's default, a directory in /tmp, starts empty in every run of a unit with
  // PrivateTmp= (each run paid for writing a cache no run read), and is shared with every
  // user of the machine. Node 20 has no compile cache.
  if (typeof module.enableCompileCache === 'function') {
    try {
      const { defaultStateDir } = await import('../dist/sys/paths.js')
      const state = defaultStateDir(process.env)
      if (existsSync(state)) module.enableCompileCache(join(state, 'compile-cache'))
    } catch {
      // no cache: every run compiles, as on Node 20
    }
  }
  // A run lives seconds: optimising undici's HTTP parser (WebAssembly) a second time would
  // cost ~30 MB and CPU for nothing; the baseline code is fast enough for a run's requests.
  try {
    ;(await import('node:v8')).setFlagsFromString('--liftoff-only')
  } catch {
    // not supported here
  }
  // The bundled command line (npm run build): one file and the chunks its command needs.
  const { main } = await import('../dist/bundle/ownops.mjs')
  process.exitCode = await main(process.argv)
  // Exit without waiting for idle sockets (Docker keep-alive) to close, but only once stdout
  // has handed everything to the pipe or file: a reader slower than ownops (`| jq`, `| less`)
  // gets the whole output. The callback of an empty write runs after every earlier write.
  const exit = () => process.exit(process.exitCode)
  if (process.stdout.writableLength > 0 && !process.stdout.destroyed) process.stdout.write('', exit)
  else setImmediate(exit)
}
