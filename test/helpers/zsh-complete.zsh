# Completes lines in a real interactive zsh on a pseudo-terminal (zpty), as a person pressing
# TAB would, and prints the matches each line gets, one a line, each set ended by \x1e.
#   zsh -f zsh-complete.zsh FPATH_DIR OUT_PREFIX LINE...
# The completion functions in FPATH_DIR are autoloaded by compinit; a compadd wrapper records
# every match the completion adds (compadd -O: the matches, filtered by what is typed).
# Keys are typed only at the prompt, once the line editor reads them: typed earlier, the
# terminal driver would take TAB and ^U for itself.
zmodload zsh/zpty || { print -u2 'zsh/zpty is not available'; exit 3 }
local dir=$1 out=$2 line chunk
shift 2
integer n=0

# Waits for the prompt (its text is put together by the shell, so the echo of a typed line
# never matches), after PATTERN when one is given.
ready() {
  zpty -r shell chunk "*${1}*@@ready@@*" || { print -u2 "no prompt from zsh after: $line"; exit 4 }
}

zpty shell zsh -f -i
zpty -w shell 'unsetopt autolist listambiguous beep; LISTMAX=100000; RPS1=; PS1=${:-@@rea}dy@@'
ready
zpty -w shell "fpath=(${(q)dir} \$fpath); autoload -Uz compinit; compinit -u -D"
ready
zpty -w shell 'compadd() { local -a matches; builtin compadd -O matches "$@"; (( $#matches )) && print -rl -- $matches >> $__out; builtin compadd "$@" }'
ready
for line in "$@"; do
  n+=1
  : >| $out.$n
  zpty -w shell "__out=${(q)out}.$n"
  ready
  zpty -w -n shell "$line"$'\t'$'\C-u'
  zpty -w shell "print -r -- \${:-__done_$n}__"
  ready "__done_${n}__"
  print -r -- "$(<$out.$n)"
  print $'\x1e'
done
zpty -d shell
