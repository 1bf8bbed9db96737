/** `ownops monitor [CHECK...]`: one check cycle; `--pause 30m` / `--resume`. */
import { helpText, type Register } from '../command.js'

export const register: Register = (program, invoke) => {
  program
    .command('monitor')
    .summary('run one check cycle: disk, memory, load, containers, endpoints; alert once, recover')
    .description(
      'Run every check once — filesystems, memory, load, swap and every container (running, health, restarts, memory, CPU) with no config at all; HTTP, TCP, Minecraft, SQLite, containers, container logs without a size limit (kind docker-logs), an app\'s own metrics from its /metrics or a JSON page (kind prometheus: a value, rate(counter) between runs, histogram_quantile) and commands from monitor.checks — and print a table. A container check with memoryGrowth: "50MB/h over 6h" alerts on a slow leak, from the readings of the runs in that window. With the state of earlier runs, a check alerts after failuresBeforeAlert failed runs in a row (default 2), once, and sends one recovery notice; all changes of a run go out as one message. Opt-in recovery restarts a service that is down (critical; warnings only with recover.on: warning) within a budget, then alerts a human; a container in restart.services is restarted the safe way (players told, saved, graceful stop, health wait; recover.ifEmpty waits for the players to leave). A container a person stopped is not a crash: a warning, left stopped. notify.routes and a check\'s notify: send its alerts to the channels they name, and escalate: sends an alert still open after a while to further channels.\n\nRun it from a timer every minute or five. Checks named on the command line run alone. --pause keeps everything quiet for a while (checks still run, nothing alerts or restarts); so does a backup or `ownops lock run --stops NAME` for what it stops.',
    )
    .argument('[check...]', 'run (or --pause) only these checks')
    .option('--pause <duration>', 'no alerts and no recovery for this long (e.g. 30m, 2h); checks named alone are paused alone')
    .option('--resume', 'end a --pause early', false)
    .option('-n, --dry-run', 'check and show what would be notified or restarted, without doing it or writing state', false)
    .addHelpText(
      'after',
      helpText({
        examples: [
          'ownops monitor                       # the table: every check, its value, how long it has been so',
          'ownops monitor --json | jq \'.checks[] | select(.status != "ok")\'',
          'ownops monitor api db                # only these checks',
          'ownops monitor --pause 30m           # maintenance: quiet for 30 minutes',
          'ownops monitor --resume',
          'ownops monitor --dry-run             # what would be sent and restarted',
          "DOCKER_HOST=ssh://deploy@box2 ownops monitor   # the containers of another machine's engine, over ssh",
        ],
        exits: [0, 1, 2, 75, 77, 78],
        notes:
          '  (1: a check is critical — or warning, with monitor.failOn: warning; 75: the previous monitor run is still going;\n   77: the state directory cannot be read or written)',
      }),
    )
    .action((checks, options, command) =>
      invoke(command, async (ctx) => {
        const { runMonitor } = await import('../monitor/run.js')
        return runMonitor(ctx, { checks, pause: options.pause, resume: options.resume, dryRun: options.dryRun })
      }),
    )
}
