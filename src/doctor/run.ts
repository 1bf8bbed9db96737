/** `ownops doctor`: checks what ownops needs on this machine and says how to fix what is missing. */
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs'
import { access, constants, rm, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { checkConfig } from '../config/load.js'
import { formatProblem } from '../config/problems.js'
import type { CommandResult } from '../command.js'
import type { Ctx } from '../context.js'
import type { Config } from '../config/schema.js'
import { ExitCode, isOwnopsError } from '../errors.js'
import { containerLogs } from '../sys/container-logs.js'
import { createDocker, dockerEndpoint, pingDocker } from '../sys/docker.js'
import { lockDirProblem } from '../sys/lock.js'
import { DEFAULT_BACKUP_DIR, defaultLockDir, defaultStateDir } from '../sys/paths.js'
import { isGenerated } from '../schedule/units.js'
import { runCapture } from '../sys/exec.js'
import { readFiles } from '../sys/unit-files.js'
import { isSingleExecutable } from '../sys/runtime.js'
import { which } from '../sys/which.js'
import { formatBytes, renderTable } from '../text.js'
import { ownopsVersion } from '../version.js'

export type CheckStatus = 'ok' | 'info' | 'warn' | 'fail'

export interface DoctorCheck {
  name: string
  status: CheckStatus
  detail: string
  hint?: string
  /** Exit code this failure maps to (doctor exits with the most serious one). */
  exitCode?: number
  data?: Record<string, unknown>
}

export interface DoctorReport {
  ok: boolean
  version: string
  checks: DoctorCheck[]
}

const MIN_NODE: [number, number] = [20, 19]

/** Host tools some targets use; all optional because the defaults run them inside containers. */
const OPTIONAL_TOOLS: ReadonlyArray<[string, string]> = [
  ['pg_dump', 'postgres targets with url: (the default runs pg_dump inside the container)'],
  ['pg_restore', 'restoring postgres targets with url:'],
  ['mariadb-dump', 'mysql targets run from the host'],
  ['sqlite3', 'sqlite targets, checks and cleanup sql rules on host files'],
  ['psql', 'cleanup sql rules on postgres targets with url:'],
  ['zstd', 'zstd archives'],
  ['tar', 'directory targets'],
  ['flock', 'generated cron.d entries'],
  ['systemd-run', 'restart --detach'],
  ['journalctl', 'log tails in failure notices'],
  ['rclone', 'rclone destinations (copies off the box)'],
  ['restic', 'restic destinations (copies off the box)'],
  ['age', 'copies encrypted to age recipients'],
  ['ssh', 'a remote Docker engine (DOCKER_HOST=ssh://user@host)'],
]

/** The tools the configured destinations need, with the destination that needs each. */
function toolsForDestinations(config: Config): Map<string, string> {
  const needed = new Map<string, string>()
  for (const [name, d] of Object.entries(config.backup.destinations)) {
    if (d.type !== 'path') needed.set(d.type, `destination ${name}`)
    if (d.type !== 'restic' && d.age !== undefined) needed.set('age', `destination ${name}`)
  }
  return needed
}

const failurePriority = [ExitCode.config, ExitCode.unavailable, ExitCode.noperm, ExitCode.failed] as const

export async function runDoctor(ctx: Ctx): Promise<CommandResult> {
  const checks: DoctorCheck[] = []
  checks.push(checkNode())
  const configCheck = checkConfig({ path: ctx.options.config, env: ctx.env, cwd: ctx.cwd })
  const config = configCheck.loaded?.config
  if (configCheck.loaded !== undefined) {
    ctx.redactor.addFromTree(configCheck.loaded.config)
    for (const value of configCheck.loaded.secretValues) ctx.redactor.add(value)
  }
  checks.push(describeConfig(configCheck))
  if (configCheck.loaded?.envFile !== undefined) checks.push(checkEnvFile(configCheck.loaded.envFile))
  const docker = await checkDocker(ctx, config?.docker.host)
  checks.push(docker)
  if (docker.status === 'ok') checks.push(await checkContainerLogs(ctx, config?.docker.host))
  checks.push(await checkWritableDir('state directory', defaultStateDir(ctx.env, config?.stateDir)))
  checks.push(await checkLockDir(defaultLockDir(ctx.env, config?.lock.dir)))
  checks.push(await checkWritableDir('backup directory', config?.backup.dir ?? DEFAULT_BACKUP_DIR))
  checks.push(checkSystemd(ctx.env))
  checks.push(checkCron(ctx.env))
  checks.push(await checkNodeOnPath('node for units', SYSTEMD_PATH, config?.schedule.bin, ctx))
  checks.push(await checkNodeOnPath('node for cron', CRON_PATH, config?.schedule.bin, ctx))
  checks.push(...(await checkInstalledRuntime()))
  const needed = config !== undefined ? toolsForDestinations(config) : new Map<string, string>()
  for (const [tool, usedFor] of OPTIONAL_TOOLS) {
    const path = which(tool, ctx.env)
    const neededBy = needed.get(tool)
    if (path === undefined && neededBy !== undefined) {
      checks.push({
        name: `tool ${tool}`,
        status: 'fail',
        detail: `not found, and ${neededBy} needs it`,
        hint: `apt-get install ${tool}`,
        exitCode: ExitCode.unavailable,
        data: { found: false },
      })
      continue
    }
    checks.push({
      name: `tool ${tool}`,
      status: 'info',
      detail: path ?? `not found (optional: ${usedFor})`,
      data: { found: path !== undefined },
    })
  }
  const failed = checks.filter((c) => c.status === 'fail')
  const exitCode =
    failed.length === 0 ? ExitCode.ok : (failurePriority.find((code) => failed.some((c) => c.exitCode === code)) ?? ExitCode.failed)
  const report: DoctorReport = { ok: failed.length === 0, version: ownopsVersion(), checks }
  return { exitCode, report, text: renderDoctor(report) }
}

function renderDoctor(report: DoctorReport): string {
  const rows = report.checks.map((c) => [c.name, c.status.toUpperCase(), c.hint ? `${c.detail} — ${c.hint}` : c.detail])
  const summary = report.ok
    ? 'ownops is ready.'
    : `${report.checks.filter((c) => c.status === 'fail').length} problem(s) to fix before ownops can do its work.`
  return `ownops ${report.version}\n\n${renderTable(['CHECK', 'STATUS', 'DETAIL'], rows)}\n${summary}\n`
}

function checkNode(): DoctorCheck {
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number)
  const ok = major > MIN_NODE[0] || (major === MIN_NODE[0] && minor >= MIN_NODE[1])
  return ok
    ? { name: 'node', status: 'ok', detail: `v${process.versions.node}${isSingleExecutable() ? ` (inside ${process.execPath})` : ''}` }
    : {
        name: 'node',
        status: 'fail',
        detail: `v${process.versions.node} is too old`,
        hint: 'install Node.js 20.19 or newer (an LTS line)',
        exitCode: ExitCode.unavailable,
      }
}

