/**
 * Reads KEY=value environment files by the rules of systemd's EnvironmentFile= (the parser
 * of src/basic/env-file.c), so that ownops started by hand and ownops started by a unit that
 * loads the same file see the same values:
 *
 * - a line whose first non-blank character is `#` or `;` is a comment; there are no comments
 *   after a value: `A=x # note` is the value `x # note`;
 * - blanks around the key and before the value are dropped, and trailing blanks of an
 *   unquoted value;
 * - unquoted: `\x` is `x`, a backslash at the end of a line continues the value on the next;
 * - 'single quotes' keep everything, newlines included; "double quotes" keep everything but
 *   `\"` `\\` `\`` `\$` (the character) and backslash-newline (nothing); other backslashes stay;
 * - after a closing quote, blanks are skipped and what follows is appended (`A="x" y` is `xy`);
 * - a line without `=` is ignored, and so is a name that is not a variable name
 *   (`export A=1`): both are reported here as errors, since systemd would drop them silently;
 * - a later assignment wins.
 *
 * Values are taken literally: no `$VAR` expansion (systemd expands none in EnvironmentFile=).
 */

export interface EnvFileProblem {
  line: number
  message: string
  severity: 'error' | 'warning'
  hint?: string
}

const NEWLINE = '\n\r'
const WHITESPACE = ' \t\n\r'
const COMMENTS = '#;'
/** Characters a backslash escapes inside double quotes (systemd's SHELL_NEED_ESCAPE). */
const DOUBLE_QUOTE_ESCAPES = '"\\`$'

type State = 'preKey' | 'key' | 'preValue' | 'value' | 'valueEscape' | 'single' | 'double' | 'doubleEscape' | 'comment' | 'commentEscape'

export function parseEnvFile(text: string): { vars: Record<string, string>; problems: EnvFileProblem[] } {
  const vars: Record<string, string> = {}
  const problems: EnvFileProblem[] = []
  let state: State = 'preKey'
  let line = 1
  let entryLine = 1
  let key = ''
  let value = ''
  /** Index in `value` where trailing blanks of an unquoted part begin, or -1. */
  let valueBlank = -1
  /** Whether the value has an unquoted part that starts after blanks with "#" or holds " #". */
  let commentLike = false
  let quoted = false
  let commentLine = 0

  const push = () => {
    const name = key.replace(/[ \t\n\r]+$/, '')
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      const exported = /^export\s+([A-Za-z_][A-Za-z0-9_]*)$/.exec(name)
      problems.push({
        line: entryLine,
        severity: 'error',
        message: exported
          ? `"${name}=…": systemd ignores this line ("export" is shell syntax)`
          : `"${name}" is not a variable name: systemd ignores this line`,
        hint: exported ? `write ${exported[1]}=… without export` : 'names are letters, digits and _, not starting with a digit',
      })
    } else if (/[\0-\x08\x0b-\x1f\x7f]/.test(value)) {
      problems.push({
        line: entryLine,
        severity: 'error',
        message: `${name}: the value holds a control character: systemd ignores this assignment`,
        hint: 'remove it (a carriage return in a quoted value?)',
      })
    } else {
      if (commentLike) {
        problems.push({
          line: entryLine,
          severity: 'warning',
          message: `${name}: the value ${JSON.stringify(value)} looks like it carries a comment, but systemd keeps everything after = in the value`,
          hint: 'comments only start a line: move it to a line of its own (or quote the value if "#" belongs to it)',
        })
      }
      vars[name] = value
    }
    key = ''
    value = ''
    valueBlank = -1
    commentLike = false
    quoted = false
  }

  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string
    const newline = NEWLINE.includes(c)
    switch (state) {
      case 'preKey':
        if (COMMENTS.includes(c)) {
          state = 'comment'
          commentLine = line
        } else if (!WHITESPACE.includes(c)) {
          state = 'key'
          entryLine = line
          key = c
        }
        break
      case 'key':
        if (newline) {
          problems.push({
            line: entryLine,
            severity: 'error',
            message: `expected KEY=value, got ${JSON.stringify(key.trim())}: systemd ignores this line`,
            hint: 'each line is KEY=value, or a # comment',
          })
          state = 'preKey'
          key = ''
        } else if (c === '=') {
          state = 'preValue'
          valueBlank = -1
        } else {
          key += c
        }
        break
      case 'preValue':
        if (newline) {
          push()
          state = 'preKey'
        } else if (c === "'") {
          state = 'single'
          quoted = true
        } else if (c === '"') {
          state = 'double'
          quoted = true
        } else if (c === '\\') {
          state = 'valueEscape'
        } else if (!WHITESPACE.includes(c)) {
          state = 'value'
          // "A= #x", or "A="x" # note": a comment in the eyes of a shell user.
          if (c === '#' && (quoted || WHITESPACE.includes(text[i - 1] ?? ''))) commentLike = true
          value += c
        }
        break
      case 'value':
        if (newline) {
          if (valueBlank !== -1) value = value.slice(0, valueBlank)
          push()
          state = 'preKey'
        } else if (c === '\\') {
          state = 'valueEscape'
          valueBlank = -1
        } else {
          if (!WHITESPACE.includes(c)) {
            if (c === '#' && valueBlank !== -1) commentLike = true
            valueBlank = -1
          } else if (valueBlank === -1) {
            valueBlank = value.length
          }
          value += c
        }
        break
      case 'valueEscape':
        state = 'value'
        // An escaped newline continues the value on the next line.
        if (!newline) value += c
        break
      case 'single':
        if (c === "'") state = 'preValue'
        else value += c
        break
      case 'double':
        if (c === '"') state = 'preValue'
        else if (c === '\\') state = 'doubleEscape'
        else value += c
        break
      case 'doubleEscape':
        state = 'double'
        if (DOUBLE_QUOTE_ESCAPES.includes(c)) value += c
        else if (c !== '\n') value += `\\${c}`
        break
      case 'comment':
        if (c === '\\') state = 'commentEscape'
        else if (newline) state = 'preKey'
        break
      case 'commentEscape':
        if (newline) {
          // systemd 254 and later end the comment here; older versions comment out the next line too.
          problems.push({
            line: commentLine,
            severity: 'warning',
            message: 'a comment ends with a backslash: systemd before version 254 treats the next line as part of the comment',
            hint: 'remove the backslash at the end of the comment',
          })
          state = 'preKey'
        } else {
          state = 'comment'
        }
        break
    }
    if (c === '\n') line++
  }
  switch (state) {
    case 'key':
      problems.push({
        line: entryLine,
        severity: 'error',
        message: `expected KEY=value, got ${JSON.stringify(key.trim())}: systemd ignores this line`,
        hint: 'each line is KEY=value, or a # comment',
      })
      break
    case 'value':
      if (valueBlank !== -1) value = value.slice(0, valueBlank)
      push()
      break
    case 'preValue':
    case 'valueEscape':
    case 'single':
    case 'double':
    case 'doubleEscape':
      push()
      break
    default:
      break
  }
  return { vars, problems }
}
