/**
 * Routing by what an event is about, beside routing by level: a monitor check (or one of
 * its rows), a backup target, a restart service, a command. A check, target or service
 * names its channels with `notify:`; `notify.routes` holds rules over them (globs). The
 * first rule that matches decides (`continue: true` goes on to the next ones too); an
 * event no rule matches goes to the channels that take its level. A rule may escalate:
 * an alert still open after `after` goes to further channels (the monitor keeps the time
 * in its state). Pure.
 */
import { z } from 'zod'
import { duration } from '../config/fields.js'
import { globMatch } from '../text.js'
import type { Level, NotifyEvent } from './types.js'

const levels = ['info', 'warning', 'error', 'critical'] as const

export const escalateSchema = z
  .array(
    z.strictObject({
      after: duration.meta({ description: 'How long the alert has been open, e.g. 15m.' }),
      channels: z.array(z.string()).min(1).meta({ description: 'The further channels it goes to then.' }),
    }),
  )
  .meta({
    description:
      'Escalation: an alert still open after each `after` also goes to these channels (level 1 → 2 → 3). Its recovery goes to them too.',
  })

/** `notify:` of a check, a backup target or a restart service. */
export const ownRouteSchema = z
  .union([
    z.array(z.string()).min(1),
    z.strictObject({
      channels: z.array(z.string()).min(1),
      levels: z.array(z.enum(levels)).optional(),
      escalate: escalateSchema.optional(),
    }),
  ])
  .meta({
    description:
      'The channels its notifications go to, instead of those that take their level: [pagerduty, oncall], or { channels, levels, escalate: [{ after: 15m, channels: [phone] }] }.',
  })

export const routeSchema = z
  .strictObject({
    checks: z
      .array(z.string())
      .optional()
      .meta({ description: 'Monitor checks (or rows, check:subject) it applies to; * and ? match like a shell glob.' }),
    targets: z
      .array(z.string())
      .optional()
      .meta({ description: 'Backup targets, restart services and other subjects of backup, restore, verify, restart…; globs.' }),
    commands: z.array(z.string()).optional().meta({ description: 'Commands it applies to (backup, monitor, restart…).' }),
    levels: z.array(z.enum(levels)).optional().meta({ description: 'Only events of these levels (default: every level).' }),
    channels: z.array(z.string()).min(1).meta({ description: 'Where they go.' }),
    escalate: escalateSchema.optional(),
    continue: z
      .boolean()
      .default(false)
      .meta({ description: 'Also try the rules after this one (default: the first rule that matches decides).' }),
  })
  .meta({ description: 'A routing rule: events of these checks, targets or commands go to these channels.' })

export type RouteRule = z.output<typeof routeSchema>
export type OwnRoute = z.output<typeof ownRouteSchema>

/** A check's, target's or service's own `notify:` as a rule. */
export function ownRule(own: OwnRoute, match: { checks?: string[]; targets?: string[]; commands?: string[] }): RouteRule {
  const body = Array.isArray(own) ? { channels: own } : own
  return {
    ...match,
    channels: body.channels,
    ...('levels' in body && body.levels ? { levels: body.levels } : {}),
    ...('escalate' in body && body.escalate ? { escalate: body.escalate } : {}),
    continue: false,
  }
}

function matchesSubject(rule: RouteRule, event: Pick<NotifyEvent, 'source' | 'level'>): boolean {
  const command = event.source?.command
  const target = event.source?.target
  if (rule.commands !== undefined && (command === undefined || !rule.commands.some((c) => globMatch(c, command)))) return false
  if (rule.levels !== undefined && !rule.levels.includes(event.level)) return false
  if (rule.checks !== undefined) {
    if (command !== 'monitor' || target === undefined) return false
    const check = target.split(':')[0] as string
    if (!rule.checks.some((p) => globMatch(p, check) || globMatch(p, target))) return false
  }
  if (rule.targets !== undefined) {
    if (target === undefined || command === 'monitor' || !rule.targets.some((p) => globMatch(p, target))) return false
  }
  return true
}

/** The rules that decide where an event goes; undefined when none matches (routing by level). */
export function matchRoutes(rules: readonly RouteRule[], event: Pick<NotifyEvent, 'source' | 'level'>): RouteRule[] | undefined {
  const matched: RouteRule[] = []
  for (const rule of rules) {
    if (!matchesSubject(rule, event)) continue
    matched.push(rule)
    if (!rule.continue) break
  }
  return matched.length > 0 ? matched : undefined
}

export interface EscalationStep {
  afterMs: number
  channels: string[]
}

/** The escalation steps of the rules an event matches, by time. */
export function escalationSteps(rules: readonly RouteRule[], event: Pick<NotifyEvent, 'source' | 'level'>): EscalationStep[] {
  const steps = (matchRoutes(rules, event) ?? []).flatMap((r) => r.escalate ?? []).map((s) => ({ afterMs: s.after, channels: s.channels }))
  return steps.sort((a, b) => a.afterMs - b.afterMs)
}

/** Every channel a rule names, for config validation. */
export function namedChannels(rule: RouteRule): string[] {
  return [...rule.channels, ...(rule.escalate ?? []).flatMap((s) => s.channels)]
}

export type { Level }
