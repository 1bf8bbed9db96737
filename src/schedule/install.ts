/**
 * `ownops schedule generate | install | remove | list`: the OS runs ownops. systemd timers
 * (default) or one cron.d file, generated from the config; install and remove touch only
 * files that carry ownops' generated-file mark.
 */
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { CommandResult, Ctx } from '../context.js'
import { ExitCode, OwnopsError } from '../errors.js'
import { planChanges, renderChanges, systemctlSteps, type SystemctlSteps } from '../schedule/changes.js'
import { dstWarning, nextRuns } from '../schedule/cron.js'
import { hostZone, planWarnings, type Backend } from '../schedule/warnings.js'
import { wallClock } from '../time-zone.js'
import { CRON_JOB_PREFIX, CROND_FILE, renderCronD, renderCrontab, replaceCrontabBlock, splitCrontab } from '../schedule/crond.js'
import { unifiedDiff } from '../schedule/diff.js'
import { planSchedule, runtimeDirectory, writablePaths, type SchedulePlan } from '../schedule/jobs.js'
import { isGenerated, renderSystemdUnits, type GeneratedFile } from '../schedule/units.js'
import { crontab } from '../sys/crontab.js'
import { defaultLockDir } from '../sys/paths.js'
import { ownopsRuntime } from '../sys/runtime.js'
import { showUnits, systemctl, systemdRunning, type SystemctlResult } from '../sys/systemd.js'
import { applyChanges, ensureDirs, readFiles } from '../sys/unit-files.js'
import { which } from '../sys/which.js'
import { renderTable } from '../text.js'

export type { Backend }

export const SYSTEMD_DIR = '/etc/systemd/system'
export const CROND_DIR = '/etc/cron.d'

/** The files of each backend that ownops may own. */
const isSystemdFile = (name: string) => /^ownops-[A-Za-z0-9_.@-]*\.(service|timer)$/.test(name)
const isCronFile = (name: string) => name === CROND_FILE

export interface GenerateOptions {
  backend: Backend
  out?: string | undefined
  boot: boolean
  /** The config path the units pass with --config (default: the config file in use). */
  configPath?: string | undefined
  /** What the units run (default: schedule.bin, else this Node and this ownops). */
  bin?: string | undefined
}

export interface GenerateReport {
  backend: Backend
  files: Array<{ name: string; content: string }>
  out?: string
  changes?: Array<{ action: string; name: string }>
  warnings: string[]
}

function plan(ctx: Ctx, configPath?: string, bin?: string): SchedulePlan {
  const loaded = ctx.config()
  return planSchedule(loaded.config, { configFile: configPath === undefined ? loaded.file : resolve(ctx.cwd, configPath), runtime: ownopsRuntime(), bin })
}

/** The crontab name in reports: the user's crontab. */
const CRONTAB = 'crontab'

function render(ctx: Ctx, p: SchedulePlan, backend: Backend, boot: 'include' | 'only'): GeneratedFile[] {
  if (backend === 'crontab') {
    if (boot === 'only') throw new OwnopsError('--boot makes systemd units; with --crontab, boot units become @reboot lines where systemd does not run', { kind: 'usage', hint: 'drop --boot' })
    const bootAtReboot = !systemdRunning()
    if (p.boot.length > 0 && !bootAtReboot) ctx.log.warn({ boot: p.boot.map((b) => b.name) }, 'schedule.boot entries are left to systemd here (ownops schedule install --boot): no @reboot lines')
    const lockDir = defaultLockDir(ctx.env, ctx.config().config.lock.dir)
    return [{ name: CRONTAB, content: renderCrontab(p, { lockDir, bootAtReboot }) }]
  }
  if (backend === 'cron') {
    if (boot === 'only') throw new OwnopsError('--boot makes systemd units; cron has no equivalent', { kind: 'usage', hint: 'drop --cron' })
    if (p.boot.length > 0) ctx.log.warn({ boot: p.boot.map((b) => b.name) }, 'schedule.boot entries are systemd units: cron.d does not start them (ownops schedule generate --boot)')
    return [renderCronD(p)]
  }
  return renderSystemdUnits(p, { boot })
}

