/**
 * What `schedule install` and `schedule remove` change in a directory: pure, from the files
 * wanted and the files there. Only files that begin with GENERATED_MARK are ever replaced or
 * deleted; a file of the same name without it is a conflict, left alone.
 */
import type { FileChange } from '../sys/unit-files.js'
import { unifiedDiff } from './diff.js'
import type { SchedulePlan } from './jobs.js'
import { isGenerated, type GeneratedFile } from './units.js'
import { compareNames } from '../text.js'

export interface ChangePlan {
  changes: FileChange[]
  /** Files in the way that ownops did not generate: never touched. */
  conflicts: string[]
}

/**
 * @param wanted   the files the config asks for
 * @param present  the files of the same family now in the directory (name → text)
 * @param remove   true for `schedule remove`: every generated file present goes
 */
export function planChanges(wanted: readonly GeneratedFile[], present: ReadonlyMap<string, string>, remove = false): ChangePlan {
  const changes: FileChange[] = []
  const conflicts: string[] = []
  const wantedNames = new Set(remove ? [] : wanted.map((f) => f.name))
  if (!remove) {
    for (const file of wanted) {
      const before = present.get(file.name)
      if (before === undefined) changes.push({ action: 'create', name: file.name, after: file.content })
      else if (!isGenerated(before)) conflicts.push(file.name)
      else changes.push({ action: before === file.content ? 'unchanged' : 'update', name: file.name, before, after: file.content })
    }
  }
  for (const [name, before] of [...present].sort(([a], [b]) => compareNames(a, b))) {
    if (!wantedNames.has(name) && isGenerated(before)) changes.push({ action: 'delete', name, before })
  }
  return { changes, conflicts }
}

/** The diff of every change, for --dry-run (paths shown relative to /). */
export function renderChanges(changes: readonly FileChange[], dir: string): string {
  const base = dir.replace(/^\/+/, '').replace(/\/+$/, '')
  return changes
    .filter((c) => c.action !== 'unchanged')
    .map((c) => unifiedDiff(c.before, c.action === 'delete' ? undefined : c.after, `${base}/${c.name}`))
    .join('')
}

export interface SystemctlSteps {
  before: string[][]
  after: string[][]
}

/**
 * systemctl commands around the file changes. Timers of removed jobs are disabled and stopped
 * (a run in progress finishes); boot units are disabled but never stopped, which would stop
 * their containers. @reboot timers are enabled without --now: started late, they would fire
 * at once.
 */
export function systemctlSteps(
  p: SchedulePlan | undefined,
  changes: readonly FileChange[],
  mode: 'install' | 'remove',
  how: 'live' | 'offline' | 'none',
  changed: boolean,
): SystemctlSteps {
  if (how === 'none') return { before: [], after: [] }
  const live = how === 'live'
  const deleted = changes.filter((c) => c.action === 'delete').map((c) => c.name)
  const goneTimers = deleted.filter((n) => n.endsWith('.timer'))
  const goneBoot = deleted.filter((n) => n.startsWith('ownops-boot-') && n.endsWith('.service'))
  const before: string[][] = []
  if (goneTimers.length > 0) before.push(live ? ['disable', '--now', ...goneTimers] : ['disable', ...goneTimers])
  if (goneBoot.length > 0) before.push(['disable', ...goneBoot])
  const after: string[][] = []
  if (live && changed) after.push(['daemon-reload'])
  if (mode === 'install' && p !== undefined) {
    const calendar = p.jobs.filter((j) => !j.parsed.reboot).map((j) => `${j.unit}.timer`)
    const boot = [...p.jobs.filter((j) => j.parsed.reboot).map((j) => `${j.unit}.timer`), ...p.boot.map((b) => `${b.unit}.service`)]
    if (live) {
      if (calendar.length > 0) after.push(['enable', '--now', ...calendar])
      if (boot.length > 0) after.push(['enable', ...boot])
    } else if (calendar.length + boot.length > 0) {
      after.push(['enable', ...calendar, ...boot])
    }
  }
  return { before, after }
}
