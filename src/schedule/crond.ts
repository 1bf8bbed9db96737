/**
 * The /etc/cron.d/ownops file, and the block of lines ownops keeps in a user's crontab.
 * Pure: a plan in, text out.
 *
 * Each entry runs under `flock -n` (a run never starts while the previous one of the same job
 * is still going) and `timeout` (a hung run ends), and sends its output to syslog with
 * `logger -t ownops-<job>`: logger (util-linux, or busybox) exists on every Linux and reaches
 * rsyslog, busybox syslogd and journald alike, where systemd-cat needs journald. The flock
 * files live in ownops' lock directory, which only root (or the job's user) can write: in a
 * world-writable directory anyone could hold them and silently stop the job.
 * cron has no portable time zone per entry (cronie's CRON_TZ is ignored by Debian's cron), so
 * a job with a time zone is refused rather than silently run at the host's time.
 */
import { dirname } from 'node:path'
import { OwnopsError } from '../errors.js'
import { ownopsArgs, type BootUnit, type ScheduledJob, type SchedulePlan } from './jobs.js'
import { GENERATED_MARK, type GeneratedFile } from './units.js'

/** cron.d file name: letters, digits, - and _ only (run-parts rules; Debian's cron skips others). */
export const CROND_FILE = 'ownops'
export const CROND_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

/** Marks the comment above each entry, so `schedule list` can tell which jobs the file holds. */
export const CRON_JOB_PREFIX = '# job '

/** The lines around ownops' block in a user's crontab. */
export const CRONTAB_BEGIN = '# BEGIN ownops'
export const CRONTAB_END = '# END ownops'

/** A user's lock directory as cron's shell finds it (cron sets HOME), when lock.dir is not set. */
const HOME_LOCK_DIR = '"$HOME"/.local/state/ownops/lock'

export function renderCronD(plan: SchedulePlan): GeneratedFile {
  refuseZones(plan, 'cron.d')
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
    // root's jobs lock in ownops' lock directory; another user's in its own (or a shared lock.dir).
    const lockDir = job.user === 'root' || plan.settings.lockDirSet ? plan.settings.lockDir : HOME_LOCK_DIR
    lines.push(
      '',
      `${CRON_JOB_PREFIX}${job.name}: ${oneLine(job.description)}`,
      `${job.schedule} ${job.user} ${cronCommand(job, plan, lockDir)}`,
    )
  }
  return { name: CROND_FILE, content: `${lines.join('\n')}\n` }
}

export interface CrontabOptions {
  /** The lock directory of the user whose crontab this is (absolute). */
  lockDir: string
  /** Add @reboot lines for the boot units (where systemd does not run them). */
  bootAtReboot: boolean
}

/**
 * The lines ownops keeps in a user's crontab (`crontab -e` form: no user field), between
 * CRONTAB_BEGIN and CRONTAB_END. No variable assignments: in a crontab they would change the
 * user's own lines below them; each entry sets what it needs itself.
 */
export function renderCrontab(plan: SchedulePlan, options: CrontabOptions): string {
  refuseZones(plan, 'a crontab')
  const source = plan.settings.configFile ?? 'the built-in defaults'
  const lines = [
    `${CRONTAB_BEGIN} (generated from ${source}; change the config, then run \`ownops schedule install --crontab\`)`,
    '# Each job runs under flock -n and timeout; its output goes to syslog: journalctl -t ownops-<job>, or /var/log/syslog.',
  ]
  for (const job of plan.jobs) {
    lines.push(
      `${CRON_JOB_PREFIX}${job.name}: ${oneLine(job.description)}`,
      `${job.schedule} ${cronCommand(job, plan, options.lockDir, 'OWNOPS_LOG_FORMAT=text ')}`,
    )
  }
  if (options.bootAtReboot) {
    for (const boot of plan.boot)
      lines.push(`${CRON_JOB_PREFIX}${boot.unit}: ${oneLine(boot.description)}`, `@reboot ${bootCommand(boot, plan, options.lockDir)}`)
  }
  lines.push(CRONTAB_END)
  return `${lines.join('\n')}\n`
}

