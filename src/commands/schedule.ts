/** `ownops schedule generate | install | remove | list`: the OS runs ownops (systemd timers, cron.d, or your crontab). */
import { Option, type Command, type OptionValues } from '@commander-js/extra-typings'
import { helpText, type Register } from '../command.js'
import { DEFAULT_BIN, DEFAULT_CONFIG_FILE } from '../sys/paths.js'

type Backend = 'systemd' | 'cron' | 'crontab'

/** --systemd, --cron or --crontab: one of them. */
function backendFlags<Args extends unknown[], Opts extends OptionValues, Globals extends OptionValues>(
  command: Command<Args, Opts, Globals>,
  what: string,
  crontab: string,
) {
  return command
    .addOption(new Option('--systemd', `${what} systemd units (the default)`).conflicts(['cron', 'crontab']))
    .addOption(new Option('--cron', `${what} the /etc/cron.d/ownops file`).conflicts(['systemd', 'crontab']))
    .addOption(new Option('--crontab', crontab).conflicts(['systemd', 'cron']))
}

function backendOf(options: { systemd?: true; cron?: true; crontab?: true }): Backend | undefined {
  return options.cron ? 'cron' : options.crontab ? 'crontab' : options.systemd ? 'systemd' : undefined
}

export const register: Register = (program, invoke) => {
  const schedule = program
    .command('schedule')
    .summary('generate and install systemd timers or cron.d entries that run ownops')
    .description(
      'The OS runs ownops: one systemd service + timer per job (ownops-<job>.timer), or one /etc/cron.d/ownops file. Jobs come from schedule.jobs in the config; backup (when there are backup targets), monitor and cleanup are built in, and a backup target with its own schedule: gets ownops-backup-<target>.timer.',
    )
    .addHelpText(
      'after',
      helpText({
        examples: [
          'ownops schedule list',
          'sudo ownops schedule install --dry-run',
          'sudo ownops schedule install',
          'ownops schedule generate --cron',
        ],
        exits: [0, 1, 2, 69, 77, 78],
      }),
    )

  backendFlags(schedule.command('generate'), 'make', 'print the lines for your own crontab (crontab -e form: no user field)')
    .summary('print the units, the cron.d file or crontab lines the config makes')
    .description(
      'Print the units (or the cron.d file) the config makes, each after a "# ==> NAME <==" line, or write them to a directory with --out (stale generated files there are removed; other files are left alone). --crontab prints the lines for a user\'s crontab. Units and cron lines run ownops by the absolute paths of the Node running this command and of its bin/ownops.js, or of the single executable running it (unless schedule.bin or --bin says otherwise), so nvm, fnm and volta installs work. Warns when a job\'s time falls into a daylight-saving change, when a schedule restricts both day fields (cron runs it on either), and when a job needs a path its unit or its user could not write.',
    )
    .option('--out <dir>', 'write the files to this directory instead of printing them')
    .option('--boot', 'only the boot units of schedule.boot (docker compose up -d after docker.service)', false)
    .option('--config-path <file>', 'the config path the units pass with --config (default: the config file in use)')
    .option('--bin <file>', 'the ownops executable the units run (default: schedule.bin, else this Node and this ownops)')
    .addHelpText(
      'after',
      helpText({
        examples: [
          'ownops schedule generate                       # systemd units, to stdout',
          'ownops schedule generate --cron                # the /etc/cron.d/ownops file',
          'ownops schedule generate --crontab             # lines for your crontab (crontab -e)',
          'sudo ownops schedule generate --out /etc/systemd/system && sudo systemctl daemon-reload && sudo systemctl enable --now ownops-backup.timer',
          `ownops schedule generate --out ./units --config-path ${DEFAULT_CONFIG_FILE} --bin ${DEFAULT_BIN}`,
          'ownops schedule generate --boot                # ownops-boot-<name>.service units',
        ],
        exits: [0, 2, 77, 78],
      }),
    )
    .action((options, command) =>
      invoke(command, async (ctx) => {
        const { generateSchedule } = await import('../schedule/install.js')
        return generateSchedule(ctx, {
          backend: backendOf(options) ?? 'systemd',
          out: options.out,
          boot: options.boot,
          configPath: options.configPath,
          bin: options.bin,
        })
      }),
    )

  backendFlags(
    schedule.command('install'),
    'install',
    'put the lines in your own crontab, between "# BEGIN ownops" and "# END ownops" (crontab -l, crontab -); your other lines stay as they are',
  )
    .summary('install and enable the timers (or the cron.d file, or crontab lines)')
    .description(
      'Write the units to /etc/systemd/system (or the file to /etc/cron.d, or the lines to your own crontab with --crontab), then systemctl daemon-reload and enable --now the timers and boot units. Idempotent: unchanged files are not rewritten. Removes the generated units of jobs no longer configured. Only ever replaces or deletes files that begin with "# Generated by ownops"; a file of the same name without that header stops the install before anything changes. Warns about what a job needs that its unit or its user could not write.',
    )
    .option('--dry-run', 'print a unified diff of what would change, and the systemctl commands; change nothing', false)
    .option(
      '--root <dir>',
      'install under this directory instead of / (an image or chroot); systemctl enables offline there and starts nothing',
    )
    .addHelpText(
      'after',
      helpText({
        examples: [
          'sudo ownops schedule install --dry-run',
          'sudo ownops schedule install',
          "systemctl list-timers 'ownops-*'",
          'sudo ownops schedule install --cron',
          'ownops schedule install --crontab            # as yourself, no root needed',
          'crontab -l',
        ],
        exits: [0, 1, 2, 69, 77, 78],
        notes: '  (1: a file in the way was not generated by ownops, or systemctl failed; 69: --crontab without the crontab command)',
      }),
    )
    .action((options, command) =>
      invoke(command, async (ctx) => {
        const { installSchedule } = await import('../schedule/install.js')
        return installSchedule(ctx, { backend: backendOf(options) ?? 'systemd', dryRun: options.dryRun, root: options.root })
      }),
    )

  backendFlags(schedule.command('remove'), 'remove', "take ownops' lines out of your own crontab, leaving your other lines")
    .summary('disable and delete what install wrote')
    .description(
      'Disable and delete the generated units (timers are stopped; a run in progress finishes; boot units are disabled but not stopped, so their containers keep running), and the generated cron.d file. Both kinds unless --systemd or --cron is given; --crontab removes ownops\' lines from your own crontab. Files without the "# Generated by ownops" header are never touched.',
    )
    .option('--dry-run', 'print what would be deleted; change nothing', false)
    .option('--root <dir>', 'remove under this directory instead of /')
    .addHelpText(
      'after',
      helpText({
        examples: ['sudo ownops schedule remove --dry-run', 'sudo ownops schedule remove --cron', 'ownops schedule remove --crontab'],
        exits: [0, 1, 2, 69, 77],
      }),
    )
    .action((options, command) =>
      invoke(command, async (ctx) => {
        const { removeSchedule } = await import('../schedule/install.js')
        return removeSchedule(ctx, { backend: backendOf(options), dryRun: options.dryRun, root: options.root })
      }),
    )

  schedule
    .command('list')
    .summary('the jobs, their next runs, and whether and how they are installed')
    .description(
      'The configured jobs: command, schedule, time zone, the next three runs (as the timer computes them), whether each is installed (systemd, cron), and where systemd runs, the timer state and the last result (systemctl show).',
    )
    .option('--root <dir>', 'look for installed files under this directory instead of /')
    .addHelpText(
      'after',
      helpText({ examples: ['ownops schedule list', 'ownops schedule list --json | jq ".jobs[] | {name, nextRuns}"'], exits: [0, 78] }),
    )
    .action((options, command) =>
      invoke(command, async (ctx) => {
        const { listSchedule } = await import('../schedule/list.js')
        return listSchedule(ctx, { root: options.root })
      }),
    )
}
