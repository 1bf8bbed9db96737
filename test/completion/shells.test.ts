/**
 * The completion scripts in the real shells, installed as the help says: bash (with and
 * without bash-completion), zsh (autoloaded from $fpath, driven on a pseudo-terminal with
 * zpty: TAB pressed, the matches recorded by a compadd wrapper) and fish (`complete -C`).
 * Names come from the config the line names with -c, through `ownops __complete`: the real
 * ownops on the PATH.
 */
import { execFile } from 'node:child_process'
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest'
import { BIN, runBin, tempDir, testEnv } from '../helpers/cli.js'

const ZSH_DRIVER = resolve(import.meta.dirname, '../helpers/zsh-complete.zsh')
const BASH_COMPLETION = '/usr/share/bash-completion/bash_completion'

let dir: string
let cleanup: () => void
let env: NodeJS.ProcessEnv
const scripts: Record<string, string> = {}

const CONFIG = `backup:
  dir: ./backups
  targets:
    db: { type: postgres, container: app-db, database: app }
    world: { type: directory, path: /srv/mc/world }
  destinations:
    offsite: { type: path, path: /mnt/usb/ownops }
notify:
  channels:
    ops-discord: { url: "discord://1/token" }
restart:
  services:
    mc: { container: mc }
cleanup:
  rules:
    scratch: { type: files, root: /tmp, match: "abaqus_*", olderThan: 1d }
monitor:
  checks:
    api: { kind: http, url: "http://127.0.0.1:8080/health" }
`

function run(
  file: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(file, args, { cwd: options.cwd ?? dir, env: options.env ?? env, timeout: 60_000 }, (error, stdout, stderr) => {
      done({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stdout, stderr })
    })
  })
}

/** Whether a shell is installed; in CI a missing one fails the test instead of skipping it. */
async function need(ctx: TestContext, shell: string, hint: string): Promise<void> {
  const found = await run('sh', ['-c', `command -v ${shell}`])
  if (found.code === 0) return
  if (process.env.CI === 'true') throw new Error(`${shell} is not installed: scripts/test-env.sh install puts it on a CI machine`)
  ctx.skip(`${shell} is not installed (${hint})`)
}

beforeAll(async () => {
  ;({ dir, cleanup } = tempDir('ownops-test-completion-'))
  // ownops on the PATH, as installed.
  mkdirSync(join(dir, 'bin'))
  symlinkSync(BIN, join(dir, 'bin', 'ownops'))
  env = testEnv(dir, { PATH: `${join(dir, 'bin')}:${process.env.PATH ?? ''}`, LANG: 'C.UTF-8', TERM: 'dumb' })
  // The config the lines name with -c; none in the working directory.
  mkdirSync(join(dir, 'conf'))
  writeFileSync(join(dir, 'conf', 'site.yml'), CONFIG)
  // Two backups of db (backup.dir is relative: to the working directory).
  mkdirSync(join(dir, 'backups', 'db'), { recursive: true })
  for (const id of ['db-20260601T030000Z', 'db-20260602T030000Z']) writeFileSync(join(dir, 'backups', 'db', `${id}.json`), '{}')
  for (const shell of ['bash', 'zsh', 'fish']) {
    const result = await runBin(['completion', shell], { env, cwd: dir })
    expect(result.code, result.stderr).toBe(0)
    scripts[shell] = result.stdout
  }
  // Installed where the help says.
  mkdirSync(join(dir, '.local/share/bash-completion/completions'), { recursive: true })
  writeFileSync(join(dir, '.local/share/bash-completion/completions/ownops'), scripts.bash ?? '')
  mkdirSync(join(dir, 'zfunc'))
  writeFileSync(join(dir, 'zfunc', '_ownops'), scripts.zsh ?? '')
  mkdirSync(join(dir, '.config/fish/completions'), { recursive: true })
  writeFileSync(join(dir, '.config/fish/completions/ownops.fish'), scripts.fish ?? '')
}, 120_000)
afterAll(() => cleanup())

