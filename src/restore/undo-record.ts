/**
 * The undo record of a target's last in-place restore (`restore-<target>.json` in the state
 * directory): what is live now, and where the replaced data was kept. Written in the same
 * step as the swap, removed by a rollback or an undo. A record that is not what ownops
 * writes is refused with its path — never acted on.
 */
import { readFile } from 'node:fs/promises'
import { errnoKind, OwnopsError } from '../errors.js'
import type { StateStore } from '../sys/state.js'

export interface UndoRecord {
  target: string
  time: string
  backup: string
  live: string
  kept: string
}

export function parseUndoRecord(value: unknown, name: string): UndoRecord | string {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    return `it holds ${value === null ? 'null' : Array.isArray(value) ? 'a list' : typeof value}, not a record`
  const record = value as Record<string, unknown>
  const missing = ['target', 'time', 'backup', 'live', 'kept'].filter((k) => typeof record[k] !== 'string' || record[k] === '')
  if (missing.length > 0) return `it lacks ${missing.join(', ')}`
  if (record.target !== name) return `it is the record of ${String(record.target)}, not of ${name}`
  return record as unknown as UndoRecord
}

export async function readUndoRecord(store: StateStore, name: string): Promise<UndoRecord> {
  const file = store.path(`restore-${name}`)
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new OwnopsError(`no restore of ${name} to undo`, {
        kind: 'failed',
        hint: 'only the last in-place restore can be undone, while its old data is kept',
      })
    throw new OwnopsError(`cannot read the undo record ${file}: ${(error as Error).message}`, { kind: errnoKind(error) })
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    value = Symbol('unreadable')
  }
  const record = typeof value === 'symbol' ? 'it is not JSON' : parseUndoRecord(value, name)
  if (typeof record === 'string') {
    throw new OwnopsError(`the undo record ${file} is damaged (${record}); nothing was touched`, {
      kind: 'failed',
      hint: `look at it; the replaced data, if any, is beside the live data, named …pre-restore-<time>. Remove the file once you know: rm ${file}`,
    })
  }
  return record
}
