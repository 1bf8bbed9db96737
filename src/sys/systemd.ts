/** Talking to systemd: whether it runs, systemctl (live or offline on a --root), unit properties. */
import { existsSync } from 'node:fs'
import type { Logger } from 'pino'
import { runCapture } from './exec.js'

/** sd_booted(3): systemd is the running init when /run/systemd/system exists. */
export function systemdRunning(runDir = '/run/systemd/system'): boolean {
  return existsSync(runDir)
}

export interface SystemctlResult {
  command: string
  ok: boolean
  output: string
}

/** Runs systemctl; with `root`, offline on that directory tree (`systemctl --root=DIR`). */
export async function systemctl(
  args: readonly string[],
  options: { log: Logger; root?: string | undefined; signal?: AbortSignal },
): Promise<SystemctlResult> {
  const argv = ['systemctl', ...(options.root ? [`--root=${options.root}`] : []), ...args]
  const result = await runCapture(argv, { log: options.log, timeoutMs: 120_000, ...(options.signal ? { signal: options.signal } : {}) })
  const output = `${result.stdout}\n${result.stderr}`.trim()
  return { command: argv.join(' '), ok: !result.failed && result.exitCode === 0, output: output || (result.reason ?? '') }
}

/** `systemctl show` properties of units, by unit name. */
export async function showUnits(
  units: readonly string[],
  properties: readonly string[],
  options: { log: Logger; env?: NodeJS.ProcessEnv },
): Promise<Map<string, Record<string, string>>> {
  const out = new Map<string, Record<string, string>>()
  if (units.length === 0) return out
  const result = await runCapture(['systemctl', 'show', `--property=${['Id', ...properties].join(',')}`, '--', ...units], {
    log: options.log,
    timeoutMs: 30_000,
    ...(options.env ? { env: options.env } : {}),
  })
  if (result.failed) return out
  // One block per unit, in the order asked, separated by blank lines.
  const blocks = result.stdout.split(/\n\s*\n/)
  blocks.forEach((block, i) => {
    const props: Record<string, string> = {}
    for (const line of block.split('\n')) {
      const eq = line.indexOf('=')
      if (eq > 0) props[line.slice(0, eq)] = line.slice(eq + 1)
    }
    const unit = props.Id ?? units[i]
    if (unit !== undefined) out.set(unit, props)
  })
  return out
}

/** A timer as `systemctl list-timers` shows it: its next and last elapse. */
export interface ListedTimer {
  unit: string
  /** The service it starts. */
  activates: string | undefined
  next: Date | undefined
  last: Date | undefined
}

/**
 * `systemctl list-timers --all PATTERN`, read from its JSON output (systemd 250 and later);
 * undefined when systemctl fails or prints something else (an older systemd).
 */
export async function listTimers(pattern: string, options: { log: Logger; env?: NodeJS.ProcessEnv }): Promise<ListedTimer[] | undefined> {
  const result = await runCapture(['systemctl', 'list-timers', '--all', '--no-pager', '--output=json', '--', pattern], {
    log: options.log,
    timeoutMs: 30_000,
    ...(options.env ? { env: options.env } : {}),
  })
  if (result.failed || result.exitCode !== 0) return undefined
  return parseListTimers(result.stdout)
}

/** The JSON of `systemctl list-timers --output=json`: times in microseconds since the epoch, 0 or null for none. */
export function parseListTimers(json: string): ListedTimer[] | undefined {
  let rows: unknown
  try {
    rows = JSON.parse(json)
  } catch {
    return undefined
  }
  if (!Array.isArray(rows)) return undefined
  const time = (value: unknown) => (typeof value === 'number' && value > 0 ? new Date(Math.floor(value / 1000)) : undefined)
  const timers: ListedTimer[] = []
  for (const row of rows as Array<Record<string, unknown>>) {
    if (row === null || typeof row !== 'object' || typeof row.unit !== 'string') continue
    timers.push({
      unit: row.unit,
      activates: typeof row.activates === 'string' ? row.activates : undefined,
      next: time(row.next),
      last: time(row.last),
    })
  }
  return timers
}
