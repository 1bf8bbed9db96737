/**
 * `ownops notify`: a message to the configured channels, routed by level; `--test` to
 * try every channel; `--failed-unit` for systemd's OnFailure=ownops-notify@%n.service.
 */
import { readFile, stat } from 'node:fs/promises'
import { basename } from 'node:path'
import type { CommandResult } from '../command.js'
import type { Ctx } from '../context.js'
import { ExitCode, OwnopsError } from '../errors.js'
import { makeEvent, type NotifyReport } from './send.js'
import type { Attachment, Level, NotifyEvent } from './types.js'
import { runCapture } from '../sys/exec.js'
import { renderTable } from '../text.js'

export interface NotifyOptions {
  message?: string | undefined
  level: Level
  title?: string | undefined
  channel: string[]
  attachFile: string[]
  test: boolean
  failedUnit?: string | undefined
}

const MAX_MESSAGE_BYTES = 1024 * 1024
const MAX_ATTACHMENT_BYTES = 8 * 1024 * 1024
const JOURNAL_LINES = 50

export async function runNotify(ctx: Ctx, opts: NotifyOptions): Promise<CommandResult> {
  const config = ctx.config().config
  const configured = Object.keys(config.notify.channels)
  if (configured.length === 0) {
    throw new OwnopsError('no notification channels configured', {
      kind: 'failed',
      hint: 'add one under notify.channels in the config, e.g.  discord: { url: "${DISCORD_WEBHOOK_URL}" }',
    })
  }
  const notifier = await ctx.notifier()
  // No heartbeat of its own; but it retries the outbox when it is done.
  await ctx.beginJob({ name: 'notify', command: 'notify', heartbeat: false })

  if (opts.test) {
    const names = opts.channel.length > 0 ? opts.channel : configured
    const event = makeEvent(config, ctx.clock(), {
      level: 'info',
      title: 'ownops test notification',
      body: 'If you can read this, this channel works. Sent by `ownops notify --test`.',
      source: { command: 'notify' },
    })
    const report = await notifier.send(event, names, { queue: false })
    return finish(report, 'test')
  }

  const event = opts.failedUnit !== undefined ? await failedUnitEvent(ctx, opts.failedUnit) : await messageEvent(ctx, opts)
  const report = await notifier.send(event, opts.channel.length > 0 ? opts.channel : undefined)
  if (report.deliveries.length === 0) {
    ctx.log.info({ level: event.level }, `no channel takes ${event.level} messages (see each channel's levels:)`)
    return { exitCode: ExitCode.ok, report, text: `no channel takes ${event.level} messages; nothing sent\n` }
  }
  return finish(report, 'message')
}

function finish(report: NotifyReport, kind: 'test' | 'message'): CommandResult {
  const rows = report.deliveries.map((d) => [d.channel, d.kind, d.status, String(d.attempts), d.error ?? ''])
  const queued = kind === 'message' && report.deliveries.some((d) => d.status === 'queued')
  const unconfirmed = report.deliveries.some((d) => d.status === 'unconfirmed')
  const summary = `${report.delivered} of ${report.deliveries.length} channel(s) delivered${queued ? '; the undelivered ones are kept in the outbox and retried by the next job or notify' : ''}${unconfirmed ? '; unconfirmed: sent, but no answer came (it may have arrived; not sent again)' : ''}`
  const text = `${renderTable(['CHANNEL', 'TYPE', 'RESULT', 'ATTEMPTS', 'REASON'], rows)}${summary}\n`
  return { exitCode: report.delivered > 0 ? ExitCode.ok : ExitCode.failed, report, text }
}

async function messageEvent(ctx: Ctx, opts: NotifyOptions): Promise<NotifyEvent> {
  let message = opts.message
  if (message === undefined) {
    throw new OwnopsError('no message given', {
      kind: 'usage',
      hint: 'ownops notify "text", or pipe it in with -:  echo text | ownops notify -',
    })
  }
  if (message === '-') message = await ctx.readStdin(MAX_MESSAGE_BYTES)
  message = message.replace(/\s+$/, '')
  if (message === '' && opts.title === undefined) throw new OwnopsError('the message is empty', { kind: 'usage' })
  let title = opts.title
  let body = message
  if (title === undefined) {
    const [first = '', ...rest] = message.split('\n')
    title = first.length > 200 ? `${first.slice(0, 199)}…` : first
    body = first.length > 200 ? message : rest.join('\n').trim()
  }
  const attachments = await Promise.all(opts.attachFile.map(readAttachment))
  return makeEvent(ctx.config().config, ctx.clock(), {
    level: opts.level,
    title,
    body,
    source: { command: 'notify' },
    ...(attachments.length > 0 ? { attachments } : {}),
  })
}

async function readAttachment(file: string): Promise<Attachment> {
  let size: number
  try {
    size = (await stat(file)).size
  } catch (error) {
    throw new OwnopsError(`cannot read attachment ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, {
      kind: 'usage',
    })
  }
  if (size > MAX_ATTACHMENT_BYTES)
    throw new OwnopsError(`attachment ${file} is ${size} bytes; the limit is ${MAX_ATTACHMENT_BYTES}`, {
      kind: 'usage',
      hint: 'attach a tail of it instead: tail -c 1M file > part',
    })
  return { name: basename(file), content: await readFile(file) }
}

/** The message systemd's OnFailure= unit sends: which unit, how it ended, and its last log lines. */
async function failedUnitEvent(ctx: Ctx, unit: string): Promise<NotifyEvent> {
  const env = ctx.env
  const result = env.MONITOR_SERVICE_RESULT
  const code = env.MONITOR_EXIT_CODE
  const status = env.MONITOR_EXIT_STATUS
  const how = [result && `result: ${result}`, code && status ? `${code} ${status}` : (code ?? status)].filter(Boolean).join(', ')
  const invocation = env.MONITOR_INVOCATION_ID
  const query = invocation ? [`_SYSTEMD_INVOCATION_ID=${invocation}`] : ['-u', unit]
  const journal = await runCapture(['journalctl', ...query, '-n', String(JOURNAL_LINES), '--no-pager', '-o', 'cat'], {
    log: ctx.log,
    timeoutMs: 5000,
    env,
  })
  const tail =
    journal.failed || journal.stdout.trim() === '' ? `(no journal lines: ${journal.reason ?? 'journal empty'})` : journal.stdout.trimEnd()
  const body = [
    how ? `The unit ended with ${how}.` : 'The unit failed.',
    '',
    `Last ${JOURNAL_LINES} log lines:`,
    tail,
    '',
    `Details: journalctl ${invocation ? `_SYSTEMD_INVOCATION_ID=${invocation}` : `-u ${unit}`}`,
  ].join('\n')
  return makeEvent(ctx.config().config, ctx.clock(), {
    level: 'error',
    title: `${unit} failed`,
    body,
    source: { command: 'systemd', target: unit },
  })
}
