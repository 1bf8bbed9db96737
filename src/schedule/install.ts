/**
 * `ownops schedule generate | install | remove`: systemd timers (default), one cron.d file
 * or lines in the user's crontab, generated from the config; install and remove touch only
 * files that carry ownops' generated-file mark, and run systemctl as the change needs.
 */
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { CommandResult } from '../command.js'
import type { Ctx } from '../context.js'
import { ExitCode, OwnopsError } from '../errors.js'
import { crontab } from '../sys/crontab.js'
import { defaultLockDir } from '../sys/paths.js'
import { systemctl, type SystemctlResult } from '../sys/systemd.js'
import { applyChanges, ensureDirs, readFiles } from '../sys/unit-files.js'
import { which } from '../sys/which.js'
import { renderTable } from '../text.js'
import { planChanges, renderChanges, systemctlSteps, type SystemctlSteps } from './changes.js'
import { CROND_FILE, renderCronD, renderCrontab, replaceCrontabBlock, splitCrontab } from './crond.js'
import { unifiedDiff } from './diff.js'
import { CROND_DIR, isCronFile, isSystemdFile, planFor, rootDir, SYSTEMD_DIR, under } from './host.js'
import { runtimeDirectory, writablePaths, type SchedulePlan } from './jobs.js'
import { dryRunText, resultText } from './render.js'
import type { GenerateReport, InstallReport } from './reports.js'
import { isGenerated, renderSystemdUnits, type GeneratedFile } from './units.js'
import { planWarnings, type Backend } from './warnings.js'

export interface GenerateOptions {
  backend: Backend
  out?: string | undefined
  boot: boolean
  /** The config path the units pass with --config (default: the config file in use). */
  configPath?: string | undefined
  /** What the units run (default: schedule.bin, else this Node and this ownops). */
  bin?: string | undefined
}

/** The crontab name in reports: the user's crontab. */
const CRONTAB = 'crontab'

function render(ctx: Ctx, p: SchedulePlan, backend: Backend, boot: 'include' | 'only'): GeneratedFile[] {
  if (backend === 'crontab') {
    if (boot === 'only')
      throw new OwnopsError('--boot makes systemd units; with --crontab, boot units become @reboot lines where systemd does not run', {
        kind: 'usage',
        hint: 'drop --boot',
      })
    const bootAtReboot = !ctx.systemdRunning()
    if (p.boot.length > 0 && !bootAtReboot)
      ctx.log.warn(
        { boot: p.boot.map((b) => b.name) },
        'schedule.boot entries are left to systemd here (ownops schedule install --boot): no @reboot lines',
      )
    const lockDir = defaultLockDir(ctx.env, ctx.config().config.lock.dir)
    return [{ name: CRONTAB, content: renderCrontab(p, { lockDir, bootAtReboot }) }]
  }
  if (backend === 'cron') {
    if (boot === 'only') throw new OwnopsError('--boot makes systemd units; cron has no equivalent', { kind: 'usage', hint: 'drop --cron' })
    if (p.boot.length > 0)
      ctx.log.warn(
        { boot: p.boot.map((b) => b.name) },
        'schedule.boot entries are systemd units: cron.d does not start them (ownops schedule generate --boot)',
      )
    return [renderCronD(p)]
  }
  return renderSystemdUnits(p, { boot })
}

