/**
 * The command-line layer: commander parses flags into options, builds the context,
 * lazily imports the one command module needed, prints its result, and maps errors and
 * signals to exit codes. This is the only place that catches errors or exits.
 */
import { Command, CommanderError, Option } from 'commander'
import { writeSync } from 'node:fs'
import type { Ctx, CommandResult, GlobalOptions } from './context.js'
import { ExitCode, exitStatusHelp, isOwnopsError, OwnopsError } from './errors.js'
import { logLevels, type LogLevel } from './log-levels.js'
import { ownopsVersion } from './version.js'

type Runner = (ctx: Ctx, args: string[], options: Record<string, unknown>) => Promise<CommandResult>

const COMMON_EXITS = [ExitCode.ok, ExitCode.usage, ExitCode.internal, ExitCode.config, ExitCode.sigint, ExitCode.sigterm]

interface PlannedCommand {
  name: string
  usage: string
  summary: string
  example: string
}

/** Subcommands that are part of ownops' design but not in this build yet. They say so and exit 69. */
const planned: PlannedCommand[] = [
]

function collect(value: string, previous: string[]): string[] {
  return [...previous, value]
}

function examples(lines: string[]): string {
  return `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`
}

export function buildProgram(run: (runner: Runner, command: Command, args: string[]) => Promise<void>): Command {
  const program = new Command('ownops')
  program
    .description('Operations for Docker services on one machine: backups, restores, monitoring, safe restarts, notifications and clean-up, run by systemd timers or cron.')
    .version(ownopsVersion(), '-V, --version', 'print the version')
    .option('-c, --config <file>', 'config file (default: $OWNOPS_CONFIG, ./ownops.yml, /etc/ownops/ownops.yml)')
    .option('--json', 'machine-readable output on stdout', false)
    .addOption(new Option('--log-level <level>', 'log level on stderr').choices(logLevels as unknown as string[]))
    .option('-q, --quiet', 'log warnings and errors only', false)
    .option('--no-color', 'no colours in terminal output')
    .showHelpAfterError('(run with --help for usage)')
    .configureHelp({ sortSubcommands: false })
    .addHelpText(
      'after',
      examples([
        'ownops doctor                      # what ownops needs, and what is missing',
        'ownops config validate             # every config problem, with line numbers',
        ...planned.map((p) => p.example),
        'ownops copy --to offsite           # copy what the destination lacks (rclone, restic, external disk)',
        'ownops restart --in 30m            # warn players, save, stop, start, wait until healthy (restart.default, or the only service)',
        'ownops cleanup --dry-run            # what retention, log, temp-file and row rules would remove',
        'sudo ownops schedule install       # systemd timers for backup, monitor, cleanup and your jobs',
      ]) +
        '\nConfig lookup: --config, $OWNOPS_CONFIG, ./ownops.yml, /etc/ownops/ownops.yml.\nSecrets: ${VAR} in the config, from the environment or /etc/ownops/ownops.env.\n\n' +
        exitStatusHelp([0, 1, 2, 69, 70, 75, 77, 78, 130, 143]),
    )

  program
    .command('doctor')
    .summary('check what ownops needs on this machine')
    .description('Check what ownops needs: Node version (and the node that systemd units and cron lines find on their PATH), config, Docker engine (unix socket, tcp:// or ssh://), container logs without a size limit, state/lock/backup directories (and that only root or you can write the lock directory), systemd, cron, that installed units still find their Node, and optional tools.')
    .addHelpText('after', examples(['ownops doctor', 'ownops doctor --json | jq ".checks[] | select(.status==\\"fail\\")"']) + '\n' +
      'Exits with the code of the most serious failure: 78 config invalid, 69 Docker unreachable or installed units run a Node that is gone, 77 a directory not writable or a lock directory another user owns.\n\n' +
      exitStatusHelp([0, 1, 69, 77, 78]))
    .action(async (_opts, cmd: Command) => run(async (ctx) => (await import('./commands/doctor.js')).runDoctor(ctx), cmd, []))

  const config = program.command('config').summary('validate the config, print its JSON Schema, or show it').description('Work with the configuration file.')
  config
    .command('validate')
    .description('Validate the config and report every problem with file, line, key and a hint. Warns, too, about env-file values that look like they carry a comment, schedules that restrict both day fields (with their next runs), and what a scheduled job needs that its unit or its user could not write.')
    .addHelpText('after', examples(['ownops config validate', 'ownops -c /etc/ownops/ownops.yml config validate --json']) + '\n' + exitStatusHelp([0, 78]))
    .action(async (_opts, cmd: Command) => run(async (ctx) => (await import('./commands/config.js')).runConfigValidate(ctx), cmd, []))
  config
    .command('schema')
    .description('Print the JSON Schema of the config, for editors (yaml-language-server).')
    .addHelpText('after', examples(['ownops config schema > /etc/ownops/ownops.schema.json', '# first line of ownops.yml:  # yaml-language-server: $schema=/etc/ownops/ownops.schema.json']))
    .action(async (_opts, cmd: Command) => run(async (ctx) => (await import('./commands/config.js')).runConfigSchema(ctx), cmd, []))
  config
    .command('show')
    .description('Print the effective config (defaults filled in, ${VAR} resolved) with secrets masked.')
    .addHelpText('after', examples(['ownops config show']) + '\n' + exitStatusHelp([0, 78]))
    .action(async (_opts, cmd: Command) => run(async (ctx) => (await import('./commands/config.js')).runConfigShow(ctx), cmd, []))

  const lock = program
    .command('lock')
    .summary('show the host lock, or run any command under it (like flock)')
    .description('The host-wide lock that backup, restore, cleanup and restart take, in /run/ownops as root (~/.local/state/ownops/lock otherwise; lock.dir, $OWNOPS_LOCK_DIR). Only root or the user running ownops may write that directory: one another user owns, or everyone may write, is refused (exit 77). `lock status` shows its holder; `lock run -- CMD` runs a command of your own under it, so your scripts never collide with an ownops run.')
  lock
    .command('status')
    .description('Show who holds the host lock.')
    .addHelpText('after', examples(['ownops lock status', 'ownops lock status --json']) + '\n' + exitStatusHelp([0, 1, 77]) + '\n  (1: the lock is held; 77: the lock directory or file belongs to another user, or others may write it)')
    .action(async (_opts, cmd: Command) => run(async (ctx) => (await import('./commands/lock.js')).runLockStatus(ctx), cmd, []))
  lock
    .command('run')
    .description('Run a command while holding the host lock; exits with the command\'s own status.')
    .argument('<command...>', 'the command and its arguments (after --)')
    .option('--wait <duration>', 'wait this long for the lock (default: config lock.wait)')
    .option('--stops <names>', 'comma-separated containers or targets this command stops (monitor stays quiet about them)')
    .option('--name <text>', 'what to call this run in lock messages (default: the command line)')
    .addHelpText('after', examples(['ownops lock run -- rsync -a /srv/data /mnt/usb/', 'ownops lock run --wait 30m --stops app -- ./migrate.sh']) + '\n' + exitStatusHelp([0, 75, 77]) + '\n  otherwise: the exit status of the command')
    .action(async (commandArgs: string[], _opts, cmd: Command) => run(async (ctx, args, options) => (await import('./commands/lock.js')).runLockRun(ctx, args, options), cmd, commandArgs))

  program
    .command('notify')
    .summary('send a message to the configured channels, routed by level')
    .description(
      'Send a message to Discord, Slack, e-mail, ntfy, Telegram, Gotify, PagerDuty, JSON webhooks or a game\'s chat (rcon://), routed by level: each channel takes the levels in its `levels:` (default warning and above; a game chat none: only --channel or a route); notify.routes and the notify: of checks, targets and services route by what the event is about; --channel overrides. The message comes from the argument, or from standard input with "-"; without --title its first line is the title.\n\nFailed deliveries are retried (network errors, 5xx, 429 after the delay it asks for) within notify.budget, then kept in an outbox in the state directory that the next job (backup, monitor, cleanup…) or notify retries; a request that went out whole without an answer is repeated only where the channel recognises repeats (JSON webhooks: Idempotency-Key; e-mail: Message-ID). Secrets are masked in everything sent.',
    )
    .argument('[message]', 'the message, or - to read it from standard input')
    .addOption(new Option('-l, --level <level>', 'severity, for routing and colour').choices(['info', 'warning', 'error', 'critical']).default('info'))
    .option('-t, --title <text>', 'title (default: the first line of the message)')
    .option('--channel <name>', 'send to this channel only, whatever its levels (repeatable)', collect, [])
    .option('--attach-file <file>', 'attach a file (e-mail channels; repeatable, up to 8 MiB)', collect, [])
    .option('--test', 'send a test message to every channel (or each --channel) and report each result', false)
    .option('--failed-unit <unit>', 'report a failed systemd unit with its exit status and journal tail (for OnFailure=)')
    .addHelpText(
      'after',
      examples([
        'ownops notify --test',
        'echo "disk 91% on /srv" | ownops notify --level warning -',
        'ownops notify --level error --title "nightly job failed" --attach-file /var/log/job.log "see the attached log"',
        'ownops notify --channel discord "deploy finished"',
        'ownops notify --channel mc-chat "Server maintenance at 04:00"   # the players read it in the game chat',
        '# /etc/systemd/system/ownops-notify@.service:  ExecStart=/usr/local/bin/ownops notify --failed-unit %i',
      ]) +
        '\n' +
        exitStatusHelp([0, 1, 2, 78]) +
        '\n  (0: at least one channel delivered, or no channel takes this level; 1: none delivered — one shown as unconfirmed\n   got the whole request and did not answer: it may have arrived, and is not sent again)',
    )
    .action(async (message: string | undefined, _opts, cmd: Command) =>
      run(async (ctx, _args, options) => {
        const { runNotify } = await import('./commands/notify.js')
        return runNotify(ctx, {
          message,
          level: options.level as 'info',
          title: options.title as string | undefined,
          channel: options.channel as string[],
          attachFile: options.attachFile as string[],
          test: options.test === true,
          failedUnit: options.failedUnit as string | undefined,
        })
      }, cmd, []),
    )

  program
    .command('backup')
    .summary('back up databases, volumes and directories (checksummed, atomic, pruned)')
    .description(
      'Back up the named targets (default: all in backup.targets), one after another; a failing target does not stop the others.\n\nEach backup streams into a hidden partial file, checksummed (sha256) on the way, fsync\'d and renamed into <backup.dir>/<target>/; its manifest (<id>.json) is written last and marks it valid. Containers in stop: (or labelled ownops.stop-during-backup=<target>) are stopped with the grace they ask for (their stop timeout, compose\'s stop_grace_period; else 30 s) and started again, a Minecraft world is quiesced over RCON (save-off, save-all flush, save-on always). After a successful backup the target\'s keep: retention prunes old backups; never after a failure.',
    )
    .argument('[targets...]', 'target names from backup.targets (default: all)')
    .option('--all', 'every configured target (the default without names)', false)
    .option('--unscheduled', 'only targets without a schedule of their own (the default backup timer)', false)
    .option('--tag <tag>', 'tag this backup (repeatable); keep: { tags: [...] } keeps tagged backups', collect, [])
    .option('-n, --dry-run', 'print what would be backed up, stopped and pruned; change nothing', false)
    .option('--wait <duration>', 'wait this long for the host lock (default: config lock.wait)')
    .addHelpText(
      'after',
      examples(['ownops backup', 'ownops backup db', 'ownops backup db --tag pre-upgrade', 'ownops backup --dry-run', 'ownops backup --json | jq ".targets[] | {target, ok, size}"']) +
        '\n' +
        exitStatusHelp([0, 1, 2, 69, 75, 77, 78, 130, 143]) +
        '\n  (0: every target succeeded; 1: at least one failed — the others still ran;\n   130/143: interrupted — a container being stopped gets 5 s more, then it is killed; what was stopped is started again, and the interruption is notified)',
    )
    .action(async (targets: string[], _opts, cmd: Command) =>
      run(async (ctx, _args, options) => {
        const { runBackup } = await import('./commands/backup.js')
        return runBackup(ctx, { targets: options.all === true ? [] : targets, dryRun: options.dryRun === true, unscheduled: options.unscheduled === true, tags: options.tag as string[] })
      }, cmd, []),
    )

  program
    .command('backups')
    .summary('list backups with time, size and checksum, and anything odd')
    .description('List the valid backups of each target (or one): id, time, age, size, short sha256; and anything odd in the backup directory: leftover partial files of interrupted runs, files without a manifest, manifests without their file, size mismatches.')
    .argument('[target]', 'one target (default: all)')
    .option('--from <destination>', 'what a destination off the box holds (and anything odd there: missing, size or hash mismatch, unfinished uploads)')
    .addHelpText('after', examples(['ownops backups', 'ownops backups db', 'ownops backups db --json | jq -r ".targets[0].backups[0].path"', 'ownops backups --from offsite']) + '\n' + exitStatusHelp([0, 1, 2, 69, 78]))
    .action(async (target: string | undefined, _opts, cmd: Command) =>
      run(async (ctx, _args, o) =>
        typeof o.from === 'string' ? (await import('./commands/copy.js')).runBackupsFrom(ctx, o.from, target) : (await import('./commands/backup.js')).runBackups(ctx, target), cmd, []),
    )

  program
    .command('copy')
    .summary('copy backups off the box: rclone remotes, restic repositories, external disks')
    .description(
      'Copy to each destination in backup.destinations (or --to one) the backups it lacks — newest first, those its keep: wants — then apply its retention. rclone and path destinations get each file under a temporary name, checked against its sha256 (or the remote\'s md5, or a download), renamed, and its manifest last; with age: recipients the bytes are encrypted before they leave the box. restic stores one snapshot per backup. A failure never touches the local backups; the next run copies what is missing. `ownops backup` runs this for destinations without a schedule of their own.',
    )
    .argument('[targets...]', 'only these targets (default: every target each destination takes)')
    .option('--to <destination>', 'only this destination')
    .option('-n, --dry-run', 'print what would be copied and removed; change nothing', false)
    .option('--wait <duration>', 'wait this long for the host lock (default: config lock.wait)')
    .addHelpText(
      'after',
      examples(['ownops copy', 'ownops copy --to offsite', 'ownops copy db --to usb --dry-run', 'ownops backups --from offsite', 'ownops verify --from offsite']) +
        '\n' +
        exitStatusHelp([0, 1, 2, 69, 75, 78, 130, 143]) +
        '\n  (1: a copy failed — the local backups are kept and the next run retries; 69: rclone, restic or age is missing)',
    )
    .action(async (targets: string[], _opts, cmd: Command) =>
      run(async (ctx, _args, o) => (await import('./commands/copy.js')).runCopy(ctx, { targets, to: o.to as string | undefined, dryRun: o.dryRun === true }), cmd, []),
    )

  program
    .command('restore')
    .summary('restore a backup safely (verify, safety copy, stop what uses the data, swap, roll back)')
    .description(
      'Restore a backup of TARGET: by default the newest backup that passes verification (size, sha256), checked before anything changes. The current data is backed up first (tagged pre-restore); the backup is restored into a staging place while the service runs; then the containers that use the data (found through the engine: those that mount the volume or path, or hold the SQLite file), those in stop: or restore.stop:, and those labelled ownops.stop-during-backup=TARGET or ownops.stop-during-restore=TARGET are stopped, the staged data swapped in by renames (the old data kept beside it), the containers started and waited for until healthy. Any failure after the swap — or SIGINT/SIGTERM — rolls back to the old data and starts the containers again; a second signal does not cut a swap or a rollback.\n\nWithout TARGET: the targets and their newest backups; on a terminal, pick one by number. --all restores every target, databases first. On a terminal the plan is shown and confirmed; otherwise --yes is required.',
    )
    .argument('[target]', 'target name from backup.targets (none: list them, and pick on a terminal)')
    .argument('[backup]', 'backup id from `ownops backups`, or latest (default: the newest that verifies)')
    .option('--all', 'restore every target: databases first, one plan, one confirmation, stops at the first failure', false)
    .option('--at <time>', 'the newest backup at or before this time, e.g. "2026-06-15 18:00" (local)')
    .option('--to <place>', 'restore side by side: another database name, SQLite file or directory; the live service is not touched')
    .option('-n, --dry-run', 'print the plan; change nothing', false)
    .option('-y, --yes', 'do not ask for confirmation (required without a terminal)', false)
    .option('--undo', 'swap the data replaced by the last restore back in', false)
    .option('--no-safety-copy', 'do not back up the current data first')
    .option('--no-rollback', 'leave the restored data in place when the service does not come up healthy')
    .option('--no-stop', 'refuse, naming them, when containers use the data, instead of stopping them for the swap')
    .option('--allow-outside-links', 'directories: restore symbolic links that point outside the tree (they are never followed)', false)
    .option('--from <destination>', 'fetch the backup from a destination off the box (checked against its sha256), then restore it')
    .option('--identity <file>', 'with --from: the age private key the copies were encrypted to (repeatable)', collect, [])
    .option('--wait <duration>', 'wait this long for the host lock (default: config lock.wait)')
    .addHelpText(
      'after',
      examples(['ownops restore                        # the targets and their newest backups; pick one on a terminal', 'ownops restore db --dry-run', 'ownops restore db --yes', 'ownops restore db --at "2026-06-15 18:00" --yes', 'ownops restore db latest --to db_check --yes', 'ownops restore --all --dry-run         # after losing a disk: every target, databases first', 'ownops restore --undo db --yes', 'ownops restore --all --from offsite --identity ~/ownops-age.key --yes   # a new machine']) +
        '\n' +
        exitStatusHelp([0, 1, 2, 69, 75, 77, 78, 130, 143]) +
        '\n  (1: refused or failed — the message says what state the data is in, and a notification is sent; 2: no target or no --yes without a terminal)',
    )
    .action(async (target: string | undefined, backup: string | undefined, _opts, cmd: Command) =>
      run(async (ctx, _args, o) => {
        const { runRestore } = await import('./commands/restore.js')
        const run = typeof o.from === 'string' ? async (c: Ctx, opts: Parameters<typeof runRestore>[1]) => (await import('./commands/copy.js')).runRestoreFrom(c, { ...opts, from: o.from as string, identity: o.identity as string[] }) : runRestore
        return run(ctx, {
          targets: target !== undefined ? [target] : [],
          all: o.all === true,
          backup,
          at: o.at as string | undefined,
          to: o.to as string | undefined,
          dryRun: o.dryRun === true,
          yes: o.yes === true,
          undo: o.undo === true,
          safetyCopy: o.safetyCopy !== false,
          rollback: o.rollback !== false,
          stop: o.stop !== false,
          allowOutsideLinks: o.allowOutsideLinks === true,
        })
      }, cmd, []),
    )

  program
    .command('verify')
    .summary('verify backups, or restore them into a throwaway place (--drill)')
    .description(
      'Re-read backups: size and sha256 against the manifest, and the whole content with the tool that restores it (pg_restore --list, tar -t, gzip/zstd, SQLite integrity_check). With --drill, restore the latest backup into a throwaway place (a temporary database, file or directory), check it (every table read; integrity_check; entry count), remove it, and record the result for monitor.',
    )
    .argument('[target]', 'one target (default: all)')
    .option('--latest', 'only the newest backup of each target (the default)', false)
    .option('--all', 'every backup', false)
    .option('--drill', 'restore the latest backup into a throwaway place and check it', false)
    .option('--from <destination>', 'check the copies at a destination off the box instead: their stored sha256 (or md5, or a download), and restic check')
    .option('--download', 'with --from: download every checked copy and hash it, whatever hashes the remote offers', false)
    .addHelpText('after', examples(['ownops verify', 'ownops verify db --all', 'ownops verify --drill', 'ownops verify --from offsite', 'ownops verify db --from usb --all']) + '\n' + exitStatusHelp([0, 1, 2, 69, 75, 78]) + '\n  (1: a backup or copy is damaged or its drill failed; a notification says which)')
    .action(async (target: string | undefined, _opts, cmd: Command) =>
      run(async (ctx, _args, o) =>
        typeof o.from === 'string'
          ? (await import('./commands/copy.js')).runVerifyFrom(ctx, { from: o.from, target, all: o.all === true, download: o.download === true })
          : (await import('./commands/restore.js')).runVerify(ctx, { target, all: o.all === true, drill: o.drill === true }), cmd, []),
    )

  const schedule = program
    .command('schedule')
    .summary('generate and install systemd timers or cron.d entries that run ownops')
    .description(
      'The OS runs ownops: one systemd service + timer per job (ownops-<job>.timer), or one /etc/cron.d/ownops file. Jobs come from schedule.jobs in the config; backup (when there are backup targets), monitor and cleanup are built in, and a backup target with its own schedule: gets ownops-backup-<target>.timer.',
    )
  const backendOptions = (cmd: Command, what: string, crontab: string) =>
    cmd
      .addOption(new Option('--systemd', `${what} systemd units (the default)`).conflicts(['cron', 'crontab']))
      .addOption(new Option('--cron', `${what} the /etc/cron.d/ownops file`).conflicts(['systemd', 'crontab']))
      .addOption(new Option('--crontab', crontab).conflicts(['systemd', 'cron']))
  /** --cron, --crontab, --systemd, or none (undefined). */
  const backendOf = (options: Record<string, unknown>): 'systemd' | 'cron' | 'crontab' | undefined =>
    options.cron === true ? 'cron' : options.crontab === true ? 'crontab' : options.systemd === true ? 'systemd' : undefined

  backendOptions(schedule.command('generate'), 'make', 'print the lines for your own crontab (crontab -e form: no user field)')
    .description(
      'Print the units (or the cron.d file) the config makes, each after a "# ==> NAME <==" line, or write them to a directory with --out (stale generated files there are removed; other files are left alone). --crontab prints the lines for a user\'s crontab. Units and cron lines run ownops by the absolute paths of the Node running this command and of its bin/ownops.js (unless schedule.bin or --bin says otherwise), so nvm, fnm and volta installs work. Warns when a job\'s time falls into a daylight-saving change, when a schedule restricts both day fields (cron runs it on either), and when a job needs a path its unit or its user could not write.',
    )
    .option('--out <dir>', 'write the files to this directory instead of printing them')
    .option('--boot', 'only the boot units of schedule.boot (docker compose up -d after docker.service)', false)
    .option('--config-path <file>', 'the config path the units pass with --config (default: the config file in use)')
    .option('--bin <file>', 'the ownops executable the units run (default: schedule.bin, else this Node and this ownops)')
    .addHelpText(
      'after',
      examples([
        'ownops schedule generate                       # systemd units, to stdout',
        'ownops schedule generate --cron                # the /etc/cron.d/ownops file',
        'ownops schedule generate --crontab             # lines for your crontab (crontab -e)',
        'sudo ownops schedule generate --out /etc/systemd/system && sudo systemctl daemon-reload && sudo systemctl enable --now ownops-backup.timer',
        'ownops schedule generate --out ./units --config-path /etc/ownops/ownops.yml --bin /usr/local/bin/ownops',
        'ownops schedule generate --boot                # ownops-boot-<name>.service units',
      ]) +
        '\n' +
        exitStatusHelp([0, 2, 77, 78]),
    )
    .action(async (_opts, cmd: Command) =>
      run(async (ctx, _args, options) => {
        const { runScheduleGenerate } = await import('./commands/schedule.js')
        return runScheduleGenerate(ctx, { backend: backendOf(options) ?? 'systemd', out: options.out as string | undefined, boot: options.boot === true, configPath: options.configPath as string | undefined, bin: options.bin as string | undefined })
      }, cmd, []),
    )

  backendOptions(schedule.command('install'), 'install', 'put the lines in your own crontab, between "# BEGIN ownops" and "# END ownops" (crontab -l, crontab -); your other lines stay as they are')
    .description(
      'Write the units to /etc/systemd/system (or the file to /etc/cron.d, or the lines to your own crontab with --crontab), then systemctl daemon-reload and enable --now the timers and boot units. Idempotent: unchanged files are not rewritten. Removes the generated units of jobs no longer configured. Only ever replaces or deletes files that begin with "# Generated by ownops"; a file of the same name without that header stops the install before anything changes. Warns about what a job needs that its unit or its user could not write.',
    )
    .option('--dry-run', 'print a unified diff of what would change, and the systemctl commands; change nothing', false)
    .option('--root <dir>', 'install under this directory instead of / (an image or chroot); systemctl enables offline there and starts nothing')
    .addHelpText(
      'after',
      examples(['sudo ownops schedule install --dry-run', 'sudo ownops schedule install', "systemctl list-timers 'ownops-*'", 'sudo ownops schedule install --cron', 'ownops schedule install --crontab            # as yourself, no root needed', 'crontab -l']) +
        '\n' +
        exitStatusHelp([0, 1, 2, 69, 77, 78]) +
        '\n  (1: a file in the way was not generated by ownops, or systemctl failed; 69: --crontab without the crontab command)',
    )
    .action(async (_opts, cmd: Command) =>
      run(async (ctx, _args, options) => {
        const { runScheduleInstall } = await import('./commands/schedule.js')
        return runScheduleInstall(ctx, { backend: backendOf(options) ?? 'systemd', dryRun: options.dryRun === true, root: options.root as string | undefined })
      }, cmd, []),
    )

  backendOptions(schedule.command('remove'), 'remove', 'take ownops\' lines out of your own crontab, leaving your other lines')
    .description(
      'Disable and delete the generated units (timers are stopped; a run in progress finishes; boot units are disabled but not stopped, so their containers keep running), and the generated cron.d file. Both kinds unless --systemd or --cron is given; --crontab removes ownops\' lines from your own crontab. Files without the "# Generated by ownops" header are never touched.',
    )
    .option('--dry-run', 'print what would be deleted; change nothing', false)
    .option('--root <dir>', 'remove under this directory instead of /')
    .addHelpText('after', examples(['sudo ownops schedule remove --dry-run', 'sudo ownops schedule remove --cron', 'ownops schedule remove --crontab']) + '\n' + exitStatusHelp([0, 1, 2, 69, 77]))
    .action(async (_opts, cmd: Command) =>
      run(async (ctx, _args, options) => {
        const { runScheduleRemove } = await import('./commands/schedule.js')
        return runScheduleRemove(ctx, { backend: backendOf(options), dryRun: options.dryRun === true, root: options.root as string | undefined })
      }, cmd, []),
    )

  schedule
    .command('list')
    .description(
      'The configured jobs: command, schedule, time zone, the next three runs (as the timer computes them), whether each is installed (systemd, cron), and where systemd runs, the timer state and the last result (systemctl show).',
    )
    .option('--root <dir>', 'look for installed files under this directory instead of /')
    .addHelpText('after', examples(['ownops schedule list', 'ownops schedule list --json | jq ".jobs[] | {name, nextRuns}"']) + '\n' + exitStatusHelp([0, 78]))
    .action(async (_opts, cmd: Command) =>
      run(async (ctx, _args, options) => {
        const { runScheduleList } = await import('./commands/schedule.js')
        return runScheduleList(ctx, { root: options.root as string | undefined })
      }, cmd, []),
    )

  program
    .command('monitor')
    .summary('run one check cycle: disk, memory, load, containers, endpoints; alert once, recover')
    .description(
      'Run every check once — filesystems, memory, load, swap and every container (running, health, restarts, memory, CPU) with no config at all; HTTP, TCP, Minecraft, SQLite, containers, container logs without a size limit (kind docker-logs), an app\'s own metrics from its /metrics or a JSON page (kind prometheus: a value, rate(counter) between runs, histogram_quantile) and commands from monitor.checks — and print a table. A container check with memoryGrowth: "50MB/h over 6h" alerts on a slow leak, from the readings of the runs in that window. With the state of earlier runs, a check alerts after failuresBeforeAlert failed runs in a row (default 2), once, and sends one recovery notice; all changes of a run go out as one message. Opt-in recovery restarts a service that is down (critical; warnings only with recover.on: warning) within a budget, then alerts a human; a container in restart.services is restarted the safe way (players told, saved, graceful stop, health wait; recover.ifEmpty waits for the players to leave). A container a person stopped is not a crash: a warning, left stopped. notify.routes and a check\'s notify: send its alerts to the channels they name, and escalate: sends an alert still open after a while to further channels.\n\nRun it from a timer every minute or five. Checks named on the command line run alone. --pause keeps everything quiet for a while (checks still run, nothing alerts or restarts); so does a backup or `ownops lock run --stops NAME` for what it stops.',
    )
    .argument('[check...]', 'run (or --pause) only these checks')
    .option('--pause <duration>', 'no alerts and no recovery for this long (e.g. 30m, 2h); checks named alone are paused alone')
    .option('--resume', 'end a --pause early', false)
    .option('-n, --dry-run', 'check and show what would be notified or restarted, without doing it or writing state', false)
    .addHelpText(
      'after',
      examples([
        'ownops monitor                       # the table: every check, its value, how long it has been so',
        'ownops monitor --json | jq \'.checks[] | select(.status != "ok")\'',
        'ownops monitor api db                # only these checks',
        'ownops monitor --pause 30m           # maintenance: quiet for 30 minutes',
        'ownops monitor --resume',
        'ownops monitor --dry-run             # what would be sent and restarted',
        'DOCKER_HOST=ssh://deploy@box2 ownops monitor   # the containers of another machine\'s engine, over ssh',
      ]) +
        '\n' +
        exitStatusHelp([0, 1, 2, 75, 77, 78]) +
        '\n  (1: a check is critical — or warning, with monitor.failOn: warning; 75: the previous monitor run is still going;\n   77: the state directory cannot be read or written)',
    )
    .action(async (checks: string[], _opts, cmd: Command) =>
      run(async (ctx, _args, options) => {
        const { runMonitor } = await import('./commands/monitor.js')
        return runMonitor(ctx, { checks, pause: options.pause as string | undefined, resume: options.resume === true, dryRun: options.dryRun === true })
      }, cmd, []),
    )

  program
    .command('restart')
    .summary('restart a service safely: warn, save, stop gracefully, start, wait until healthy')
    .description(
      'Restart SERVICE (a name from restart.services, or any container; without one: restart.default, or the only configured service): stop it gracefully (its own stop signal, stopTimeout), start it, and wait until it is healthy (its Docker healthcheck, or the service\'s http/tcp/minecraft check, within healthyTimeout). Not healthy: one more start, then a critical alert with the last 50 log lines, exit 1. The result goes to the notify channels with the measured downtime.\n\n--safe first warns the players on a countdown (RCON tellraw/say or an exec command, at warnAt offsets within the delay) and saves (RCON save-all flush, or an exec command); a service with `safe: true` does so without the flag (--no-safe: not this time). --in/--at wait in the foreground: Ctrl-C (or `ownops restart --cancel SERVICE` from another shell) cancels, announces the cancellation and leaves the service running. --if-empty waits until nobody is online (RCON list, or a Server List Ping), at most --max-wait. --detach hands the countdown to a transient systemd timer (ownops-restart-SERVICE).',
    )
    .argument('[service]', 'a service from restart.services, or a container name (default: restart.default, or the only service)')
    .option('--safe', 'warn the players on a countdown and save before the stop (default: the service\'s safe: setting)')
    .option('--no-safe', 'no countdown warnings and no save, even for a service with safe: true')
    .option('--in <duration>', 'restart after this long, e.g. 30m, 1h30m')
    .option('--at <time>', 'restart at this time: "2026-06-15 04:00" or 04:00 (local), or ISO 8601 with a zone')
    .option('--if-empty', 'wait until nobody is online (at most --max-wait)', false)
    .option('--max-wait <duration>', 'with --if-empty: how long to wait for the server to empty (default: ifEmpty.maxWait, 2h)')
    .option('--reason <text>', 'told to the players and in the notifications')
    .option('--pull', 'pull the container\'s image before the stop and start the newer image (rolled back when it does not come up healthy); default: the service\'s pull: setting')
    .option('--detach', 'hand the restart to systemd as a transient timer and return', false)
    .option('--list', 'the pending restarts (foreground countdowns and systemd timers)', false)
    .option('--cancel <service>', 'cancel a pending restart of SERVICE')
    .option('-n, --dry-run', 'print the plan: when, the warnings, save, stop, health check; change nothing', false)
    .option('--wait <duration>', 'wait this long for the host lock when the countdown ends (default: config lock.wait)')
    .addHelpText(
      'after',
      examples([
        'ownops restart --in 30m                               # the only (or the default) service; safe: true warns and saves',
        'ownops restart mc --safe --in 5m                      # warn at 5m, 1m, 30s, 10s; save; restart',
        'ownops restart mc --safe --at "2026-06-15 04:00" --reason "update to 1.21"',
        'ownops restart mc --safe --if-empty --max-wait 2h     # when nobody is online',
        'ownops restart app                                    # now: stop, start, wait until healthy',
        'ownops restart mc --safe --in 30m --pull              # the weekly update: pull, warn, save, start the new image',
        'ownops restart mc --safe --in 30m --detach            # systemd runs the countdown',
        'ownops restart --list',
        'ownops restart --cancel mc',
        'crontab: 55 3 * * * ownops restart mc --safe --in 5m',
      ]) +
        '\n' +
        exitStatusHelp([0, 1, 2, 69, 75, 78, 130, 143]) +
        '\n  (1: not healthy after two starts (a new image is rolled back first), given up waiting for players, or a hook failed; 2: unknown service, no service named while several are configured, or --at in the past;\n   69: --detach without systemd; 130/143: cancelled during the countdown, the service keeps running; or interrupted during the restart: a stop under way gets 5 s more, then the kill, and the container is started again, not waited for)',
    )
    .action(async (service: string | undefined, _opts, cmd: Command) =>
      run(async (ctx, _args, o) => {
        const { runRestart } = await import('./commands/restart.js')
        return runRestart(ctx, {
          service,
          safe: typeof o.safe === 'boolean' ? o.safe : undefined,
          in: o.in as string | undefined,
          at: o.at as string | undefined,
          ifEmpty: o.ifEmpty === true,
          maxWait: o.maxWait as string | undefined,
          reason: o.reason as string | undefined,
          ...(o.pull === true ? { pull: true } : {}),
          detach: o.detach === true,
          dryRun: o.dryRun === true,
          list: o.list === true,
          cancel: o.cancel as string | undefined,
        })
      }, cmd, []),
    )

  program
    .command('cleanup')
    .summary('apply retention to backups, logs, Docker leftovers, temp files and old rows')
    .description(
      'Run the cleanup rules one after another; a failing rule does not stop the others. The built-in backups rule applies each target\'s keep: policy (never the newest backup), removes partial files of interrupted runs and, after restore.keepOld, the data restores replaced. Rules in cleanup.rules: files (old entries under a root; symlinks never followed, nothing outside the root), logs (gzip atomically, delete, cap the total; the newest file of a rotating set is never touched), docker (dangling images, stopped containers matching a filter, build cache, named volumes, json-file logs without a size limit over logs.truncateOver), sql (batched DELETE through the database container\'s own client).\n\n--dry-run walks the same plan and prints exactly what would be removed, compressed or deleted, why, and the bytes it would free; nothing changes. The real run prints what it did and holds the host lock.',
    )
    .argument('[rules...]', 'rule names from cleanup.rules, or backups (default: every enabled rule)')
    .option('--only <types>', 'only rules of these types: backups,logs,docker,files,sql (comma-separated or repeated)', collect, [])
    .option('-n, --dry-run', 'print what would be done and why; change nothing', false)
    .option('--wait <duration>', 'wait this long for the host lock (default: config lock.wait)')
    .addHelpText(
      'after',
      examples([
        'ownops cleanup --dry-run                 # the whole plan: what, why, how many bytes',
        'ownops cleanup',
        'ownops cleanup rows                      # one rule, e.g. the batched DELETE of a database job',
        'ownops cleanup --only logs,files --dry-run',
        'ownops cleanup --only docker --dry-run   # with logs: { truncateOver: 1GB }: the container logs it would empty',
        'ownops cleanup --json | jq ".rules[] | {rule, freed, rows}"',
      ]) +
        '\n' +
        exitStatusHelp([0, 1, 2, 69, 75, 77, 78, 130, 143]) +
        '\n  (1: at least one rule failed — the others still ran; 2: an unknown rule name or type)',
    )
    .action(async (rules: string[], _opts, cmd: Command) =>
      run(async (ctx, _args, options) => {
        const { runCleanup } = await import('./commands/cleanup.js')
        const only = options.only as string[]
        return runCleanup(ctx, { rules, only: only.length > 0 ? only : undefined, dryRun: options.dryRun === true })
      }, cmd, []),
    )

  for (const p of planned) {
    program
      .command(`${p.name}${p.usage ? ` ${p.usage.replace(/[<>]/g, (c) => (c === '<' ? '[' : ']'))}` : ''}`)
      .summary(`${p.summary} [not built yet]`)
      .description(`${p.summary[0]?.toUpperCase()}${p.summary.slice(1)}.\n\nNot built in ownops ${ownopsVersion()} yet: this command exits 69 without doing anything.`)
      .allowUnknownOption()
      .allowExcessArguments()
      .addHelpText('after', examples([p.example]) + '\n' + exitStatusHelp([69]))
      .action(async (...actionArgs: unknown[]) => {
        const cmd = actionArgs[actionArgs.length - 1] as Command
        await run(async () => {
          throw new OwnopsError(`ownops ${p.name} is not built in this version (${ownopsVersion()})`, {
            exitCode: ExitCode.unavailable,
            hint: 'nothing was done; see the README for what this version can do',
          })
        }, cmd, [])
      })
  }
  return program
}

