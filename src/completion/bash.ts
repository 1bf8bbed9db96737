/**
 * The bash completion script: tables of the commands, options and arguments (made from the
 * command definitions), and one function that reads the words before the cursor — the
 * command path, -c/--config, the arguments so far — and offers what may come next. Names
 * from the config come from `ownops [--config FILE] __complete KIND`.
 */
import type { CommandSpec, CompletionSpec, OptionSpec, Values } from './spec.js'

/** A word in single quotes, for the shell. */
export function sq(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`
}

/** How a value's kind is written in the tables of the bash and fish scripts. */
export function valuesWord(values: Values): string {
  switch (values.type) {
    case 'names':
      return `names:${values.kind}`
    case 'words':
      return `words:${values.words.join(' ')}`
    default:
      return values.type
  }
}

function flags(option: OptionSpec): string[] {
  return [option.short, option.long].filter((f): f is string => f !== undefined)
}

function optionValues(options: readonly OptionSpec[]): Array<[string, string]> {
  return options.filter((o) => o.values !== undefined).map((o) => [flags(o).join('|'), valuesWord(o.values ?? { type: 'none' })])
}

function argumentCase(command: CommandSpec): string {
  const args = command.arguments
  if (args.length === 0) return ''
  const last = args[args.length - 1]
  if (args.length === 1 && last?.variadic) return `    ${sq(command.path)}) REPLY=${sq(valuesWord(last.values))} ;;`
  const cases = args.map((a, i) => `${a.variadic ? '*' : i}) REPLY=${sq(valuesWord(a.values))} ;;`)
  return `    ${sq(command.path)}) case $2 in ${cases.join(' ')}${last?.variadic ? '' : " *) REPLY='' ;;"} esac ;;`
}

export function bashScript(spec: CompletionSpec): string {
  const name = spec.program
  const fn = `_${name}`
  const globals = spec.globals.flatMap(flags)
  const commandLines = spec.commands
    .filter((c) => c.commands.length > 0)
    .map((c) => `    ${sq(c.path)}) REPLY=${sq(c.commands.map((s) => s.name).join(' '))} ;;`)
  const optionLines = spec.commands.map((c) => `    ${sq(c.path)}) REPLY=${sq([...c.options.flatMap(flags), ...globals].join(' '))} ;;`)
  const globalValueLines = optionValues(spec.globals).map(([f, v]) => `    ${f}) REPLY=${sq(v)}; return ;;`)
  const valueLines = spec.commands.flatMap((c) =>
    optionValues(c.options).map(
      ([f, v]) =>
        `    ${f
          .split('|')
          .map((x) => sq(`${c.path} ${x}`))
          .join('|')}) REPLY=${sq(v)} ;;`,
    ),
  )
  const argumentLines = spec.commands.map(argumentCase).filter((l) => l !== '')
  return `# bash completion for ${name} ${spec.version}                  -*- shell-script -*-
# Made by \`${name} completion bash\` from ${name}'s command definitions. Install it with
#   ${name} completion bash | sudo tee /etc/bash_completion.d/${name} >/dev/null
# or, for yourself: ${name} completion bash > ~/.local/share/bash-completion/completions/${name}
# (or add \`source <(${name} completion bash)\` to ~/.bashrc).
# Target, destination, channel, service, rule and check names come from the config file
# (-c/--config on the line, $OWNOPS_CONFIG, ./ownops.yml, /etc/ownops/ownops.yml), read by
# \`${name} __complete\`: no Docker, no network.

# The subcommands of a command.
${fn}_commands() {
  case $1 in
${commandLines.join('\n')}
    *) REPLY='' ;;
  esac
}

# The options a command takes, the global ones too.
${fn}_options() {
  case $1 in
${optionLines.join('\n')}
    *) REPLY=${sq(globals.join(' '))} ;;
  esac
}

# What an option's value is (empty: the option is a flag).
${fn}_value() {
  case $2 in
${globalValueLines.join('\n')}
  esac
  case "$1 $2" in
${valueLines.join('\n')}
    *) REPLY='' ;;
  esac
}

