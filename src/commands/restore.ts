/** `ownops restore [TARGET [BACKUP]] | --all | --undo TARGET`: restore a backup safely. */
import { collect, helpText, WAIT_FLAGS, WAIT_HELP, type Register } from '../command.js'

export const register: Register = (program, invoke) => {
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
    .option(WAIT_FLAGS, WAIT_HELP)
    .addHelpText(
      'after',
      helpText({
        examples: [
          'ownops restore                        # the targets and their newest backups; pick one on a terminal',
          'ownops restore db --dry-run',
          'ownops restore db --yes',
          'ownops restore db --at "2026-06-15 18:00" --yes',
          'ownops restore db latest --to db_check --yes',
          'ownops restore --all --dry-run         # after losing a disk: every target, databases first',
          'ownops restore --undo db --yes',
          'ownops restore --all --from offsite --identity ~/ownops-age.key --yes   # a new machine',
        ],
        exits: [0, 1, 2, 69, 75, 77, 78, 130, 143],
        notes:
          '  (1: refused or failed — the message says what state the data is in, and a notification is sent; 2: no target or no --yes without a terminal)',
      }),
    )
    .action((target, backup, options, command) =>
      invoke(
        command,
        async (ctx) => {
          const restore = {
            targets: target !== undefined ? [target] : [],
            all: options.all,
            backup,
            at: options.at,
            to: options.to,
            dryRun: options.dryRun,
            yes: options.yes,
            undo: options.undo,
            safetyCopy: options.safetyCopy,
            rollback: options.rollback,
            stop: options.stop,
            allowOutsideLinks: options.allowOutsideLinks,
          }
          if (options.from !== undefined) {
            const { runRestoreFrom } = await import('../copies/run.js')
            return runRestoreFrom(ctx, { ...restore, from: options.from, identity: options.identity })
          }
          const { runRestore } = await import('../restore/entry.js')
          return runRestore(ctx, restore)
        },
        { wait: options.wait },
      ),
    )
}