function describeConfig(check: ReturnType<typeof checkConfig>): DoctorCheck {
  if (check.file === undefined) {
    return {
      name: 'config',
      status: 'info',
      detail: 'no config file found: running on built-in defaults',
      hint: 'create ./ownops.yml or /etc/ownops/ownops.yml (see ownops.example.yml)',
    }
  }
  const errors = check.problems.filter((p) => p.severity === 'error')
  if (errors.length > 0) {
    return {
      name: 'config',
      status: 'fail',
      detail: `${check.file}: ${errors.length} problem(s): ${formatProblem(errors[0]!)}${errors.length > 1 ? ' …' : ''}`,
      hint: 'run `ownops config validate` for the full list',
      exitCode: ExitCode.config,
      data: { file: check.file, problems: check.problems.map(formatProblem) },
    }
  }
  const config = check.loaded!.config
  const warnings = check.problems.length
  return {
    name: 'config',
    status: warnings > 0 ? 'warn' : 'ok',
    detail: `${check.file}: valid (${Object.keys(config.backup.targets).length} backup targets, ${Object.keys(config.notify.channels).length} channels${warnings > 0 ? `, ${warnings} warnings` : ''})`,
    data: { file: check.file },
  }
}

function checkEnvFile(file: string): DoctorCheck {
  const mode = statSync(file).mode & 0o777
  if ((mode & 0o077) !== 0) {
    return {
      name: 'env file',
      status: 'warn',
      detail: `${file} is readable by others (mode ${mode.toString(8)})`,
      hint: `it holds secrets: chmod 600 ${file}`,
    }
  }
  return { name: 'env file', status: 'ok', detail: `${file} (mode ${mode.toString(8)})` }
}

