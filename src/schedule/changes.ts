/**
 * What `schedule install` and `schedule remove` change in a directory: pure, from the files
 * wanted and the files there. Only files that begin with GENERATED_MARK are ever replaced or
 * deleted; a file of the same name without it is a conflict, left alone.
 */
import { unifiedDiff } from './diff.js'
import { isGenerated, type GeneratedFile } from './units.js'

export type ChangeAction = 'create' | 'update' | 'unchanged' | 'delete'

export interface FileChange {
  action: ChangeAction
  name: string
  before?: string | undefined
  after?: string | undefined
}

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
  for (const [name, before] of [...present].sort(([a], [b]) => a.localeCompare(b))) {
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
