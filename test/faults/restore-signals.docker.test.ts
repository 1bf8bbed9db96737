/**
 * Signals at every phase of a restore, sent to a real `ownops restore` process while a real
 * service container uses the data. Whatever the phase, the run ends on its own with 130/143
 * in a state that is either the old data, or the restored data with an undo record; the
 * service runs again; no staging copy is left. A second signal never cuts a rollback short.
 * The process is stopped at each phase by a fault point (OWNOPS_FAULT_PAUSE), so the signal
 * lands exactly there.
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { BIN, runCli, tempDir, testEnv } from '../helpers/cli.js'
import { cleanupAll, describeDocker, getDocker, runContainer, uniqueName } from '../helpers/docker.js'

describeDocker('faults: signals during a restore', () => {
  let work: { dir: string; cleanup: () => void }
  let site: string
  let flag: string
  let app: { name: string }
  const config = () => join(work.dir, 'ownops.yml')

  beforeAll(async () => {
    work = tempDir()
    site = join(work.dir, 'site')
    flag = join(work.dir, 'flag')
    mkdirSync(site)
    mkdirSync(flag)
    writeFileSync(join(site, 'data.txt'), 'backed up')
    app = await runContainer({
      name: uniqueName('sig-app'),
      cmd: ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 1; done'],
      volumes: [`${site}:/srv/site`, `${flag}:/flag`],
      healthcheck: { test: ['CMD-SHELL', 'test ! -f /flag/unhealthy'], intervalMs: 300, retries: 1 },
    })
    // A health wait far longer than any test: a signal must end it, not the timeout.
    writeFileSync(
      config(),
      `backup:\n  dir: ${join(work.dir, 'backups')}\n  targets:\n    site: { type: directory, path: ${site}, compression: gzip }\nrestore: { healthTimeout: 10m }\n`,
    )
    const b = await runCli(['-c', config(), 'backup', 'site'], { env: testEnv(work.dir), cwd: work.dir })
    expect(b.code, b.stderr).toBe(0)
  }, 120_000)

  afterAll(async () => {
    await cleanupAll()
    work?.cleanup()
  })

  /** Runs a restore, waits for `waitFor` on stderr, sends the signals (one per match of each pattern). */
  async function interrupt(
    extraEnv: Record<string, string>,
    steps: Array<[RegExp, NodeJS.Signals]>,
  ): Promise<{ code: number | null; stderr: string }> {
    const child = spawn(process.execPath, [BIN, '-c', config(), 'restore', 'site', '--yes', '--no-safety-copy'], {
      env: testEnv(work.dir, extraEnv),
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stderr = ''
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
    child.stdout.on('data', (c: Buffer) => (stderr += c.toString()))
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    for (const [pattern, signal] of steps) {
      for (let i = 0; i < 2000 && !pattern.test(stderr) && child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 10))
      expect(stderr, `waiting for ${String(pattern)}`).toMatch(pattern)
      child.kill(signal)
    }
    return { code: await exited, stderr }
  }

  async function expectConsistent(): Promise<void> {
    const content = readFileSync(join(site, 'data.txt'), 'utf8')
    const undo = join(work.dir, 'state', 'restore-site.json')
    if (content === 'backed up') {
      // The restored data is live: the undo record says where the old data is, and it is there.
      expect(existsSync(undo)).toBe(true)
      const record = JSON.parse(readFileSync(undo, 'utf8')) as { kept: string }
      expect(readFileSync(join(record.kept, 'data.txt'), 'utf8')).toBe('changed')
    } else {
      expect(content).toBe('changed')
    }
    expect(readdirSync(work.dir).filter((n) => /ownops-restore|failed-restore/.test(n))).toEqual([])
    const state = (await getDocker().getContainer(app.name).inspect()).State
    expect(state.Running).toBe(true)
  }

  const phases: Array<[string, NodeJS.Signals, number]> = [
    ['stage', 'SIGTERM', 143],
    ['stop', 'SIGINT', 130],
    ['swap', 'SIGTERM', 143],
    ['start', 'SIGINT', 130],
    ['health', 'SIGTERM', 143],
  ]

  it.each(phases)(
    '%s: %s ends the run with the old data, or the new data and an undo record',
    async (phase, signal, code) => {
      writeFileSync(join(site, 'data.txt'), 'changed')
      rmSync(join(work.dir, 'state', 'restore-site.json'), { force: true })
      const r = await interrupt({ OWNOPS_FAULT_PAUSE: `restore:${phase}` }, [[new RegExp(`fault point restore:${phase}`), signal]])
      expect(r.code, r.stderr).toBe(code)
      await expectConsistent()
      // An interruption once the data is swapped rolls back.
      if (phase === 'start' || phase === 'health') expect(readFileSync(join(site, 'data.txt'), 'utf8')).toBe('changed')
    },
    60_000,
  )

  it('a single SIGTERM during a long health wait ends it at once and rolls back', async () => {
    writeFileSync(join(site, 'data.txt'), 'changed')
    writeFileSync(join(flag, 'unhealthy'), '')
    try {
      const r = await interrupt({}, [[/started again/, 'SIGTERM']])
      expect(r.code, r.stderr).toBe(143)
      expect(r.stderr).toMatch(/rolled back: the data is as it was before the restore/)
      expect(readFileSync(join(site, 'data.txt'), 'utf8')).toBe('changed')
      await expectConsistent()
    } finally {
      rmSync(join(flag, 'unhealthy'), { force: true })
    }
  }, 60_000)

  it('a second SIGINT during the rollback does not cut it short', async () => {
    writeFileSync(join(site, 'data.txt'), 'changed')
    const r = await interrupt({ OWNOPS_FAULT_PAUSE: 'restore:health,restore:rollback' }, [
      [/fault point restore:health/, 'SIGINT'],
      [/fault point restore:rollback/, 'SIGINT'],
    ])
    expect(r.code, r.stderr).toBe(130)
    expect(r.stderr).toMatch(/this is not interrupted/)
    expect(r.stderr).toMatch(/rolled back: the data is as it was before the restore/)
    expect(readFileSync(join(site, 'data.txt'), 'utf8')).toBe('changed')
    expect(existsSync(join(work.dir, 'state', 'restore-site.json'))).toBe(false)
    await expectConsistent()
  }, 60_000)
})
