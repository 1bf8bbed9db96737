/** `ownops verify [TARGET] [--all] [--drill]`: re-read backups, or restore the newest into a throwaway place. */
import { helpText, type Register } from '../command.js'

export const register: Register = (program, invoke) => {
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
    .option(
      '--from <destination>',
      'check the copies at a destination off the box instead: their stored sha256 (or md5, or a download), and restic check',
    )
    .option('--download', 'with --from: download every checked copy and hash it, whatever hashes the remote offers', false)
    .addHelpText(
      'after',
      helpText({
        examples: [
          'ownops verify',
          'ownops verify db --all',
          'ownops verify --drill',
          'ownops verify --from offsite',
          'ownops verify db --from usb --all',
        ],
        exits: [0, 1, 2, 69, 75, 78],
        notes: '  (1: a backup or copy is damaged or its drill failed; a notification says which)',
      }),
    )
    .action((target, options, command) =>
      invoke(command, async (ctx) => {
        if (options.from !== undefined) {
          const { runVerifyFrom } = await import('../copies/run.js')
          return runVerifyFrom(ctx, { from: options.from, target, all: options.all, download: options.download })
        }
        const { runVerify } = await import('../restore/entry.js')
        return runVerify(ctx, { target, all: options.all, drill: options.drill })
      }),
    )
}
