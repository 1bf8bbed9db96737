/** `ownops copy [TARGET...] [--to DESTINATION]`: copy backups off the box. */
import { helpText, WAIT_FLAGS, WAIT_HELP, type Register } from '../command.js'

export const register: Register = (program, invoke) => {
  program
    .command('copy')
    .summary('copy backups off the box: rclone remotes, restic repositories, external disks')
    .description(
      "Copy to each destination in backup.destinations (or --to one) the backups it lacks — newest first, those its keep: wants — then apply its retention. rclone and path destinations get each file under a temporary name, checked against its sha256 (or the remote's md5, or a download), renamed, and its manifest last; with age: recipients the bytes are encrypted before they leave the box. restic stores one snapshot per backup. A failure never touches the local backups; the next run copies what is missing. `ownops backup` runs this for destinations without a schedule of their own.",
    )
    .argument('[targets...]', 'only these targets (default: every target each destination takes)')
    .option('--to <destination>', 'only this destination')
    .option('-n, --dry-run', 'print what would be copied and removed; change nothing', false)
    .option(WAIT_FLAGS, WAIT_HELP)
    .addHelpText(
      'after',
      helpText({
        examples: [
          'ownops copy',
          'ownops copy --to offsite',
          'ownops copy db --to usb --dry-run',
          'ownops backups --from offsite',
          'ownops verify --from offsite',
        ],
        exits: [0, 1, 2, 69, 75, 78, 130, 143],
        notes: '  (1: a copy failed — the local backups are kept and the next run retries; 69: rclone, restic or age is missing)',
      }),
    )
    .action((targets, options, command) =>
      invoke(
        command,
        async (ctx) => {
          const { runCopy } = await import('../copies/run.js')
          return runCopy(ctx, { targets, to: options.to, dryRun: options.dryRun })
        },
        { wait: options.wait },
      ),
    )
}
