/** Cross-field rules of `backup.destinations`, reported with the rest by `ownops config validate`. */
import { isAbsolute, relative } from 'node:path'
import type { ConfigProblem } from '../config/problems.js'
import type { Config } from '../config/schema.js'
import { didYouMean } from '../text.js'
import { resticRate } from './schema.js'

type Problem = Omit<ConfigProblem, 'file' | 'line'>

export function destinationRules(config: Config): Problem[] {
  const problems: Problem[] = []
  const targets = Object.keys(config.backup.targets)
  for (const [name, d] of Object.entries(config.backup.destinations)) {
    const at = ['backup', 'destinations', name]
    for (const [i, t] of (d.targets ?? []).entries()) {
      if (!targets.includes(t)) {
        const guess = didYouMean(t, targets)
        problems.push({
          severity: 'error',
          path: [...at, 'targets', i],
          message: `no backup target named "${t}"${guess ? ` (did you mean "${guess}"?)` : ''}`,
          hint: `configured targets: ${targets.join(', ') || '(none)'}`,
        })
      }
    }
    if (
      (d.type === 'rclone' || d.type === 'path') &&
      d.age !== undefined &&
      d.age.recipients.length === 0 &&
      d.age.recipientsFile === undefined
    ) {
      problems.push({
        severity: 'error',
        path: [...at, 'age'],
        message: 'age needs recipients (public keys) or a recipientsFile',
        hint: 'age-keygen on another machine prints the public key: age: { recipients: [age1…] }',
      })
    }
    if (d.type === 'path') {
      if (!isAbsolute(d.path))
        problems.push({
          severity: 'error',
          path: [...at, 'path'],
          message: `"${d.path}" is not an absolute path`,
          hint: 'e.g. /mnt/usb/ownops',
        })
      if (typeof d.requireMount === 'string') {
        if (!isAbsolute(d.requireMount))
          problems.push({
            severity: 'error',
            path: [...at, 'requireMount'],
            message: `"${d.requireMount}" is not an absolute path`,
            hint: 'the mount point, e.g. /mnt/usb',
          })
        else if (relative(d.requireMount, d.path).startsWith('..'))
          problems.push({
            severity: 'error',
            path: [...at, 'requireMount'],
            message: `path ${d.path} is not under ${d.requireMount}`,
            hint: 'requireMount names the mount point that holds path',
          })
      }
      if (d.age === undefined)
        problems.push({
          severity: 'warning',
          path: [...at, 'age'],
          message: `copies to ${name} are stored unencrypted`,
          hint: 'add age: { recipients: [age1…] } so that a lost disk gives nothing away',
        })
      if (d.bwlimit !== undefined)
        problems.push({
          severity: 'warning',
          path: [...at, 'bwlimit'],
          message: 'bwlimit has no effect on a path destination',
          hint: 'for a network file system, use an rclone destination with a local path as remote',
        })
    }
    if (d.type === 'restic' && d.bwlimit !== undefined && resticRate(d.bwlimit) === undefined) {
      problems.push({
        severity: 'error',
        path: [...at, 'bwlimit'],
        message: `restic takes a plain rate, got "${d.bwlimit}"`,
        hint: "e.g. 10M (MiB/s) or 512K; timetables are rclone's",
      })
    }
  }
  return problems
}
