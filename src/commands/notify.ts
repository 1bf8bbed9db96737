/** `ownops notify`: a message to the configured channels, routed by level; --test; --failed-unit for OnFailure=. */
import { Option } from '@commander-js/extra-typings'
import { collect, helpText, type Register } from '../command.js'

export const register: Register = (program, invoke) => {
  program
    .command('notify')
    .summary('send a message to the configured channels, routed by level')
    .description(
      'Send a message to Discord, Slack, e-mail, ntfy, Telegram, Gotify, PagerDuty, JSON webhooks or a game\'s chat (rcon://), routed by level: each channel takes the levels in its `levels:` (default warning and above; a game chat none: only --channel or a route); notify.routes and the notify: of checks, targets and services route by what the event is about; --channel overrides. The message comes from the argument, or from standard input with "-"; without --title its first line is the title.\n\nFailed deliveries are retried (network errors, 5xx, 429 after the delay it asks for) within notify.budget, then kept in an outbox in the state directory that the next job (backup, monitor, cleanup…) or notify retries; a request that went out whole without an answer is repeated only where the channel recognises repeats (JSON webhooks: Idempotency-Key; e-mail: Message-ID). Secrets are masked in everything sent.',
    )
    .argument('[message]', 'the message, or - to read it from standard input')
    .addOption(
      new Option('-l, --level <level>', 'severity, for routing and colour')
        .choices(['info', 'warning', 'error', 'critical'] as const)
        .default('info' as const),
    )
    .option('-t, --title <text>', 'title (default: the first line of the message)')
    .option('--channel <channel>', 'send to this channel only, whatever its levels (repeatable)', collect, [])
    .option('--attach-file <file>', 'attach a file (e-mail channels; repeatable, up to 8 MiB)', collect, [])
    .option('--test', 'send a test message to every channel (or each --channel) and report each result', false)
    .option('--failed-unit <unit>', 'report a failed systemd unit with its exit status and journal tail (for OnFailure=)')
    .addHelpText(
      'after',
      helpText({
        examples: [
          'ownops notify --test',
          'echo "disk 91% on /srv" | ownops notify --level warning -',
          'ownops notify --level error --title "nightly job failed" --attach-file /var/log/job.log "see the attached log"',
          'ownops notify --channel discord "deploy finished"',
          'ownops notify --channel mc-chat "Server maintenance at 04:00"   # the players read it in the game chat',
          '# /etc/systemd/system/ownops-notify@.service:  ExecStart=/usr/local/bin/ownops notify --failed-unit %i',
        ],
        exits: [0, 1, 2, 78],
        notes:
          '  (0: at least one channel delivered, or no channel takes this level; 1: none delivered — one shown as unconfirmed\n   got the whole request and did not answer: it may have arrived, and is not sent again)',
      }),
    )
    .action((message, options, command) =>
      invoke(command, async (ctx) => {
        const { runNotify } = await import('../notify/message.js')
        return runNotify(ctx, {
          message,
          level: options.level,
          title: options.title,
          channel: options.channel,
          attachFile: options.attachFile,
          test: options.test,
          failedUnit: options.failedUnit,
        })
      }),
    )
}
