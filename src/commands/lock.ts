/** `ownops lock status` and `ownops lock run -- CMD`: the host lock, and any command run under it (like flock). */
import { helpText, WAIT_FLAGS, type Register } from '../command.js'

export const register: Register = (program, invoke) => {
  const lock = program
    .command('lock')
    .summary('show the host lock, or run any command under it (like flock)')
    .description(
      'The host-wide lock that backup, restore, cleanup and restart take, in /run/ownops as root (~/.local/state/ownops/lock otherwise; lock.dir, $OWNOPS_LOCK_DIR). Only root or the user running ownops may write that directory: one another user owns, or everyone may write, is refused (exit 77). `lock status` shows its holder; `lock run -- CMD` runs a command of your own under it, so your scripts never collide with an ownops run.',
    )
    .addHelpText(
      'after',
      helpText({
        examples: ['ownops lock status', 'ownops lock run --wait 30m -- ./migrate.sh'],
        exits: [0, 1, 2, 75, 77],
        notes: '  lock run: otherwise the exit status of the command',
      }),
    )
  lock
    .command('status')
    .summary('show who holds the host lock')
    .description('Show who holds the host lock.')
    .addHelpText(
      'after',
      helpText({
        examples: ['ownops lock status', 'ownops lock status --json'],
        exits: [0, 1, 77],
        notes: '  (1: the lock is held; 77: the lock directory or file belongs to another user, or others may write it)',
      }),
    )
    .action((_options, command) =>
      invoke(command, async (ctx) => {
        const { lockStatus } = await import('../lock/run.js')
        return lockStatus(ctx)
      }),
    )
  lock
    .command('run')
    .summary('run a command of your own under the host lock (like flock)')
    .description("Run a command while holding the host lock; exits with the command's own status.")
    .argument('<command...>', 'the command and its arguments (after --)')
    .option(WAIT_FLAGS, 'wait this long for the lock (default: config lock.wait)')
    .option('--stops <names>', 'comma-separated containers or targets this command stops (monitor stays quiet about them)')
    .option('--name <text>', 'what to call this run in lock messages (default: the command line)')
    .addHelpText(
      'after',
      helpText({
        examples: ['ownops lock run -- rsync -a /srv/data /mnt/usb/', 'ownops lock run --wait 30m --stops app -- ./migrate.sh'],
        exits: [0, 75, 77],
        notes: '  otherwise: the exit status of the command',
      }),
    )
    .action((argv, options, command) =>
      invoke(
        command,
        async (ctx) => {
          const { runUnderLock } = await import('../lock/run.js')
          return runUnderLock(ctx, {
            argv,
            stops:
              options.stops
                ?.split(',')
                .map((s) => s.trim())
                .filter(Boolean) ?? [],
            name: options.name,
          })
        },
        { wait: options.wait },
      ),
    )
}
