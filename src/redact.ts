/**
 * Secret redaction. Every line ownops writes to stderr, every error message, every
 * notification and every state file passes through one Redactor, which knows the secrets
 * of the configuration — values of secret keys (password, token, channel URLs…), values of
 * environment variables whose name says secret (*PASSWORD*, *TOKEN*, *SECRET*, *KEY*,
 * *WEBHOOK*…) — and masks URL credentials and webhook tokens by pattern. Other values of
 * the env file (TZ, paths, user names) are not secrets and are never masked.
 */

export const MASK = '***'

/** Environment variable names that say their value is a secret (and not a path to one). */
const SECRET_NAME = /PASS|PWD|TOKEN|SECRET|KEY|WEBHOOK|CREDENTIAL|AUTH|DSN|COOKIE|PRIVATE|SALT/i
const PATH_NAME = /_(FILE|PATH|DIR)$/i

/** Whether an environment variable's name marks its value as secret: DB_PASSWORD, API_KEY, DISCORD_WEBHOOK_URL… */
export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name) && !PATH_NAME.test(name)
}

/** Keys whose string values are secrets wherever they appear in the config. */
const SECRET_KEY = /(pass(word|wd)?|secret|token|api[-_]?key|credential|webhook|dsn|^url$|urls$|^key$|^authorization$|^cookie$|^env$)/i

/**
 * Config values whose key says "secret" but which are addresses people need to read: a
 * monitor check's URL. Their credentials and token-like query values are still masked.
 */
const PUBLIC_PATHS = [/^monitor\.checks\.[^.]+\.url$/]

/** Path segments that look like tokens (long, mixed). */
const TOKEN_SEGMENT = /^[A-Za-z0-9_\-.~%]{16,}$/
/** Schemes whose path parts are credentials: discord://ID/TOKEN, slack://A/B/C, tgram://TOKEN/CHAT, gotify://host/TOKEN. */
const TOKEN_PATH_SCHEMES = new Set(['discord', 'slack', 'tgram', 'gotify', 'gotifys'])

/**
 * A config tree as it may be shown (`config show`): the values of secret keys replaced by
 * `***` (a URL keeps its scheme: `discord://***`), every other string with URL credentials
 * and known secrets masked. Keys and the tree's shape stay as they are.
 */
export function maskConfigTree(tree: unknown, redactor: Redactor, keyIsSecret = false, path: readonly string[] = []): unknown {
  if (typeof tree === 'string') {
    if (!keyIsSecret) return redactor.redact(tree)
    const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(tree)
    return scheme !== null ? `${scheme[1]}://${MASK}` : MASK
  }
  if (Array.isArray(tree)) return tree.map((item, i) => maskConfigTree(item, redactor, keyIsSecret, [...path, String(i)]))
  if (tree !== null && typeof tree === 'object') {
    const out: Record<string, unknown> = {}
    for (const [key, value] of Object.entries(tree)) {
      const at = [...path, key]
      const isPublic = PUBLIC_PATHS.some((p) => p.test(at.join('.')))
      out[key] = maskConfigTree(value, redactor, !isPublic && (keyIsSecret || SECRET_KEY.test(key)), at)
    }
    return out
  }
  return tree
}

export class Redactor {
  private readonly secrets = new Set<string>()
  private pattern: RegExp | undefined

  /** Registers a secret value, and the parts of it that could appear on their own. */
  add(value: string | undefined | null): void {
    if (typeof value !== 'string') return
    const trimmed = value.trim()
    if (trimmed.length < 4) return
    this.addExact(trimmed)
    for (const part of urlSecretParts(trimmed)) this.addExact(part)
  }

  /** Registers every secret-looking string value in a config tree. */
  addFromTree(tree: unknown, keyIsSecret = false, path: readonly string[] = []): void {
    if (typeof tree === 'string') {
      if (keyIsSecret) this.add(tree)
      else for (const part of urlSecretParts(tree)) this.addExact(part)
      return
    }
    if (Array.isArray(tree)) {
      tree.forEach((item, i) => this.addFromTree(item, keyIsSecret, [...path, String(i)]))
      return
    }
    if (tree !== null && typeof tree === 'object') {
      for (const [key, value] of Object.entries(tree)) {
        const at = [...path, key]
        const isPublic = PUBLIC_PATHS.some((p) => p.test(at.join('.')))
        this.addFromTree(value, !isPublic && (keyIsSecret || SECRET_KEY.test(key)), at)
      }
    }
  }

