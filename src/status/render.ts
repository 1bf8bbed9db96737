/** The screen of `ownops status`: a section per question, tables with a coloured STATUS column on a terminal. */
import { paint, statusPainter } from '../colour.js'
import { formatDuration } from '../duration.js'
import { formatBytes, renderTable } from '../text.js'
import type { StatusReport, TargetStatusReport } from './assess.js'

export interface RenderOptions {
  colour: boolean
  /** The zone times are shown in (the host's). */
  zone: string
}

export function renderStatus(r: StatusReport, o: RenderOptions): string {
  const now = Date.parse(r.time)
  const ago = (iso: string) => {
    const ms = Math.max(0, now - Date.parse(iso))
    return ms < 1000 ? 'just now' : `${rough(ms)} ago`
  }
  const when = (iso: string) => {
    const ms = Date.parse(iso) - now
    return `${localTime(iso, o.zone)} (${ms >= 0 ? `in ${rough(ms)}` : `${rough(-ms)} ago`})`
  }
  const table = (text: string) =>
    text
      .trimEnd()
      .split('\n')
      .map((l) => `  ${l}`)
      .join('\n')
  const heading = (text: string) => (o.colour ? paint(text, 'bold') : text)
  const out: string[] = []
  out.push(`ownops status at ${localTime(r.time, o.zone)} (${o.zone}); config: ${r.config ?? 'none, built-in defaults'}`, '')

  out.push(heading('Backups'))
  if (r.targets.length === 0) out.push('  no backup targets configured (backup.targets)')
  else
    out.push(
      table(
        renderTable(
          ['TARGET', 'TYPE', 'STATUS', 'NEWEST', 'SIZE', 'VERIFIED', 'COPIES', 'DRILL'],
          r.targets.map((t) => [
            t.target,
            t.type,
            t.status,
            t.newest === null ? '-' : ago(t.newest.time),
            t.newest === null ? '-' : formatBytes(t.newest.size),
            t.newest?.verified ? `${t.newest.verified.how} ${ago(t.newest.verified.time)}` : t.newest === null ? '-' : 'not verified',
            copiesCell(t),
            drillCell(t, ago),
          ]),
          statusPainter(2, o.colour),
        ),
      ),
    )
  for (const t of r.targets) for (const note of t.notes) out.push(`  ${t.target}: ${note}`)
  out.push('')

  const monitorLine = r.monitor.lastRun === null ? 'monitor has not run yet' : `monitor last ran ${ago(r.monitor.lastRun)}`
  out.push(heading('Alerts'))
  if (r.monitor.alerts.length === 0) out.push(`  no open alerts (${monitorLine})`)
  else {
    out.push(
      table(
        renderTable(
          ['CHECK', 'STATUS', 'SINCE', 'MESSAGE'],
          r.monitor.alerts.map((a) => [a.check, a.level, ago(a.since), a.message]),
          statusPainter(1, o.colour),
        ),
      ),
    )
    out.push(`  (${monitorLine})`)
  }
  if (r.monitor.pausedUntil !== null) out.push(`  monitor paused until ${localTime(r.monitor.pausedUntil, o.zone)}`)
  out.push('')

  out.push(heading('Restarts pending'))
  if (r.restarts.length === 0) out.push('  none')
  else
    out.push(
      table(
        renderTable(
          ['SERVICE', 'AT', 'PHASE', 'BY', 'REASON'],
          r.restarts.map((p) => [
            p.service,
            when(p.when),
            p.phase,
            p.detached ? `systemd ${p.detached.unit}.timer` : `pid ${p.pid}`,
            p.reason ?? '',
          ]),
        ),
      ),
    )
  out.push('')

  const source = r.schedule.systemd
    ? 'next runs from systemd'
    : `next runs computed from the installed ${r.schedule.root === null ? 'timer units and cron entries' : `files under ${r.schedule.root}`}`
  out.push(`${heading('Jobs')} (${source})`)
  if (r.jobs.length === 0) out.push('  no scheduled jobs')
  else
    out.push(
      table(
        renderTable(
          ['JOB', 'SCHEDULE', 'INSTALLED', 'NEXT RUN', 'LAST RUN', 'STATUS'],
          r.jobs.map((j) => [
            j.job,
            `${j.schedule}${j.timezone ? ` ${j.timezone}` : ''}`,
            j.installed.length === 0 ? 'no' : j.installed.join(', '),
            j.next === null
              ? '-'
              : `${when(j.next)}${j.randomDelaySeconds ? ` +≤${rough(j.randomDelaySeconds * 1000)}` : ''}${j.nextFrom === 'config' ? ' if installed' : ''}`,
            j.last === null ? '-' : `${ago(j.last.finished)}, exit ${j.last.exitStatus}`,
            j.status,
          ]),
          statusPainter(5, o.colour),
        ),
      ),
    )
  out.push('')

  const lock = r.lock.holder
    ? `held by pid ${r.lock.holder.pid}: ownops ${r.lock.holder.command} (since ${ago(r.lock.holder.startedAt)}${r.lock.holder.stops.length > 0 ? `, stops ${r.lock.holder.stops.join(', ')}` : ''})`
    : r.lock.problem !== undefined
      ? `cannot be read: ${r.lock.problem}`
      : 'free'
  out.push(`${heading('Host lock')}: ${lock}`, '')

  if (r.notSetUp.length > 0) {
    out.push(heading('Not set up'))
    for (const line of r.notSetUp) out.push(`  - ${line}`)
    out.push('')
  }
  if (r.attention.length === 0) out.push(o.colour ? paint('All is well.', 'green') : 'All is well.')
  else {
    const title = `Needs attention (${r.attention.length})`
    out.push(o.colour ? paint(title, 'red') : title)
    for (const line of r.attention) out.push(`  - ${line}`)
  }
  return `${out.join('\n')}\n`
}

function copiesCell(t: TargetStatusReport): string {
  if (t.copies.length === 0) return '-'
  return t.copies.map((c) => `${c.destination} ${c.status === 'ok' ? (c.holdsNewest ? 'ok' : 'ok, not the newest') : c.status}`).join('; ')
}

function drillCell(t: TargetStatusReport, ago: (iso: string) => string): string {
  const d = t.drill
  if (d.status === 'never') return 'never'
  if (d.status === 'failed') return `failed ${d.lastRun ? ago(d.lastRun) : ''}`.trim()
  return `${d.status} ${d.lastSuccess ? ago(d.lastSuccess) : ''}`.trim()
}

/** A duration for a glance: to the minute from an hour on, to the hour from two days on. */
function rough(ms: number): string {
  const unit = ms >= 2 * 86_400_000 ? 3_600_000 : ms >= 3_600_000 ? 60_000 : 1000
  return formatDuration(Math.floor(ms / unit) * unit)
}

/** `2026-12-03 08:30` in a zone. */
export function localTime(iso: string, zone: string): string {
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone: zone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(new Date(iso))
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? ''
  return `${get('year')}-${get('month')}-${get('day')} ${get('hour')}:${get('minute')}`
}
