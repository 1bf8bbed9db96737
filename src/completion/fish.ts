/**
 * The fish completion script: tables of the commands, options (with their descriptions) and
 * arguments, made from the command definitions, and one function that reads the tokens
 * before the cursor and offers what may come next. Names from the config come from
 * `ownops [--config FILE] __complete KIND`.
 */
import { valuesWord } from './bash.js'
import type { CommandSpec, CompletionSpec, OptionSpec } from './spec.js'

/** A word in fish's single quotes (where \\ and \' are the escapes). */
function fq(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`
}

function flags(option: OptionSpec): string[] {
  return [option.short, option.long].filter((f): f is string => f !== undefined)
}

/** printf lines of "candidate<TAB>description". */
function described(items: Array<[string, string]>): string {
  return items.length === 0 ? 'true' : `printf '%s\\t%s\\n' ${items.map(([w, d]) => `${fq(w)} ${fq(d)}`).join(' ')}`
}

function optionItems(options: readonly OptionSpec[]): Array<[string, string]> {
  return options.flatMap((o) => flags(o).map((f): [string, string] => [f, o.text]))
}

function argumentCase(command: CommandSpec): string[] {
  const args = command.arguments
  if (args.length === 0) return []
  const lines = [`        case ${fq(command.path)}`, '            switch $argv[2]']
  args.forEach((a, i) => {
    lines.push(`                case ${a.variadic ? "'*'" : i}`, `                    echo ${fq(valuesWord(a.values))}`)
  })
  lines.push('            end')
  return lines
}

export function fishScript(spec: CompletionSpec): string {
  const name = spec.program
  const fn = `__${name}`
  const commandCases = spec.commands
    .filter((c) => c.commands.length > 0)
    .flatMap((c) => [`        case ${fq(c.path)}`, `            ${described(c.commands.map((s) => [s.name, s.summary]))}`])
  const optionCases = spec.commands.flatMap((c) => [`        case ${fq(c.path)}`, `            ${described(optionItems(c.options))}`])
  const globalValueCases = spec.globals
    .filter((o) => o.values !== undefined)
    .flatMap((o) => [
      `        case ${flags(o).map(fq).join(' ')}`,
      `            echo ${fq(valuesWord(o.values ?? { type: 'none' }))}`,
      '            return',
    ])
  const valueCases = spec.commands.flatMap((c) =>
    c.options
      .filter((o) => o.values !== undefined)
      .flatMap((o) => [
        `        case ${flags(o)
          .map((f) => fq(`${c.path} ${f}`))
          .join(' ')}`,
        `            echo ${fq(valuesWord(o.values ?? { type: 'none' }))}`,
      ]),
  )
  return `# fish completion for ${name} ${spec.version}. Made by \`${name} completion fish\` from ${name}'s
# command definitions. Install it with
#   ${name} completion fish > ~/.config/fish/completions/${name}.fish
# (or, for every user: ${name} completion fish | sudo tee /etc/fish/completions/${name}.fish >/dev/null).
# Target, destination, channel, service, rule and check names come from the config file
# (-c/--config on the line, $OWNOPS_CONFIG, ./ownops.yml, /etc/ownops/ownops.yml), read by
# \`${name} __complete\`: no Docker, no network.

# The subcommands of a command, described.
function ${fn}_commands
    switch $argv[1]
${commandCases.join('\n')}
    end
end

# The options a command takes, described; the global ones too.
function ${fn}_options
    switch $argv[1]
${optionCases.join('\n')}
    end
    ${described(optionItems(spec.globals))}
end

# What an option's value is (nothing: the option is a flag).
function ${fn}_value
    switch $argv[2]
${globalValueCases.join('\n')}
    end
    switch "$argv[1] $argv[2]"
${valueCases.join('\n')}
    end
end

# What the Nth argument of a command is.
function ${fn}_argument
    switch $argv[1]
${spec.commands.flatMap(argumentCase).join('\n')}
    end
end

# Names from the config: KIND CONFIG [TARGET].
function ${fn}_names
    set -l command (commandline -opc)[1]
    set -l config $argv[2]
    string match -q -- '~/*' $command; and set command $HOME/(string sub -s 3 -- $command)
    string match -q -- '~/*' $config; and set config $HOME/(string sub -s 3 -- $config)
    test -n "$config"; and set -a command --config $config
    set -a command __complete $argv[1]
    test -n "$argv[3]"; and set -a command $argv[3]
    $command 2>/dev/null
end

function ${fn}_complete
    set -l words (commandline -opc)
    set -l cur (commandline -ct)
    set -l path ''
    set -l config ''
    set -l option ''
    set -l args
    set -l dashdash 0
    # The tokens before the cursor: the command path, the config, the arguments so far.
    set -l i 2
    while test $i -le (count $words)
        set -l word $words[$i]
        if test $dashdash = 1
            set -a args $word
        else if test "$word" = --
            set dashdash 1
        else if string match -q -- '--*=*' $word
            string match -q -- '--config=*' $word; and set config (string replace -- '--config=' '' $word)
        else if string match -q -- '-c?*' $word
            set config (string sub -s 3 -- $word)
        else if string match -q -- '-*' $word
            set -l kind (${fn}_value "$path" $word)
            if test -n "$kind"
                if test $i -ge (count $words)
                    set option $word
                else
                    set i (math $i + 1)
                    contains -- $word -c --config; and set config $words[$i]
                end
            end
        else if test (count $args) -eq 0; and contains -- $word (${fn}_commands "$path" | string replace -r '\\t.*' '')
            set path (string trim -- "$path $word")
        else
            set -a args $word
        end
        set i (math $i + 1)
    end

    # --from=off: the option and the start of its value in one token.
    set -l prefix ''
    if test -z "$option"; and test $dashdash = 0; and string match -q -- '--*=*' $cur
        set option (string replace -r '=.*' '' -- $cur)
        set prefix "$option="
        set cur (string replace -r '^[^=]*=' '' -- $cur)
    end
    set -l what
    if test -n "$option"
        set what (${fn}_value "$path" $option)
    else if test $dashdash = 0; and string match -q -- '-*' $cur
        ${fn}_options "$path"
        return
    else
        set -l commands (${fn}_commands "$path")
        if test -n "$commands"; and test (count $args) -eq 0
            printf '%s\\n' $commands
            return
        end
        set what (${fn}_argument "$path" (count $args))
    end

    switch "$what"
        case 'names:*'
            ${fn}_names (string replace 'names:' '' -- $what) "$config" "$args[1]" | string replace -r '^' -- "$prefix"
        case 'words:*'
            string split ' ' -- (string replace 'words:' '' -- $what) | string replace -r '^' -- "$prefix"
        case file
            __fish_complete_path "$cur" | string replace -r '^' -- "$prefix"
        case dir
            __fish_complete_directories "$cur" | string replace -r '^' -- "$prefix"
        case command
            complete -C (string join ' ' -- (string escape -- $args) "$cur")
        case help
            set -l group (string replace -r ' ?help$' '' -- $path)
            for word in $args
                set group (string trim -- "$group $word")
            end
            ${fn}_commands "$group"
    end
end

complete -c ${name} -f -a '(${fn}_complete)'
`
}
