/** `ownops schedule list`: the configured jobs, their next runs, and what is installed of them. */
import type { CommandResult } from '../command.js'
import type { Ctx } from '../context.js'
import { ExitCode } from '../errors.js'
import { crontab } from '../sys/crontab.js'
import { showUnits } from '../sys/systemd.js'
import { readFiles } from '../sys/unit-files.js'
import { which } from '../sys/which.js'
import { dstWarning, nextRuns } from './cron.js'
import { CRON_JOB_PREFIX, CROND_FILE, splitCrontab } from './crond.js'
import { CROND_DIR, isCronFile, isSystemdFile, planFor, rootDir, SYSTEMD_DIR, under } from './host.js'
import { renderList } from './render.js'
import type { ListedJob, ListReport } from './reports.js'
import { isGenerated } from './units.js'
import { hostZone, type Backend } from './warnings.js'

export async function listSchedule(ctx: Ctx, opts: { root?: string | undefined }): Promise<CommandResult> {
  const root = rootDir(ctx, opts.root)
  const p = planFor(ctx)
  const now = ctx.clock()
  const units = await readFiles(under(root, SYSTEMD_DIR), isSystemdFile)
  const cronText = (await readFiles(under(root, CROND_DIR), isCronFile)).get(CROND_FILE)
  const cronJobs = new Set(
    cronText !== undefined && isGenerated(cronText)
      ? cronText
          .split('\n')
          .filter((l) => l.startsWith(CRON_JOB_PREFIX))
          .map((l) => l.slice(CRON_JOB_PREFIX.length).split(':')[0] as string)
      : [],
  )
  // ownops' lines in this user's crontab (schedule install --crontab).
  const crontabJobs = new Set<string>()
  if (root === undefined && which('crontab', ctx.env) !== undefined) {
    const block =
      splitCrontab(
        await crontab({ log: ctx.log, env: ctx.env, signal: ctx.signal })
          .read()
          .catch(() => ''),
      ).block ?? ''
    for (const line of block.split('\n'))
      if (line.startsWith(CRON_JOB_PREFIX)) crontabJobs.add(line.slice(CRON_JOB_PREFIX.length).split(':')[0] as string)
  }
  const live = root === undefined && ctx.systemdRunning() && which('systemctl', ctx.env) !== undefined
  const names = p.jobs.flatMap((j) => [`${j.unit}.timer`, `${j.unit}.service`])
  const props = live
    ? await showUnits(names, ['LoadState', 'ActiveState', 'UnitFileState', 'LastTriggerUSec', 'NextElapseUSecRealtime', 'Result'], {
        log: ctx.log,
        env: ctx.env,
      })
    : new Map<string, Record<string, string>>()

  const jobs: ListedJob[] = p.jobs.map((job) => {
    const zone = job.timeZone ?? hostZone(ctx.env)
    const runs = nextRuns(job.schedule, 3, { from: now, timeZone: zone })
    const timerFile = units.get(`${job.unit}.timer`)
    const installed: Backend[] = [
      ...(timerFile !== undefined && isGenerated(timerFile) ? (['systemd'] as const) : []),
      ...(cronJobs.has(job.name) ? (['cron'] as const) : []),
      ...(crontabJobs.has(job.name) ? (['crontab'] as const) : []),
    ]
    const timer = props.get(`${job.unit}.timer`)
    const service = props.get(`${job.unit}.service`)
    const warning = dstWarning(job.schedule, zone, { from: now })
    return {
      name: job.name,
      command: job.args.join(' '),
      schedule: job.schedule,
      timezone: job.timeZone ?? null,
      nextRuns: runs.map((d) => d.toISOString()),
      ...(warning === undefined ? {} : { dstWarning: warning }),
      installed,
      systemd:
        timer === undefined
          ? null
          : {
              timer: timer.LoadState ?? 'unknown',
              active: timer.ActiveState ?? 'unknown',
              enabled: timer.UnitFileState ?? '',
              lastTrigger: emptyToNull(timer.LastTriggerUSec),
              lastResult: service?.Result && emptyToNull(timer.LastTriggerUSec) !== null ? service.Result : null,
              nextElapse: emptyToNull(timer.NextElapseUSecRealtime),
            },
    }
  })
  const configured = new Set(p.jobs.map((j) => j.unit))
  const stale = [
    ...[...units]
      .filter(([name, text]) => name.endsWith('.timer') && isGenerated(text) && !configured.has(name.slice(0, -'.timer'.length)))
      .map(([name]) => name),
    ...[...cronJobs].filter((name) => !p.jobs.some((j) => j.name === name)).map((name) => `${CROND_FILE} (job ${name})`),
  ]
  const report: ListReport = { jobs, stale, systemd: live ? 'live' : 'not running' }
  return { exitCode: ExitCode.ok, report, text: renderList(report, p, hostZone(ctx.env)) }
}

function emptyToNull(value: string | undefined): string | null {
  return value === undefined || value === '' || value === 'n/a' ? null : value
}
