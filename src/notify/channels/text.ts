/**
 * Text fitting shared by the channels: every service has a length limit, counted its own
 * way (UTF-16 units, UTF-8 bytes, escaped length), and a message that does not fit is cut
 * with a marker that says how much is missing rather than silently.
 */

/** The marker appended to a cut text. */
export const truncationMarker = (n: number): string => `… (truncated, ${n} more characters)`

/** Length in UTF-16 code units, the way JavaScript and most chat APIs count. */
export const utf16 = (ch: string): number => ch.length

/** Length in UTF-8 bytes. */
export const utf8 = (ch: string): number => Buffer.byteLength(ch)

/**
 * Cuts `text` so that its cost (the sum of `cost` over its characters) together with the
 * marker `… (truncated, N more characters)` is at most `limit`; N counts the characters
 * (code points) cut. A text that fits is returned as it is.
 */
export function fitText(text: string, limit: number, cost: (ch: string) => number = utf16): string {
  const chars = Array.from(text)
  const total = chars.reduce((sum, ch) => sum + cost(ch), 0)
  if (total <= limit) return text
  const room = limit - Array.from(truncationMarker(chars.length)).reduce((sum, ch) => sum + cost(ch), 0)
  let used = 0
  let keep = 0
  while (keep < chars.length && used + cost(chars[keep] ?? '') <= room) used += cost(chars[keep++] ?? '')
  const kept = chars.slice(0, keep).join('').trimEnd()
  return kept + truncationMarker(chars.length - Array.from(kept).length)
}

/** Cuts a short text (a title, a field name) to `limit` UTF-16 units with a plain `…`. */
export function clip(text: string, limit: number): string {
  if (text.length <= limit) return text
  let out = ''
  for (const ch of text) {
    if (out.length + ch.length > limit - 1) break
    out += ch
  }
  return out + '…'
}

/** decodeURIComponent that leaves a malformed escape as it is. */
export function decode(value: string): string {
  try {
    return decodeURIComponent(value)
  } catch {
    return value
  }
}

/**
 * The URL's query parameters, every one of them known to the channel: a parameter the
 * channel would silently ignore is refused by name instead (`config validate` shows it).
 */
export function urlParams(url: URL, channel: string, known: readonly string[]): Map<string, string> {
  const params = new Map<string, string>()
  for (const [key, value] of url.searchParams) {
    const name = key.toLowerCase()
    if (!known.includes(name)) {
      throw new Error(
        `${channel} URL: unknown parameter "${key}"${known.length > 0 ? ` (known: ${known.join(', ')})` : ' (it takes none)'}: ownops would ignore it`,
      )
    }
    params.set(name, value)
  }
  return params
}

/** A yes/no URL parameter. */
export function yesNo(value: string | undefined, channel: string, key: string): boolean | undefined {
  if (value === undefined) return undefined
  const v = value.toLowerCase()
  if (['1', 'true', 'yes', 'on', ''].includes(v)) return true
  if (['0', 'false', 'no', 'off'].includes(v)) return false
  throw new Error(`${channel} URL: ?${key}= must be yes or no, not "${value}"`)
}