export async function runScheduleGenerate(ctx: Ctx, opts: GenerateOptions): Promise<CommandResult> {
  const p = plan(ctx, opts.configPath, opts.bin)
  const files = render(ctx, p, opts.backend, opts.boot ? 'only' : 'include')
  const warnings = planWarnings(ctx, p, opts.backend)
  if (opts.backend === 'crontab') {
    if (opts.out !== undefined) throw new OwnopsError('--crontab prints the lines for your crontab; --out writes files', { kind: 'usage', hint: 'drop --out, or use ownops schedule install --crontab' })
    const report: GenerateReport = { backend: opts.backend, files, warnings }
    return { exitCode: ExitCode.ok, report, text: (files[0] as GeneratedFile).content }
  }
  if (opts.out === undefined) {
    const text = files.map((f) => `# ==> ${f.name} <==\n${f.content}`).join('\n')
    const report: GenerateReport = { backend: opts.backend, files, warnings }
    return { exitCode: ExitCode.ok, report, text }
  }
  // --out keeps a directory in sync: stale generated files of the same kind go.
  const out = resolve(ctx.cwd, opts.out)
  const present = await readFiles(out, opts.backend === 'cron' ? isCronFile : isSystemdFile)
  const { changes, conflicts } = planChanges(files, opts.boot ? onlyBoot(present) : present)
  refuseConflicts(conflicts, out)
  await applyChanges(out, changes)
  const report: GenerateReport = { backend: opts.backend, files, out, changes: changes.map(({ action, name }) => ({ action, name })), warnings }
  return { exitCode: ExitCode.ok, report, text: `${renderTable(['ACTION', 'FILE'], changes.map((c) => [c.action, join(out, c.name)]))}` }
}

/** With --boot, only boot units are considered: the job units in the directory stay. */
function onlyBoot(present: Map<string, string>): Map<string, string> {
  return new Map([...present].filter(([name]) => name.startsWith('ownops-boot-')))
}

function refuseConflicts(conflicts: readonly string[], dir: string): void {
  if (conflicts.length === 0) return
  throw new OwnopsError(`${conflicts.length === 1 ? 'a file' : `${conflicts.length} files`} in the way that ownops did not generate: ${conflicts.map((c) => join(dir, c)).join(', ')}`, {
    kind: 'failed',
    hint: 'nothing was changed; move them away (ownops never overwrites a file without its "# Generated by ownops" header), or rename the job',
  })
}

export interface InstallOptions {
  backend: Backend
  dryRun: boolean
  /** Install under this directory instead of / (an image, a chroot, tests); systemctl runs offline there. */
  root?: string | undefined
}

export interface InstallReport {
  backend: Backend
  dir: string
  dryRun: boolean
  changes: Array<{ action: string; name: string }>
  createdDirs: string[]
  commands: Array<{ command: string; ok: boolean; output?: string }>
  notes: string[]
  warnings: string[]
  diff?: string
}

interface Systemctl {
  /** How systemctl runs here: live, offline on --root, or not at all. */
  mode: 'live' | 'offline' | 'none'
  why?: string
}

function systemctlMode(ctx: Ctx, root: string | undefined): Systemctl {
  if (which('systemctl', ctx.env) === undefined) return { mode: 'none', why: 'systemctl is not installed' }
  if (root !== undefined) return { mode: 'offline' }
  if (!systemdRunning()) return { mode: 'none', why: 'systemd is not running here' }
  return { mode: 'live' }
}

function rootDir(ctx: Ctx, root: string | undefined): string | undefined {
  return root === undefined ? undefined : resolve(ctx.cwd, root)
}

const under = (root: string | undefined, path: string) => (root === undefined ? path : join(root, path))

