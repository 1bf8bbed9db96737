/** `ownops doctor`: what ownops needs on this machine, and how to fix what is missing. */
import { helpText, type Register } from '../command.js'

export const register: Register = (program, invoke) => {
  program
    .command('doctor')
    .summary('check what ownops needs on this machine')
    .description(
      'Check what ownops needs: Node version (and the node that systemd units and cron lines find on their PATH), config, Docker engine (unix socket, tcp:// or ssh://), container logs without a size limit, state/lock/backup directories (and that only root or you can write the lock directory), systemd, cron, that installed units still find their Node, and optional tools.',
    )
    .addHelpText(
      'after',
      helpText({
        examples: ['ownops doctor', 'ownops doctor --json | jq ".checks[] | select(.status==\\"fail\\")"'],
        before:
          'Exits with the code of the most serious failure: 78 config invalid, 69 Docker unreachable or installed units run a Node that is gone, 77 a directory not writable or a lock directory another user owns.',
        exits: [0, 1, 69, 77, 78],
      }),
    )
    .action((_options, command) =>
      invoke(command, async (ctx) => {
        const { runDoctor } = await import('../doctor/run.js')
        return runDoctor(ctx)
      }),
    )
}
