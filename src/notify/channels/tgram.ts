/**
 * Telegram bots: `tgram://BOT_TOKEN/CHAT_ID[/CHAT_ID…]`, one sendMessage request per chat.
 * A chat is a number (negative for groups and channels) or a channel's `@username`.
 *
 * A bot token has a colon (`123456:ABC-def`), which a URL parser reads as a port; write it
 * percent-encoded (`tgram://123456%3AABC-def/CHAT`) or pass the raw URL through
 * `encodeTelegramToken` before parsing it. A leading `bot` before the token is accepted.
 *
 * The text is HTML: the title in bold, a blank line, the body; both escaped. It is cut to
 * Telegram's 4,096-character limit (counted in UTF-16 units, as Telegram does, and before
 * entity parsing, so it is never over) with `… (truncated, N more characters)`.
 *
 * Every chat is tried in each attempt; if any fails, the attempt fails with the first
 * failure's status (retryable when any failure was). A retry goes only to the chats that
 * did not have it: not to those that accepted it, nor to one whose request went out whole
 * without an answer (it may have the message already).
 */
import type { Channel, NotifyEvent } from '../types.js'
import { DeliveryError } from '../types.js'
import { clip, decode, fitText, urlParams } from './text.js'

export interface TgramTarget {
  token: string
  chats: string[]
  base: string
}

const USAGE = 'tgram URL must be tgram://BOT_TOKEN/CHAT_ID[/CHAT_ID…] (write the colon in the token as %3A)'
const TOKEN = /^\d+:[A-Za-z0-9_-]+$/
const CHAT = /^(-?\d+|@[A-Za-z][A-Za-z0-9_]{3,})$/

export const TELEGRAM_TEXT_LIMIT = 4096

export const tgram: Channel<TgramTarget> = {
  schemes: ['tgram'],

  parse(url, options) {
    if (url.protocol !== 'tgram:') throw new Error(USAGE)
    if (url.username !== '' || url.password !== '') throw new Error(`${USAGE} (no user@ part)`)
    urlParams(url, 'tgram', [])
    let token = decode(url.hostname)
    if (token.startsWith('bot')) token = token.slice(3)
    if (!TOKEN.test(token)) throw new Error(`${USAGE} (the bot token is not of the form DIGITS:KEY)`)
    const chats = url.pathname
      .split('/')
      .filter((s) => s !== '')
      .map(decode)
    if (chats.length === 0) throw new Error(`${USAGE} (no chat ID)`)
    const bad = chats.findIndex((chat) => !CHAT.test(chat))
    if (bad >= 0) throw new Error(`${USAGE} (chat ${bad + 1} is not a number or @channelname)`)
    return { token, chats, base: (options.baseUrl ?? 'https://api.telegram.org').replace(/\/+$/, '') }
  },

  async send(target, event, ctx) {
    const text = telegramText(event)
    const errors: Array<{ index: number; error: DeliveryError }> = []
    const uncertain: Array<{ index: number; error: DeliveryError }> = []
    for (const [index, chat] of target.chats.entries()) {
      ctx.signal?.throwIfAborted()
      // A chat an earlier attempt reached does not get the message twice.
      const part = `chat ${index + 1}`
      if (ctx.delivered?.has(part)) continue
      try {
        await ctx.http.request({
          url: `${target.base}/bot${target.token}/sendMessage`,
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ chat_id: chat, text, parse_mode: 'HTML', disable_web_page_preview: true }),
          timeoutMs: ctx.timeoutMs,
          ...(ctx.signal ? { signal: ctx.signal } : {}),
        })
        ctx.delivered?.add(part)
      } catch (error) {
        if (!(error instanceof DeliveryError)) throw error
        if (error.maybeDelivered) {
          ctx.delivered?.add(part)
          uncertain.push({ index, error })
        } else {
          errors.push({ index, error })
        }
      }
    }
    const first = errors[0]
    if (first === undefined) {
      const unanswered = uncertain[0]
      if (unanswered === undefined) return
      throw new DeliveryError(
        `no answer from ${uncertain.length} of ${target.chats.length} chats (${uncertain.map((e) => `chat ${e.index + 1}: ${e.error.message}`).join('; ')})`,
        { retryable: false, maybeDelivered: true, cause: unanswered.error },
      )
    }
    if (target.chats.length === 1) throw first.error
    const retryable = errors.some((e) => e.error.retryable)
    const delays = errors.map((e) => e.error.retryAfterMs).filter((ms): ms is number => ms !== undefined)
    const which = errors.map((e) => `chat ${e.index + 1}: ${e.error.message}`).join('; ')
    throw new DeliveryError(`${errors.length} of ${target.chats.length} chats failed (${which})`, {
      retryable,
      ...(delays.length > 0 ? { retryAfterMs: Math.max(...delays) } : {}),
      ...(first.error.status === undefined ? {} : { status: first.error.status }),
      cause: first.error,
    })
  },
}

/**
 * Raw-URL helper: percent-encodes the colon of the bot token in `tgram://ID:KEY/…`, which
 * `new URL` rejects as a bad port. Other strings are returned unchanged.
 */
export function encodeTelegramToken(raw: string): string {
  return raw.replace(/^(tgram:\/\/(?:bot)?\d+):([A-Za-z0-9_-]+)(?=[/?#]|$)/i, '$1%3A$2')
}

/** The HTML message text for one event, within Telegram's limit. */
export function telegramText(event: NotifyEvent): string {
  const head = `<b>${escapeHtml(clip(event.title, 256))}</b>`
  if (event.body.trim() === '') return head
  const room = TELEGRAM_TEXT_LIMIT - head.length - 2
  return `${head}\n\n${escapeHtml(fitText(event.body, room, escapedLength))}`
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

function escapedLength(ch: string): number {
  return ch === '&' ? 5 : ch === '<' || ch === '>' ? 4 : ch.length
}