export interface CliIo {
  env?: NodeJS.ProcessEnv
  cwd?: string
  stdout?: (text: string) => void
  stderr?: (text: string) => void
  stderrIsTTY?: boolean
  /** Whether standard input is a terminal: a person at it, not a timer (tests). */
  stdinIsTTY?: boolean
  /** Standard input for commands that read it (tests). */
  stdin?: string
  /** The time commands see (tests). */
  clock?: () => Date
  /** How commands wait on that clock (tests: a virtual clock that jumps ahead). */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>
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
  const stderrIsTTY = io.stderrIsTTY ?? Boolean(process.stderr.isTTY)
  let exitCode: number = ExitCode.ok
  const controller = new AbortController()
  let activeCtx: Ctx | undefined
  let signalCode: number | undefined

  const onSignal = (signal: NodeJS.Signals) => {
    const code = signal === 'SIGINT' ? ExitCode.sigint : ExitCode.sigterm
    if (signalCode !== undefined) {
      // A second signal: stop waiting for clean-up — unless a step that must not be cut
      // (a restore's swap or rollback) is running; it ends within seconds on its own.
      if (activeCtx?.shielded) {
        activeCtx.log.warn({ signal }, 'still putting the data back as it was; this is not interrupted')
        return
      }
      process.exit(code)
    }
    signalCode = code
    activeCtx?.log.warn({ signal }, 'interrupted: cleaning up before exit')
    controller.abort(new OwnopsError(`interrupted by ${signal}`, { exitCode: code }))
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)

