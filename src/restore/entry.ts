/**
 * `ownops restore [TARGET [BACKUP_ID|latest]] | --all | --undo TARGET` and `ownops verify`:
 * options in, the restore sequence (src/restore/run.ts) or verification (src/restore/verify.ts)
 * out. Without a target, the targets and their newest backups are listed; on a terminal a
 * target and a backup are picked by number, then the plan is shown and confirmed.
 */
import { createInterface, type Interface } from 'node:readline/promises'
import type { CommandResult } from '../command.js'
import type { Ctx } from '../context.js'
import { ExitCode, OwnopsError } from '../errors.js'
import { readCopiesState } from '../copies/state.js'
import { askNumber, renderBackups, renderTargets, restoreChoices } from './pick.js'
import { restore, restoreOrder, undoRestore, type RestoreOptions } from './run.js'
import { verifyTargets, type VerifiedState, type VerifyOptions } from './verify.js'
import { selectTargets } from '../backup/select.js'

export type { RestoreOptions } from './run.js'
export type { DrillRecord, VerifyOptions } from './verify.js'

/** Questions on the terminal: prompts on stderr, answers from stdin; undefined once stdin ends. */
function terminal(ctx: Ctx): (question: string) => Promise<string | undefined> {
  let rl: Interface | undefined
  let closed = false
  return async (question) => {
    if (closed) return undefined
    if (rl === undefined) {
      rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true })
      rl.on('close', () => (closed = true))
      // The terminal is in raw mode while readline reads: Ctrl-C arrives as a key, not as a
      // signal. It is the user's interruption all the same (exit 130, after clean-up).
      rl.on('SIGINT', () => process.kill(process.pid, 'SIGINT'))
      const opened = rl
      ctx.defer(() => opened.close())
    }
    const current = rl
    return new Promise<string | undefined>((resolve, reject) => {
      const onClose = () => resolve(undefined)
      const onAbort = () => {
        current.off('close', onClose)
        current.close()
        reject(ctx.signal.reason)
      }
      if (ctx.signal.aborted) return onAbort()
      ctx.signal.addEventListener('abort', onAbort, { once: true })
      current.once('close', onClose)
      current.question(question).then(
        (answer) => {
          current.off('close', onClose)
          ctx.signal.removeEventListener('abort', onAbort)
          resolve(answer)
        },
        () => resolve(undefined),
      )
    })
  }
}

export async function runRestore(ctx: Ctx, opts: RestoreOptions): Promise<CommandResult> {
  const config = ctx.config().config
  const ask = terminal(ctx)
  const confirm = async (question: string) => /^y(es)?$/i.test(((await ask(question)) ?? '').trim())
  if (
    opts.all &&
    (opts.targets.length > 0 || opts.to !== undefined || opts.undo || (opts.backup !== undefined && opts.backup !== 'latest'))
  ) {
    throw new OwnopsError('--all restores the newest verified backup of every target; it takes no target, backup id, --to or --undo', {
      kind: 'usage',
      hint: 'ownops restore --all --dry-run',
    })
  }
  if (opts.undo) {
    const name = opts.targets[0]
    if (name === undefined) throw new OwnopsError('--undo needs the target', { kind: 'usage', hint: 'ownops restore --undo TARGET' })
    selectTargets(config, [name])
    return undoRestore(ctx, name, opts, confirm)
  }
  if (opts.all) {
    selectTargets(config, [])
    return restore(ctx, opts, confirm)
  }
  if (opts.targets.length > 0) {
    selectTargets(config, opts.targets)
    return restore(ctx, opts, confirm)
  }
  return pickAndRestore(ctx, opts, ask, confirm)
}

async function pickAndRestore(
  ctx: Ctx,
  opts: RestoreOptions,
  ask: (q: string) => Promise<string | undefined>,
  confirm: (q: string) => Promise<boolean>,
): Promise<CommandResult> {
  const config = ctx.config().config
  selectTargets(config, [])
  const copies = Object.keys(config.backup.destinations).length > 0 ? await readCopiesState(ctx.stateStore()) : undefined
  const choices = await restoreChoices(config, restoreOrder(config, []), copies)
  const verified = await ctx
    .stateStore()
    .read<VerifiedState>('verified', {}, (v) =>
      v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as VerifiedState) : undefined,
    )
  const now = ctx.clock().getTime()
  if (!ctx.stdinIsTTY) {
    const first = choices.find((c) => c.backups.length > 0)?.target ?? 'TARGET'
    return {
      exitCode: ExitCode.usage,
      report: {
        ok: false,
        error: {
          message: 'which target? ownops restore TARGET',
          exitCode: ExitCode.usage,
          hint: `ownops restore ${first} --dry-run (the plan), then --yes; ownops restore --all for every target`,
        },
        targets: choices.map((c) => ({
          target: c.target,
          type: c.type,
          backups: c.backups.length,
          newest: c.backups[0]?.manifest.id ?? null,
          verified: c.backups[0] ? (verified[`${c.target}/${c.backups[0].manifest.id}`] ?? null) : null,
          copies: c.backups[0] ? (c.copies.get(c.backups[0].manifest.id) ?? ['local']) : [],
        })),
      },
      text: `${renderTargets(choices, verified, now, false)}\nWhich target? Restore one with its newest verified backup:\n  ownops restore ${first} --dry-run     # the plan\n  ownops restore ${first} --yes         # do it\n(ownops restore --all restores every target; ownops backups TARGET lists older backups)\n`,
    }
  }
  process.stderr.write(`${renderTargets(choices, verified, now, true)}\n`)
  const t = await askNumber(ask, `Restore which target? [1-${choices.length}, q to quit] `, choices.length)
  const choice = t !== undefined ? choices[t - 1] : undefined
  if (choice === undefined) return cancelled()
  if (choice.backups.length === 0)
    throw new OwnopsError(`no valid backup of ${choice.target}`, {
      kind: 'failed',
      hint: `ownops backups ${choice.target} shows what is there`,
    })
  process.stderr.write(`\nBackups of ${choice.target}, newest first:\n${renderBackups(choice, verified, now)}\n`)
  const max = Math.min(choice.backups.length, 20)
  const b = await askNumber(ask, `Which backup? [1-${max}, Enter for 1: the newest that verifies] `, max, 0)
  if (b === undefined) return cancelled()
  const backup = b === 0 ? undefined : choice.backups[b - 1]?.manifest.id
  return restore(ctx, { ...opts, targets: [choice.target], backup }, confirm)
}

/** Nothing picked: a failure (exit 1) in the shape of every --json failure. */
function cancelled(): CommandResult {
  return {
    exitCode: ExitCode.failed,
    report: { ok: false, cancelled: true, error: { message: 'cancelled; nothing was changed', exitCode: ExitCode.failed } },
    text: 'cancelled; nothing was changed\n',
  }
}

export async function runVerify(ctx: Ctx, opts: VerifyOptions): Promise<CommandResult> {
  const config = ctx.config().config
  const targets = selectTargets(config, opts.target !== undefined ? [opts.target] : [])
  return verifyTargets(ctx, targets, opts)
}
