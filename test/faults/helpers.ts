/**
 * The fault-injection suite's tools: every test here injects faults into real runs of
 * ownops (a full disk, a signal at a given phase, a dropped engine connection, a clock
 * jump, a swapped symlink, a hostile peer) and then checks that nothing was lost.
 *
 * Each test records how many faults it tried and how much data it found lost in its task
 * meta; `node test/faults/summary.mjs REPORT.json` (run by .ci/run) turns the vitest JSON
 * report into one line: faults tried, data lost (must be 0).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect, type TestContext } from 'vitest'
import { BIN } from '../helpers/cli.js'

declare module '@vitest/runner' {
  interface TaskMeta {
    /** Faults this test injected. */
    faults?: number
    /** Pieces of data found lost after them (a backup gone or damaged, a source changed). */
    dataLost?: number
    /** What was lost, for the summary. */
    lost?: string[]
  }
}

/** Counts `n` injected faults for the summary line. */
export function faultsTried(ctx: TestContext, n = 1): void {
  ctx.task.meta.faults = (ctx.task.meta.faults ?? 0) + n
}

/** Records what was lost (counted in the summary), then fails the test when anything was. */
export function expectNothingLost(ctx: TestContext, losses: string[]): void {
  ctx.task.meta.dataLost = (ctx.task.meta.dataLost ?? 0) + losses.length
  if (losses.length > 0) ctx.task.meta.lost = [...(ctx.task.meta.lost ?? []), ...losses]
  expect(losses, 'data lost').toEqual([])
}

function required(): boolean {
  return process.env.CI === 'true' || process.env.OWNOPS_REQUIRE_DOCKER === '1'
}

/**
 * Fault tests that mount a tmpfs need root. Without it they skip on a laptop, and fail
 * loudly in CI (CI=true or OWNOPS_REQUIRE_DOCKER=1), where a skipped fault test would
 * hide a missing guarantee.
 */
export function needRoot(ctx: TestContext): void {
  if (process.getuid?.() === 0) return
  if (required()) throw new Error('fault tests need root (tmpfs mounts, other users); CI runs them as root')
  ctx.skip('needs root for a tmpfs mount')
}

/** A tmpfs of `size` (e.g. "4m") mounted at `dir`; returns the unmount. */
export function mountTmpfs(dir: string, size: string): () => void {
  mkdirSync(dir, { recursive: true })
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0755`, 'tmpfs', dir])
  return () => {
    try {
      execFileSync('umount', ['-l', dir], { stdio: 'ignore' })
    } catch {
      // not mounted any more
    }
  }
}

export function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex')
}

interface ManifestLike {
  file: string
  size: number
  sha256: string
  id: string
}

/** Every manifest under a backup directory, with the checksum of its artifact as it is now. */
function manifests(backupDir: string): Array<{ target: string; manifest: ManifestLike; actual?: string }> {
  const out: Array<{ target: string; manifest: ManifestLike; actual?: string }> = []
  if (!existsSync(backupDir)) return out
  for (const target of readdirSync(backupDir)) {
    const dir = join(backupDir, target)
    let names: string[]
    try {
      names = readdirSync(dir)
    } catch {
      continue
    }
    for (const name of names) {
      if (!name.endsWith('.json') || name.startsWith('.')) continue
      let manifest: ManifestLike
      try {
        manifest = JSON.parse(readFileSync(join(dir, name), 'utf8')) as ManifestLike
      } catch {
        continue
      }
      const artifact = join(dir, manifest.file)
      out.push({ target, manifest, ...(existsSync(artifact) ? { actual: sha256(artifact) } : {}) })
    }
  }
  return out
}

/**
 * The backups that exist before a fault; `losses()` after it lists each of them that is
 * gone or changed, and every backup that now looks valid (has a manifest) but whose
 * artifact does not match it.
 */
export function backupLedger(backupDir: string): { losses(): string[]; count: number } {
  const before = manifests(backupDir).filter((m) => m.actual === m.manifest.sha256)
  return {
    count: before.length,
    losses() {
      const now = manifests(backupDir)
      const lost: string[] = []
      for (const b of before) {
        const still = now.find((n) => n.target === b.target && n.manifest.id === b.manifest.id)
        if (still === undefined) lost.push(`${b.target}/${b.manifest.id}: a valid backup disappeared`)
        else if (still.actual !== b.manifest.sha256) lost.push(`${b.target}/${b.manifest.id}: its artifact changed or went missing`)
      }
      for (const n of now) {
        if (n.actual !== n.manifest.sha256)
          lost.push(
            `${n.target}/${n.manifest.id}: has a manifest, but its artifact ${n.actual === undefined ? 'is missing' : 'does not match it'}`,
          )
      }
      return [...new Set(lost)]
    },
  }
}

/** Names in a directory that are not complete backups (manifests and the artifacts they name). */
export function strays(targetDir: string): string[] {
  if (!existsSync(targetDir)) return []
  const names = readdirSync(targetDir)
  const claimed = new Set<string>()
  for (const name of names) {
    if (!name.endsWith('.json') || name.startsWith('.')) continue
    claimed.add(name)
    try {
      claimed.add((JSON.parse(readFileSync(join(targetDir, name), 'utf8')) as ManifestLike).file)
    } catch {
      // an unreadable manifest is a stray too
      claimed.delete(name)
    }
  }
  return names.filter((n) => !claimed.has(n)).sort()
}

export interface ProcessResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/** ownops as the user's system runs it: a process of its own (a crash cannot take the test runner with it). */
export function startOwnops(
  args: string[],
  env: NodeJS.ProcessEnv,
  cwd: string,
  nodeArgs: string[] = [],
): { child: ChildProcess; done: Promise<ProcessResult> } {
  const child = spawn(process.execPath, [...nodeArgs, BIN, ...args], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout?.setEncoding('utf8').on('data', (c: string) => void (stdout += c))
  child.stderr?.setEncoding('utf8').on('data', (c: string) => void (stderr += c))
  const done = new Promise<ProcessResult>((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }))
  })
  return { child, done }
}

export function runOwnops(args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<ProcessResult> {
  return startOwnops(args, env, cwd).done
}

/** A file-system change the trap makes (see fixtures/fs-trap.mjs). */
export type TrapStep = { rename: [string, string] } | { unlink: string } | { symlink: [string, string]; owner?: number }
export interface Trap {
  /** Fires on the first (or nth) call of one of these fs/promises functions, optionally only for a path containing `path` or an open with these flags. */
  when: Array<{ call: 'open' | 'lstat' | 'rm' | 'unlink' | 'rmdir' | 'rename' | 'link'; path?: string; flags?: number; nth?: number }>
  then: TrapStep[]
  /** Written when the trap fired. */
  mark: string
}

/** ownops with a file-system race staged at a given call (test/faults/fixtures/fs-trap.mjs). */
export function runOwnopsWithTrap(args: string[], env: NodeJS.ProcessEnv, cwd: string, trap: Trap): Promise<ProcessResult> {
  const preload = new URL('./fixtures/fs-trap.mjs', import.meta.url).pathname
  return startOwnops(args, { ...env, OWNOPS_TEST_FS_TRAP: JSON.stringify(trap) }, cwd, ['--import', preload]).done
}

/** Polls `probe` until it returns something truthy; fails after `tries` × `everyMs`. */
export async function until<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  tries = 600,
  everyMs = 50,
): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const value = await probe()
    if (value) return value
    await new Promise((resolve) => setTimeout(resolve, everyMs))
  }
  throw new Error(`gave up waiting for ${what}`)
}