async function checkDocker(ctx: Ctx, configured: string | undefined): Promise<DoctorCheck> {
  let endpoint
  try {
    endpoint = dockerEndpoint(ctx.env, configured)
  } catch (error) {
    return { name: 'docker', status: 'fail', detail: (error as Error).message, exitCode: ExitCode.config }
  }
  try {
    const docker = await createDocker(endpoint)
    const info = await pingDocker(docker, endpoint)
    return {
      name: 'docker',
      status: 'ok',
      detail: `engine ${info.version} (API ${info.apiVersion}) at ${endpoint.display}`,
      data: { reachable: true, ...info, endpoint: endpoint.display },
    }
  } catch (error) {
    if (!isOwnopsError(error)) throw error
    return {
      name: 'docker',
      status: 'fail',
      detail: error.message,
      ...(error.hint ? { hint: error.hint } : {}),
      exitCode: error.exitCode,
      data: { reachable: false, endpoint: endpoint.display },
    }
  }
}

/** Containers whose log has no size limit: json-file without max-size grows until the disk is full. */
async function checkContainerLogs(ctx: Ctx, configured: string | undefined): Promise<DoctorCheck> {
  const name = 'container logs'
  try {
    const docker = await createDocker(dockerEndpoint(ctx.env, configured))
    const logs = await containerLogs(docker, ctx.signal)
    const unbounded = logs.filter((l) => !l.policy.bounded)
    const data = {
      containers: logs.length,
      unbounded: unbounded.map((l) => ({ name: l.name, driver: l.policy.driver, ...(l.bytes === undefined ? {} : { bytes: l.bytes }) })),
    }
    if (unbounded.length === 0)
      return {
        name,
        status: 'ok',
        detail: logs.length === 0 ? 'no containers' : `${logs.length} container${logs.length === 1 ? '' : 's'}, every log has a size limit`,
        data,
      }
    unbounded.sort((a, b) => (b.bytes ?? -1) - (a.bytes ?? -1))
    const listed = unbounded.slice(0, 5).map((l) => `${l.name}${l.bytes === undefined ? '' : ` (${formatBytes(l.bytes)})`}`)
    return {
      name,
      status: 'warn',
      detail: `${unbounded.length} of ${logs.length} containers log without a size limit (json-file without max-size), so their logs grow until the disk is full: ${listed.join(', ')}${unbounded.length > 5 ? ', …' : ''}`,
      hint: 'set "log-opts": {"max-size": "10m", "max-file": "3"} in /etc/docker/daemon.json, restart dockerd and recreate the containers; the monitor check kind docker-logs watches them, a cleanup docker rule with logs: truncates them',
      data,
    }
  } catch (error) {
    return { name, status: 'info', detail: `could not look at the containers' logs: ${(error as Error).message}` }
  }
}

/** Checks a directory can be written, without creating it: doctor only looks. */
async function checkWritableDir(name: string, dir: string): Promise<DoctorCheck> {
  if (!existsSync(dir)) {
    let parent = dirname(dir)
    while (!existsSync(parent) && parent !== dirname(parent)) parent = dirname(parent)
    try {
      await access(parent, constants.W_OK)
      return { name, status: 'ok', detail: `${dir} (will be created)` }
    } catch {
      return {
        name,
        status: 'fail',
        detail: `${dir} does not exist and ${parent} is not writable`,
        hint: `create it: install -d -m 700 ${dir}`,
        exitCode: ExitCode.noperm,
      }
    }
  }
  try {
    const probe = join(dir, `.ownops-doctor-${process.pid}`)
    await writeFile(probe, 'ok')
    await rm(probe, { force: true })
    return { name, status: 'ok', detail: `${dir} (writable)` }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error'
    return {
      name,
      status: 'fail',
      detail: `${dir} is not writable (${code})`,
      hint: 'run as root, or point it elsewhere in the config / environment',
      exitCode: ExitCode.noperm,
    }
  }
}

