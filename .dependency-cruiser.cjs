/**
 * The layering of ownops' source, checked in CI (`npm run lint:deps`, .ci/run):
 *
 *   base      src/{errors,duration,text,concurrency,redact,log,log-levels,version,time-zone,prometheus,colour}.ts
 *             imports nothing else of ownops (colour: whether and how a terminal gets colours)
 *   sys       src/sys/**  side effects: processes, Docker, the network, files, locks;
 *             imports base and sys only
 *   domain    src/<area>/** (backup, restore, monitor, notify, schedule, cleanup, targets,
 *             config, restart, copies…): imports base, sys, other domain modules, and the
 *             context (src/context.ts) and command contract (src/command.ts) types
 *   commands  src/commands/<verb>.ts: imports anything but another command
 *   cli       src/cli.ts: assembles the commands; imported by nothing but bin/ and tests
 *
 * Type-only imports count too: a cycle through types is still a cycle to read through.
 */
const BASE = '^src/(errors|duration|text|concurrency|redact|log|log-levels|version|time-zone|prometheus|colour)[.]ts$'

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A cycle makes every module of it load (and be understood) together: break it by moving the shared piece down a layer.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'base-imports-base',
      severity: 'error',
      comment: 'The base modules (errors, duration, text, …) are used everywhere: they import no other part of ownops.',
      from: { path: BASE },
      to: { path: '^src/', pathNot: BASE },
    },
    {
      name: 'sys-imports-no-domain',
      severity: 'error',
      comment:
        'src/sys/ holds side effects only; what it needs of a domain is passed in (types live in sys, domain code imports them from there).',
      from: { path: '^src/sys/' },
      to: { path: '^src/', pathNot: [BASE, '^src/sys/'] },
    },
    {
      name: 'commands-import-no-command',
      severity: 'error',
      comment: 'A command never imports another command: what two commands share lives in the domain.',
      from: { path: '^src/commands/([^/]+)[.]ts$' },
      to: { path: '^src/commands/', pathNot: '^src/commands/$1[.]ts$' },
    },
    {
      name: 'domain-imports-no-command',
      severity: 'error',
      comment: 'Domain code (and sys, and base) never imports a command or the CLI: they depend on it, not the other way round.',
      from: { path: '^src/', pathNot: ['^src/commands/', '^src/cli[.]ts$', '^src/index[.]ts$'] },
      to: { path: ['^src/commands/', '^src/cli[.]ts$', '^src/index[.]ts$'] },
    },
    {
      name: 'one-subprocess-path',
      severity: 'error',
      comment:
        'Every subprocess starts in src/sys/exec.ts: it masks secrets in the logged command line and turns failures into typed errors.',
      from: { path: '^src/', pathNot: '^src/sys/exec[.]ts$' },
      to: { path: ['^node_modules/execa/', '^(node:)?child_process$'], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'side-effect-libraries-in-sys',
      severity: 'error',
      comment: 'Docker and HTTP clients are side effects: only src/sys/ talks to them.',
      from: { path: '^src/', pathNot: '^src/sys/' },
      to: { path: ['^node_modules/(dockerode|docker-modem|undici|nodemailer)/'], dependencyTypesNot: ['type-only'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.d.ts'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
}
