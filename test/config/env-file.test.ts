/**
 * The env file is read by the rules of systemd's EnvironmentFile=. Each case is checked
 * against the expected values and, where systemd's own parser can be run here (the
 * environment.d generator shares src/basic/env-file.c with EnvironmentFile=), against it.
 */
import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseEnvFile } from '../../src/config/env-file.js'
import { checkConfig } from '../../src/config/load.js'
import { formatProblem } from '../../src/config/problems.js'
import { tempDir } from '../helpers/cli.js'

let dir: string
let cleanup: () => void
beforeAll(() => {
  ;({ dir, cleanup } = tempDir('ownops-test-envfile-'))
})
afterAll(() => cleanup())

/** [name, file text, expected variables, expected problems as "line severity"]. */
const CASES: Array<[string, string, Record<string, string>, string[]]> = [
  ['plain', 'T_A=1\nT_B=two words\n', { T_A: '1', T_B: 'two words' }, []],
  ['an inline # stays in the value, with a warning', 'T_DIR=/srv/backups # nightly\n', { T_DIR: '/srv/backups # nightly' }, ['1 warning']],
  ['a # inside a word is part of the value, silently', 'T_PW=pa#ss\nT_COLOR=#fff\n', { T_PW: 'pa#ss', T_COLOR: '#fff' }, []],
  ['a value that starts with # after blanks', 'T_A= #x\n', { T_A: '#x' }, ['1 warning']],
  ['comments only at the start of a line, # and ;', '# one\n  ; two\nT_A=1\n', { T_A: '1' }, []],
  [
    'blanks around key and before the value go, trailing blanks of an unquoted value too',
    '  T_A  =   spaced out   \n',
    { T_A: 'spaced out' },
    [],
  ],
  ['tabs are blanks', 'T_A\t=\tx\t\n', { T_A: 'x' }, []],
  ['single quotes keep everything', 'T_A=\'a \\n "b" $c # d\'\n', { T_A: 'a \\n "b" $c # d' }, []],
  [
    'double quotes: \\" \\\\ \\` \\$ unescaped, other backslashes kept',
    'T_A="q\\"u\\\\o\\`t\\$e \\n \\x"\n',
    { T_A: 'q"u\\o`t$e \\n \\x' },
    [],
  ],
  [
    'quoted values keep their blanks and may span lines',
    'T_A="  lead\nnext  "\nT_B=\'x\ny\'\n',
    { T_A: '  lead\nnext  ', T_B: 'x\ny' },
    [],
  ],
  ['after a closing quote, blanks are skipped and the rest appended', 'T_A="x" y\nT_B=\'a\'"b"c\n', { T_A: 'xy', T_B: 'abc' }, []],
  ['a comment after a quoted value joins the value, with a warning', 'T_A="x" # note\n', { T_A: 'x# note' }, ['1 warning']],
  ['quotes in the middle of a value are ordinary characters', 'T_A=say "hi"\n', { T_A: 'say "hi"' }, []],
  ['unquoted backslash escapes the next character', 'T_A=a\\ b\\#c\\\\d\n', { T_A: 'a b#c\\d' }, []],
  ['backslash-newline continues an unquoted value', 'T_A=one\\\n  two\n', { T_A: 'one  two' }, []],
  ['backslash-newline inside double quotes disappears', 'T_A="one\\\ntwo"\n', { T_A: 'onetwo' }, []],
  ['an escaped trailing blank stays', 'T_A=x\\ \n', { T_A: 'x ' }, []],
  ['empty values', 'T_A=\nT_B=""\nT_C=\n', { T_A: '', T_B: '', T_C: '' }, []],
  ['a later assignment wins', 'T_A=1\nT_A=2\n', { T_A: '2' }, []],
  ['no newline at the end', 'T_A=last', { T_A: 'last' }, []],
  ['CRLF line ends', 'T_A=1\r\nT_B=2\r\n', { T_A: '1', T_B: '2' }, []],
  ['no expansion of $VAR', 'T_A=x\nT_B=$T_A\n', { T_A: 'x', T_B: '$T_A' }, []],
  ['"export" is not understood: the line is ignored, an error here', 'export T_A=1\nT_B=2\n', { T_B: '2' }, ['1 error']],
  ['a line without = is ignored, an error here', 'T_A\nT_B=2\n', { T_B: '2' }, ['1 error']],
  ['an invalid name is ignored, an error here', '1T=1\nT-A=2\nT_B=3\n', { T_B: '3' }, ['1 error', '2 error']],
  [
    'a comment ending in a backslash: a warning (systemd < 254 comments out the next line)',
    '# note \\\nT_A=1\n',
    { T_A: '1' },
    ['1 warning'],
  ],
]