/** The lock directory: writable, and writable by nobody but root and this user (or a group given access on purpose). */
async function checkLockDir(dir: string): Promise<DoctorCheck> {
  const name = 'lock directory'
  let problem
  try {
    problem = await lockDirProblem(dir)
  } catch (error) {
    problem = isOwnopsError(error)
      ? { message: error.message, hint: error.hint ?? '' }
      : { message: `${dir}: ${(error as Error).message}`, hint: '' }
  }
  if (problem !== undefined)
    return { name, status: 'fail', detail: problem.message, ...(problem.hint ? { hint: problem.hint } : {}), exitCode: ExitCode.noperm }
  const check = await checkWritableDir(name, dir)
  if (check.status !== 'ok' || !existsSync(dir)) return check
  const mode = statSync(dir).mode
  return (mode & 0o020) !== 0
    ? { ...check, detail: `${check.detail}; shared with group ${statSync(dir).gid} (members may hold the host lock)` }
    : check
}

/** The PATH systemd gives services (its default), and the one Debian's cron gives crontab lines. */
export const SYSTEMD_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
export const CRON_PATH = '/usr/bin:/bin'

/**
 * The `node` a unit or cron line finds on its PATH, against the Node running ownops: generated
 * units and cron lines run this Node by its absolute path, but an executable of your own with
 * `#!/usr/bin/env node` (schedule.bin, or ownops in a line of your own) gets whatever is there.
 */
export async function checkNodeOnPath(
  name: string,
  path: string,
  bin: string | undefined,
  ctx: Pick<Ctx, 'log'>,
  sea = isSingleExecutable(),
): Promise<DoctorCheck> {
  const where = name === 'node for units' ? 'systemd units' : 'cron lines'
  if (sea && bin === undefined) {
    return {
      name,
      status: 'ok',
      detail: `ownops' own ${where} run ${process.execPath}, a single executable with its own Node: none needed on the PATH`,
      data: { path, node: null, execPath: process.execPath, sea: true },
    }
  }
  const envNode = bin !== undefined && usesEnvNode(bin)
  const generated =
    bin === undefined
      ? `ownops' own ${where} run ${process.execPath} by its absolute path`
      : envNode
        ? `schedule.bin ${bin} starts with #!/usr/bin/env node, so ownops' ${where} need it`
        : `ownops' ${where} run schedule.bin ${bin}`
  const node = which('node', { PATH: path })
  if (node === undefined) {
    return {
      name,
      status: envNode ? 'fail' : 'info',
      detail: `no node on the PATH of ${where} (${path}); ${generated}`,
      hint: envNode
        ? `remove schedule.bin (ownops then runs ${process.execPath} directly), or link a Node there: ln -s ${process.execPath} /usr/local/bin/node`
        : `a ${where.slice(0, -1)} of your own that runs ownops (#!/usr/bin/env node) would fail: use ownops schedule install, or link a Node there (ln -s ${process.execPath} /usr/local/bin/node)`,
      ...(envNode ? { exitCode: ExitCode.unavailable } : {}),
      data: { path, node: null, execPath: process.execPath },
    }
  }
  const same = realpathOr(node) === realpathOr(process.execPath)
  const result = await runCapture([node, '--version'], { log: ctx.log, timeoutMs: 10_000 })
  const version = result.stdout.trim()
  const m = /^v(\d+)\.(\d+)/.exec(version)
  const tooOld = m === null || Number(m[1]) < MIN_NODE[0] || (Number(m[1]) === MIN_NODE[0] && Number(m[2]) < MIN_NODE[1])
  const data = { path, node, version: version || null, execPath: process.execPath, same }
  if (same) return { name, status: 'ok', detail: `${node} (${version}), the Node running ownops`, data }
  if (tooOld) {
    return {
      name,
      status: envNode ? 'fail' : 'warn',
      detail: `${node} is ${version || 'not a working Node'}, older than ownops needs (${MIN_NODE.join('.')}); ${generated}`,
      hint: envNode
        ? `remove schedule.bin, or point it at a wrapper that runs ${process.execPath}`
        : `a ${where.slice(0, -1)} of your own that runs ownops (#!/usr/bin/env node) would get this Node: use ownops schedule install, or upgrade ${node}`,
      ...(envNode ? { exitCode: ExitCode.unavailable } : {}),
      data,
    }
  }
  return {
    name,
    status: 'info',
    detail: `${node} (${version}), not the Node running ownops (${process.execPath}, v${process.versions.node}); ${generated}`,
    data,
  }
}

