/**
 * The contract of a command module (src/commands/<verb>.ts). A command module registers
 * its subcommand on the program — its typed flags, help, examples and exit statuses —
 * and its action hands `invoke` a handler: parse, call one domain entry, render. `invoke`
 * (src/invoke.ts) builds the context, prints the result and maps errors to exit codes.
 *
 * Command modules are imported when the program is built, so `--help` needs no more:
 * they import their domain code lazily, inside the handler.
 */
import type { CommandUnknownOpts } from '@commander-js/extra-typings'
import type { Ctx } from './context.js'
import { exitStatusHelp, type ExitCodeValue } from './errors.js'

/** What a command hands back: data for --json, text for humans, the exit code. */
export interface CommandResult {
  exitCode: number
  report: unknown
  /** Human-readable rendering of the report for stdout. */
  text: string
}

export type Handler = (ctx: Ctx) => Promise<CommandResult>

/** Options every command sees (declared on the program). */
export interface GlobalFlags {
  config?: string | undefined
  json?: boolean
  logLevel?: string | undefined
  quiet?: boolean
  color?: boolean
}

/**
 * Runs a handler for the command whose action fired; `options.wait` is its --wait, for the
 * host lock.
 */
export type Invoke = (command: CommandUnknownOpts, handler: Handler, options?: { wait?: string | undefined }) => Promise<void>

/**
 * What a command that must answer at once (shell completion, on every TAB) gets instead of a
 * context: no logger, no config loader, no Docker — the environment, the working directory
 * and stdout. Its function returns the exit code.
 */
export interface QuickIo {
  env: NodeJS.ProcessEnv
  cwd: string
  write(text: string): void
}
export type Quick = (run: (io: QuickIo) => Promise<number>) => Promise<void>

/** What each command module exports: adds its subcommand(s) to the program. */
export type Register = (program: CommandUnknownOpts, invoke: Invoke, quick: Quick) => void

export interface HelpText {
  examples: readonly string[]
  /** A paragraph between the examples and the exit statuses. */
  before?: string
  /** The exit statuses this command uses; absent for one that only prints (exit 0, 2 for usage). */
  exits: readonly ExitCodeValue[]
  /** Lines after the table: what the codes mean for this command. */
  notes?: string
}

const helpTexts = new Map<string, HelpText>()

/** The end of a command's --help: examples, then its exit statuses. */
export function helpText(help: HelpText): string {
  const examples = `\nExamples:\n${help.examples.map((l) => `  $ ${l}`).join('\n')}\n`
  const before = help.before === undefined ? '' : `\n${help.before}\n`
  const text = `${examples}${before}\n${exitStatusHelp(help.exits)}${help.notes ? `\n${help.notes}` : ''}`
  helpTexts.set(text, help)
  return text
}

/** The parts a text made by helpText() was made of (for the man page), or undefined for other text. */
export function helpTextParts(text: string): HelpText | undefined {
  return helpTexts.get(text)
}

/** For a repeatable option: --tag a --tag b → ['a', 'b']. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value]
}

/** The --wait flag of commands that take the host lock. */
export const WAIT_FLAGS = '--wait <duration>'
export const WAIT_HELP = 'wait this long for the host lock (default: config lock.wait)'
