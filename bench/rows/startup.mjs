// Start-up: the CPU a command costs before and around its (here tiny) work, beside a bare
// `node -e 0`. cron and timers start ownops every minute: this is its constant cost.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { build } from 'esbuild'
import { bin, cleanEnv, measure, pairs, root } from '../lib.mjs'

export async function* rows(opts) {
  const dir = join(opts.benchDir, 'startup')
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(join(dir, 'backups'), { recursive: true })
  mkdirSync(join(dir, 'data'), { recursive: true })
  mkdirSync(join(dir, 'zero'), { recursive: true })
  const config = join(dir, 'ownops.yml')
  writeFileSync(config, `backup:\n  dir: ${join(dir, 'backups')}\n  targets:\n    data: { type: directory, path: ${join(dir, 'data')} }\n`)
  const env = cleanEnv({ OWNOPS_STATE_DIR: join(dir, 'state'), OWNOPS_LOCK_DIR: join(dir, 'lock') })
  const node = { run: () => measure([opts.node, '-e', '0'], { env }) }
  const cases = [
    // Answered before the CLI loads.
    ['`ownops --version`', ['--version'], {}],
    // The command line is built (every command's flags and help), no config read.
    ['`ownops --help`', ['--help'], {}],
    ['`ownops backups` (empty backup dir)', ['-c', config, 'backups'], {}],
    ['`ownops config validate` (4-line config)', ['-c', config, 'config', 'validate'], {}],
    ['`ownops lock status`', ['lock', 'status'], {}],
    // No config anywhere it looks (the working directory has none): the built-in checks.
    ['`ownops monitor`, zero-config', ['monitor'], { cwd: join(dir, 'zero'), ok: [0, 1, 2] }],
  ]
  for (const [work, argv, extra] of cases) {
    const own = { run: () => measure([opts.node, bin, ...argv], { env, ...extra }) }
    const r = await pairs(opts.startupRuns, own, node, { warmup: opts.warmup })
    yield {
      work: `start-up: ${work}`,
      measure: 'CPU',
      ownops: r.ownops.cpuMs,
      baseline: r.baseline.cpuMs,
      baselineName: '`node -e 0`',
      goal: argv[0] === '--version' ? 1.3 : 2,
      rssMiB: r.ownops.rssMiB,
      load: r.load,
    }
  }

  // The floor of a command that reads the config: the libraries it is built on loaded
  // (commander, yaml, pino, zod), ownops' config schema built and the same config parsed and
  // validated — nothing else of ownops. Bundled like the command line.
  const entry = join(dir, 'floor.ts')
  writeFileSync(
    entry,
    [
      "import { readFileSync } from 'node:fs'",
      "import { Command } from '@commander-js/extra-typings'",
      "import { pino } from 'pino'",
      "import { parseDocument } from 'yaml'",
      `import { configSchema } from ${JSON.stringify(join(root, 'src/config/schema.ts'))}`,
      "new Command('ownops').option('-c, --config <file>').parse(process.argv)",
      `const parsed = configSchema.safeParse(parseDocument(readFileSync(${JSON.stringify(config)}, 'utf8')).toJS())`,
      "pino({ level: 'info' }, { write() {} })",
      'if (!parsed.success) process.exit(3)',
      '',
    ].join('\n'),
  )
  const floor = join(dir, 'floor.mjs')
  await build({
    absWorkingDir: root,
    entryPoints: [entry],
    outfile: floor,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20.19',
    logLevel: 'error',
    external: ['ssh2', 'cpu-features'],
    banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
  })
  const r = await pairs(opts.startupRuns, { run: () => measure([opts.node, floor], { env }) }, node, { warmup: opts.warmup })
  yield {
    work: 'start-up floor: libraries loaded, config schema built, 4-line config validated',
    measure: 'CPU',
    ownops: r.ownops.cpuMs,
    baseline: r.baseline.cpuMs,
    baselineName: '`node -e 0`',
    rssMiB: r.ownops.rssMiB,
    load: r.load,
    note: "not a command: commander, yaml, pino and zod loaded, ownops' config schema built and the config validated — what any command that reads the config costs at least with these libraries",
  }
}