# What the Nth argument of a command is.
${fn}_argument() {
  case $1 in
${argumentLines.join('\n')}
    *) REPLY='' ;;
  esac
}

# Names from the config: KIND CONFIG [TARGET].
${fn}_names() {
  local program=\${COMP_WORDS[0]} config=$2
  [[ $program == '~/'* ]] && program=$HOME/\${program#'~/'}
  [[ $config == '~/'* ]] && config=$HOME/\${config#'~/'}
  local -a command=("$program")
  [[ -n $config ]] && command+=(--config "$config")
  command+=(__complete "$1")
  [[ -n $3 ]] && command+=("$3")
  "\${command[@]}" 2>/dev/null
}

${fn}() {
  local cur=\${COMP_WORDS[COMP_CWORD]} path='' config='' option='' word REPLY i first=0
  local -a args=()
  local -i dashdash=0
  # The words before the cursor: the command path, the config, the arguments so far.
  for ((i = 1; i < COMP_CWORD; i++)); do
    word=\${COMP_WORDS[i]}
    if ((dashdash)); then
      args+=("$word")
      continue
    fi
    case $word in
      --) dashdash=1 ;;
      --*=*) [[ \${word%%=*} == --config ]] && config=\${word#*=} ;;
      -c?*) config=\${word#-c} ;;
      -*)
        # bash splits --config=FILE at the "=": --config, =, FILE.
        [[ \${COMP_WORDS[i + 1]} == = ]] && ((i++))
        ${fn}_value "$path" "$word"
        if [[ -n $REPLY ]]; then
          if ((i + 1 >= COMP_CWORD)); then
            option=$word
            break
          fi
          ((i++))
          [[ $word == -c || $word == --config ]] && config=\${COMP_WORDS[i]}
        fi
        ;;
      *)
        ${fn}_commands "$path"
        if ((\${#args[@]} == 0)) && [[ " $REPLY " == *" $word "* ]]; then
          path=\${path:+$path }$word
        else
          ((\${#args[@]} == 0)) && first=$i
          args+=("$word")
        fi
        ;;
    esac
  done
  [[ $cur == = ]] && cur=''
  COMPREPLY=()

  local what
  if [[ -n $option ]]; then
    ${fn}_value "$path" "$option"
    what=$REPLY
  elif [[ $cur == -* ]] && ((!dashdash)); then
    ${fn}_options "$path"
    mapfile -t COMPREPLY < <(compgen -W "$REPLY" -- "$cur")
    return
  else
    ${fn}_commands "$path"
    if [[ -n $REPLY ]] && ((\${#args[@]} == 0)); then
      mapfile -t COMPREPLY < <(compgen -W "$REPLY" -- "$cur")
      return
    fi
    ${fn}_argument "$path" \${#args[@]}
    what=$REPLY
  fi

  case $what in
    names:*)
      mapfile -t COMPREPLY < <(compgen -W "$(${fn}_names "\${what#names:}" "$config" "\${args[0]}")" -- "$cur")
      ;;
    words:*) mapfile -t COMPREPLY < <(compgen -W "\${what#words:}" -- "$cur") ;;
    file)
      compopt -o filenames 2>/dev/null
      mapfile -t COMPREPLY < <(compgen -f -- "$cur")
      ;;
    dir)
      compopt -o filenames 2>/dev/null
      mapfile -t COMPREPLY < <(compgen -d -- "$cur")
      ;;
    command)
      if ((first > 0)) && declare -F _command_offset >/dev/null; then
        _command_offset "$first"
      elif ((\${#args[@]} == 0)); then
        mapfile -t COMPREPLY < <(compgen -c -- "$cur")
      else
        compopt -o default 2>/dev/null
      fi
      ;;
    help)
      local group=\${path% help}
      [[ $path == help ]] && group=''
      for word in "\${args[@]}"; do group=\${group:+$group }$word; done
      ${fn}_commands "$group"
      mapfile -t COMPREPLY < <(compgen -W "$REPLY" -- "$cur")
      ;;
  esac
}
complete -F ${fn} ${name}
`
}
