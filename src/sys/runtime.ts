/**
 * The running ownops, as units and cron lines should start it: the absolute path of this Node
 * and of bin/ownops.js (its `#!/usr/bin/env node` finds whatever `node` the PATH of systemd or
 * cron has, often none under nvm, fnm or volta, or another version), or the single executable
 * of a single-file build. After Node is upgraded to another path (nvm install, brew upgrade),
 * `ownops schedule install` writes the new one; `ownops doctor` notices a Node that is gone.
 */
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { packageRoot } from '../version.js'

export function ownopsRuntime(): string[] {
  if (isSingleExecutable()) return [process.execPath]
  return [process.execPath, join(packageRoot(), 'bin', 'ownops.js')]
}

function isSingleExecutable(): boolean {
  try {
    const sea = createRequire(import.meta.url)('node:sea') as { isSea?: () => boolean }
    return sea.isSea?.() === true
  } catch {
    return false
  }
}
