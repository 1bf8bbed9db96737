/**
 * The /etc/cron.d/ownops file. Pure: a plan in, text out.
 *
 * Each entry runs under `flock -n` (a run never starts while the previous one of the same job
 * is still going) and `timeout` (a hung run ends), and sends its output to syslog with
 * `logger -t ownops-<job>`: logger (util-linux, or busybox) exists on every Linux and reaches
 * rsyslog, busybox syslogd and journald alike, where systemd-cat needs journald.
 * cron has no portable time zone per entry (cronie's CRON_TZ is ignored by Debian's cron), so
 * a job with a time zone is refused rather than silently run at the host's time.
 */
import { ExitCode, OwnopsError } from '../errors.js'
import { ownopsArgs, type ScheduledJob, type SchedulePlan } from './jobs.js'
import { GENERATED_MARK, type GeneratedFile } from './units.js'

/** cron.d file name: letters, digits, - and _ only (run-parts rules; Debian's cron skips others). */
export const CROND_FILE = 'ownops'
export const CROND_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

/** Marks the comment above each entry, so `schedule list` can tell which jobs the file holds. */
export const CRON_JOB_PREFIX = '# job '

export function renderCronD(plan: SchedulePlan): GeneratedFile {
  const zoned = plan.jobs.filter((j) => j.timeZone !== undefined)
  if (zoned.length > 0) {
    throw new OwnopsError('cron.d cannot run a job in a time zone of its own', {
      exitCode: ExitCode.config,
      details: groupByKey(zoned),
      hint: "cron runs every entry in the host's time zone (Debian's cron ignores CRON_TZ): remove the timezone keys for cron, set the host's zone with timedatectl, or use --systemd",
    })
  }
  const source = plan.settings.configFile ?? 'the built-in defaults'
  const lines = [
    `${GENERATED_MARK} from ${source}.`,
    '# Do not edit: change the config, then run `ownops schedule install --cron`.',
    '#',
    '# Each job runs under flock -n (never twice at once) and timeout; its output goes to',
    '# syslog as ownops-<job>: journalctl -t ownops-backup, or grep ownops-backup /var/log/syslog.',
    '# cron does not catch up runs missed while the machine was off, and runs at host time.',
    'SHELL=/bin/sh',
    `PATH=${CROND_PATH}`,
    'MAILTO=""',
    'OWNOPS_LOG_FORMAT=text',
  ]
  for (const job of plan.jobs) {
    lines.push('', `${CRON_JOB_PREFIX}${job.name}: ${oneLine(job.description)}`, cronEntry(job, plan))
  }
  return { name: CROND_FILE, content: `${lines.join('\n')}\n` }
}

function cronEntry(job: ScheduledJob, plan: SchedulePlan): string {
  const command = [plan.settings.bin, ...ownopsArgs(plan.settings, job.args)].map(shellWord).join(' ')
  const lock = `/run/lock/ownops-${job.name}.cron.lock`
  const parts = [
    // POSIX sh has no $RANDOM: shuf (coreutils, busybox) picks the delay.
    ...(job.randomDelaySec ? [`sleep $(shuf -i 0-${job.randomDelaySec - 1} -n 1) &&`] : []),
    `flock -n ${shellWord(lock)}`,
    `timeout ${job.timeoutSec}`,
    command,
    `2>&1 | logger -t ${shellWord(job.unit)}`,
  ]
  // cron turns an unescaped % into a newline: every % in the command is escaped.
  return `${job.schedule} ${job.user} ${parts.join(' ').replace(/%/g, '\\%')}`
}

/** A word for /bin/sh: as it is when safe, otherwise single-quoted. */
export function shellWord(word: string): string {
  if (word !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word
  return `'${word.replace(/'/g, `'\\''`)}'`
}

function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, ' ')
}

/** "schedule.timezone: Asia/Tokyo (jobs a, b)" lines, one per config key. */
function groupByKey(jobs: readonly ScheduledJob[]): string[] {
  const byKey = new Map<string, ScheduledJob[]>()
  for (const job of jobs) {
    const key = `${(job.timeZoneKey ?? ['schedule', 'timezone']).join('.')}: ${job.timeZone}`
    byKey.set(key, [...(byKey.get(key) ?? []), job])
  }
  return [...byKey].map(([key, list]) => `${key} (job${list.length === 1 ? '' : 's'} ${list.map((j) => j.name).join(', ')})`)
}
