/**
 * The Prometheus text exposition format as ownops writes it (node_exporter's textfile
 * collector): the one escaper of label values, and label sets, used by every textfile
 * (monitor, backups, copies).
 */

/** A label value as the format wants it: backslash, double quote and newline escaped. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

/** `{check="…",kind="…"}`: a label without a value is left out, never empty; '' when none is left. */
export function labelSet(pairs: Record<string, string | undefined>): string {
  const set = Object.entries(pairs).filter((entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== '')
  return set.length === 0 ? '' : `{${set.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(',')}}`
}
