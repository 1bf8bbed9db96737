/**
 * How ownops lays out its help, the same for every command: the options every command takes
 * under "Global options:" in each command's --help, no "(default: false)" after a flag, and
 * a command that only groups others (`ownops`, `ownops schedule`) printing its help on
 * stdout when run bare. `ownops help CMD` and `ownops schedule help install` show a command's
 * help; an unknown name is a usage error that names the closest command.
 */
import { Help, type CommandUnknownOpts, type Option } from '@commander-js/extra-typings'
import { helpText } from '../command.js'
import { didYouMean } from '../text.js'

/** The help flag's words, on every command. */
export const HELP_FLAGS = '-h, --help'
export const HELP_DESCRIPTION = 'show this help'

/** Set on the program before its commands are added: each command inherits it. */
export function configureHelpLayout(program: CommandUnknownOpts): void {
  program.helpOption(HELP_FLAGS, HELP_DESCRIPTION)
  program.configureHelp({
    sortSubcommands: false,
    showGlobalOptions: true,
    optionDescription(option) {
      return Help.prototype.optionDescription.call(this, withoutNoiseDefault(option))
    },
    visibleGlobalOptions(command) {
      // --version answers only on its own: it is no option of a command.
      return Help.prototype.visibleGlobalOptions.call(this, command).filter((option) => option.long !== '--version')
    },
    formatItemList(heading, items, helper) {
      return Help.prototype.formatItemList.call(this, heading === 'Global Options:' ? 'Global options:' : heading, items, helper)
    },
  })
}

/**
 * A flag's default of false, or the empty list a repeatable option starts with, says nothing
 * to a reader: the option as help shows it, without that default.
 */
function withoutNoiseDefault(option: Option): Option {
  const value: unknown = option.defaultValue
  if (value !== false && !(Array.isArray(value) && value.length === 0)) return option
  return Object.assign(Object.create(Object.getPrototypeOf(option) as object) as Option, option, { defaultValue: undefined })
}

/** Whether a command only groups subcommands (it has no action of its own). */
export function isGroup(command: CommandUnknownOpts): boolean {
  return command.commands.length > 0
}

/** The full path of a command under the program: "ownops schedule install". */
export function commandLine(command: CommandUnknownOpts): string {
  const names: string[] = []
  for (let c: CommandUnknownOpts | null = command; c !== null; c = c.parent) names.unshift(c.name())
  return names.join(' ')
}

/**
 * After every command is registered: each group gets a `help [command...]` command, and run
 * bare prints its help on stdout (exit 0); a word that names none of its commands is a usage
 * error with the closest name.
 */
export function addHelpCommands(group: CommandUnknownOpts): void {
  if (!isGroup(group)) return
  for (const sub of group.commands) addHelpCommands(sub)
  const line = commandLine(group)
  const example = group.commands.find((c) => !c.name().startsWith('__'))?.name() ?? 'help'
  group
    .command('help')
    .summary('show the help of a command')
    .description(`Show the help of a command of \`${line}\` (or of \`${line}\` itself).`)
    .argument('[command...]', 'the command (and subcommand)')
    .addHelpText(
      'after',
      helpText({
        examples: [`${line} help ${example}`, ...(group.parent === null ? ['ownops help schedule install'] : [])],
        exits: [0, 2],
      }),
    )
    .action((names) => {
      let target = group
      for (const name of names) {
        const next = target.commands.find((c) => c.name() === name)
        if (next === undefined) unknownCommand(target, name)
        target = next
      }
      target.outputHelp()
    })
  // Bare: the help on stdout. A word that is no command: what commander says of one, with our suggestion.
  group.allowExcessArguments(true).action(() => {
    const [first] = group.args
    if (first !== undefined) unknownCommand(group, first)
    group.outputHelp()
  })
}

function unknownCommand(group: CommandUnknownOpts, name: string): never {
  const names = group.commands.filter((c) => !c.name().startsWith('__')).map((c) => c.name())
  const close = didYouMean(name, names)
  group.error(`error: unknown command '${name}'${close === undefined ? '' : `\n(Did you mean ${close}?)`}`, {
    code: 'commander.unknownCommand',
    exitCode: 2,
  })
}