  const run = async (runner: Runner, command: Command, args: string[]) => {
    const raw = command.optsWithGlobals() as Record<string, unknown>
    const options: GlobalOptions = {
      config: raw.config as string | undefined,
      json: raw.json === true,
      quiet: raw.quiet === true,
      color: raw.color !== false,
      logLevel: raw.logLevel as LogLevel | undefined,
      wait: raw.wait as string | undefined,
    }
    // Loaded only when a command runs: --help and usage errors stay cheap.
    const { Ctx } = await import('./context.js')
    const ctx: Ctx = new Ctx({
      options,
      signal: controller.signal,
      ...(io.env ? { env: io.env } : {}),
      ...(io.cwd ? { cwd: io.cwd } : {}),
      // Data on stdout is written as the command made it: never rewritten by the log
      // masker (a time zone, a path or a type name is not a secret). Commands keep secrets
      // out of their reports in the first place (config show masks secret keys).
      out: { write: (text) => stdout(text) },
      logWrite: stderr,
      ...(io.stdin !== undefined ? { readStdin: async () => io.stdin as string } : {}),
      ...(io.clock ? { clock: io.clock } : {}),
      ...(io.sleep ? { sleep: io.sleep } : {}),
      ...(io.stdinIsTTY !== undefined ? { stdinIsTTY: io.stdinIsTTY } : {}),
    })
    activeCtx = ctx
    try {
      const result = await runner(ctx, args, raw)
      ctx.out.write(options.json ? `${JSON.stringify(result.report, null, 2)}\n` : result.text)
      exitCode = result.exitCode
    } catch (error) {
      exitCode = reportError(ctx, error, options.json, stderr, stderrIsTTY)
    } finally {
      await ctx.runCleanups()
    }
    if (signalCode !== undefined) exitCode = signalCode
    // A job that ran while one of its notification channels was broken did not report as configured.
    if (exitCode === ExitCode.ok && ctx.job !== undefined && ctx.brokenChannels().length > 0) {
      ctx.log.error({ channels: ctx.brokenChannels() }, `exit 1: notification channel ${ctx.brokenChannels().join(', ')} is broken (ownops config validate)`)
      exitCode = ExitCode.failed
    }
    // A job pings the end of its heartbeat; run by a timer or cron (not on a terminal), or as
    // `notify`, it then retries what earlier runs could not deliver, within a bounded time.
    // Read-only and interactive commands never wait for either.
    await ctx.endJob(exitCode, { retryOutbox: signalCode === undefined && (ctx.job?.command === 'notify' || !ctx.stdinIsTTY) })
  }

