/** `ownops init`: a first config from what runs on this machine, and an env file for its secrets. */
import { collect, helpText, type Register } from '../command.js'
import { OwnopsError } from '../errors.js'
import { DEFAULT_BACKUP_DIR, DEFAULT_CONFIG_FILE, DEFAULT_ENV_FILE } from '../sys/paths.js'

export const register: Register = (program, invoke) => {
  program
    .command('init')
    .summary('write a first config from the containers, volumes and databases on this machine')
    .description(
      `Look at this machine — running containers and their images (PostgreSQL, MariaDB/MySQL, Minecraft servers with RCON settings in their environment), SQLite files on their volumes and bind mounts, named volumes, compose projects, free disk — and write a commented config with the backup targets, monitor checks, restart services, clean-up rules and boot units found, plus an env file (mode 0600) for the secrets it needs. Database passwords are not copied: the dumps use the container's own environment. Then validate the config and show what \`schedule install --dry-run\` would do.\n\nOn a terminal each finding is asked about (y/n, Enter is yes); --yes takes them all, and is needed off a terminal. Writes to --config (default: $OWNOPS_CONFIG, else ${DEFAULT_CONFIG_FILE}) and --env-file (default: beside the config, ${DEFAULT_ENV_FILE} for the default config), and never overwrites a file.`,
    )
    .option('-y, --yes', 'take every finding without asking (needed off a terminal)', false)
    .option('--env-file <file>', 'where the secrets go (default: the config path with .env)')
    .option('--backup-dir <dir>', `backup.dir of the new config (default: ${DEFAULT_BACKUP_DIR})`)
    .option('--container <glob>', 'only containers whose name matches (repeatable; * and ? as in the shell)', collect, [])
    .option('-n, --dry-run', 'print the config instead of writing anything (secrets stay out of it)', false)
    .option('--print', 'the same as --dry-run', false)
    .addHelpText(
      'after',
      helpText({
        examples: [
          'sudo ownops init                                   # ask about each finding, write /etc/ownops/ownops.yml',
          'sudo ownops init --yes                             # take everything found',
          'ownops init --print | less                         # look first, write nothing',
          "ownops init --container 'app-*' --print            # only the containers of one stack",
          'ownops init -c ./ownops.yml --env-file ./ownops.env --backup-dir /srv/backups --yes',
        ],
        exits: [0, 1, 2, 69, 77, 78],
        notes:
          '  (1: the config or env file exists already — nothing was written; 2: off a terminal without --yes;\n   78: the written config does not validate — please report it)',
      }),
    )
    .action((options, command) =>
      invoke(command, async (ctx) => {
        const print = options.dryRun || options.print
        let confirm
        let close = () => {}
        if (!options.yes && !print) {
          if (!ctx.stdinIsTTY)
            throw new OwnopsError('ownops init asks about each finding, and standard input is not a terminal', {
              kind: 'usage',
              hint: 'pass --yes to take every finding (or --print to look at the config first)',
            })
          const { InputClosed, terminalPrompter } = await import('../sys/terminal.js')
          const prompter = terminalPrompter()
          close = () => prompter.close()
          confirm = (finding: { summary: string }) =>
            prompter.confirm(`${finding.summary[0]?.toUpperCase() ?? ''}${finding.summary.slice(1)}?`).catch((error: unknown) => {
              throw error instanceof InputClosed
                ? new OwnopsError('standard input ended before every finding was answered; nothing was written', {
                    kind: 'usage',
                    hint: 'answer each question with y or n (Enter is yes), or pass --yes',
                  })
                : error
            })
        }
        const { runInit } = await import('../init/run.js')
        try {
          return await runInit(ctx, {
            configPath: ctx.options.config,
            envFile: options.envFile,
            backupDir: options.backupDir,
            only: options.container,
            yes: options.yes,
            print,
            confirm,
          })
        } finally {
          close()
        }
      }),
    )
}
