/**
 * The checks a run performs: the built-in host checks (unless turned off) merged with the
 * configured ones by name, each with its timeout and alert policy resolved. Pure.
 */
import { BUILTIN_CHECKS } from './builtins.js'
import { checkKinds, type CheckSpec } from './checks/index.js'
import { checkSchema, type MonitorConfig } from './schema.js'
import type { FlapSpec, RecoverSpec } from './spec.js'
import type { Policy } from './state.js'
import type { CheckKind } from './types.js'

export { BUILTIN_CHECKS, ENGINE_CHECK, RESERVED_NAMES } from './builtins.js'

export interface PlannedCheck {
  name: string
  spec: CheckSpec
  impl: CheckKind<CheckSpec>
  timeoutMs: number
  policy: Policy
  builtin: boolean
}

function isBuilt(spec: { kind: string }): spec is CheckSpec {
  return spec.kind in checkKinds
}

/** The alert-policy fields of a check spec (every kind has the first four; pass/fail kinds have recover). */
export interface PolicyFields {
  failuresBeforeAlert?: number | undefined
  successesBeforeRecovery?: number | undefined
  flap?: FlapSpec | undefined
  remind?: number | undefined
  recover?: RecoverSpec | undefined
}

export function policyOf(
  spec: PolicyFields,
  monitor: Pick<MonitorConfig, 'failuresBeforeAlert' | 'successesBeforeRecovery' | 'flap' | 'remind'>,
): Policy {
  const remind = spec.remind ?? monitor.remind
  const recover = spec.recover
  return {
    failuresBeforeAlert: spec.failuresBeforeAlert ?? monitor.failuresBeforeAlert,
    successesBeforeRecovery: spec.successesBeforeRecovery ?? monitor.successesBeforeRecovery,
    flap: spec.flap ?? monitor.flap,
    remindMs: remind,
    recover:
      recover === undefined
        ? undefined
        : {
            action: recover.action,
            on: recover.on,
            after: recover.after,
            maxAttempts: recover.maxAttempts,
            withinMs: recover.within,
            graceMs: recover.grace,
            recreate: recover.recreate !== undefined,
          },
  }
}

export function planChecks(monitor: MonitorConfig): PlannedCheck[] {
  const specs = new Map<string, { spec: CheckSpec; builtin: boolean }>()
  if (monitor.builtins) {
    for (const [name, kind] of Object.entries(BUILTIN_CHECKS)) specs.set(name, { spec: checkSchema.parse({ kind }), builtin: true })
  }
  for (const [name, spec] of Object.entries(monitor.checks)) {
    if (!isBuilt(spec)) continue // planned kinds: rejected by config validation
    specs.set(name, { spec, builtin: name in BUILTIN_CHECKS })
  }
  const planned: PlannedCheck[] = []
  for (const [name, { spec, builtin }] of specs) {
    if (!spec.enabled) continue
    planned.push({
      name,
      spec,
      impl: checkKinds[spec.kind],
      timeoutMs: spec.timeout ?? monitor.timeout,
      policy: policyOf(spec, monitor),
      builtin,
    })
  }
  return planned
}