  const program = buildProgram(run)
  // Every command, not only the program: a subcommand's usage error is exit 2 as well.
  const configure = (command: Command) => {
    command.exitOverride()
    command.configureOutput({ writeErr: stderr, writeOut: stdout })
    for (const sub of command.commands) configure(sub)
  }
  configure(program)
  try {
    await program.parseAsync(argv)
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return ExitCode.ok
      // With --json, a usage error is data too, in the shape of every failure (commander has said it on stderr).
      if (argv.slice(2).includes('--json')) {
        const command = argv.slice(2).find((a) => !a.startsWith('-'))
        stdout(`${JSON.stringify({ ok: false, error: { message: error.message.replace(/^error: /, ''), exitCode: ExitCode.usage, hint: `ownops ${command ?? ''} --help`.replace('  ', ' ') } }, null, 2)}\n`)
      }
      return ExitCode.usage
    }
    stderr(`ownops: internal error: ${(error as Error).stack ?? String(error)}\nPlease report this with the command you ran.\n`)
    return ExitCode.internal
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
  return exitCode
}

function reportError(ctx: Ctx, error: unknown, json: boolean, stderr: (text: string) => void, stderrIsTTY: boolean): number {
  const known = isOwnopsError(error) ? error : isOwnopsError((error as { cause?: unknown })?.cause) ? ((error as { cause: OwnopsError }).cause) : undefined
  const exitCode = known?.exitCode ?? ExitCode.internal
  const message = ctx.redactor.redact(known?.message ?? `internal error: ${(error as Error)?.message ?? String(error)}`)
  const details = (known?.details ?? []).map((d) => ctx.redactor.redact(d))
  const hint = known?.hint ?? (known === undefined ? 'this is a bug in ownops: please report it with the command you ran (add --log-level debug for the stack)' : undefined)
  if (json) ctx.out.write(`${JSON.stringify({ ok: false, error: { message, exitCode, details, ...(hint ? { hint } : {}) } }, null, 2)}\n`)
  const debug = ctx.options.logLevel === 'debug' || ctx.options.logLevel === 'trace'
  const stack = debug || known === undefined ? (error as Error)?.stack : undefined
  if (stderrIsTTY || ctx.env.OWNOPS_LOG_FORMAT === 'text') {
    // A person is reading: plain lines, the details and the hint each on their own.
    const lines = [`error: ${message}`, ...details.map((d) => `  ${d}`), ...(hint ? [`hint: ${hint}`] : []), ...(debug && stack ? [ctx.redactor.redact(stack)] : [])]
    stderr(`${lines.join('\n')}\n`)
  } else {
    ctx.log.error({ exitCode, ...(details.length > 0 ? { details } : {}), ...(hint ? { hint } : {}), ...(debug && stack ? { stack } : {}) }, message)
  }
  return exitCode
}

function writeStderr(text: string): void {
  try {
    writeSync(2, text)
  } catch {
    // stderr closed
  }
}

export { COMMON_EXITS }

/** Names of the commands registered as "not built yet". */
export const plannedCommands: readonly string[] = planned.map((p) => p.name)
