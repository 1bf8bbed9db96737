/** `ownops status`: one screen that answers "am I protected?". */
import { helpText, type Register } from '../command.js'

export const register: Register = (program, invoke) => {
  program
    .command('status')
    .summary('one screen: backups, verifies, copies, drills, alerts, restarts, jobs and the lock — am I protected?')
    .description(
      "Show on one screen whether this machine is protected: per backup target the newest backup (age, size, whether it was verified, its copies off the box) and the last restore drill; the monitor's open alerts; pending restarts (restart --in/--at, --detach); each scheduled job's next run and the result of its last run; and who holds the host lock. Reads only: no lock is taken, no state file is written, nothing is contacted but systemctl.\n\nA target's backup is stale when none dates from its job's last scheduled run (once that run's random delay and an hour have passed). Where systemd does not run (a container, cron instead), the next runs are computed from the installed timer units, /etc/cron.d/ownops and your crontab; --root reads the files that `schedule install --root` wrote there.",
    )
    .option('--root <dir>', 'read the installed timer units and cron file under this directory (as schedule install --root wrote them)')
    .addHelpText(
      'after',
      helpText({
        examples: [
          'ownops status                          # the overview; exit 1 when something needs attention',
          'ownops status --json | jq .attention   # what needs attention, one line each',
          'ownops status >/dev/null || echo "needs attention"   # in a script: the exit status',
          'ownops status --root /tmp/preview      # with units installed under a directory',
        ],
        exits: [0, 1, 2, 78],
        notes:
          '  (1: something needs attention: a target without a backup or with a stale one, a failed last job, an open alert,\n   a failed verify or drill, a failed or stale copy off the box, jobs not installed, a state file or directory it cannot read)',
      }),
    )
    .action((options, command) =>
      invoke(command, async (ctx) => {
        const { runStatus } = await import('../status/run.js')
        return runStatus(ctx, { root: options.root })
      }),
    )
}
