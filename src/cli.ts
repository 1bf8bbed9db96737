/**
 * The command-line program: the global options, the commands (each module in src/commands
 * declares its own flags, help, examples and exit statuses), and the exit code of a run.
 * Running one command — context, output, errors, signals — is src/invoke.ts.
 */
import { Command, CommanderError, Option, type CommandUnknownOpts } from '@commander-js/extra-typings'
import { writeSync } from 'node:fs'
import { helpText, type Invoke, type Quick, type Register } from './command.js'
import { register as backup } from './commands/backup.js'
import { register as backups } from './commands/backups.js'
import { register as cleanup } from './commands/cleanup.js'
import { register as completion } from './commands/completion.js'
import { register as config } from './commands/config.js'
import { register as copy } from './commands/copy.js'
import { register as doctor } from './commands/doctor.js'
import { register as init } from './commands/init.js'
import { register as lock } from './commands/lock.js'
import { register as monitor } from './commands/monitor.js'
import { register as notify } from './commands/notify.js'
import { register as restart } from './commands/restart.js'
import { register as restore } from './commands/restore.js'
import { register as schedule } from './commands/schedule.js'
import { register as status } from './commands/status.js'
import { register as verify } from './commands/verify.js'
import { ExitCode } from './errors.js'
import { addHelpCommands, configureHelpLayout } from './help/layout.js'
import { Session, type CliIo } from './invoke.js'
import { logLevels } from './log-levels.js'
import { DEFAULT_CONFIG_FILE, DEFAULT_ENV_FILE } from './sys/paths.js'
import { ownopsVersion } from './version.js'

export type { CliIo } from './invoke.js'

/** The commands, in the order --help lists them. */
export const COMMANDS: readonly Register[] = [
  init,
  status,
  doctor,
  config,
  lock,
  notify,
  backup,
  backups,
  copy,
  restore,
  verify,
  schedule,
  monitor,
  restart,
  cleanup,
  completion,
]

/** No quick command runs in a program built only to be looked at (tests, the man pages). */
const noQuick: Quick = async () => {}

export function buildProgram(invoke: Invoke, quick: Quick = noQuick): Command {
  const program = new Command('ownops')
  configureHelpLayout(program)
  program
    .description(
      'Operations for Docker services on one machine: backups, restores, monitoring, safe restarts, notifications and clean-up, run by systemd timers or cron.',
    )
    .version(ownopsVersion(), '-V, --version', 'print the version')
    .option('-c, --config <file>', `config file (default: $OWNOPS_CONFIG, ./ownops.yml, ${DEFAULT_CONFIG_FILE})`)
    .option('--json', 'machine-readable output on stdout', false)
    .addOption(new Option('--log-level <level>', 'log level on stderr').choices(logLevels))
    .addOption(
      new Option('-v, --verbose', 'log debug lines too, and the stack of an error (--log-level debug)')
        .implies({ logLevel: 'debug' })
        .conflicts('quiet'),
    )
    .option('-q, --quiet', 'log warnings and errors only', false)
    .option('--no-color', 'no colours in terminal output')
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText(
      'after',
      helpText({
        examples: [
          'ownops status                      # am I protected? backups, alerts, jobs, on one screen',
          'ownops doctor                      # what ownops needs, and what is missing',
          'ownops config validate             # every config problem, with line numbers',
          'ownops copy --to offsite           # copy what the destination lacks (rclone, restic, external disk)',
          'ownops restart --in 30m            # warn players, save, stop, start, wait until healthy (restart.default, or the only service)',
          'ownops cleanup --dry-run            # what retention, log, temp-file and row rules would remove',
          'sudo ownops schedule install       # systemd timers for backup, monitor, cleanup and your jobs',
        ],
        before: `Config lookup: --config, $OWNOPS_CONFIG, ./ownops.yml, ${DEFAULT_CONFIG_FILE}.\nSecrets: \${VAR} in the config, from the environment or ${DEFAULT_ENV_FILE}.`,
        exits: [0, 1, 2, 69, 70, 75, 77, 78, 130, 143],
      }),
    )
  for (const register of COMMANDS) register(program, invoke, quick)
  addHelpCommands(program)
  return program
}

/** Runs the CLI and resolves with the exit code. `io` lets tests run it in-process. */
export async function main(argv: string[] = process.argv, io: CliIo = {}): Promise<number> {
  if (io.stdout === undefined) {
    // `ownops backups | head`: a closed pipe ends the output, not the program with a stack trace.
    process.stdout.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0)
    })
  }
  const stdout = io.stdout ?? ((text: string) => void process.stdout.write(text))
  const stderr = io.stderr ?? writeStderr
  const session = new Session(io, stdout, stderr, io.stderrIsTTY ?? Boolean(process.stderr.isTTY), argv.slice(2))
  process.on('SIGINT', session.onSignal)
  process.on('SIGTERM', session.onSignal)

  const program = buildProgram(session.invoke, session.quick)
  // Every command, not only the program: a subcommand's usage error is exit 2 as well.
  const configure = (command: CommandUnknownOpts) => {
    command.exitOverride()
    command.configureOutput({ writeErr: stderr, writeOut: stdout })
    for (const sub of command.commands) configure(sub)
  }
  configure(program)
  try {
    await program.parseAsync(argv)
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help')
        return ExitCode.ok
      // With --json, a usage error is data too, in the shape of every failure (commander has said it on stderr).
      if (argv.slice(2).includes('--json')) {
        const command = argv.slice(2).find((a) => !a.startsWith('-'))
        stdout(
          `${JSON.stringify({ ok: false, error: { message: error.message.replace(/^error: /, ''), exitCode: ExitCode.usage, hint: `ownops ${command ?? ''} --help`.replace('  ', ' ') } }, null, 2)}\n`,
        )
      }
      return ExitCode.usage
    }
    stderr(`ownops: internal error: ${(error as Error).stack ?? String(error)}\nPlease report this with the command you ran.\n`)
    return ExitCode.internal
  } finally {
    process.off('SIGINT', session.onSignal)
    process.off('SIGTERM', session.onSignal)
  }
  return session.exitCode
}

function writeStderr(text: string): void {
  try {
    writeSync(2, text)
  } catch {
    // stderr closed
  }
}
