/** `ownops cleanup [RULE...] [--only TYPES] [--dry-run]`: retention for backups, logs, Docker leftovers, temp files and old rows. */
import { collect, helpText, WAIT_FLAGS, WAIT_HELP, type Register } from '../command.js'

export const register: Register = (program, invoke) => {
  program
    .command('cleanup')
    .summary('apply retention to backups, logs, Docker leftovers, temp files and old rows')
    .description(
      "Run the cleanup rules one after another; a failing rule does not stop the others. The built-in backups rule applies each target's keep: policy (never the newest backup), removes partial files of interrupted runs and, after restore.keepOld, the data restores replaced. Rules in cleanup.rules: files (old entries under a root; symlinks never followed, nothing outside the root), logs (gzip atomically, delete, cap the total; the newest file of a rotating set is never touched), docker (dangling images, stopped containers matching a filter, build cache, named volumes, json-file logs without a size limit over logs.truncateOver), sql (batched DELETE through the database container's own client).\n\n--dry-run walks the same plan and prints exactly what would be removed, compressed or deleted, why, and the bytes it would free; nothing changes. The real run prints what it did and holds the host lock.",
    )
    .argument('[rules...]', 'rule names from cleanup.rules, or backups (default: every enabled rule)')
    .option('--only <types>', 'only rules of these types: backups,logs,docker,files,sql (comma-separated or repeated)', collect, [])
    .option('-n, --dry-run', 'print what would be done and why; change nothing', false)
    .option(WAIT_FLAGS, WAIT_HELP)
    .addHelpText(
      'after',
      helpText({
        examples: [
          'ownops cleanup --dry-run                 # the whole plan: what, why, how many bytes',
          'ownops cleanup',
          'ownops cleanup rows                      # one rule, e.g. the batched DELETE of a database job',
          'ownops cleanup --only logs,files --dry-run',
          'ownops cleanup --only docker --dry-run   # with logs: { truncateOver: 1GB }: the container logs it would empty',
          'ownops cleanup --json | jq ".rules[] | {rule, freed, rows}"',
        ],
        exits: [0, 1, 2, 69, 75, 77, 78, 130, 143],
        notes: '  (1: at least one rule failed — the others still ran; 2: an unknown rule name or type)',
      }),
    )
    .action((rules, options, command) =>
      invoke(
        command,
        async (ctx) => {
          const { runCleanup } = await import('../cleanup/run.js')
          return runCleanup(ctx, { rules, only: options.only.length > 0 ? options.only : undefined, dryRun: options.dryRun })
        },
        { wait: options.wait },
      ),
    )
}
