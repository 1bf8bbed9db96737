/** `ownops config validate | schema | show`. */
import { helpText, type Register } from '../command.js'
import { DEFAULT_CONFIG_FILE } from '../sys/paths.js'

export const register: Register = (program, invoke) => {
  const config = program
    .command('config')
    .summary('validate the config, print its JSON Schema, or show it')
    .description('Work with the configuration file.')
    .addHelpText(
      'after',
      helpText({
        examples: ['ownops config validate', 'ownops config show', 'ownops config schema > /etc/ownops/ownops.schema.json'],
        exits: [0, 2, 78],
      }),
    )
  config
    .command('validate')
    .summary('report every config problem with file, line, key and a hint')
    .description(
      'Validate the config and report every problem with file, line, key and a hint. Warns, too, about env-file values that look like they carry a comment, schedules that restrict both day fields (with their next runs), and what a scheduled job needs that its unit or its user could not write.',
    )
    .addHelpText(
      'after',
      helpText({ examples: ['ownops config validate', `ownops -c ${DEFAULT_CONFIG_FILE} config validate --json`], exits: [0, 78] }),
    )
    .action((_options, command) =>
      invoke(command, async (ctx) => {
        const { validateConfig } = await import('../config/inspect.js')
        return validateConfig(ctx)
      }),
    )
  config
    .command('schema')
    .summary('print the JSON Schema of the config, for editors')
    .description('Print the JSON Schema of the config, for editors (yaml-language-server).')
    .addHelpText(
      'after',
      helpText({
        examples: [
          'ownops config schema > /etc/ownops/ownops.schema.json',
          '# first line of ownops.yml:  # yaml-language-server: $schema=/etc/ownops/ownops.schema.json',
        ],
        exits: [0],
      }),
    )
    .action((_options, command) =>
      invoke(command, async () => {
        const { configSchemaReport } = await import('../config/inspect.js')
        return configSchemaReport()
      }),
    )
  config
    .command('show')
    .summary('print the effective config, secrets masked')
    .description('Print the effective config (defaults filled in, ${VAR} resolved) with secrets masked.')
    .addHelpText('after', helpText({ examples: ['ownops config show'], exits: [0, 78] }))
    .action((_options, command) =>
      invoke(command, async (ctx) => {
        const { showConfig } = await import('../config/inspect.js')
        return showConfig(ctx)
      }),
    )
}
