/**
 * `ownops restore` without a target: the targets with their newest backups (age, size,
 * whether and how they were verified, where the copies are), and — on a terminal — a
 * choice of target and backup by number. Off a terminal, the same list and the command to
 * run. Pure rendering plus one question function the command supplies.
 */
import type { Config } from '../config/schema.js'
import { readCatalog, type BackupEntry } from '../backup/catalog.js'
import { formatDuration } from '../duration.js'
import { formatBytes, renderTable } from '../text.js'
import { holders, type CopiesState } from '../copies/state.js'
import type { VerifiedState } from './verify.js'

export interface TargetChoice {
  target: string
  type: string
  /** Restorable backups, newest first (pre-restore safety copies left out). */
  backups: BackupEntry[]
  /** Where each backup is, by id: `local` and the destinations that hold a copy (by the copy state). */
  copies: Map<string, string[]>
}

/** `copies`: the copy state, when destinations are configured (what `ownops backups` reads too). */
export async function restoreChoices(config: Config, order: string[], copies?: CopiesState): Promise<TargetChoice[]> {
  const choices: TargetChoice[] = []
  for (const name of order) {
    const catalog = await readCatalog(config.backup.dir, name)
    const backups = catalog.backups.filter((b) => !b.tags.includes('pre-restore'))
    const where = new Map(
      backups.map((b) => [b.manifest.id, ['local', ...(copies !== undefined ? holders(copies, name, b.manifest.id) : [])]]),
    )
    choices.push({ target: name, type: config.backup.targets[name]?.type ?? '?', backups, copies: where })
  }
  return choices
}

function verifiedText(entry: BackupEntry, verified: VerifiedState, now: number): string {
  const v = verified[`${entry.manifest.target}/${entry.manifest.id}`]
  if (v === undefined) return 'not yet'
  const what = v.how === 'drill' ? 'drill ok' : v.how === 'readable' ? 'read ok' : 'sha256 ok'
  return `${what} ${formatDuration(Math.max(0, now - new Date(v.time).getTime()))} ago`
}

function row(choice: TargetChoice, entry: BackupEntry, verified: VerifiedState, now: number): string[] {
  return [
    entry.manifest.id,
    `${formatDuration(Math.max(0, now - entry.time.getTime()))} ago`,
    formatBytes(entry.manifest.size),
    verifiedText(entry, verified, now),
    (choice.copies.get(entry.manifest.id) ?? ['local']).join(', '),
  ]
}

export function renderTargets(choices: TargetChoice[], verified: VerifiedState, now: number, numbered: boolean): string {
  const rows = choices.map((c, i) => {
    const newest = c.backups[0]
    return [
      ...(numbered ? [String(i + 1)] : []),
      c.target,
      c.type,
      ...(newest ? row(c, newest, verified, now) : ['no backup', '-', '-', '-', '-']),
      String(c.backups.length),
    ]
  })
  return renderTable([...(numbered ? ['#'] : []), 'TARGET', 'TYPE', 'NEWEST BACKUP', 'AGE', 'SIZE', 'VERIFIED', 'COPIES', 'BACKUPS'], rows)
}

export function renderBackups(choice: TargetChoice, verified: VerifiedState, now: number, limit = 20): string {
  const rows = choice.backups.slice(0, limit).map((b, i) => [String(i + 1), ...row(choice, b, verified, now)])
  return renderTable(['#', 'BACKUP', 'AGE', 'SIZE', 'VERIFIED', 'COPIES'], rows)
}

/** Reads a number between 1 and `max` (empty: `fallback`); asks again on anything else, at most 5 times. */
export async function askNumber(
  ask: (question: string) => Promise<string | undefined>,
  question: string,
  max: number,
  fallback?: number,
): Promise<number | undefined> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const answer = await ask(question)
    if (answer === undefined) return undefined
    const text = answer.trim()
    if (text === '' && fallback !== undefined) return fallback
    if (/^q(uit)?$/i.test(text)) return undefined
    const n = Number(text)
    if (Number.isInteger(n) && n >= 1 && n <= max) return n
  }
  return undefined
}
