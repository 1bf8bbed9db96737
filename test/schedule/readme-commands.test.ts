/**
 * The scheduling commands exactly as the README writes them, run with a test config:
 * - "Enable a timer by hand": `schedule generate --out /etc/systemd/system`, then
 *   `systemctl enable ownops-backup.timer`, with the real systemctl working offline on a
 *   directory tree (systemd is not PID 1 here: `--now`, daemon-reload and list-timers need it);
 * - "Your own crontab": as a real non-root user with Debian's crontab, whose other lines stay.
 */
import { execFile } from 'node:child_process'
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BIN, runCli, tempDir, testEnv, type CliResult } from '../helpers/cli.js'
import { createUser, isRoot, runAs, type TestUser } from '../helpers/users.js'

const ROOT = resolve(import.meta.dirname, '../..')
const README = readFileSync(join(ROOT, 'README.md'), 'utf8')

/** The commands of the first ```sh block after `marker` in the README, without comments. */
function readmeCommands(marker: string): string[] {
  const at = README.indexOf(marker)
  expect(at, `README has "${marker}"`).toBeGreaterThan(-1)
  const block = /```sh\n([\s\S]*?)```/.exec(README.slice(at))?.[1] ?? ''
  return block
    .split('\n')
    .map((l) => l.replace(/\s+#.*$/, '').trim())
    .filter(Boolean)
}

/** Splits a README command line into words (single quotes as sh reads them). */
function words(line: string): string[] {
  return [...line.matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? (m[2] as string))
}

function run(argv: string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  return new Promise((done) =>
    execFile(argv[0] as string, argv.slice(1), { env, timeout: 60_000 }, (error, stdout, stderr) =>
      done({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stdout, stderr }),
    ),
  )
}

let dir: string
let cleanup: () => void
beforeAll(() => {
  ;({ dir, cleanup } = tempDir('ownops-test-readme-'))
  chmodSync(dir, 0o755)
})
afterAll(() => cleanup())

const CONFIG = `backup:
  dir: /var/backups/ownops
  targets:
    db: { type: postgres, container: app-db }
schedule:
  boot:
    app: { compose: /srv/app/compose.yml }
`

describe('README: enable a timer by hand', () => {
  it('the README names these exact commands', () => {
    expect(readmeCommands('**Enable a timer by hand.**')).toEqual([
      'sudo ownops schedule generate --out /etc/systemd/system',
      'sudo systemctl daemon-reload',
      'sudo systemctl enable --now ownops-backup.timer',
      "systemctl list-timers 'ownops-*'",
    ])
  })

  /** Runs the README's lines against a root directory: ownops is bin/ownops.js, systemctl works offline there. */
  async function asReadme(root: string, env: NodeJS.ProcessEnv): Promise<string[]> {
    const ran: string[] = []
    for (const line of readmeCommands('**Enable a timer by hand.**')) {
      const argv = words(line.replace(/^sudo /, ''))
      if (argv[0] === 'ownops') {
        const result = await runCli(
          argv.slice(1).map((w) => (w === '/etc/systemd/system' ? join(root, w) : w)),
          { env, cwd: dir },
        )
        expect(result.code, `${line}\n${result.stderr}`).toBe(0)
      } else if (argv[0] === 'systemctl' && argv[1] === 'enable') {
        // Offline (--root): the same enable, without --now (starting needs systemd as PID 1).
        const result = await run(['systemctl', `--root=${root}`, ...argv.slice(1).filter((w) => w !== '--now')], {
          PATH: process.env.PATH,
          SYSTEMD_COLORS: '0',
        })
        expect(result.code, `${line}\n${result.stderr}`).toBe(0)
      } else {
        continue // daemon-reload and list-timers talk to a running systemd
      }
      ran.push(line)
    }
    return ran
  }

  it('after `schedule generate --out /etc/systemd/system`, `systemctl enable ownops-backup.timer` makes the symlink', async () => {
    writeFileSync(join(dir, 'ownops.yml'), CONFIG)
    const root = join(dir, 'generate-root')
    mkdirSync(join(root, 'etc/systemd/system'), { recursive: true })
    const env = testEnv(dir, { OWNOPS_CONFIG: join(dir, 'ownops.yml') })
    expect(await asReadme(root, env)).toEqual([
      'sudo ownops schedule generate --out /etc/systemd/system',
      'sudo systemctl enable --now ownops-backup.timer',
    ])
    const units = join(root, 'etc/systemd/system')
    expect(readlinkSync(join(units, 'timers.target.wants/ownops-backup.timer'))).toBe('/etc/systemd/system/ownops-backup.timer')
    expect(readdirSync(join(units, 'timers.target.wants'))).toEqual(['ownops-backup.timer'])
    const enabled = await run(['systemctl', `--root=${root}`, 'is-enabled', 'ownops-backup.timer'], { PATH: process.env.PATH })
    expect(enabled.stdout.trim()).toBe('enabled')
    // The boot unit enables the same way.
    expect((await run(['systemctl', `--root=${root}`, 'enable', 'ownops-boot-app.service'], { PATH: process.env.PATH })).code).toBe(0)
    expect(readlinkSync(join(units, 'multi-user.target.wants/ownops-boot-app.service'))).toBe('/etc/systemd/system/ownops-boot-app.service')
  })

  it('after `schedule install`, the same enable works and changes nothing', async () => {
    writeFileSync(join(dir, 'ownops.yml'), CONFIG)
    const root = join(dir, 'install-root')
    const env = testEnv(dir, { OWNOPS_CONFIG: join(dir, 'ownops.yml') })
    const install = await runCli(['schedule', 'install', '--root', root], { env, cwd: dir })
    expect(install.code, install.stderr).toBe(0)
    const link = join(root, 'etc/systemd/system/timers.target.wants/ownops-backup.timer')
    expect(readlinkSync(link)).toBe('/etc/systemd/system/ownops-backup.timer')
    const again = await run(['systemctl', `--root=${root}`, 'enable', 'ownops-backup.timer'], { PATH: process.env.PATH })
    expect(again.code, again.stderr).toBe(0)
    expect(readlinkSync(link)).toBe('/etc/systemd/system/ownops-backup.timer')
  })
})

describe.runIf(isRoot || process.env.CI === 'true')('README: your own crontab, as a user without root', () => {
  let alice: TestUser
  let env: NodeJS.ProcessEnv
  let results: string
  const OWN_LINES = 'MAILTO=alice@example.org\n# my own job\n17 * * * * /usr/bin/true my-own-job\n'

  beforeAll(() => {
    alice = createUser(dir)
    results = join(alice.home, 'results')
    mkdirSync(results)
    chownSync(results, alice.uid, alice.gid)
    const config = join(alice.home, 'ownops.yml')
    writeFileSync(
      config,
      `cleanup:\n  backups: false\n  rules:\n    results: { type: files, root: ${results}, match: "*.out", olderThan: 1d }\nschedule:\n  docker: ${join(alice.home, 'docker')}\n  jobs:\n    monitor: false\n    cleanup: { schedule: "0 4 * * *" }\n    first-sunday: { command: [cleanup, results], schedule: "0 2 1-7 * sun", randomDelay: 1m }\n  boot:\n    app: { compose: ${join(alice.home, 'app', 'compose.yml')} }\n`,
    )
    chownSync(config, alice.uid, alice.gid)
    env = {
      PATH: '/usr/local/bin:/usr/bin:/bin',
      HOME: alice.home,
      USER: alice.name,
      LOGNAME: alice.name,
      OWNOPS_CONFIG: config,
      OWNOPS_LOG_FORMAT: 'text',
      TZ: 'UTC',
    }
  })
  afterAll(() => alice?.remove())

  /** A README line as alice runs it: `ownops` is bin/ownops.js on this Node. */
  const asAlice = (line: string, input?: string) => {
    const argv = words(line)
    return runAs(alice, argv[0] === 'ownops' ? [process.execPath, BIN, ...argv.slice(1)] : argv, {
      env,
      ...(input !== undefined ? { input } : {}),
    })
  }

  it('the README names these exact commands', () => {
    expect(readmeCommands('**Your own crontab.**')).toEqual([
      'ownops schedule generate --crontab',
      'ownops schedule install --crontab',
      'crontab -l',
      'ownops schedule remove --crontab',
    ])
  })

  it("install puts the block into the crontab, idempotently, leaving the user's own lines; remove takes it out again", async () => {
    const [generate, install, list, remove] = readmeCommands('**Your own crontab.**') as [string, string, string, string]
    expect((await asAlice('crontab -', OWN_LINES)).code).toBe(0)

    const printed = await asAlice(generate)
    expect(printed.code, printed.stderr).toBe(0)
    const block = printed.stdout
    expect(block.split('\n')[0]).toMatch(
      /^# BEGIN ownops \(generated from .*ownops\.yml; change the config, then run `ownops schedule install --crontab`\)$/,
    )
    expect(block.endsWith('# END ownops\n')).toBe(true)
    const entries = block.split('\n').filter((l) => /^[0-9*@]/.test(l))
    expect(entries).toHaveLength(3)
    // No user field: the command follows the five fields; the same wrappers as cron.d; this Node by absolute path.
    const lockDir = join(alice.home, '.local/state/ownops/lock')
    expect(entries[0]).toBe(
      `0 4 * * * mkdir -p -m 700 ${lockDir} && OWNOPS_LOG_FORMAT=text flock -n ${lockDir}/cleanup.cron.lock timeout 3600 ${process.execPath} ${BIN} --config ${env.OWNOPS_CONFIG} cleanup 2>&1 | logger -t ownops-cleanup`,
    )
    expect(entries[1]).toMatch(/^0 2 1-7 \* sun sleep \$\(shuf -i 0-59 -n 1\) && mkdir -p -m 700 /)
    // Where systemd does not run, boot units are @reboot lines.
    if (!existsSync('/run/systemd/system'))
      expect(entries[2]).toMatch(/^@reboot mkdir -p -m 700 .* flock -n .*\/ownops-boot-app\.cron\.lock timeout 600 sh -c /)
    // The warning about both day fields comes with it.
    expect(printed.stderr).toContain('schedule "0 2 1-7 * sun" runs on day-of-month 1-7 OR day-of-week sun')

    const first = await asAlice(install)
    expect(first.code, first.stderr).toBe(0)
    expect(first.stdout).toContain(`create ownops' lines in the crontab of ${alice.name}`)
    const installed = (await asAlice(list)).stdout
    expect(installed).toBe(`${OWN_LINES}${block}`)
    const listed = JSON.parse((await asAlice('ownops --json schedule list')).stdout)
    expect(listed.jobs.map((j: { name: string; installed: string[] }) => `${j.name} ${j.installed.join('+')}`)).toEqual([
      'cleanup crontab',
      'first-sunday crontab',
    ])

    const second = await asAlice(install)
    expect(second.code).toBe(0)
    expect(second.stdout).toContain(`crontab of ${alice.name}: nothing to do`)
    expect((await asAlice(list)).stdout).toBe(installed)

    // A changed config replaces the block in place; lines the user added after it stay after it.
    expect((await asAlice('crontab -', `${installed}# added later\n5 5 * * * /usr/bin/true later\n`)).code).toBe(0)
    writeFileSync(env.OWNOPS_CONFIG as string, readFileSync(env.OWNOPS_CONFIG as string, 'utf8').replace('"0 4 * * *"', '"30 4 * * *"'))
    expect((await asAlice(install)).stdout).toContain(`update ownops' lines in the crontab of ${alice.name}`)
    const updated = (await asAlice(list)).stdout
    expect(updated.startsWith(OWN_LINES)).toBe(true)
    expect(updated).toContain('\n30 4 * * * mkdir -p')
    expect(updated.endsWith('# END ownops\n# added later\n5 5 * * * /usr/bin/true later\n')).toBe(true)

    const removed = await asAlice(remove)
    expect(removed.code, removed.stderr).toBe(0)
    expect((await asAlice(list)).stdout).toBe(`${OWN_LINES}# added later\n5 5 * * * /usr/bin/true later\n`)
    expect((await asAlice(remove)).stdout).toContain('nothing to do')
  })

  it("an entry does its job when cron's shell runs it as the user: lock directory, this Node, the cleanup", async () => {
    const old = new Date(Date.UTC(2020, 0, 1))
    for (const f of ['x.out', 'y.out']) {
      writeFileSync(join(results, f), 'x')
      chownSync(join(results, f), alice.uid, alice.gid)
      utimesSync(join(results, f), old, old)
    }
    const block = (await asAlice('ownops schedule generate --crontab')).stdout
    const entry = block.split('\n').find((l) => l.includes('/cleanup.cron.lock')) as string
    // cron runs the rest of the line with /bin/sh, % escapes undone, in the user's home, with HOME, LOGNAME and PATH=/usr/bin:/bin.
    const command = entry.split(' ').slice(5).join(' ').replace(/\\%/g, '%')
    const result = await runAs(alice, ['/bin/sh', '-c', command], {
      env: { HOME: alice.home, LOGNAME: alice.name, PATH: '/usr/bin:/bin', SHELL: '/bin/sh' },
    })
    expect(existsSync(join(results, 'x.out')), result.stderr).toBe(false)
    expect(existsSync(join(results, 'y.out'))).toBe(false)
    expect(existsSync(join(alice.home, '.local/state/ownops/lock'))).toBe(true)
  })

  it.runIf(!existsSync('/run/systemd/system'))(
    "the @reboot line of a boot unit waits for the engine, then runs compose up -d in the project's directory",
    async () => {
      const app = join(alice.home, 'app')
      mkdirSync(app, { recursive: true })
      chownSync(app, alice.uid, alice.gid)
      // A docker executable that answers `docker info` and records what it was asked to do.
      const record = join(alice.home, 'docker-calls')
      writeFileSync(join(alice.home, 'docker'), `#!/bin/sh\n[ "$1" = info ] && exit 0\necho "$(pwd): $*" >> ${record}\n`)
      chmodSync(join(alice.home, 'docker'), 0o755)
      chownSync(join(alice.home, 'docker'), alice.uid, alice.gid)
      const block = (await asAlice('ownops schedule generate --crontab')).stdout
      const entry = block.split('\n').find((l) => l.startsWith('@reboot ')) as string
      const syntax = await runAs(alice, ['/bin/sh', '-n', '-c', entry.slice('@reboot '.length)], { env: { PATH: '/usr/bin:/bin' } })
      expect(syntax.code, syntax.stderr).toBe(0)
      await runAs(alice, ['/bin/sh', '-c', entry.slice('@reboot '.length).replace(/\\%/g, '%')], {
        env: { HOME: alice.home, PATH: '/usr/bin:/bin' },
      })
      expect(readFileSync(record, 'utf8')).toBe(`${app}: compose -f ${join(app, 'compose.yml')} up -d\n`)
      rmSync(record)
    },
  )
})
