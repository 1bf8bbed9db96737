// What both builds of the command line share: the ESM bundle that bin/ownops.js runs
// (scripts/bundle.mjs) and the one file of the single executable (scripts/build-sea.mjs).
import { readdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'

export const root = resolve(import.meta.dirname, '..')

/** The version the bundle answers with (src/version.ts): a single executable has no package.json to read. */
export const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version
export const define = { OWNOPS_BUILD_VERSION: JSON.stringify(version) }

/**
 * Code the command line never runs, left out of the bundle (each is parsed at every start
 * it is in; calling one fails loudly): zod's error messages in 40 languages (ownops speaks
 * English; `z.locales.en` stays); pino's worker-thread transports (ownops logs to stderr
 * itself); dockerode's BuildKit sessions (gRPC and protobuf, for building images) and
 * docker-modem's own ssh transport (ssh2: ownops reaches a remote engine through the
 * system's ssh, sys/docker-ssh.ts) — together 700 KiB and ~55 ms of CPU at every command
 * that talks to the engine.
 */
export const unused = {
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

/**
 * The licences of the packages a bundle holds (from esbuild's metafile): their code ships inside
 * ownops' files, so their notices ship beside it (dist/bundle/THIRD-PARTY-NOTICES.txt, and
 * release/THIRD-PARTY-NOTICES.txt with Node's own licence for the single executables).
 */
export function thirdPartyNotices(metafile, extra = []) {
  const dirs = new Set()
  for (const input of Object.keys(metafile.inputs)) {
    const m = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input)
    if (m) dirs.add(m[1])
  }
  const sections = [...dirs].sort().map((dir) => {
    const pkg = JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8'))
    const file = readdirSync(join(root, dir)).find((n) => /^(licen[cs]e|copying)(\.(md|txt))?$/i.test(n))
    const text = file ? readFileSync(join(root, dir, file), 'utf8').trim() : `License: ${pkg.license ?? 'see the package'}`
    return `${pkg.name} ${pkg.version} (${pkg.license ?? 'unknown'})\n\n${text}`
  })
  const all = [...extra, ...sections]
  return `ownops bundles the following software; each notice below is its own.\n\n${all.map((s) => `${'='.repeat(78)}\n${s}\n`).join('\n')}`
}