/** A crontab with ownops' block put in place of the old one (or appended), the other lines as they were. */
export function replaceCrontabBlock(crontab: string, block: string | undefined): string {
  const { before, after } = splitCrontab(crontab)
  const head = before === '' || before.endsWith('\n') ? before : `${before}\n`
  return `${head}${block ?? ''}${after}`
}

/** The user's lines before and after ownops' block, and the block itself (undefined: none). */
export function splitCrontab(crontab: string): { before: string; block: string | undefined; after: string } {
  const lines = crontab.split(/(?<=\n)/)
  const begin = lines.findIndex((l) => l.startsWith(CRONTAB_BEGIN))
  if (begin === -1) return { before: crontab, block: undefined, after: '' }
  let end = lines.findIndex((l, i) => i > begin && l.replace(/\n$/, '') === CRONTAB_END)
  if (end === -1) end = lines.length - 1
  return { before: lines.slice(0, begin).join(''), block: lines.slice(begin, end + 1).join(''), after: lines.slice(end + 1).join('') }
}

function refuseZones(plan: SchedulePlan, where: string): void {
  const zoned = plan.jobs.filter((j) => j.timeZone !== undefined)
  if (zoned.length > 0) {
    throw new OwnopsError(`${where === 'cron.d' ? 'cron.d' : 'cron'} cannot run a job in a time zone of its own`, {
      kind: 'config',
      details: groupByKey(zoned),
      hint: "cron runs every entry in the host's time zone (Debian's cron ignores CRON_TZ): remove the timezone keys for cron, set the host's zone with timedatectl, or use --systemd",
    })
  }
}

/** mkdir + flock -n + timeout + the command, its output to syslog; every % escaped for cron. */
function cronCommand(job: ScheduledJob, plan: SchedulePlan, lockDir: string, env = ''): string {
  const command = [...plan.settings.exec, ...ownopsArgs(plan.settings, job.args)].map(shellWord).join(' ')
  return wrap(`${job.name}.cron.lock`, lockDir, job.timeoutSec, `${env}`, command, job.unit, job.randomDelaySec)
}

/** An @reboot entry for a boot unit: wait for the Docker engine, then compose up -d in the file's directory. */
function bootCommand(boot: BootUnit, plan: SchedulePlan, lockDir: string): string {
  const docker = shellWord(plan.settings.docker)
  const compose = [
    plan.settings.docker,
    'compose',
    ...boot.composeFiles.flatMap((f) => ['-f', f]),
    ...(boot.project ? ['-p', boot.project] : []),
    ...(boot.envFile ? ['--env-file', boot.envFile] : []),
    'up',
    '-d',
  ]
  const script = `until ${docker} info >/dev/null 2>&1; do sleep 5; done; cd "$1" && shift && exec "$@"`
  const command = `sh -c ${shellWord(script)} sh ${[dirname(boot.composeFiles[0] as string), ...compose].map(shellWord).join(' ')}`
  return wrap(`${boot.unit}.cron.lock`, lockDir, boot.timeoutSec, '', command, boot.unit, undefined)
}

function wrap(
  lockName: string,
  lockDir: string,
  timeoutSec: number,
  env: string,
  command: string,
  tag: string,
  randomDelaySec: number | undefined,
): string {
  const dir = lockDir === HOME_LOCK_DIR ? lockDir : shellWord(lockDir)
  const parts = [
    // POSIX sh has no $RANDOM: shuf (coreutils, busybox) picks the delay.
    ...(randomDelaySec ? [`sleep $(shuf -i 0-${randomDelaySec - 1} -n 1) &&`] : []),
    `mkdir -p -m 700 ${dir} &&`,
    `${env}flock -n ${dir}/${shellWord(lockName)}`,
    `timeout ${timeoutSec}`,
    command,
    `2>&1 | logger -t ${shellWord(tag)}`,
  ]
  // cron turns an unescaped % into a newline: every % in the command is escaped.
  return parts.join(' ').replace(/%/g, '\\%')
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
