/**
 * The command tree as data, read from the same commander definitions --help prints: each
 * command's usage, summary, description, arguments, options (its own and the global ones),
 * subcommands, examples and exit statuses. The man pages and the shell completion scripts
 * are made from it, so they say what --help says.
 */
import type { Argument, CommandUnknownOpts, Help, Option } from '@commander-js/extra-typings'
import type { EventEmitter } from 'node:events'
import { helpTextParts, type HelpText } from '../command.js'

export interface OptionDoc {
  /** As help shows them: "-n, --dry-run", "--wait <duration>". */
  flags: string
  short?: string
  long?: string
  /** The option's value, when it takes one: its name in the flags, and whether it is required. */
  value?: { name: string; required: boolean }
  choices?: readonly string[]
  /** Given more than once, each adds a value (--tag a --tag b). */
  repeatable: boolean
  /** As help shows it, with the default and choices. */
  description: string
  /** As the command declares it. */
  text: string
}

export interface ArgumentDoc {
  name: string
  /** As help shows it: "targets...", "[backup]" in the usage. */
  term: string
  required: boolean
  variadic: boolean
  description: string
  choices?: readonly string[]
}

export interface CommandDoc {
  /** The names under the program: [] for ownops itself, ['schedule', 'install']. */
  path: string[]
  name: string
  /** "ownops schedule install [options]". */
  usage: string
  /** One line: the summary, or the first sentence of the description. */
  summary: string
  description: string
  arguments: ArgumentDoc[]
  /** Its own options (with -h, --help). */
  options: OptionDoc[]
  /** The options of the commands above it (-c, --json, …). */
  globalOptions: OptionDoc[]
  /** Visible subcommands, in help order. */
  commands: CommandDoc[]
  /** Examples and exit statuses, when the command's help has them. */
  help?: HelpText
  /** Text after the option lists that helpText() did not make. */
  extra?: string
}

export function describeCommand(command: CommandUnknownOpts, path: string[] = []): CommandDoc {
  const helper = command.createHelp()
  const after = afterHelp(command)
  const help = after === undefined ? undefined : helpTextParts(after.replace(/\n$/, ''))
  const names: string[] = []
  for (let c: CommandUnknownOpts | null = command; c !== null; c = c.parent) names.unshift(c.name())
  const description = helper.commandDescription(command)
  return {
    path,
    name: command.name(),
    usage: `${names.join(' ')} ${command.usage()}`.trim(),
    summary: command.summary() || firstSentence(command.description()),
    description,
    arguments: command.registeredArguments.map((argument) => describeArgument(helper, argument)),
    options: helper.visibleOptions(command).map((option) => describeOption(helper, option)),
    globalOptions: helper.visibleGlobalOptions(command).map((option) => describeOption(helper, option)),
    commands: helper.visibleCommands(command).map((sub) => describeCommand(sub, [...path, sub.name()])),
    ...(help ? { help } : {}),
    ...(after !== undefined && help === undefined && after.trim() !== '' ? { extra: after.trim() } : {}),
  }
}

/** Every command of the tree, depth first, the program first. */
export function allCommands(root: CommandDoc): CommandDoc[] {
  return [root, ...root.commands.flatMap(allCommands)]
}

function describeOption(helper: Help, option: Option): OptionDoc {
  const value = /[<[]([^>\]]+)[>\]]/.exec(option.flags)?.[1]?.replace(/\.\.\.$/, '')
  return {
    flags: helper.optionTerm(option),
    ...(option.short ? { short: option.short } : {}),
    ...(option.long ? { long: option.long } : {}),
    ...(value !== undefined ? { value: { name: value, required: option.required } } : {}),
    ...(option.argChoices ? { choices: option.argChoices } : {}),
    repeatable: option.variadic || Array.isArray(option.defaultValue),
    description: helper.optionDescription(option),
    text: option.description,
  }
}

function describeArgument(helper: Help, argument: Argument): ArgumentDoc {
  return {
    name: argument.name(),
    term: helper.argumentTerm(argument),
    required: argument.required,
    variadic: argument.variadic,
    description: helper.argumentDescription(argument),
    ...(argument.argChoices ? { choices: argument.argChoices } : {}),
  }
}

/** What the command's addHelpText('after', …) writes. */
function afterHelp(command: CommandUnknownOpts): string | undefined {
  let text = ''
  // A commander command is an EventEmitter; addHelpText('after') listens for this event.
  ;(command as unknown as EventEmitter).emit('afterHelp', { error: false, command, write: (chunk: string) => void (text += chunk) })
  return text === '' ? undefined : text
}

function firstSentence(text: string): string {
  const match = /^(.*?[.:;])(\s|$)/s.exec(text)
  return (match?.[1] ?? text)
    .replace(/[.:;]$/, '')
    .replace(/\s+/g, ' ')
    .trim()
}
