/**
 * One notification per run: every transition of the run (alerts, escalations, reminders,
 * actions, gave-up, recoveries) in one message, at the level of the worst one. A failure
 * whose dependency fails in the same run (dependsOn, or a critical host resource under
 * failing containers) is listed under it, not as an alert of its own. Pure.
 */
import { levelOrder, type AlertItem, type Level } from '../notify/types.js'
import type { Transition } from './state.js'
import type { Observation } from './types.js'
import { compareNames } from '../text.js'

export interface Digest {
  level: Level
  title: string
  body: string
  /** Levels to route by: a recovery goes where the alert it resolves went. */
  routeLevels: Level[]
  /** The row, when the digest is about one. */
  target?: string
  /** Each change on its own, for channels with a structure (Discord fields, Slack blocks, PagerDuty alerts). */
  alerts: AlertItem[]
}

const LABEL: Record<Transition['type'], (t: Transition) => string> = {
  alert: (t) => t.level.toUpperCase(),
  escalate: () => 'CRITICAL',
  remind: (t) => `${t.level.toUpperCase()} (reminder)`,
  recover: () => 'RESOLVED',
  gone: () => 'RESOLVED',
  action: (t) => (t.action?.ok === false ? 'ACTION FAILED' : 'ACTION'),
  'gave-up': () => 'GAVE UP',
  escalation: (t) => `ESCALATED (level ${(t.escalation?.step ?? 1) + 1})`,
}

const isProblem = (t: Transition) => t.type === 'alert' || t.type === 'escalate' || t.type === 'remind' || t.type === 'escalation'

/** Host-level kinds whose critical state explains failing containers. */
const HOST_KINDS = new Set(['filesystem', 'memory', 'swap'])

/**
 * The row each failing row rolls up under, if any: a failing `dependsOn` (by check or
 * container name), or for container rows without dependsOn, a critical host resource.
 */
export function rollUps(
  observations: readonly Observation[],
  dependsOn: (check: string) => readonly string[] | undefined,
  quiet: (id: string) => boolean,
): Map<string, string> {
  const failing = observations.filter((o) => (o.status === 'warning' || o.status === 'critical') && !quiet(o.id))
  const parents = new Map<string, string>()
  const hostCritical = failing.find((o) => HOST_KINDS.has(o.kind) && o.status === 'critical')
  for (const row of failing) {
    const deps = dependsOn(row.check)
    if (deps !== undefined && deps.length > 0) {
      const parent = failing.find(
        (o) => o.id !== row.id && o.check !== row.check && deps.some((d) => o.check === d || o.id === d || (o.names ?? []).includes(d)),
      )
      if (parent !== undefined) parents.set(row.id, parent.id)
    } else if (hostCritical !== undefined && (row.kind === 'container' || row.kind === 'containers')) {
      parents.set(row.id, hostCritical.id)
    }
  }
  // A parent that itself rolls up: point to the top.
  for (const [child, parent] of parents) {
    let top = parent
    const seen = new Set([child])
    while (parents.has(top) && !seen.has(top)) {
      seen.add(top)
      top = parents.get(top) as string
    }
    parents.set(child, top)
  }
  return parents
}

/** The message, after what the check is for when it says: "Minecraft server process: pgrep exited 1". */
export function said(t: Pick<Transition, 'message' | 'what'>): string {
  return t.what ? `${t.what}: ${t.message}` : t.message
}

function line(t: Transition): string {
  return `${LABEL[t.type](t).padEnd(10)} ${t.id} — ${said(t)}`
}

export function buildDigest(transitions: readonly Transition[], parents: ReadonlyMap<string, string>, host: string): Digest | undefined {
  if (transitions.length === 0) return undefined
  const level = transitions.reduce<Level>((worst, t) => (levelOrder[t.level] > levelOrder[worst] ? t.level : worst), 'info')
  const routeLevels = [...new Set(transitions.map((t) => t.resolves ?? t.level))]

  // Children of a parent with a problem line in this digest are listed under it.
  const problemIds = new Set(transitions.filter(isProblem).map((t) => t.id))
  const childrenOf = new Map<string, Transition[]>()
  const top: Transition[] = []
  for (const t of transitions) {
    const parent = parents.get(t.id)
    if (isProblem(t) && parent !== undefined && problemIds.has(parent)) {
      childrenOf.set(parent, [...(childrenOf.get(parent) ?? []), t])
    } else {
      top.push(t)
    }
  }
  const order: Record<Transition['type'], number> = {
    'gave-up': 0,
    escalate: 1,
    escalation: 1,
    alert: 2,
    action: 3,
    remind: 4,
    recover: 5,
    gone: 6,
  }
  top.sort((a, b) => levelOrder[b.level] - levelOrder[a.level] || order[a.type] - order[b.type] || compareNames(a.id, b.id))
  const lines: string[] = []
  for (const t of top) {
    lines.push(line(t))
    for (const child of childrenOf.get(t.id) ?? [])
      lines.push(`           ↳ also failing, probably because of ${t.id}: ${child.id} — ${said(child)}`)
  }

  const problems = transitions.filter((t) => isProblem(t) || t.type === 'gave-up')
  const resolved = transitions.filter((t) => t.type === 'recover' || t.type === 'gone')
  const actions = transitions.filter((t) => t.type === 'action')
  let title: string
  if (transitions.length === 1) {
    const t = transitions[0] as Transition
    const head =
      t.type === 'recover' || t.type === 'gone'
        ? 'resolved'
        : t.type === 'action'
          ? 'action'
          : t.type === 'gave-up'
            ? 'gave up'
            : t.type === 'remind'
              ? `still ${t.level}`
              : t.type === 'escalation'
                ? `${t.level}, escalated`
                : t.level
    title = `${t.id} ${head}: ${said(t)}`
  } else {
    const topProblems = problems.filter((t) => !parents.has(t.id) || !problemIds.has(parents.get(t.id) as string))
    const parts = [
      problems.length > 0
        ? `${problems.length} problem${problems.length === 1 ? '' : 's'}${topProblems.length > 0 ? ` (${[...new Set(topProblems.map((t) => t.id))].slice(0, 3).join(', ')}${topProblems.length > 3 ? ', …' : ''})` : ''}`
        : undefined,
      actions.length > 0 ? `${actions.length} action${actions.length === 1 ? '' : 's'}` : undefined,
      resolved.length > 0 ? `${resolved.length} resolved` : undefined,
    ].filter(Boolean)
    title = `${parts.join(', ')} on ${host}`
  }
  if (title.length > 200) title = `${title.slice(0, 199)}…`
  const body = `${lines.join('\n')}\n\n\`ownops monitor\` on ${host} shows every check.`
  const ids = [...new Set(transitions.map((t) => t.id))]
  const alerts: AlertItem[] = top
    .flatMap((t) => [t, ...(childrenOf.get(t.id) ?? [])])
    .map((t) => ({
      key: `monitor/${t.id}`,
      label: LABEL[t.type](t),
      level: t.level,
      state: t.type === 'recover' || t.type === 'gone' ? 'closed' : t.type === 'action' ? 'note' : 'open',
      subject: t.id,
      text:
        parents.has(t.id) && isProblem(t) && problemIds.has(parents.get(t.id) as string)
          ? `${said(t)} (probably because of ${parents.get(t.id) as string})`
          : said(t),
    }))
  return { level, title, body, routeLevels, alerts, ...(ids.length === 1 ? { target: ids[0] as string } : {}) }
}