function usesEnvNode(bin: string): boolean {
  try {
    const head = readFileSync(bin, 'utf8').slice(0, 200).split('\n')[0] ?? ''
    return /^#!\s*\S*\/env\s+(-S\s+)?node\b/.test(head)
  } catch {
    return false
  }
}

function realpathOr(path: string): string {
  try {
    return realpathSync(path)
  } catch {
    return path
  }
}

/**
 * The programs the installed units and cron.d entries run still exist: a Node installed by nvm,
 * fnm or volta goes away with an upgrade, and every job would then fail to start.
 */
export async function checkInstalledRuntime(root = '/'): Promise<DoctorCheck[]> {
  const found: Array<{ file: string; program: string }> = []
  const units = await readFiles(join(root, 'etc/systemd/system'), (n) => /^ownops-.*\.service$/.test(n)).catch(
    () => new Map<string, string>(),
  )
  for (const [name, text] of units) {
    if (!isGenerated(text)) continue
    const m = /^ExecStart=(\S+)(?: (\/\S+\.js)\b)?/m.exec(text)
    for (const program of [m?.[1], m?.[2]])
      if (program !== undefined && program.startsWith('/')) found.push({ file: `/etc/systemd/system/${name}`, program })
  }
  const cron = (await readFiles(join(root, 'etc/cron.d'), (n) => n === 'ownops').catch(() => new Map<string, string>())).get('ownops')
  if (cron !== undefined && isGenerated(cron)) {
    for (const m of cron.matchAll(/ timeout \d+ (\/\S+)(?: (\/\S+\.js)\b)?/g)) {
      for (const program of [m[1], m[2]]) if (program !== undefined) found.push({ file: '/etc/cron.d/ownops', program })
    }
  }
  if (found.length === 0) return []
  const gone = found.filter((f) => !existsSync(join(root, f.program)))
  const programs = [...new Set(found.map((f) => f.program))]
  if (gone.length === 0)
    return [
      { name: 'installed jobs', status: 'ok', detail: `${found.length} unit(s)/entries run ${programs.join(', ')}`, data: { programs } },
    ]
  const missing = [...new Set(gone.map((f) => f.program))]
  const files = [...new Set(gone.map((f) => f.file))]
  return [
    {
      name: 'installed jobs',
      status: 'fail',
      detail: `${files.join(', ')} run${files.length === 1 ? 's' : ''} ${missing.join(' and ')}, which no longer exist${missing.length === 1 ? 's' : ''}: those jobs fail to start`,
      hint: 'run `sudo ownops schedule install` (or --cron) again with the Node you use now',
      exitCode: ExitCode.unavailable,
      data: { missing },
    },
  ]
}

function checkSystemd(env: NodeJS.ProcessEnv): DoctorCheck {
  const systemctl = which('systemctl', env)
  if (systemctl === undefined)
    return { name: 'systemd', status: 'info', detail: 'systemctl not found: use cron.d entries (ownops schedule generate --cron)' }
  if (!existsSync('/run/systemd/system'))
    return { name: 'systemd', status: 'info', detail: 'systemctl is installed but systemd is not running (container?): use cron.d entries' }
  return { name: 'systemd', status: 'ok', detail: 'running: timers can be installed (ownops schedule install)' }
}

function checkCron(env: NodeJS.ProcessEnv): DoctorCheck {
  const cron = which('cron', env) ?? which('crond', env)
  const dir = existsSync('/etc/cron.d')
  if (cron !== undefined && dir) return { name: 'cron', status: 'ok', detail: `${cron}, /etc/cron.d present` }
  return { name: 'cron', status: 'info', detail: `${cron === undefined ? 'no cron daemon on PATH' : cron}${dir ? '' : ', no /etc/cron.d'}` }
}
