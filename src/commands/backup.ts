/** `ownops backup [TARGET...]`: back up the named targets (default: all), one after another. */
import { collect, helpText, WAIT_FLAGS, WAIT_HELP, type Register } from '../command.js'

export const register: Register = (program, invoke) => {
  program
    .command('backup')
    .summary('back up databases, volumes and directories (checksummed, atomic, pruned)')
    .description(
      "Back up the named targets (default: all in backup.targets), one after another; a failing target does not stop the others.\n\nEach backup streams into a hidden partial file, checksummed (sha256) on the way, fsync'd and renamed into <backup.dir>/<target>/; its manifest (<id>.json) is written last and marks it valid. Containers in stop: (or labelled ownops.stop-during-backup=<target>) are stopped with the grace they ask for (their stop timeout, compose's stop_grace_period; else 30 s) and started again, a Minecraft world is quiesced over RCON (save-off, save-all flush, save-on always). After a successful backup the target's keep: retention prunes old backups; never after a failure.",
    )
    .argument('[targets...]', 'target names from backup.targets (default: all)')
    .option('--all', 'every configured target (the default without names)', false)
    .option('--unscheduled', 'only targets without a schedule of their own (the default backup timer)', false)
    .option('--tag <tag>', 'tag this backup (repeatable); keep: { tags: [...] } keeps tagged backups', collect, [])
    .option('-n, --dry-run', 'print what would be backed up, stopped and pruned; change nothing', false)
    .option(WAIT_FLAGS, WAIT_HELP)
    .addHelpText(
      'after',
      helpText({
        examples: [
          'ownops backup',
          'ownops backup db',
          'ownops backup db --tag pre-upgrade',
          'ownops backup --dry-run',
          'ownops backup --json | jq ".targets[] | {target, ok, size}"',
        ],
        exits: [0, 1, 2, 69, 75, 77, 78, 130, 143],
        notes:
          '  (0: every target succeeded; 1: at least one failed — the others still ran;\n   130/143: interrupted — a container being stopped gets 5 s more, then it is killed; what was stopped is started again, and the interruption is notified)',
      }),
    )
    .action((targets, options, command) =>
      invoke(
        command,
        async (ctx) => {
          const { runBackup } = await import('../backup/job.js')
          return runBackup(ctx, {
            targets: options.all ? [] : targets,
            dryRun: options.dryRun,
            unscheduled: options.unscheduled,
            tags: options.tag,
          })
        },
        { wait: options.wait },
      ),
    )
}
