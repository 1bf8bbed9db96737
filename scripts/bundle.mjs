#!/usr/bin/env node
// The command-line build that bin/ownops.js runs: src/cli.ts and what it imports, bundled by
// esbuild into dist/bundle/ — one entry file and chunks that each command loads on demand
// (`import()` stays lazy: a command loads its own code and nothing else). Module resolution
// of a few hundred files at every start, which cron and timers pay every minute, is gone.
// dist/*.js (tsc) stays the library that `import 'ownops'` gets.
//
// Left to node_modules at run time: ssh2 (loaded by the Docker client for ssh:// endpoints;
// its WebAssembly code finds itself by __dirname) and its optional native helper cpu-features.
import { rmSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { build } from 'esbuild'

const root = resolve(import.meta.dirname, '..')
const outdir = join(root, 'dist', 'bundle')
rmSync(outdir, { recursive: true, force: true })
await build({
  absWorkingDir: root,
  entryPoints: { ownops: 'src/cli.ts' },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20.19',
  outExtension: { '.js': '.mjs' },
  chunkNames: 'chunks/[name]-[hash]',
  external: ['ssh2', 'cpu-features'],
  // CommonJS dependencies call require() and read __dirname: give every chunk its own.
  banner: {
    js: [
      "import { createRequire as __ownopsCreateRequire } from 'node:module';",
      "import { dirname as __ownopsDirname } from 'node:path';",
      "import { fileURLToPath as __ownopsFileURLToPath } from 'node:url';",
      'const require = __ownopsCreateRequire(import.meta.url);',
      'const __filename = __ownopsFileURLToPath(import.meta.url);',
      'const __dirname = __ownopsDirname(__filename);',
    ].join(' '),
  },
  legalComments: 'none',
  logLevel: 'warning',
})
