/**
 * The running ownops, as units and cron lines should start it: the absolute path of this Node
 * and of bin/ownops.js (its `#!/usr/bin/env node` finds whatever `node` the PATH of systemd or
 * cron has, often none under nvm, fnm or volta, or another version), or the single executable
 * of a single-file build (npm run build:sea), which is Node and ownops in one file. After Node
 * is upgraded to another path (nvm install, brew upgrade), `ownops schedule install` writes the
 * new one; `ownops doctor` notices a Node that is gone.
 */
import { join } from 'node:path'
import { packageRoot } from '../version.js'

export interface RuntimeFacts {
  /** Whether this process is a single executable (node:sea's isSea()). */
  sea: boolean
  execPath: string
}

export function ownopsRuntime(facts: RuntimeFacts = runtimeFacts()): string[] {
  if (facts.sea) return [facts.execPath]
  return [facts.execPath, join(packageRoot(), 'bin', 'ownops.js')]
}

export function runtimeFacts(): RuntimeFacts {
  return { sea: isSingleExecutable(), execPath: process.execPath }
}

/**
 * Whether ownops runs as a single executable. node:sea is a builtin: getBuiltinModule reaches it
 * in every build (a single executable's require() cannot resolve files, and it has no import.meta).
 */
export function isSingleExecutable(): boolean {
  try {
    const sea = process.getBuiltinModule('node:sea') as { isSea?: () => boolean } | undefined
    return sea?.isSea?.() === true
  } catch {
    return false
  }
}