/** The lines to complete (the cursor at the end) and what each must offer, sorted. */
const CASES: ReadonlyArray<readonly [string, readonly string[]]> = [
  ['ownops ba', ['backup', 'backups']],
  ['ownops -c conf/site.yml backup ', ['db', 'world']],
  ['ownops backup --dry-run -c conf/site.yml w', ['world']],
  ['ownops --config conf/site.yml restore db ', ['db-20260601T030000Z', 'db-20260602T030000Z', 'latest']],
  ['ownops -c conf/site.yml copy --to ', ['offsite']],
  ['ownops -c conf/site.yml notify --channel ', ['ops-discord']],
  ['ownops -c conf/site.yml restart ', ['mc']],
  ['ownops -c conf/site.yml cleanup ', ['backups', 'scratch']],
  ['ownops -c conf/site.yml monitor ', ['api', 'containers', 'filesystems', 'load', 'memory', 'swap']],
  ['ownops schedule ', ['generate', 'help', 'install', 'list', 'remove']],
  ['ownops help schedule i', ['install']],
  ['ownops schedule install --r', ['--root']],
  ['ownops --log-level w', ['warn']],
  ['ownops completion ', ['bash', 'fish', 'zsh']],
  // Without -c: no config here, so no names (and no error on the terminal).
  ['ownops backup ', []],
]

/** zsh offers the options that take a value when an argument has no candidates. */
const ZSH_CASES = CASES.map(([line, expected]): readonly [string, readonly string[]] =>
  line === 'ownops backup ' ? [line, ['--config', '--log-level', '--tag', '--wait']] : [line, expected],
)

function parse(output: string): string[][] {
  return output
    .split('\x1e\n')
    .slice(0, -1)
    .map((block) => [...new Set(block.split('\n').filter((l) => l !== ''))].map((l) => l.split('\t')[0] ?? '').sort())
}

describe('bash', () => {
  const driver = (preamble: string) =>
    `${preamble}
fn=$(complete -p ownops | sed -n 's/.*-F \\([^ ]*\\) .*/\\1/p')
[[ -n $fn ]] || { echo 'no completion registered for ownops' >&2; exit 3; }
for line in "$@"; do
  read -r -a COMP_WORDS <<<"$line"
  [[ $line == *' ' ]] && COMP_WORDS+=('')
  COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)) COMP_LINE=$line COMP_POINT=\${#line} COMPREPLY=()
  "$fn" ownops "\${COMP_WORDS[COMP_CWORD]}" "\${COMP_WORDS[COMP_CWORD-1]}"
  printf '%s\\n' "\${COMPREPLY[@]}"
  printf '\\x1e\\n'
done`

  it('completes commands, options and names from the -c config (the script sourced on its own)', async (ctx) => {
    await need(ctx, 'bash', 'apt-get install bash')
    writeFileSync(join(dir, 'ownops.bash'), scripts.bash ?? '')
    const result = await run('bash', [
      '--norc',
      '--noprofile',
      '-c',
      driver(`source ${join(dir, 'ownops.bash')}`),
      'driver',
      ...CASES.map(([line]) => line),
    ])
    expect(result.stderr).toBe('')
    expect(parse(result.stdout)).toEqual(CASES.map(([, expected]) => expected))
  })

  it('installed in ~/.local/share/bash-completion/completions, bash-completion loads it on first use', async (ctx) => {
    await need(ctx, 'bash', 'apt-get install bash')
    const installed = await run('sh', ['-c', `test -f ${BASH_COMPLETION}`])
    if (installed.code !== 0) {
      if (process.env.CI === 'true')
        throw new Error('bash-completion is not installed: scripts/test-env.sh install puts it on a CI machine')
      ctx.skip('bash-completion is not installed (apt-get install bash-completion)')
    }
    const preamble = `source ${BASH_COMPLETION}\n__load_completion ownops`
    const cases = [...CASES, ['ownops lock run -- ech', ['echo']] as const]
    const result = await run('bash', ['--norc', '--noprofile', '-c', driver(preamble), 'driver', ...cases.map(([line]) => line)], {
      env: { ...env, XDG_DATA_HOME: join(dir, '.local/share') },
    })
    expect(result.stderr).toBe('')
    expect(parse(result.stdout)).toEqual(cases.map(([, expected]) => expected))
  })

  it('takes --config=FILE split at "=" as bash splits it, and -c after the command', async (ctx) => {
    await need(ctx, 'bash', 'apt-get install bash')
    writeFileSync(join(dir, 'ownops.bash'), scripts.bash ?? '')
    const script = `source ${join(dir, 'ownops.bash')}
COMP_WORDS=(ownops backup --config = conf/site.yml d) COMP_CWORD=5 COMPREPLY=()
_ownops; printf '%s\\n' "\${COMPREPLY[@]}"; printf '\\x1e\\n'
COMP_WORDS=(ownops -c conf/site.yml backups --from =) COMP_CWORD=5 COMPREPLY=()
_ownops; printf '%s\\n' "\${COMPREPLY[@]}"; printf '\\x1e\\n'`
    const result = await run('bash', ['--norc', '--noprofile', '-c', script])
    expect(parse(result.stdout)).toEqual([['db'], ['offsite']])
  })
})

