/**
 * The zsh completion script: one _arguments call per command (options with descriptions,
 * arguments, subcommands), made from the command definitions; names from the config come
 * from `ownops [--config FILE] __complete KIND`.
 */
import { sq } from './bash.js'
import type { CommandSpec, CompletionSpec, OptionSpec, Values } from './spec.js'

/** Text inside an _arguments [description]. */
function bracket(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\[/g, '\\[').replace(/\]/g, '\\]')
}

/** Text of a completion message (between colons). */
function message(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/:/g, '\\:')
}

function action(values: Values, fn: string): string {
  switch (values.type) {
    case 'names':
      return `{${fn}_names ${values.kind}}`
    case 'words':
      return `(${values.words.join(' ')})`
    case 'file':
      return '_files'
    case 'dir':
      return '_files -/'
    case 'command':
      return '_normal'
    case 'help':
      return `{${fn}_help}`
    case 'none':
      return ' '
  }
}

/** An option as _arguments specs, shell-quoted: '(-n --dry-run)'{-n,--dry-run}'[…]'. */
function optionSpec(option: OptionSpec, fn: string): string {
  const names = [option.short, option.long].filter((f): f is string => f !== undefined)
  const suffix = (flag: string) => (option.values === undefined ? '' : flag.startsWith('--') ? '=' : '+')
  const value = option.values === undefined ? '' : `:${message(option.valueName ?? 'value')}:${action(option.values, fn)}`
  const described = `[${bracket(option.text)}]${value}`
  if (option.repeatable) {
    return names.length === 1
      ? sq(`*${names[0]}${suffix(names[0] ?? '')}${described}`)
      : `'*'{${names.map((n) => `${n}${suffix(n)}`).join(',')}}${sq(described)}`
  }
  const exclusion = option.long === '--help' || option.long === '--version' ? '(- *)' : `(${names.join(' ')})`
  if (names.length === 1) return sq(`${exclusion}${names[0]}${suffix(names[0] ?? '')}${described}`)
  return `${sq(exclusion)}{${names.map((n) => `${n}${suffix(n)}`).join(',')}}${sq(described)}`
}

function argumentSpecs(command: CommandSpec, fn: string): string[] {
  if (command.commands.length > 0) return [sq(': :->command'), sq('*:: :->arguments')]
  return command.arguments.map((a) => {
    const act = action(a.values, fn)
    if (a.variadic) return sq(a.values.type === 'command' ? `*::${message(a.name)}:${act}` : `*:${message(a.name)}:${act}`)
    return sq(`${a.required ? '' : ':'}:${message(a.name)}:${act}`)
  })
}

export function zshScript(spec: CompletionSpec): string {
  const name = spec.program
  const fn = `_${name}`
  const globals = spec.globals.map((o) => optionSpec(o, fn))
  const cases = spec.commands.map((c) => {
    const specs = [...c.options.map((o) => optionSpec(o, fn)), ...argumentSpecs(c, fn)]
    // A group: the options after its subcommand are the subcommand's (-A).
    const flags = c.commands.length > 0 ? "-C -s -S -A '-*'" : '-C -s -S'
    return `    ${sq(c.path)})\n      _arguments ${flags} : $globals \\\n        ${specs.join(' \\\n        ')} && ret=0\n      ;;`
  })
  const commandCases = spec.commands
    .filter((c) => c.commands.length > 0)
    .map((c) => `    ${sq(c.path)}) commands=(${c.commands.map((s) => sq(`${s.name}:${s.summary}`)).join(' ')}) ;;`)
  return `#compdef ${name}
# zsh completion for ${name} ${spec.version}. Made by \`${name} completion zsh\` from ${name}'s
# command definitions. Install it as _${name} in a directory of $fpath, e.g.
#   ${name} completion zsh | sudo tee /usr/local/share/zsh/site-functions/_${name} >/dev/null
# or, for yourself: mkdir -p ~/.zfunc && ${name} completion zsh > ~/.zfunc/_${name}
# with fpath=(~/.zfunc $fpath) before compinit in ~/.zshrc.
# Target, destination, channel, service, rule and check names come from the config file
# (-c/--config on the line, $OWNOPS_CONFIG, ./ownops.yml, /etc/ownops/ownops.yml), read by
# \`${name} __complete\`: no Docker, no network.

# The subcommands of a command, described.
${fn}_commands() {
  local -a commands
  case $1 in
${commandCases.join('\n')}
  esac
  _describe -t commands "${name}\${1:+ $1} command" commands
}

# Names from the config: KIND [TARGET]. The config is the one given on the line.
${fn}_names() {
  local -a command names
  local i word config
  command=(\${(Q)~\${${fn}_line[1]}})
  for ((i = 2; i < ${fn}_current; i++)); do
    word=\${${fn}_line[i]}
    case $word in
      -c|--config) config=\${(Q)~\${${fn}_line[i + 1]}} ;;
      --config=*) config=\${(Q)~\${word#--config=}} ;;
      -c?*) config=\${(Q)~\${word#-c}} ;;
    esac
  done
  [[ -n $config ]] && command+=(--config "$config")
  command+=(__complete "$1")
  # backups: of the target, the first argument of restore or verify.
  [[ $1 == backups ]] && command+=("\${line[1]}")
  names=(\${(f)"$(_call_program names "\${(q)command[@]}" 2>/dev/null)"})
  _wanted names expl "\${1%s}" compadd -a names
}

# ownops help COMMAND [SUBCOMMAND]: the command names.
${fn}_help() {
  local group=\${${fn}_path% help}
  [[ $group == help ]] && group=''
  local word
  for word in \${words[2,CURRENT-1]}; do group=\${group:+$group }$word; done
  ${fn}_commands "$group"
}

${fn}_dispatch() {
  local ${fn}_path=$1 curcontext=$curcontext state state_descr ret=1
  local -a line
  local -A opt_args
  case $1 in
${cases.join('\n')}
  esac
  case $state in
    command) ${fn}_commands "$1" && ret=0 ;;
    arguments)
      curcontext=\${curcontext%:*:*}:${name}-\${words[1]}:
      ${fn}_dispatch "\${1:+$1 }\${words[1]}" && ret=0
      ;;
  esac
  return ret
}

${fn}() {
  local -a ${fn}_line globals
  ${fn}_line=("\${words[@]}")
  local ${fn}_current=$CURRENT
  globals=(
    ${globals.join('\n    ')}
  )
  ${fn}_dispatch ''
}

# Autoloaded from $fpath, this file is the body of ${fn}: it defines the functions, then completes.
if [[ $funcstack[1] == ${fn} ]]; then
  ${fn} "$@"
else
  compdef ${fn} ${name}
fi
`
}
