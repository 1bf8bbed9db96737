// The entry of the single executable (scripts/build-sea.mjs bundles it with src/cli.ts into
// one CommonJS file): what bin/ownops.js does for the npm package, without files to read.
// Node's compile cache does not cover the embedded script; --version needs no CLI, but the
// one file is parsed either way, so it goes through main() like every command.
import { setFlagsFromString } from 'node:v8'
import { main } from '../src/cli.ts'

// A run lives seconds: the baseline WebAssembly code of undici's HTTP parser is fast enough.
try {
  setFlagsFromString('--liftoff-only')
} catch {
  // not supported here
}
main(process.argv).then(
  (code) => {
    process.exitCode = code
    // Exit without waiting for idle sockets, once stdout has handed everything on (see bin/ownops.js).
    const exit = () => process.exit(process.exitCode)
    if (process.stdout.writableLength > 0 && !process.stdout.destroyed) process.stdout.write('', exit)
    else setImmediate(exit)
  },
  (error) => {
    process.stderr.write(`ownops: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
    process.exit(70)
  },
)