export async function runScheduleInstall(ctx: Ctx, opts: InstallOptions): Promise<CommandResult> {
  if (opts.backend === 'crontab') return installCrontab(ctx, opts)
  const root = rootDir(ctx, opts.root)
  const p = plan(ctx)
  const files = render(ctx, p, opts.backend, 'include')
  const dir = under(root, opts.backend === 'cron' ? CROND_DIR : SYSTEMD_DIR)
  const present = await readFiles(dir, opts.backend === 'cron' ? isCronFile : isSystemdFile)
  const { changes, conflicts } = planChanges(files, present)
  refuseConflicts(conflicts, dir)
  const other = [...toolWarnings(ctx, p, root, opts.backend), ...(await otherBackendWarning(root, opts.backend))]
  for (const w of other) ctx.log.warn(w)
  const warnings = [...planWarnings(ctx, p, opts.backend), ...other]

  const report: InstallReport = { backend: opts.backend, dir, dryRun: opts.dryRun, changes: changes.map(({ action, name }) => ({ action, name })), createdDirs: [], commands: [], notes: [], warnings }
  const changed = changes.some((c) => c.action !== 'unchanged')
  const sc = opts.backend === 'systemd' ? systemctlMode(ctx, root) : undefined
  const steps = opts.backend === 'systemd' ? systemctlSteps(p, changes, 'install', (sc as Systemctl).mode, changed) : { before: [], after: [] }
  if (opts.dryRun) {
    report.diff = renderChanges(changes, dir)
    report.notes.push(...plannedNotes(steps, sc, root))
    return { exitCode: ExitCode.ok, report, text: dryRunText(report) }
  }

  report.createdDirs = await ensureDirs(writableDirs(p, root))
  const failed = await runSteps(ctx, steps.before, root, report)
  await applyChanges(dir, changes)
  const failedAfter = await runSteps(ctx, steps.after, root, report)
  if (opts.backend === 'cron' && changed) report.notes.push('cron reads the new file within a minute; nothing to reload')
  if (sc !== undefined && sc.mode === 'none') report.notes.push(`${sc.why}: ran no systemctl; once it is, run: systemctl daemon-reload && systemctl enable --now ${timerNames(p).join(' ')}`)
  if (sc?.mode === 'offline') report.notes.push(`enabled offline under ${root}: nothing was started`)
  if (sc?.mode === 'live' && p.boot.length > 0) {
    report.notes.push(`boot units are enabled for the next boot, not started now (that would run docker compose up -d): systemctl start ${p.boot.map((b) => `${b.unit}.service`).join(' ')}`)
  }
  return { exitCode: failed || failedAfter ? ExitCode.failed : ExitCode.ok, report, text: resultText(report) }
}

export interface RemoveOptions {
  /** Both when not given. */
  backend?: Backend | undefined
  dryRun: boolean
  root?: string | undefined
}

export async function runScheduleRemove(ctx: Ctx, opts: RemoveOptions): Promise<CommandResult> {
  if (opts.backend === 'crontab') return removeCrontab(ctx, opts)
  const root = rootDir(ctx, opts.root)
  const backends: Array<'systemd' | 'cron'> = opts.backend === undefined ? ['systemd', 'cron'] : [opts.backend]
  const reports: InstallReport[] = []
  let exitCode: number = ExitCode.ok
  for (const backend of backends) {
    const dir = under(root, backend === 'cron' ? CROND_DIR : SYSTEMD_DIR)
    const present = await readFiles(dir, backend === 'cron' ? isCronFile : isSystemdFile)
    const { changes } = planChanges([], present, true)
    const report: InstallReport = { backend, dir, dryRun: opts.dryRun, changes: changes.map(({ action, name }) => ({ action, name })), createdDirs: [], commands: [], notes: [], warnings: [] }
    reports.push(report)
    const kept = [...present.entries()].filter(([, text]) => !isGenerated(text)).map(([name]) => name)
    if (kept.length > 0) report.notes.push(`left alone (not generated by ownops): ${kept.join(', ')}`)
    const sc = backend === 'systemd' ? systemctlMode(ctx, root) : undefined
    const steps = backend === 'systemd' ? systemctlSteps(undefined, changes, 'remove', (sc as Systemctl).mode, changes.length > 0) : { before: [], after: [] }
    if (opts.dryRun) {
      report.diff = renderChanges(changes, dir)
      report.notes.push(...plannedNotes(steps, sc, root))
      continue
    }
    if (await runSteps(ctx, steps.before, root, report)) exitCode = ExitCode.failed
    await applyChanges(dir, changes)
    if (await runSteps(ctx, steps.after, root, report)) exitCode = ExitCode.failed
    if (sc?.mode === 'none' && changes.length > 0) report.notes.push(`${sc.why}: ran no systemctl`)
    if (changes.some((c) => c.name.startsWith('ownops-boot-'))) report.notes.push('boot units were disabled, not stopped: their containers keep running')
  }
  const text = reports.map((r) => (opts.dryRun ? dryRunText(r) : resultText(r))).join('\n')
  return { exitCode, report: { removed: reports }, text }
}

