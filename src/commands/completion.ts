/**
 * `ownops completion bash|zsh|fish`: the shell completion script; and the hidden
 * `ownops __complete KIND` it calls for names from the config (no context, no Docker).
 */
import { Argument } from '@commander-js/extra-typings'
import { helpText, type GlobalFlags, type Register } from '../command.js'

export const SHELLS = ['bash', 'zsh', 'fish'] as const

export const register: Register = (program, invoke, quick) => {
  program
    .command('completion')
    .summary('print the shell completion script for bash, zsh or fish')
    .description(
      'Print a script that completes ownops on the command line: its commands and options, and the names of backup targets, destinations, notification channels, restart services, clean-up rules, checks and backup ids from the config (the one -c/--config names on the line, else $OWNOPS_CONFIG, ./ownops.yml, /etc/ownops/ownops.yml). The names are read from the config file alone, without Docker or the network, so a TAB answers at once. Install the script once (below); it lists the commands of the ownops that printed it, so print it again after an upgrade.',
    )
    .addArgument(new Argument('<shell>', 'the shell').choices(SHELLS))
    .addHelpText(
      'after',
      helpText({
        examples: [
          'ownops completion bash | sudo tee /etc/bash_completion.d/ownops >/dev/null   # bash (bash-completion)',
          'ownops completion bash > ~/.local/share/bash-completion/completions/ownops  # bash, for yourself',
          'ownops completion zsh | sudo tee /usr/local/share/zsh/site-functions/_ownops >/dev/null   # zsh: a directory in $fpath',
          'ownops completion zsh > ~/.zfunc/_ownops          # with fpath=(~/.zfunc $fpath) before compinit in ~/.zshrc',
          'ownops completion fish > ~/.config/fish/completions/ownops.fish',
          'source <(ownops completion bash)                  # this shell only',
        ],
        before: 'A new shell picks the script up (zsh: after compinit; remove ~/.zcompdump if it does not).',
        exits: [0, 2],
      }),
    )
    .action((shell, _options, command) =>
      invoke(command, async () => {
        const { completionScript } = await import('../completion/script.js')
        const script = completionScript(shell, command.parent ?? command)
        return { exitCode: 0, report: { shell, script }, text: script }
      }),
    )

  program
    .command('__complete', { hidden: true })
    .description('Print the names of KIND from the config, one a line (what the completion scripts call).')
    .argument('<kind>', 'targets, destinations, channels, services, rules, checks, or backups (of TARGET)')
    .argument('[words...]', 'backups: the target')
    .action((kind, words, _options, command) =>
      quick(async (io) => {
        const { completionNames, isNameKind } = await import('../completion/names.js')
        if (!isNameKind(kind)) return 2
        const { config } = command.optsWithGlobals() as GlobalFlags
        const names = completionNames(kind, { config, env: io.env, cwd: io.cwd, target: words[0] })
        io.write(names.map((n) => `${n}\n`).join(''))
        return 0
      }),
    )
}
