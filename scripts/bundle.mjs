#!/usr/bin/env node
// The command-line build that bin/ownops.js runs: src/cli.ts and what it imports, bundled by
// esbuild into dist/bundle/ — one entry file and chunks that each command loads on demand
// (`import()` stays lazy: a command loads its own code and nothing else). Module resolution
// of a few hundred files at every start, which cron and timers pay every minute, is gone.
// dist/*.js (tsc) stays the library that `import 'ownops'` gets.
import { rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { build } from 'esbuild'

const root = resolve(import.meta.dirname, '..')

/**
 * Code the command line never runs, left out of the bundle (each is parsed at every start
 * it is in; calling one fails loudly): zod's error messages in 40 languages (ownops speaks
 * English; `z.locales.en` stays); pino's worker-thread transports (ownops logs to stderr
 * itself); dockerode's BuildKit sessions (gRPC and protobuf, for building images) and
 * docker-modem's own ssh transport (ssh2: ownops reaches a remote engine through the
 * system's ssh, sys/docker-ssh.ts) — together 700 KiB and ~55 ms of CPU at every command
 * that talks to the engine.
 */
const unused = {
  name: 'ownops-unused',
  setup(b) {
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      args.importer.includes('/node_modules/zod/') ? { path: 'zod-locales', namespace: 'ownops-unused' } : undefined,
    )
    b.onResolve({ filter: /^thread-stream$/ }, (args) =>
      args.importer.includes('/node_modules/pino/') ? { path: 'thread-stream', namespace: 'ownops-unused' } : undefined,
    )
    b.onLoad({ filter: /^zod-locales$/, namespace: 'ownops-unused' }, () => ({
      contents: `export { default as en } from ${JSON.stringify(join(root, 'node_modules/zod/v4/locales/en.js'))}`,
      loader: 'js',
      resolveDir: root,
    }))
    b.onLoad({ filter: /^thread-stream$/, namespace: 'ownops-unused' }, () => ({
      contents:
        "module.exports = class ThreadStream { constructor() { throw new Error('pino transports are not part of the ownops bundle') } }",
      loader: 'js',
    }))
    b.onResolve({ filter: /^\.\/session$/ }, (args) =>
      args.importer.includes('/node_modules/dockerode/') ? { path: 'dockerode-session', namespace: 'ownops-unused' } : undefined,
    )
    b.onResolve({ filter: /^\.\/ssh$/ }, (args) =>
      args.importer.includes('/node_modules/docker-modem/') ? { path: 'docker-modem-ssh', namespace: 'ownops-unused' } : undefined,
    )
    b.onLoad({ filter: /^(dockerode-session|docker-modem-ssh)$/, namespace: 'ownops-unused' }, (args) => ({
      contents: `module.exports = function () { throw new Error(${JSON.stringify(`${args.path === 'dockerode-session' ? "dockerode's BuildKit session" : "docker-modem's ssh transport"} is not part of the ownops bundle`)}) }`,
      loader: 'js',
    }))
  },
}
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
  // BUNDLE_META=FILE: esbuild's metafile (which module went into which chunk), to see what a command loads.
  metafile: process.env.BUNDLE_META !== undefined,
})
if (process.env.BUNDLE_META) writeFileSync(process.env.BUNDLE_META, JSON.stringify(result.metafile))