// ---------------------------------------------------------------------------------------------
// The user's crontab: ownops' lines between markers, the user's own lines untouched.

function crontabOwner(ctx: Ctx): string {
  return ctx.env.USER ?? ctx.env.LOGNAME ?? (typeof process.getuid === 'function' ? `uid ${process.getuid()}` : 'this user')
}

async function installCrontab(ctx: Ctx, opts: InstallOptions): Promise<CommandResult> {
  if (opts.root !== undefined) throw new OwnopsError('--root does not apply to --crontab (it edits your own crontab)', { kind: 'usage', hint: 'drop --root' })
  const p = plan(ctx)
  const block = (render(ctx, p, 'crontab', 'include')[0] as GeneratedFile).content
  const warnings = planWarnings(ctx, p, 'crontab')
  const tab = crontab({ log: ctx.log, env: ctx.env, signal: ctx.signal })
  const before = await tab.read()
  const current = splitCrontab(before).block
  const after = replaceCrontabBlock(before, block)
  const action = current === undefined ? 'create' : current === block ? 'unchanged' : 'update'
  return applyCrontab(ctx, tab, { before, after, action, dryRun: opts.dryRun, warnings })
}

async function removeCrontab(ctx: Ctx, opts: RemoveOptions): Promise<CommandResult> {
  if (opts.root !== undefined) throw new OwnopsError('--root does not apply to --crontab (it edits your own crontab)', { kind: 'usage', hint: 'drop --root' })
  const tab = crontab({ log: ctx.log, env: ctx.env, signal: ctx.signal })
  const before = await tab.read()
  const found = splitCrontab(before).block !== undefined
  const after = replaceCrontabBlock(before, undefined)
  const result = await applyCrontab(ctx, tab, { before, after, action: found ? 'delete' : 'unchanged', dryRun: opts.dryRun, warnings: [] })
  return { ...result, report: { removed: [result.report] } }
}

async function applyCrontab(
  ctx: Ctx,
  tab: ReturnType<typeof crontab>,
  change: { before: string; after: string; action: 'create' | 'update' | 'unchanged' | 'delete'; dryRun: boolean; warnings: string[] },
): Promise<CommandResult> {
  const dir = `crontab of ${crontabOwner(ctx)}`
  const report: InstallReport = { backend: 'crontab', dir, dryRun: change.dryRun, changes: [{ action: change.action, name: CRONTAB }], createdDirs: [], commands: [], notes: [], warnings: change.warnings }
  if (change.dryRun) {
    report.diff = unifiedDiff(change.before === '' ? undefined : change.before, change.after.trim() === '' ? undefined : change.after, CRONTAB)
    return { exitCode: ExitCode.ok, report, text: dryRunText(report) }
  }
  if (change.action !== 'unchanged') {
    await tab.write(change.after)
    report.commands.push({ command: change.after.trim() === '' ? 'crontab -r' : 'crontab -', ok: true })
    report.notes.push(change.action === 'delete' ? 'removed ownops\' lines; your other lines are as they were' : 'cron reads the new crontab within a minute; your other lines are as they were')
    if (which('cron', ctx.env) === undefined && which('crond', ctx.env) === undefined) report.notes.push('no cron daemon on PATH: nothing runs these lines until one runs')
  }
  const text = `${[`${change.action === 'unchanged' ? `${dir}: nothing to do` : `${change.action} ownops' lines in the ${dir}`}`, ...report.notes].join('\n')}\n`
  return { exitCode: ExitCode.ok, report, text }
}

async function runSteps(ctx: Ctx, steps: string[][], root: string | undefined, report: InstallReport): Promise<boolean> {
  let failed = false
  for (const args of steps) {
    const result: SystemctlResult = await systemctl(args, { log: ctx.log, root, signal: ctx.signal })
    report.commands.push({ command: result.command, ok: result.ok, ...(result.output ? { output: result.output } : {}) })
    if (!result.ok) {
      failed = true
      ctx.log.error({ command: result.command, output: result.output }, 'systemctl failed')
    }
  }
  return failed
}

