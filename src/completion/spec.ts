/**
 * What shell completion knows about each command, taken from the command definitions
 * (src/help/model.ts): its subcommands, its options and what their values are, and what its
 * arguments are. The values follow from the names the commands give them:
 *
 *   arguments  target, targets → backup targets; service → restart services; rules → clean-up
 *              rules; check → monitor checks; backup → a target's backup ids; command → a
 *              command line (lock run); a help command's → command names
 *   values     <destination>, <service>, <channel> → those names from the config; <file>,
 *              <place> → files; <dir> → directories; choices → the choices
 *
 * Anything else (a duration, a time, free text) completes nothing.
 */
import { allCommands, type ArgumentDoc, type CommandDoc, type OptionDoc } from '../help/model.js'
import type { NameKind } from './names.js'

export type Values =
  | { type: 'names'; kind: NameKind }
  | { type: 'words'; words: readonly string[] }
  | { type: 'file' }
  | { type: 'dir' }
  | { type: 'command' }
  | { type: 'help' }
  | { type: 'none' }

export interface OptionSpec {
  short?: string
  long?: string
  /** What its value is; undefined for a flag. */
  values?: Values
  /** The name of its value in help: duration, file. */
  valueName?: string
  repeatable: boolean
  /** One short line, for shells that show descriptions. */
  text: string
}

export interface ArgumentSpec {
  name: string
  values: Values
  required: boolean
  variadic: boolean
}

export interface CommandSpec {
  /** '' for the program, 'schedule install'. */
  path: string
  summary: string
  commands: Array<{ name: string; summary: string }>
  /** Its own options; the global ones are in CompletionSpec.globals. */
  options: OptionSpec[]
  arguments: ArgumentSpec[]
}

export interface CompletionSpec {
  program: string
  version: string
  /** The program's options every command takes (-c, --json, …); not --version and --help. */
  globals: OptionSpec[]
  commands: CommandSpec[]
}

const ARGUMENT_VALUES: Record<string, Values> = {
  target: { type: 'names', kind: 'targets' },
  targets: { type: 'names', kind: 'targets' },
  service: { type: 'names', kind: 'services' },
  rules: { type: 'names', kind: 'rules' },
  check: { type: 'names', kind: 'checks' },
  backup: { type: 'names', kind: 'backups' },
  command: { type: 'command' },
}

const VALUE_VALUES: Record<string, Values> = {
  destination: { type: 'names', kind: 'destinations' },
  service: { type: 'names', kind: 'services' },
  channel: { type: 'names', kind: 'channels' },
  file: { type: 'file' },
  place: { type: 'file' },
  dir: { type: 'dir' },
}

const NONE: Values = { type: 'none' }

export function completionSpec(root: CommandDoc, version: string): CompletionSpec {
  const rootOnly = new Set(['--version', '--help'])
  return {
    program: root.name,
    version,
    globals: root.options.filter((o) => !rootOnly.has(o.long ?? '')).map(optionSpec),
    commands: allCommands(root).map((doc) => ({
      path: doc.path.join(' '),
      summary: doc.summary,
      commands: doc.commands.map((c) => ({ name: c.name, summary: shorten(c.summary) })),
      options: (doc.path.length === 0 ? root.options.filter((o) => rootOnly.has(o.long ?? '')) : doc.options).map(optionSpec),
      arguments: doc.arguments.map((a) => argumentSpec(doc, a)),
    })),
  }
}

function optionSpec(option: OptionDoc): OptionSpec {
  return {
    ...(option.short ? { short: option.short } : {}),
    ...(option.long ? { long: option.long } : {}),
    ...(option.value
      ? {
          values: option.choices ? { type: 'words', words: option.choices } : (VALUE_VALUES[option.value.name] ?? NONE),
          valueName: option.value.name,
        }
      : {}),
    repeatable: option.repeatable,
    text: shorten(option.text),
  }
}

function argumentSpec(doc: CommandDoc, argument: ArgumentDoc): ArgumentSpec {
  const values: Values = argument.choices
    ? { type: 'words', words: argument.choices }
    : doc.name === 'help'
      ? { type: 'help' }
      : (ARGUMENT_VALUES[argument.name] ?? NONE)
  return { name: argument.name, values, required: argument.required, variadic: argument.variadic }
}

/** The first clause of a description, at most about 60 characters. */
export function shorten(text: string): string {
  const clause = text.split(/; | \(|\n/)[0] ?? text
  if (clause.length <= 64) return clause.trim()
  const cut = clause.slice(0, 61)
  return `${cut.slice(0, cut.lastIndexOf(' ')).replace(/[,:]$/, '')}…`
}
