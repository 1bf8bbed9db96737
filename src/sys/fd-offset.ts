/**
 * How far the open file description behind `fd` has been read: its offset, from
 * /proc/self/fdinfo. A process given the descriptor as its stdin (tar, zstd) moves that
 * offset as it reads, so this is how far it has got — for a progress line, nothing more.
 * 0 when it cannot be told (no /proc, the descriptor closed).
 */
import { readFileSync } from 'node:fs'

export function fdOffset(fd: number): number {
  try {
    const match = /^pos:\s*(\d+)/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))
    return match?.[1] !== undefined ? Number(match[1]) : 0
  } catch {
    return 0
  }
}
