/**
 * PrivateTmp= comes from what each unit touches, the config file and the env file included:
 * a unit whose config, state directory, checked SQLite file or backed-up data is under /tmp
 * must see the real /tmp. The runs below happen as the unit would run them: where the unit says
 * PrivateTmp=yes, in a mount namespace with a fresh tmpfs on /tmp (what systemd gives it).
 */
import { execFile } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config/load.js'
import { planSchedule } from '../../src/schedule/jobs.js'
import { renderSystemdUnits } from '../../src/schedule/units.js'
import { BIN, runCli, tempDir, testEnv, type CliResult } from '../helpers/cli.js'
import { startHttpPeer, type HttpPeer } from '../helpers/http-peer.js'

/** Runs ownops as `unit` would: with a private /tmp when it says PrivateTmp=yes. */
function asUnit(unit: string, args: string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  const argv = unit.includes('\nPrivateTmp=yes\n')
    ? [
        'unshare',
        [
          '-m',
          '--propagation',
          'private',
          'sh',
          '-c',
          'mount -t tmpfs ownops-private-tmp /tmp && exec "$@"',
          'sh',
          process.execPath,
          BIN,
          ...args,
        ],
      ]
    : [process.execPath, [BIN, ...args]]
  return new Promise((done) =>
    execFile(argv[0] as string, argv[1] as string[], { env, cwd: '/', timeout: 30_000 }, (error, stdout, stderr) =>
      done({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stdout, stderr }),
    ),
  )
}

describe('PrivateTmp= from what a unit touches', () => {
  let work: { dir: string; cleanup: () => void }
  let peer: HttpPeer
  let generated: Map<string, string>
  let env: NodeJS.ProcessEnv

  beforeAll(async () => {
    work = tempDir()
    peer = await startHttpPeer()
    writeFileSync(
      join(work.dir, 'ownops.yml'),
      `stateDir: ${join(work.dir, 'state')}
envFile: ${join(work.dir, 'ownops.env')}
notify:
  retries: 0
  channels:
    hook: { url: "\${HOOK_URL}", levels: [info, warning, error, critical] }
monitor:
  builtins: false
  checks:
    jobs: { kind: sqlite, path: ${join(work.dir, 'jobs.db')} }
`,
    )
    writeFileSync(join(work.dir, 'ownops.env'), `HOOK_URL=json://127.0.0.1:${peer.port}/hook\n`, { mode: 0o600 })
    env = { ...testEnv(work.dir), OWNOPS_STATE_DIR: '' }
    delete env.OWNOPS_STATE_DIR
    const r = await runCli(['-c', join(work.dir, 'ownops.yml'), '--json', 'schedule', 'generate'], { env, cwd: work.dir })
    expect(r.code, r.stderr).toBe(0)
    generated = new Map((JSON.parse(r.stdout) as { files: Array<{ name: string; content: string }> }).files.map((f) => [f.name, f.content]))
  })
  afterAll(async () => {
    await peer?.close()
    work?.cleanup()
  })

  it('monitor and ownops-notify@ see the real /tmp when the config, the env file or the state is there', () => {
    for (const name of ['ownops-monitor.service', 'ownops-notify@.service', 'ownops-cleanup.service']) {
      const unit = generated.get(name) as string
      expect(unit, name).not.toContain('PrivateTmp=yes')
      expect(unit, name).toContain('# No PrivateTmp=: this job works under /tmp.\n')
    }
  })

  it('as the units run them: a pause set by the monitor unit holds, and the notify unit delivers', async () => {
    const paused = await asUnit(
      generated.get('ownops-monitor.service') as string,
      ['-c', join(work.dir, 'ownops.yml'), 'monitor', '--pause', '1h'],
      env,
    )
    expect(paused.code, paused.stderr).toBe(0)
    const after = await runCli(['-c', join(work.dir, 'ownops.yml'), '--json', 'monitor'], { env, cwd: work.dir })
    expect(JSON.parse(after.stdout).checks[0]).toMatchObject({ status: 'maintenance', quiet: expect.stringMatching(/^paused until/) })
    const sent = await asUnit(
      generated.get('ownops-notify@.service') as string,
      ['-c', join(work.dir, 'ownops.yml'), 'notify', '--level', 'error', 'from the unit'],
      env,
    )
    expect(sent.code, sent.stderr).toBe(0)
    expect(peer.requests.map((q) => JSON.stringify(q.json)).join('\n')).toContain('from the unit')
  })

  it('a backup of data under /tmp: the backup unit sees it; units that do not touch /tmp keep a private one', () => {
    const dir = join(work.dir, 'plan')
    mkdirSync(dir)
    const file = join(dir, 'ownops.yml')
    writeFileSync(
      file,
      `stateDir: /var/lib/ownops\nbackup:\n  dir: /var/backups/ownops\n  targets:\n    scratch: { type: directory, path: /tmp/scratch-data }\n`,
    )
    const plan = planSchedule(loadConfig({ path: file, env: {}, defaultEnvFile: '/etc/ownops/ownops.env' }).config, {
      configFile: '/etc/ownops/ownops.yml',
    })
    const units = new Map(renderSystemdUnits(plan).map((f) => [f.name, f.content]))
    expect(units.get('ownops-backup.service')).not.toContain('PrivateTmp=yes')
    expect(units.get('ownops-monitor.service')).toContain('\nPrivateTmp=yes\n')
    expect(units.get('ownops-notify@.service')).toContain('\nPrivateTmp=yes\n')
  })
})