export async function generateSchedule(ctx: Ctx, opts: GenerateOptions): Promise<CommandResult> {
  const p = planFor(ctx, opts.configPath, opts.bin)
  const files = render(ctx, p, opts.backend, opts.boot ? 'only' : 'include')
  const warnings = planWarnings(ctx, p, opts.backend)
  if (opts.backend === 'crontab') {
    if (opts.out !== undefined)
      throw new OwnopsError('--crontab prints the lines for your crontab; --out writes files', {
        kind: 'usage',
        hint: 'drop --out, or use ownops schedule install --crontab',
      })
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
  const report: GenerateReport = {
    backend: opts.backend,
    files,
    out,
    changes: changes.map(({ action, name }) => ({ action, name })),
    warnings,
  }
  return {
    exitCode: ExitCode.ok,
    report,
    text: `${renderTable(
      ['ACTION', 'FILE'],
      changes.map((c) => [c.action, join(out, c.name)]),
    )}`,
  }
}

/** With --boot, only boot units are considered: the job units in the directory stay. */
function onlyBoot(present: Map<string, string>): Map<string, string> {
  return new Map([...present].filter(([name]) => name.startsWith('ownops-boot-')))
}

function refuseConflicts(conflicts: readonly string[], dir: string): void {
  if (conflicts.length === 0) return
  throw new OwnopsError(
    `${conflicts.length === 1 ? 'a file' : `${conflicts.length} files`} in the way that ownops did not generate: ${conflicts.map((c) => join(dir, c)).join(', ')}`,
    {
      kind: 'failed',
      hint: 'nothing was changed; move them away (ownops never overwrites a file without its "# Generated by ownops" header), or rename the job',
    },
  )
}

export interface InstallOptions {
  backend: Backend
  dryRun: boolean
  /** Install under this directory instead of / (an image, a chroot, tests); systemctl runs offline there. */
  root?: string | undefined
}

interface Systemctl {
  /** How systemctl runs here: live, offline on --root, or not at all. */
  mode: 'live' | 'offline' | 'none'
  why?: string
}

function systemctlMode(ctx: Ctx, root: string | undefined): Systemctl {
  if (which('systemctl', ctx.env) === undefined) return { mode: 'none', why: 'systemctl is not installed' }
  if (root !== undefined) return { mode: 'offline' }
  if (!ctx.systemdRunning()) return { mode: 'none', why: 'systemd is not running here' }
  return { mode: 'live' }
}

export async function installSchedule(ctx: Ctx, opts: InstallOptions): Promise<CommandResult> {
  if (opts.backend === 'crontab') return installCrontab(ctx, opts)
  const root = rootDir(ctx, opts.root)
  const p = planFor(ctx)
  const files = render(ctx, p, opts.backend, 'include')
  const dir = under(root, opts.backend === 'cron' ? CROND_DIR : SYSTEMD_DIR)
  const present = await readFiles(dir, opts.backend === 'cron' ? isCronFile : isSystemdFile)
  const { changes, conflicts } = planChanges(files, present)
  refuseConflicts(conflicts, dir)
  const other = [...toolWarnings(ctx, p, root, opts.backend), ...(await otherBackendWarning(root, opts.backend))]
  for (const w of other) ctx.log.warn(w)
  const warnings = [...planWarnings(ctx, p, opts.backend), ...other]

  const report: InstallReport = {
    backend: opts.backend,
    dir,
    dryRun: opts.dryRun,
    changes: changes.map(({ action, name }) => ({ action, name })),
    createdDirs: [],
    commands: [],
    notes: [],
    warnings,
  }
  const changed = changes.some((c) => c.action !== 'unchanged')
  const sc = opts.backend === 'systemd' ? systemctlMode(ctx, root) : undefined
  const steps =
    opts.backend === 'systemd' ? systemctlSteps(p, changes, 'install', (sc as Systemctl).mode, changed) : { before: [], after: [] }
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
  if (sc !== undefined && sc.mode === 'none')
    report.notes.push(
      `${sc.why}: ran no systemctl; once it is, run: systemctl daemon-reload && systemctl enable --now ${timerNames(p).join(' ')}`,
    )
  if (sc?.mode === 'offline') report.notes.push(`enabled offline under ${root}: nothing was started`)
  if (sc?.mode === 'live' && p.boot.length > 0) {
    report.notes.push(
      `boot units are enabled for the next boot, not started now (that would run docker compose up -d): systemctl start ${p.boot.map((b) => `${b.unit}.service`).join(' ')}`,
    )
  }
  return { exitCode: failed || failedAfter ? ExitCode.failed : ExitCode.ok, report, text: resultText(report) }
}

export interface RemoveOptions {
  /** Both when not given. */
  backend?: Backend | undefined
  dryRun: boolean
  root?: string | undefined
}

export async function removeSchedule(ctx: Ctx, opts: RemoveOptions): Promise<CommandResult> {
  if (opts.backend === 'crontab') return removeCrontab(ctx, opts)
  const root = rootDir(ctx, opts.root)
  const backends: Array<'systemd' | 'cron'> = opts.backend === undefined ? ['systemd', 'cron'] : [opts.backend]
  const reports: InstallReport[] = []
  let exitCode: number = ExitCode.ok
  for (const backend of backends) {
    const dir = under(root, backend === 'cron' ? CROND_DIR : SYSTEMD_DIR)
    const present = await readFiles(dir, backend === 'cron' ? isCronFile : isSystemdFile)
    const { changes } = planChanges([], present, true)
    const report: InstallReport = {
      backend,
      dir,
      dryRun: opts.dryRun,
      changes: changes.map(({ action, name }) => ({ action, name })),
      createdDirs: [],
      commands: [],
      notes: [],
      warnings: [],
    }
    reports.push(report)
    const kept = [...present.entries()].filter(([, text]) => !isGenerated(text)).map(([name]) => name)
    if (kept.length > 0) report.notes.push(`left alone (not generated by ownops): ${kept.join(', ')}`)
    const sc = backend === 'systemd' ? systemctlMode(ctx, root) : undefined
    const steps =
      backend === 'systemd'
        ? systemctlSteps(undefined, changes, 'remove', (sc as Systemctl).mode, changes.length > 0)
        : { before: [], after: [] }
    if (opts.dryRun) {
      report.diff = renderChanges(changes, dir)
      report.notes.push(...plannedNotes(steps, sc, root))
      continue
    }
    if (await runSteps(ctx, steps.before, root, report)) exitCode = ExitCode.failed
    await applyChanges(dir, changes)
    if (await runSteps(ctx, steps.after, root, report)) exitCode = ExitCode.failed
    if (sc?.mode === 'none' && changes.length > 0) report.notes.push(`${sc.why}: ran no systemctl`)
    if (changes.some((c) => c.name.startsWith('ownops-boot-')))
      report.notes.push('boot units were disabled, not stopped: their containers keep running')
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
  if (opts.root !== undefined)
    throw new OwnopsError('--root does not apply to --crontab (it edits your own crontab)', { kind: 'usage', hint: 'drop --root' })
  const p = planFor(ctx)
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
  if (opts.root !== undefined)
    throw new OwnopsError('--root does not apply to --crontab (it edits your own crontab)', { kind: 'usage', hint: 'drop --root' })
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
  const report: InstallReport = {
    backend: 'crontab',
    dir,
    dryRun: change.dryRun,
    changes: [{ action: change.action, name: CRONTAB }],
    createdDirs: [],
    commands: [],
    notes: [],
    warnings: change.warnings,
  }
  if (change.dryRun) {
    report.diff = unifiedDiff(
      change.before === '' ? undefined : change.before,
      change.after.trim() === '' ? undefined : change.after,
      CRONTAB,
    )
    return { exitCode: ExitCode.ok, report, text: dryRunText(report) }
  }
  if (change.action !== 'unchanged') {
    await tab.write(change.after)
    report.commands.push({ command: change.after.trim() === '' ? 'crontab -r' : 'crontab -', ok: true })
    report.notes.push(
      change.action === 'delete'
        ? "removed ownops' lines; your other lines are as they were"
        : 'cron reads the new crontab within a minute; your other lines are as they were',
    )
    if (which('cron', ctx.env) === undefined && which('crond', ctx.env) === undefined)
      report.notes.push('no cron daemon on PATH: nothing runs these lines until one runs')
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
    warnings.push(
      `schedule.docker: ${under(root, p.settings.docker)} does not exist, so the boot units would fail (set schedule.docker to the docker executable: ${which('docker', ctx.env) ?? 'which docker'})`,
    )
  }
  return warnings
}

async function otherBackendWarning(root: string | undefined, backend: Backend): Promise<string[]> {
  if (backend === 'systemd') {
    const cron = await readFiles(under(root, CROND_DIR), isCronFile)
    const text = cron.get(CROND_FILE)
    return text !== undefined && isGenerated(text)
      ? [`${under(root, CROND_DIR)}/${CROND_FILE} is installed too: its jobs would run twice (ownops schedule remove --cron)`]
      : []
  }
  const units = await readFiles(under(root, SYSTEMD_DIR), (n) => isSystemdFile(n) && n.endsWith('.timer'))
  return [...units.values()].some(isGenerated)
    ? [`ownops timers are installed in ${under(root, SYSTEMD_DIR)} too: jobs would run twice (ownops schedule remove --systemd)`]
    : []
}