function plannedNotes(steps: SystemctlSteps, sc: Systemctl | undefined, root: string | undefined): string[] {
  const all = [...steps.before, ...steps.after]
  const notes = all.map((args) => `would run: systemctl${root ? ` --root=${root}` : ''} ${args.join(' ')}`)
  if (sc?.mode === 'none') notes.push(`${sc.why}: would run no systemctl`)
  return notes
}

function timerNames(p: SchedulePlan): string[] {
  return [...p.jobs.map((j) => `${j.unit}.timer`), ...p.boot.map((b) => `${b.unit}.service`)]
}

/**
 * ownops' own directories the units may write (backup, state, and a lock directory outside the
 * /run tmpfs), created by install so the first run finds them. A job's readWritePaths are the
 * user's to create: one may be a mount point that is not mounted yet.
 */
function writableDirs(p: SchedulePlan, root: string | undefined): string[] {
  const lock = p.settings.lockDirSet && runtimeDirectory(p.settings.lockDir) === undefined ? [p.settings.lockDir] : []
  return [...writablePaths(p.settings), ...lock].filter((d) => !d.startsWith('/run/')).map((d) => under(root, d))
}

function toolWarnings(ctx: Ctx, p: SchedulePlan, root: string | undefined, backend: Backend): string[] {
  const warnings: string[] = []
  for (const file of p.jobs.length > 0 ? p.settings.exec : []) {
    if (existsSync(under(root, file))) continue
    warnings.push(
      p.settings.execKey !== undefined
        ? `schedule.bin: ${under(root, file)} does not exist, so every job would fail to start (install ownops there: npm install -g ownops, or set schedule.bin)`
        : `${under(root, file)} does not exist${root === undefined ? '' : ' under the root'}, so every job would fail to start (set schedule.bin to the ownops executable there)`,
    )
  }
  if (backend === 'systemd' && p.boot.length > 0 && !existsSync(under(root, p.settings.docker))) {
    warnings.push(`schedule.docker: ${under(root, p.settings.docker)} does not exist, so the boot units would fail (set schedule.docker to the docker executable: ${which('docker', ctx.env) ?? 'which docker'})`)
  }
  return warnings
}

async function otherBackendWarning(root: string | undefined, backend: Backend): Promise<string[]> {
  if (backend === 'systemd') {
    const cron = await readFiles(under(root, CROND_DIR), isCronFile)
    const text = cron.get(CROND_FILE)
    return text !== undefined && isGenerated(text) ? [`${under(root, CROND_DIR)}/${CROND_FILE} is installed too: its jobs would run twice (ownops schedule remove --cron)`] : []
  }
  const units = await readFiles(under(root, SYSTEMD_DIR), (n) => isSystemdFile(n) && n.endsWith('.timer'))
  return [...units.values()].some(isGenerated) ? [`ownops timers are installed in ${under(root, SYSTEMD_DIR)} too: jobs would run twice (ownops schedule remove --systemd)`] : []
}

function dryRunText(report: InstallReport): string {
  const lines = [report.diff === '' || report.diff === undefined ? `${report.dir}: no changes` : (report.diff ?? '').replace(/\n$/, ''), ...report.notes, ...report.warnings.map((w) => `warning: ${w}`), '(dry run: nothing was changed)']
  return `${lines.join('\n')}\n`
}

function resultText(report: InstallReport): string {
  const rows = report.changes.map((c) => [c.action, join(report.dir, c.name)])
  const lines = [rows.length === 0 ? `${report.dir}: nothing to do` : renderTable(['ACTION', 'FILE'], rows).trimEnd()]
  for (const dir of report.createdDirs) lines.push(`created ${dir}`)
  for (const c of report.commands) lines.push(`${c.ok ? 'ran' : 'FAILED'}: ${c.command}${!c.ok && c.output ? `\n  ${c.output.replace(/\n/g, '\n  ')}` : ''}`)
  lines.push(...report.notes)
  return `${lines.join('\n')}\n`
}

// ---------------------------------------------------------------------------------------------
// list

export interface ListedJob {
  name: string
  command: string
  schedule: string
  timezone: string | null
  nextRuns: string[]
  dstWarning?: string
  installed: Backend[]
  systemd: { timer: string; active: string; enabled: string; lastTrigger: string | null; lastResult: string | null; nextElapse: string | null } | null
}

export interface ListReport {
  jobs: ListedJob[]
  /** Generated units or cron entries of jobs that are no longer configured. */
  stale: string[]
  systemd: 'live' | 'not running'
}

