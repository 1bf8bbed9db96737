#!/usr/bin/env node
// The command-line build that bin/ownops.js runs: src/cli.ts and what it imports, bundled by
// esbuild into dist/bundle/ — one entry file and chunks that each command loads on demand
// (`import()` stays lazy: a command loads its own code and nothing else). Module resolution
// of a few hundred files at every start, which cron and timers pay every minute, is gone.
// dist/*.js (tsc) stays the library that `import 'ownops'` gets.
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { build } from 'esbuild'
import { define, root, thirdPartyNotices, unused } from './bundle-common.mjs'

const outdir = join(root, 'dist', 'bundle')
rmSync(outdir, { recursive: true, force: true })
const result = await build({
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
  plugins: [unused],
  define,
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
  // BUNDLE_META=FILE writes esbuild's metafile (which module went into which chunk), to see what a command loads.
  metafile: true,
})
if (process.env.BUNDLE_META) writeFileSync(process.env.BUNDLE_META, JSON.stringify(result.metafile))
writeFileSync(join(outdir, 'THIRD-PARTY-NOTICES.txt'), thirdPartyNotices(result.metafile))
