/** `ownops backups [TARGET]`: the valid backups of each target, and anything odd in the backup directory. */
import { helpText, type Register } from '../command.js'

export const register: Register = (program, invoke) => {
  program
    .command('backups')
    .summary('list backups with time, size and checksum, and anything odd')
    .description(
      'List the valid backups of each target (or one): id, time, age, size, short sha256; and anything odd in the backup directory: leftover partial files of interrupted runs, files without a manifest, manifests without their file, size mismatches.',
    )
    .argument('[target]', 'one target (default: all)')
    .option(
      '--from <destination>',
      'what a destination off the box holds (and anything odd there: missing, size or hash mismatch, unfinished uploads)',
    )
    .addHelpText(
      'after',
      helpText({
        examples: [
          'ownops backups',
          'ownops backups db',
          'ownops backups db --json | jq -r ".targets[0].backups[0].path"',
          'ownops backups --from offsite',
        ],
        exits: [0, 1, 2, 69, 78],
      }),
    )
    .action((target, options, command) =>
      invoke(command, async (ctx) => {
        if (options.from !== undefined) {
          const { runBackupsFrom } = await import('../copies/run.js')
          return runBackupsFrom(ctx, options.from, target)
        }
        const { listBackups } = await import('../backup/list.js')
        return listBackups(ctx, target)
      }),
    )
}