describe("env file parsing, by systemd's EnvironmentFile= rules", () => {
  it.each(CASES)('%s', (_name, text, vars, problems) => {
    const parsed = parseEnvFile(text)
    expect(parsed.vars).toEqual(vars)
    expect(parsed.problems.map((p) => `${p.line} ${p.severity}`)).toEqual(problems)
  })

  const GENERATOR = [
    '/usr/lib/systemd/user-environment-generators/30-systemd-environment-d-generator',
    '/lib/systemd/user-environment-generators/30-systemd-environment-d-generator',
  ].find(existsSync)
  // Cases whose results the generator cannot show as EnvironmentFile= sees them: it expands
  // $VAR, drops empty values (EnvironmentFile= sets them empty), and before systemd 254 it
  // continues a comment that ends in a backslash.
  const oracleCases = CASES.filter(
    ([name, text, vars]) => !text.includes('$') && !Object.values(vars).includes('') && !name.startsWith('a comment ending'),
  )

  it.runIf(GENERATOR !== undefined).each(oracleCases)('systemd agrees: %s', async (name, text, vars) => {
    const home = join(dir, name.replace(/\W+/g, '-'))
    mkdirSync(join(home, 'environment.d'), { recursive: true })
    writeFileSync(join(home, 'environment.d', 'case.conf'), text)
    const stdout = await new Promise<string>((done, fail) =>
      execFile(GENERATOR as string, [], { env: { XDG_CONFIG_HOME: home, HOME: home } }, (error, out) => (error ? fail(error) : done(out))),
    )
    expect(fromGenerator(stdout)).toEqual(vars)
  })
})

/** The generator prints KEY=value lines, the value shell-quoted when needed ("…", with \" \\ \` \$ and C escapes such as \n). */
function fromGenerator(stdout: string): Record<string, string> {
  const vars: Record<string, string> = {}
  const re = /^(T_\w*)=("(?:[^"\\]|\\.)*"|[^\n]*)$/gms
  for (const match of stdout.matchAll(re)) {
    const raw = match[2] as string
    vars[match[1] as string] = raw.startsWith('"')
      ? raw.slice(1, -1).replace(/\\(.)/g, (_m, c: string) => ({ n: '\n', t: '\t', r: '\r' })[c] ?? c)
      : raw
  }
  return vars
}

describe('the env file in the config', () => {
  it('a value with an inline comment: the same value as the unit gets, and a warning with file and line', () => {
    const envFile = join(dir, 'inline.env')
    writeFileSync(envFile, 'BACKUP_ROOT=/srv/backups  # the big disk\n')
    const file = join(dir, 'inline.yml')
    writeFileSync(file, `envFile: ${envFile}\nbackup:\n  dir: \${BACKUP_ROOT}\n`)
    const result = checkConfig({ path: file, env: {}, cwd: dir })
    expect(result.loaded?.config.backup.dir).toBe('/srv/backups  # the big disk')
    expect(result.problems.map(formatProblem)).toEqual([
      `${envFile}:1: warning: BACKUP_ROOT: the value "/srv/backups  # the big disk" looks like it carries a comment, but systemd keeps everything after = in the value (comments only start a line: move it to a line of its own (or quote the value if "#" belongs to it))`,
    ])
  })
})