export async function runScheduleList(ctx: Ctx, opts: { root?: string | undefined }): Promise<CommandResult> {
  const root = rootDir(ctx, opts.root)
  const p = plan(ctx)
  const now = ctx.clock()
  const units = await readFiles(under(root, SYSTEMD_DIR), isSystemdFile)
  const cronText = (await readFiles(under(root, CROND_DIR), isCronFile)).get(CROND_FILE)
  const cronJobs = new Set(
    cronText !== undefined && isGenerated(cronText)
      ? cronText.split('\n').filter((l) => l.startsWith(CRON_JOB_PREFIX)).map((l) => l.slice(CRON_JOB_PREFIX.length).split(':')[0] as string)
      : [],
  )
  // ownops' lines in this user's crontab (schedule install --crontab).
  const crontabJobs = new Set<string>()
  if (root === undefined && which('crontab', ctx.env) !== undefined) {
    const block = splitCrontab(await crontab({ log: ctx.log, env: ctx.env, signal: ctx.signal }).read().catch(() => '')).block ?? ''
    for (const line of block.split('\n')) if (line.startsWith(CRON_JOB_PREFIX)) crontabJobs.add(line.slice(CRON_JOB_PREFIX.length).split(':')[0] as string)
  }
  const live = root === undefined && systemdRunning() && which('systemctl', ctx.env) !== undefined
  const names = p.jobs.flatMap((j) => [`${j.unit}.timer`, `${j.unit}.service`])
  const props = live ? await showUnits(names, ['LoadState', 'ActiveState', 'UnitFileState', 'LastTriggerUSec', 'NextElapseUSecRealtime', 'Result'], { log: ctx.log, env: ctx.env }) : new Map<string, Record<string, string>>()

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
    ...[...units].filter(([name, text]) => name.endsWith('.timer') && isGenerated(text) && !configured.has(name.slice(0, -'.timer'.length))).map(([name]) => name),
    ...[...cronJobs].filter((name) => !p.jobs.some((j) => j.name === name)).map((name) => `${CROND_FILE} (job ${name})`),
  ]
  const report: ListReport = { jobs, stale, systemd: live ? 'live' : 'not running' }
  return { exitCode: ExitCode.ok, report, text: listText(report, p, ctx) }
}

function emptyToNull(value: string | undefined): string | null {
  return value === undefined || value === '' || value === 'n/a' ? null : value
}

function listText(report: ListReport, p: SchedulePlan, ctx: Ctx): string {
  const rows = report.jobs.map((job) => {
    const zone = job.timezone ?? hostZone(ctx.env)
    const runs = job.schedule === '@reboot' ? 'at boot' : job.nextRuns.map((iso) => shortTime(new Date(iso), zone)).join(', ')
    const state =
      job.systemd === null
        ? job.installed.length === 0
          ? 'not installed'
          : job.installed.join('+')
        : job.systemd.timer === 'not-found'
          ? job.installed.some((b) => b !== 'systemd') ? job.installed.filter((b) => b !== 'systemd').join('+') : 'not installed'
          : `${job.systemd.active}${job.systemd.lastResult ? `, last: ${job.systemd.lastResult}` : ''}`
    return [job.name, job.command, job.schedule, job.timezone ?? 'local', runs, state]
  })
  const lines = [renderTable(['JOB', 'COMMAND', 'SCHEDULE', 'ZONE', 'NEXT RUNS', 'STATE'], rows).trimEnd()]
  if (report.systemd === 'not running') lines.push('(systemd is not running here: timer states unknown)')
  for (const stale of report.stale) lines.push(`stale: ${stale} is installed but not configured (ownops schedule install removes it)`)
  for (const job of report.jobs) if (job.dstWarning) lines.push(`warning: job ${job.name}: ${job.dstWarning}`)
  if (p.boot.length > 0) lines.push(`boot units: ${p.boot.map((b) => `${b.unit}.service`).join(', ')}`)
  return `${lines.join('\n')}\n`
}

const pad = (n: number) => String(n).padStart(2, '0')

function shortTime(date: Date, zone: string): string {
  const w = wallClock(date.getTime(), zone)
  return `${w.year}-${pad(w.month)}-${pad(w.day)} ${pad(w.hour)}:${pad(w.minute)}`
}
