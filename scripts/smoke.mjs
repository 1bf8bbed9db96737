// The commands an installed ownops must run away from its source tree, for scripts/pack-check.mjs
// (the npm package installed globally) and scripts/sea-check.mjs (the single executable): each
// prints one line per step and throws at the first that fails.
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'

/**
 * @param {object} o
 * @param {string[]} o.command   what starts ownops, e.g. [prefix/bin/ownops] or [qemu, binary]
 * @param {string} o.work        an empty directory: the working directory, HOME and all data
 * @param {string} o.version     what --version must print
 * @param {string} o.runtime     how generated units must start ownops (ExecStart= before the arguments)
 * @param {string} [o.example]   an example config to validate
 * @param {'full' | 'basic'} [o.level] basic: --version, doctor, backup, verify and the units' command only
 */
export function smoke({ command, work, version, runtime, example, level = 'full' }) {
  const full = level === 'full'
  const env = {
    PATH: process.env.PATH,
    HOME: work,
    OWNOPS_STATE_DIR: join(work, 'state'),
    OWNOPS_LOCK_DIR: join(work, 'lock'),
    OWNOPS_LOG_FORMAT: 'json',
    ...(process.env.DOCKER_HOST ? { DOCKER_HOST: process.env.DOCKER_HOST } : {}),
  }
  const started = Date.now()
  const run = (args, { codes = [0] } = {}) => {
    const t = Date.now()
    const r = spawnSync(command[0], [...command.slice(1), ...args], { cwd: work, env, encoding: 'utf8', maxBuffer: 64 << 20 })
    const ms = Date.now() - t
    if (!codes.includes(r.status ?? -1)) {
      throw new Error(`ownops ${args.join(' ')}: exit ${r.status ?? r.signal} (expected ${codes.join(' or ')})\n${r.stdout}\n${r.stderr}`)
    }
    return { ...r, ms }
  }
  const ok = (what, r) => process.stdout.write(`  ok  ${what}${r ? ` (${r.ms} ms)` : ''}\n`)

  const v = run(['--version'])
  if (v.stdout.trim() !== version) throw new Error(`ownops --version printed ${JSON.stringify(v.stdout)}, expected ${version}`)
  ok(`--version: ${version}`, v)

  if (full) {
    const bare = run([])
    if (!bare.stdout.includes('Usage: ownops')) throw new Error('bare ownops printed no help')
    ok('ownops (bare): its help', bare)
    const seen = []
    const walk = (path) => {
      const r = run([...path, '--help'])
      if (!r.stdout.startsWith(`Usage: ownops${path.length > 0 ? ` ${path.join(' ')}` : ''}`)) {
        throw new Error(`ownops ${path.join(' ')} --help: no usage line\n${r.stdout}`)
      }
      seen.push(path.join(' ') || '(top)')
      const section = r.stdout.split(/^Commands:\n/m)[1]?.split(/\n\n/)[0] ?? ''
      for (const m of section.matchAll(/^ {2}([a-z][\w-]*)/gm)) if (m[1] !== 'help') walk([...path, m[1]])
    }
    walk([])
    ok(`--help of ${seen.length} commands: ${seen.join(', ')}`)
    const bash = run(['completion', 'bash'])
    if (!bash.stdout.includes('complete')) throw new Error('ownops completion bash printed no completion script')
    ok('completion bash', bash)
  }

  ok('doctor', run(['doctor']))

  if (full && example !== undefined) ok(`config validate ${example}`, run(['-c', example, 'config', 'validate']))

  // A directory target: back it up, list, verify, restore beside it, compare.
  const data = join(work, 'data')
  mkdirSync(join(data, 'sub'), { recursive: true })
  writeFileSync(join(data, 'hello.txt'), 'hello from ownops\n')
  writeFileSync(join(data, 'sub', 'random.bin'), randomBytes(256 * 1024))
  const config = join(work, 'ownops.yml')
  writeFileSync(config, `backup:\n  dir: ${join(work, 'backups')}\n  targets:\n    site: { type: directory, path: ${data} }\n`)
  const c = ['-c', config]
  if (full) ok('config validate (a directory target)', run([...c, 'config', 'validate']))
  ok('backup site', run([...c, 'backup', 'site']))
  ok('verify', run([...c, 'verify']))
  const cron = run([...c, 'schedule', 'generate', '--cron'])
  if (!cron.stdout.includes(` ${runtime} --config ${config} backup`))
    throw new Error(`schedule generate --cron: not run by ${runtime}\n${cron.stdout}`)
  ok(`schedule generate --cron: ${runtime} --config ${config} backup`, cron)
  if (full) rest(run, ok, c, work, data, config, runtime)
  process.stdout.write(`  all steps in ${((Date.now() - started) / 1000).toFixed(1)} s\n`)
}

function rest(run, ok, c, work, data, config, runtime) {
  const list = run([...c, '--json', 'backups'])
  if (!list.stdout.includes('"site"')) throw new Error(`ownops backups --json lists no backup of site:\n${list.stdout}`)
  ok('backups', list)
  const restored = join(work, 'restored')
  ok(`restore site --to ${relative(work, restored)}`, run([...c, 'restore', 'site', '--to', restored, '--yes']))
  for (const file of files(data)) {
    const a = readFileSync(join(data, file))
    const b = readFileSync(join(restored, file))
    if (!a.equals(b)) throw new Error(`restored ${file} differs from the original`)
  }
  ok(`restored files equal the originals (${files(data).length})`)
  ok('monitor (exit 0 or 1)', run([...c, 'monitor'], { codes: [0, 1] }))
  const install = run([...c, 'schedule', 'install', '--dry-run'])
  const exec = `ExecStart=${runtime} --config ${config} backup`
  if (!install.stdout.includes(exec)) throw new Error(`schedule install --dry-run: no "${exec}"\n${install.stdout}`)
  ok(`schedule install --dry-run: ${exec}`, install)
}

function files(dir, prefix = '') {
  return readdirSync(join(dir, prefix)).flatMap((name) =>
    statSync(join(dir, prefix, name)).isDirectory() ? files(dir, join(prefix, name)) : [join(prefix, name)],
  )
}
