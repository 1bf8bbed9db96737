/**
 * JSON state files in the state directory (monitor's memory, the notify outbox, drill
 * results). Written atomically; a missing file reads as the fallback; a corrupt one is
 * moved aside once (`NAME.json.corrupt-STAMP`, kept for a look) with a warning, and the
 * next write starts a fresh file, never a crash and never the same warning every run.
 */
import { existsSync } from 'node:fs'
import { readdir, readFile, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from 'pino'
import { writeFileAtomic } from './atomic.js'

/** What `peek` found: the value (or the fallback), whether the file exists, and why it could not be used. */
export interface Peeked<T> {
  value: T
  found: boolean
  problem?: string
}

export class StateStore {
  constructor(
    readonly dir: string,
    private readonly log?: Logger,
  ) {}

  path(name: string): string {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) throw new Error(`invalid state file name: ${name}`)
    return join(this.dir, `${name}.json`)
  }

  /**
   * Reads a state file. `validate` returns the typed value or undefined when the content
   * is not what the caller expects; then, as for unreadable JSON, the fallback is returned.
   */
  async read<T>(name: string, fallback: T, validate: (value: unknown) => T | undefined = (v) => v as T): Promise<T> {
    const file = this.path(name)
    let text: string
    try {
      text = await readFile(file, 'utf8')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return fallback
      throw error
    }
    try {
      const value = validate(JSON.parse(text))
      if (value !== undefined) return value
    } catch {
      // fall through to the reset below
    }
    const aside = `${file}.corrupt-${new Date()
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d+Z$/, 'Z')}`
    try {
      await rename(file, aside)
      this.log?.warn({ file, movedTo: aside }, 'state file is corrupt: moved aside; starting from a fresh state')
    } catch (error) {
      this.log?.warn({ file, err: error }, 'state file is corrupt (and could not be moved aside); starting from a fresh state')
    }
    return fallback
  }

  /**
   * Reads a state file for a look only (`ownops status`): no lock, nothing written, nothing
   * moved aside. Missing: the fallback; unreadable or not what `validate` expects: the fallback
   * and the problem, for the reader to say.
   */
  async peek<T>(name: string, fallback: T, validate: (value: unknown) => T | undefined = (v) => v as T): Promise<Peeked<T>> {
    const file = this.path(name)
    let text: string
    try {
      text = await readFile(file, 'utf8')
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (code === 'ENOENT' || code === 'ENOTDIR') return { value: fallback, found: false }
      return { value: fallback, found: true, problem: `cannot read ${file}: ${code ?? (error as Error).message}` }
    }
    try {
      const value = validate(JSON.parse(text))
      if (value !== undefined) return { value, found: true }
    } catch {
      // reported below
    }
    return { value: fallback, found: true, problem: `${file} is corrupt (the next run that writes it starts afresh)` }
  }

  /** Names of the state files that start with `prefix` (without .json), sorted. */
  async list(prefix: string): Promise<string[]> {
    const files = await readdir(this.dir).catch(() => [] as string[])
    return files
      .filter((f) => f.startsWith(prefix) && f.endsWith('.json'))
      .map((f) => f.slice(0, -5))
      .sort()
  }

  exists(name: string): boolean {
    return existsSync(this.path(name))
  }

  async remove(name: string): Promise<void> {
    await rm(this.path(name), { force: true })
  }

  async write(name: string, value: unknown): Promise<void> {
    await writeFileAtomic(this.path(name), `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600, dirMode: 0o700 })
  }
}
