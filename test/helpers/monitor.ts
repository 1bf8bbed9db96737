/**
 * The monitor tests' shared helpers: a virtual clock, one in-process `ownops monitor` run
 * (as the CLI runs it: a job that ends, its clean-up run), and the config it reads.
 */
import { writeFileSync } from 'node:fs'
import { Ctx } from '../../src/context.js'
import type { MonitorReport, ReportRow } from '../../src/monitor/report.js'
import { runMonitor, type MonitorOptions } from '../../src/monitor/run.js'

/** A clock that only moves when told to. */
export class Clock {
  constructor(public t = Date.parse('2026-03-01T03:00:00Z')) {}
  now = (): Date => new Date(this.t)
  advance(minutes: number): this {
    this.t += minutes * 60_000
    return this
  }
}

export interface MonitorRun {
  exitCode: number
  report: MonitorReport
  text: string
  /** The run's log lines (JSON). */
  logs: string[]
  /** The row with this id; throws naming the rows there are when it is missing. */
  row: (id: string) => ReportRow
}

/** One monitor run in `cwd` with `env`, at the clock's time. */
export async function monitorRun(
  where: { env: NodeJS.ProcessEnv; cwd: string },
  clock: Clock | (() => Date),
  opts: Partial<MonitorOptions> = {},
): Promise<MonitorRun> {
  const logs: string[] = []
  const now = clock instanceof Clock ? clock.now : clock
  const ctx = new Ctx({
    options: { json: false, quiet: false, color: false },
    env: where.env,
    cwd: where.cwd,
    clock: now,
    logWrite: (l) => void logs.push(l),
    logFormat: 'json',
    systemd: false,
  })
  try {
    const result = await runMonitor(ctx, { checks: [], resume: false, dryRun: false, ...opts })
    await ctx.endJob(result.exitCode, { retryOutbox: false }) // what the CLI does after a job
    const report = result.report as MonitorReport
    return {
      exitCode: result.exitCode,
      report,
      text: result.text,
      logs,
      row: (id) => {
        const row = report.checks.find((r) => r.id === id)
        if (row === undefined) throw new Error(`no row ${id} in ${report.checks.map((r) => r.id).join(', ')}`)
        return row
      },
    }
  } finally {
    await ctx.runCleanups()
  }
}

/** Writes a monitor config (JSON is YAML): only the given checks unless builtins are asked for. */
export function writeMonitorConfig(file: string, monitor: Record<string, unknown>, extra: Record<string, unknown> = {}): void {
  writeFileSync(file, JSON.stringify({ hostname: 'box1', ...extra, monitor: { builtins: false, ...monitor } }, null, 2))
}
