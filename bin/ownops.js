#!/usr/bin/env node
// ownops command-line entry. `--version` is answered without loading the CLI: cron and
// timers start ownops often, and start-up time is its constant cost.
import { readFileSync } from 'node:fs'
import module from 'node:module'

const args = process.argv.slice(2)
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
  process.stdout.write(`${pkg.version}\n`)
} else {
  // Node 22.1+: cache compiled code between runs (a no-op where unsupported).
  try {
    module.enableCompileCache?.()
  } catch {
    // not supported here
  }
  // A run lives seconds: optimising undici's HTTP parser (WebAssembly) a second time would
  // cost ~30 MB and CPU for nothing; the baseline code is fast enough for a run's requests.
  try {
    ;(await import('node:v8')).setFlagsFromString('--liftoff-only')
  } catch {
    // not supported here
  }
  const { main } = await import('../dist/cli.js')
  process.exitCode = await main(process.argv)
  // Exit without waiting for idle sockets (Docker keep-alive) to close, but only once stdout
  // has handed everything to the pipe or file: a reader slower than ownops (`| jq`, `| less`)
  // gets the whole output. The callback of an empty write runs after every earlier write.
  const exit = () => process.exit(process.exitCode)
  if (process.stdout.writableLength > 0 && !process.stdout.destroyed) process.stdout.write('', exit)
  else setImmediate(exit)
}
