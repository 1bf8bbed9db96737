/** Unified diffs of small text files (unit files, cron.d), for `--dry-run`. Pure. */

type Op = { kind: ' ' | '-' | '+'; line: string }

function splitLines(text: string): string[] {
  if (text === '') return []
  const lines = text.split('\n')
  if (lines[lines.length - 1] === '') lines.pop()
  return lines
}

/** Line operations turning a into b, from a longest common subsequence (files are small). */
function diffLines(a: string[], b: string[]): Op[] {
  const n = a.length
  const m = b.length
  const lcs: Uint32Array[] = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1))
  for (let i = n - 1; i >= 0; i--) {
    const row = lcs[i] as Uint32Array
    const below = lcs[i + 1] as Uint32Array
    for (let j = m - 1; j >= 0; j--)
      row[j] = a[i] === b[j] ? (below[j + 1] as number) + 1 : Math.max(below[j] as number, row[j + 1] as number)
  }
  const ops: Op[] = []
  let i = 0
  let j = 0
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      ops.push({ kind: ' ', line: a[i++] as string })
      j++
    } else if (((lcs[i + 1] as Uint32Array)[j] as number) >= ((lcs[i] as Uint32Array)[j + 1] as number)) {
      ops.push({ kind: '-', line: a[i++] as string })
    } else {
      ops.push({ kind: '+', line: b[j++] as string })
    }
  }
  while (i < n) ops.push({ kind: '-', line: a[i++] as string })
  while (j < m) ops.push({ kind: '+', line: b[j++] as string })
  return ops
}

/**
 * A unified diff (`diff -u` format, 3 lines of context) from `before` to `after`; empty when
 * they are equal. `undefined` stands for a file that does not exist (shown as /dev/null).
 */
export function unifiedDiff(before: string | undefined, after: string | undefined, name: string, context = 3): string {
  if (before === after) return ''
  const a = splitLines(before ?? '')
  const b = splitLines(after ?? '')
  const ops = diffLines(a, b)
  const changed = ops.map((op, index) => (op.kind === ' ' ? -1 : index)).filter((index) => index >= 0)
  const out = [`--- ${before === undefined ? '/dev/null' : `a/${name}`}`, `+++ ${after === undefined ? '/dev/null' : `b/${name}`}`]
  // Group changes whose context overlaps into hunks.
  let k = 0
  while (k < changed.length) {
    const start = Math.max(0, (changed[k] as number) - context)
    let end = Math.min(ops.length, (changed[k] as number) + context + 1)
    while (k + 1 < changed.length && (changed[k + 1] as number) - context <= end) {
      k++
      end = Math.min(ops.length, (changed[k] as number) + context + 1)
    }
    k++
    let aLine = 1
    let bLine = 1
    for (let x = 0; x < start; x++) {
      if (ops[x]?.kind !== '+') aLine++
      if (ops[x]?.kind !== '-') bLine++
    }
    const hunk = ops.slice(start, end)
    const aCount = hunk.filter((op) => op.kind !== '+').length
    const bCount = hunk.filter((op) => op.kind !== '-').length
    out.push(`@@ -${aCount === 0 ? aLine - 1 : aLine},${aCount} +${bCount === 0 ? bLine - 1 : bLine},${bCount} @@`)
    for (const op of hunk) out.push(`${op.kind}${op.line}`)
  }
  return `${out.join('\n')}\n`
}