  get size(): number {
    return this.secrets.size
  }

  redact(text: string): string {
    let out = maskUrlCredentials(text)
    if (this.pattern !== undefined) out = out.replace(this.pattern, MASK)
    return out
  }

  private addExact(value: string): void {
    if (value.length < 4 || this.secrets.has(value)) return
    this.secrets.add(value)
    // A JSON-encoded log line carries the escaped form of the value; mask both.
    const escaped = JSON.stringify(value).slice(1, -1)
    if (escaped !== value) this.secrets.add(escaped)
    const sorted = [...this.secrets].sort((a, b) => b.length - a.length)
    this.pattern = new RegExp(sorted.map(escapeRegExp).join('|'), 'g')
  }
}

function escapeRegExp(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/**
 * The parts of a URL that are secret on their own: user info, password, query values
 * and token-like path segments (Discord/Slack webhook tokens, ntfy and Gotify tokens).
 */
export function urlSecretParts(value: string): string[] {
  const match = /^([a-z][a-z0-9+.-]*):\/\/([^\s]+)$/i.exec(value)
  if (match === null) return []
  const parts: string[] = []
  const rest = match[2] ?? ''
  const at = rest.lastIndexOf('@', rest.search(/[/?#]|$/))
  let afterAuth = rest
  if (at > 0) {
    const userinfo = rest.slice(0, at)
    afterAuth = rest.slice(at + 1)
    const colon = userinfo.indexOf(':')
    if (colon >= 0) {
      parts.push(userinfo.slice(colon + 1), decodeSafe(userinfo.slice(colon + 1)))
      if (colon >= 8) parts.push(userinfo.slice(0, colon))
    } else {
      parts.push(userinfo, decodeSafe(userinfo)) // token@host forms (ntfy, gotify)
    }
  }
  const [pathAndHost = '', query = ''] = afterAuth.split('?', 2)
  const segments = pathAndHost.split(/[/#]/).slice(1)
  const scheme = (match[1] ?? '').toLowerCase()
  // Channel URLs whose path parts are tokens, whatever they look like; elsewhere (an ntfy
  // topic, a JSON webhook's path) only parts that look like tokens.
  const opaqueScheme = TOKEN_PATH_SCHEMES.has(scheme)
  for (const segment of segments) {
    // In discord://ID/TOKEN, slack://A/B/C, tgram://TOKEN/CHAT the host itself is a secret too.
    if (TOKEN_SEGMENT.test(segment) || (opaqueScheme && segment.length >= 6)) parts.push(segment)
  }
  if (scheme !== 'http' && scheme !== 'https') {
    const host = pathAndHost.split(/[/#]/)[0] ?? ''
    const decodedHost = decodeSafe(host)
    if (/^[0-9]{8,}$|^[A-Za-z0-9_-]{20,}$/.test(host)) parts.push(host)
    // A Telegram bot token, raw (123456:ABC…) or with its colon escaped (123456%3AABC…).
    const bot = /^(?:bot)?[0-9]+:([A-Za-z0-9_-]+)$/.exec(decodedHost)
    if (bot !== null) parts.push(host, decodedHost, bot[1] ?? '')
  }
  for (const pair of query.split('&')) {
    const [key = '', val = ''] = pair.split('=', 2)
    if (val.length >= 4 && /(token|key|pass|secret|auth|sig)/i.test(key)) parts.push(val, decodeSafe(val))
  }
  return parts.filter((part) => part.length >= 4)
}

function decodeSafe(value: string): string {
  try {
    return decodeURIComponent(value)
  } catch {
    return value
  }
}

/** `scheme://user:pass@host` → `scheme://***@host`, whatever the secrets list holds. */
export function maskUrlCredentials(text: string): string {
  return text
    .replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@:'"]*:[^\s/@'"]*@/gi, `$1${MASK}@`)
    .replace(/(discord(?:app)?\.com\/api\/webhooks\/)\d+\/[^\s/?'"]+/gi, `$1${MASK}/${MASK}`)
    .replace(/(hooks\.slack\.com\/services\/)[^\s'"]+/gi, `$1${MASK}`)
    .replace(/(api\.telegram\.org\/bot)[^\s/'"]+/gi, `$1${MASK}`)
}
