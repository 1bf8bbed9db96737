/** `ownops restart [SERVICE] [--safe] [--in 30m | --at 04:00]`: warn, save, stop gracefully, start, wait until healthy. */
import { helpText, WAIT_FLAGS, type Register } from '../command.js'

export const register: Register = (program, invoke) => {
  program
    .command('restart')
    .summary('restart a service safely: warn, save, stop gracefully, start, wait until healthy')
    .description(
      "Restart SERVICE (a name from restart.services, or any container; without one: restart.default, or the only configured service): stop it gracefully (its own stop signal, stopTimeout), start it, and wait until it is healthy (its Docker healthcheck, or the service's http/tcp/minecraft check, within healthyTimeout). Not healthy: one more start, then a critical alert with the last 50 log lines, exit 1. The result goes to the notify channels with the measured downtime.\n\n--safe first warns the players on a countdown (RCON tellraw/say or an exec command, at warnAt offsets within the delay) and saves (RCON save-all flush, or an exec command); a service with `safe: true` does so without the flag (--no-safe: not this time). --in/--at wait in the foreground: Ctrl-C (or `ownops restart --cancel SERVICE` from another shell) cancels, announces the cancellation and leaves the service running. --if-empty waits until nobody is online (RCON list, or a Server List Ping), at most --max-wait. --detach hands the countdown to a transient systemd timer (ownops-restart-SERVICE).",
    )
    .argument('[service]', 'a service from restart.services, or a container name (default: restart.default, or the only service)')
    .option('--safe', "warn the players on a countdown and save before the stop (default: the service's safe: setting)")
    .option('--no-safe', 'no countdown warnings and no save, even for a service with safe: true')
    .option('--in <duration>', 'restart after this long, e.g. 30m, 1h30m')
    .option('--at <time>', 'restart at this time: "2026-06-15 04:00" or 04:00 (local), or ISO 8601 with a zone')
    .option('--if-empty', 'wait until nobody is online (at most --max-wait)', false)
    .option('--max-wait <duration>', 'with --if-empty: how long to wait for the server to empty (default: ifEmpty.maxWait, 2h)')
    .option('--reason <text>', 'told to the players and in the notifications')
    .option(
      '--pull',
      "pull the container's image before the stop and start the newer image (rolled back when it does not come up healthy); default: the service's pull: setting",
    )
    .option('--detach', 'hand the restart to systemd as a transient timer and return', false)
    .option('--list', 'the pending restarts (foreground countdowns and systemd timers)', false)
    .option('--cancel <service>', 'cancel a pending restart of SERVICE')
    .option('-n, --dry-run', 'print the plan: when, the warnings, save, stop, health check; change nothing', false)
    .option(WAIT_FLAGS, 'wait this long for the host lock when the countdown ends (default: config lock.wait)')
    .addHelpText(
      'after',
      helpText({
        examples: [
          'ownops restart --in 30m                               # the only (or the default) service; safe: true warns and saves',
          'ownops restart mc --safe --in 5m                      # warn at 5m, 1m, 30s, 10s; save; restart',
          'ownops restart mc --safe --at "2026-06-15 04:00" --reason "update to 1.21"',
          'ownops restart mc --safe --if-empty --max-wait 2h     # when nobody is online',
          'ownops restart app                                    # now: stop, start, wait until healthy',
          'ownops restart mc --safe --in 30m --pull              # the weekly update: pull, warn, save, start the new image',
          'ownops restart mc --safe --in 30m --detach            # systemd runs the countdown',
          'ownops restart --list',
          'ownops restart --cancel mc',
          'crontab: 55 3 * * * ownops restart mc --safe --in 5m',
        ],
        exits: [0, 1, 2, 69, 75, 78, 130, 143],
        notes:
          '  (1: not healthy after two starts (a new image is rolled back first), given up waiting for players, or a hook failed; 2: unknown service, no service named while several are configured, or --at in the past;\n   69: --detach without systemd; 130/143: cancelled during the countdown, the service keeps running; or interrupted during the restart: a stop under way gets 5 s more, then the kill, and the container is started again, not waited for)',
      }),
    )
    .action((service, options, command) =>
      invoke(
        command,
        async (ctx) => {
          const { runRestart } = await import('../restart/run.js')
          return runRestart(ctx, {
            service,
            safe: options.safe,
            in: options.in,
            at: options.at,
            ifEmpty: options.ifEmpty,
            maxWait: options.maxWait,
            reason: options.reason,
            ...(options.pull === true ? { pull: true } : {}),
            detach: options.detach,
            dryRun: options.dryRun,
            list: options.list,
            cancel: options.cancel,
          })
        },
        { wait: options.wait },
      ),
    )
}
