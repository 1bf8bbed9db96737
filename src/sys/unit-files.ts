/**
 * The file side of `schedule install` and `schedule remove`: read the ownops files of a
 * directory, write and delete them (atomically), create the directories the units may write.
 */
import { lstat, mkdir, readdir, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { OwnopsError } from '../errors.js'
import { writeFileAtomic } from './atomic.js'

export type ChangeAction = 'create' | 'update' | 'unchanged' | 'delete'

/** One generated file to create, update, leave or delete. */
export interface FileChange {
  action: ChangeAction
  name: string
  before?: string | undefined
  after?: string | undefined
}

/** The regular files of `dir` whose names pass `filter`, with their text; missing dir: none. */
export async function readFiles(dir: string, filter: (name: string) => boolean): Promise<Map<string, string>> {
  const files = new Map<string, string>()
  let names: string[]
  try {
    names = await readdir(dir)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return files
    throw fsError(error, dir)
  }
  for (const name of names.sort()) {
    if (!filter(name)) continue
    const file = join(dir, name)
    try {
      if (!(await lstat(file)).isFile()) continue
      files.set(name, await readFile(file, 'utf8'))
    } catch (error) {
      throw fsError(error, file)
    }
  }
  return files
}

/** Writes created and updated files (mode 0644) and deletes deleted ones; unchanged files are not touched. */
export async function applyChanges(dir: string, changes: readonly FileChange[]): Promise<void> {
  for (const change of changes) {
    const file = join(dir, change.name)
    try {
      if (change.action === 'create' || change.action === 'update')
        await writeFileAtomic(file, change.after ?? '', { mode: 0o644, dirMode: 0o755 })
      else if (change.action === 'delete') await rm(file, { force: true })
    } catch (error) {
      throw fsError(error, file)
    }
  }
}

/** Creates missing directories (mode 0700); returns those it created. */
export async function ensureDirs(dirs: readonly string[]): Promise<string[]> {
  const created: string[] = []
  for (const dir of dirs) {
    try {
      if ((await mkdir(dir, { recursive: true, mode: 0o700 })) !== undefined) created.push(dir)
    } catch (error) {
      throw fsError(error, dir)
    }
  }
  return created
}

function fsError(error: unknown, path: string): OwnopsError {
  const code = (error as NodeJS.ErrnoException).code
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return new OwnopsError(`permission denied: ${path}`, {
      kind: 'permission',
      hint: 'run it as root: sudo ownops schedule …',
      cause: error,
    })
  }
  return new OwnopsError(`${path}: ${(error as Error).message}`, { kind: 'failed', cause: error })
}