describe('zsh', () => {
  it('autoloaded from $fpath after compinit, completes commands, options and names from the -c config', async (ctx) => {
    await need(ctx, 'zsh', 'apt-get install zsh')
    const out = join(dir, 'zsh-matches')
    const result = await run('zsh', ['-f', ZSH_DRIVER, join(dir, 'zfunc'), out, ...ZSH_CASES.map(([line]) => line)])
    expect(result.code, result.stderr).toBe(0)
    expect(parse(result.stdout)).toEqual(ZSH_CASES.map(([, expected]) => expected))
  })
})

describe('fish', () => {
  it('installed in ~/.config/fish/completions, completes commands, options and names from the -c config', async (ctx) => {
    await need(ctx, 'fish', 'apt-get install fish')
    const script = "for line in $argv; complete -C $line; printf '\\x1e\\n'; end"
    const result = await run('fish', ['-c', script, ...CASES.map(([line]) => line)], {
      env: { ...env, XDG_CONFIG_HOME: join(dir, '.config') },
    })
    expect(result.stderr).toBe('')
    expect(parse(result.stdout)).toEqual(CASES.map(([, expected]) => expected))
  })

  it('completes --from=VALUE in one token', async (ctx) => {
    await need(ctx, 'fish', 'apt-get install fish')
    const result = await run('fish', ['-c', "complete -C 'ownops -c conf/site.yml backups --from=o'"], {
      env: { ...env, XDG_CONFIG_HOME: join(dir, '.config') },
    })
    expect(result.stdout).toBe('--from=offsite\n')
  })
})

describe('ownops __complete', () => {
  it('lists names from the config -c names, $OWNOPS_CONFIG or ./ownops.yml; nothing, and exit 0, without one', async () => {
    expect(await run(join(dir, 'bin', 'ownops'), ['-c', 'conf/site.yml', '__complete', 'targets'])).toEqual({
      code: 0,
      stdout: 'db\nworld\n',
      stderr: '',
    })
    expect(
      await run(join(dir, 'bin', 'ownops'), ['__complete', 'destinations'], {
        env: { ...env, OWNOPS_CONFIG: join(dir, 'conf', 'site.yml') },
      }),
    ).toEqual({ code: 0, stdout: 'offsite\n', stderr: '' })
    expect(await run(join(dir, 'bin', 'ownops'), ['__complete', 'targets'])).toEqual({ code: 0, stdout: '', stderr: '' })
    mkdirSync(join(dir, 'here'))
    writeFileSync(join(dir, 'here', 'ownops.yml'), CONFIG)
    expect(await run(join(dir, 'bin', 'ownops'), ['__complete', 'services'], { cwd: join(dir, 'here') })).toEqual({
      code: 0,
      stdout: 'mc\n',
      stderr: '',
    })
    expect(await run(join(dir, 'bin', 'ownops'), ['-c', 'nowhere.yml', '__complete', 'targets'])).toEqual({
      code: 0,
      stdout: '',
      stderr: '',
    })
  })
})
