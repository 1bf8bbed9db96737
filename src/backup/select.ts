/** The backup targets a command names (or all of them), with a clear error for a name that is not configured. */
import type { BackupTarget, Config } from '../config/schema.js'
import { OwnopsError } from '../errors.js'
import { didYouMean } from '../text.js'

/**
 * The targets named (all when none; with `unscheduled`, those without a schedule of their own).
 * No target configured is a config error; an unknown name a usage error with a suggestion.
 */
export function selectTargets(config: Config, names: string[], unscheduled = false): Array<[string, BackupTarget]> {
  const all = Object.entries(config.backup.targets)
  if (all.length === 0) {
    throw new OwnopsError('no backup targets configured', {
      kind: 'config',
      hint: 'add one under backup.targets, e.g.  db: { type: postgres, container: db }  (see ownops.example.yml)',
    })
  }
  if (names.length === 0) return unscheduled ? all.filter(([, t]) => t.schedule === undefined) : all
  return names.map((name) => {
    const target = config.backup.targets[name]
    if (target === undefined) {
      const guess = didYouMean(name, Object.keys(config.backup.targets))
      throw new OwnopsError(`no backup target named "${name}"${guess ? ` (did you mean "${guess}"?)` : ''}`, {
        kind: 'usage',
        hint: `configured targets: ${Object.keys(config.backup.targets).join(', ')}`,
      })
    }
    return [name, target]
  })
}
