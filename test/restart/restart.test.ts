import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { parseDuration } from '../../src/duration.js'
import {
  chatCommand,
  countdownOffsets,
  detachArgv,
  formatLeft,
  parsePlayerList,
  renderMessage,
  restartTime,
} from '../../src/restart/plan.js'
import { runCli, tempDir, testEnv } from '../helpers/cli.js'

describe('restart plan', () => {
  const now = new Date(2026, 5, 15, 3, 30, 0) // local time

  it('--in and --at: durations, local times, a bare time of day, ISO with a zone; the past is an error', () => {
    expect(restartTime({ in: '30m' }, now).getTime() - now.getTime()).toBe(30 * 60_000)
    expect(restartTime({}, now)).toEqual(now)
    expect(restartTime({ at: '2026-06-15 04:00' }, now)).toEqual(new Date(2026, 5, 15, 4, 0, 0))
    expect(restartTime({ at: '04:00' }, now)).toEqual(new Date(2026, 5, 15, 4, 0, 0))
    expect(restartTime({ at: '03:00' }, now)).toEqual(new Date(2026, 5, 16, 3, 0, 0)) // passed today: tomorrow
    expect(restartTime({ at: '2026-06-16T04:00:00+09:00' }, now).toISOString()).toBe('2026-06-15T19:00:00.000Z')
    expect(() => restartTime({ at: '2026-06-15 03:00' }, now)).toThrow(/in the past/)
    expect(() => restartTime({ at: 'tomorrow' }, now)).toThrow(/not a time/)
    expect(() => restartTime({ at: '2026-06-15' }, now)).toThrow(/not a time/)
    expect(() => restartTime({ in: '5 minutes' }, now)).toThrow(/not a duration/)
    expect(() => restartTime({ in: '5m', at: '04:00' }, now)).toThrow(/exclude each other/)
  })

  it('warns only at the offsets within the delay, longest first', () => {
    const defaults = ['30m', '15m', '10m', '5m', '1m', '30s', '10s'].map((d) => parseDuration(d) as number)
    expect(countdownOffsets(5 * 60_000, defaults).map(formatLeft)).toEqual(['5 minutes', '1 minute', '30 seconds', '10 seconds'])
    expect(countdownOffsets(30 * 60_000, defaults)).toHaveLength(7)
    expect(countdownOffsets(0, defaults)).toEqual([])
    expect(countdownOffsets(20_000, [10_000, 10_000, 30_000])).toEqual([10_000])
  })

  it('messages and the chat commands that carry them', () => {
    expect(formatLeft(90 * 60_000)).toBe('1 hour 30 minutes')
    expect(formatLeft(1000)).toBe('1 second')
    expect(renderMessage('Server restart in {left}{reason}', { left: 300_000, reason: 'update to 1.21' })).toBe(
      'Server restart in 5 minutes: update to 1.21',
    )
    expect(renderMessage('Restart at {time}{reason}', { time: new Date(2026, 5, 15, 4, 0, 0) })).toBe('Restart at 04:00')
    const tellraw = chatCommand('tellraw', 'Server restart in 5 minutes "now"\nreally', 'warn')
    expect(tellraw.startsWith('tellraw @a ')).toBe(true)
    expect(JSON.parse(tellraw.slice('tellraw @a '.length))).toEqual([
      { text: '[Server] ', color: 'gray' },
      { text: 'Server restart in 5 minutes "now" really', color: 'gold', bold: false },
    ])
    expect(chatCommand('say', 'bye', 'now')).toBe('say bye')
  })

  it('reads the player count from both forms of the list reply', () => {
    expect(parsePlayerList('There are 2 of a max of 20 players online: alice, bob')).toEqual({
      online: 2,
      max: 20,
      names: ['alice', 'bob'],
    })
    expect(parsePlayerList('There are 0 of a max of 20 players online: ')).toEqual({ online: 0, max: 20, names: [] })
    expect(parsePlayerList('There are 1/10 players online:\nsteve')).toEqual({ online: 1, max: 10, names: ['steve'] })
    expect(parsePlayerList('§6There are §c3§6 of a max of §c50§6 players online: a, b, c')?.online).toBe(3)
    expect(parsePlayerList('Unknown command')).toBeUndefined()
  })

  it('--detach: systemd-run with a transient timer whose service gets SIGINT on cancel', () => {
    const argv = detachArgv({
      unit: 'ownops-restart-mc',
      fireAt: new Date(now.getTime() + 25 * 60_000),
      now,
      command: ['/usr/bin/node', '/opt/ownops/bin/ownops.js', 'restart', 'mc', '--at', '2026-06-15T01:00:00.000Z', '--safe'],
      description: 'ownops restart mc',
    })
    expect(argv).toEqual([
      'systemd-run',
      '--unit=ownops-restart-mc',
      '--description=ownops restart mc',
      '--on-active=1500s',
      '--timer-property=AccuracySec=1s',
      '--property=Type=exec',
      '--property=KillSignal=SIGINT',
      '--property=TimeoutStopSec=2min',
      '--collect',
      '--',
      '/usr/bin/node',
      '/opt/ownops/bin/ownops.js',
      'restart',
      'mc',
      '--at',
      '2026-06-15T01:00:00.000Z',
      '--safe',
    ])
  })
})

describe('restart command', () => {
  let dir: string
  let cleanup: () => void
  beforeEach(() => ({ dir, cleanup } = tempDir('ownops-restart-')))
  afterEach(() => cleanup())

  it('config: an RCON announcer without rcon is an error with its line', async () => {
    writeFileSync(join(dir, 'ownops.yml'), 'restart:\n  services:\n    mc:\n      announce: tellraw\n      save: rcon\n')
    const r = await runCli(['config', 'validate'], { env: testEnv(dir), cwd: dir })
    expect(r.code).toBe(78)
    expect(r.stderr + r.stdout).toMatch(
      /ownops\.yml:4 restart\.services\.mc\.announce: announce: tellraw speaks over RCON, and this service has no rcon/,
    )
    expect(r.stderr + r.stdout).toMatch(/ownops\.yml:5 restart\.services\.mc\.save: save: rcon needs rcon/)
    writeFileSync(join(dir, 'ownops.yml'), 'restart:\n  services:\n    mc:\n      warnAt: [5m, soon]\n')
    const w = await runCli(['config', 'validate'], { env: testEnv(dir), cwd: dir })
    expect(w.code).toBe(78)
    expect(w.stderr + w.stdout).toMatch(/ownops\.yml:4 restart\.services\.mc\.warnAt\[1\]: expected a duration .*got "soon"/)
  })

  it('--dry-run prints the plan; a time in the past, a missing service and --detach without systemd say so', async () => {
    writeFileSync(join(dir, 'ownops.yml'), 'restart:\n  services:\n    mc:\n      rcon: { password: x }\n      warnAt: [10m, 5m, 1m]\n')
    const plan = await runCli(['restart', 'mc', '--safe', '--in', '7m', '--dry-run'], { env: testEnv(dir), cwd: dir })
    expect(plan.code).toBe(0)
    expect(plan.stdout).toMatch(
      /^restart mc \(container mc\) at .*, in 7 minutes\n {2}warn players \(RCON tellraw\) 5 minutes, 1 minute before\n {2}save: RCON save-all flush\n {2}stop gracefully \(30s\), start, wait until/,
    )
    const past = await runCli(['restart', 'mc', '--at', '2001-01-01 00:00'], { env: testEnv(dir), cwd: dir })
    expect(past.code).toBe(2)
    expect(past.stderr).toMatch(/is in the past/)
    const detach = await runCli(['restart', 'mc', '--safe', '--in', '30m', '--detach'], { env: testEnv(dir), cwd: dir })
    expect(detach.code).toBe(69)
    expect(detach.stderr).toMatch(/--detach needs systemd, which is not running here/)
    expect(detach.stderr).toMatch(/ownops restart mc --safe --in 30m/)
    const cancel = await runCli(['restart', '--cancel', 'mc'], { env: testEnv(dir), cwd: dir })
    expect(cancel.code).toBe(1)
    expect(cancel.stderr).toMatch(/no restart of mc is pending/)
  })

  it('without a service: the only one, or restart.default; several and no default: exit 2 naming them; safe: true is the countdown without --safe', async () => {
    const config = (extra: string) =>
      writeFileSync(
        join(dir, 'ownops.yml'),
        `restart:\n  services:\n    mc:\n      rcon: { password: x }\n      warnAt: [30m, 5m, 10s]\n      safe: true\n${extra}`,
      )
    config('')
    const only = await runCli(['restart', '--in', '30m', '--dry-run'], { env: testEnv(dir), cwd: dir })
    expect(only.code, only.stderr).toBe(0)
    expect(only.stdout).toMatch(
      /^restart mc \(container mc\) at .*, in 30 minutes\n {2}warn players \(RCON tellraw\) 30 minutes, 5 minutes, 10 seconds before\n {2}save: RCON save-all flush\n {2}stop gracefully/,
    )
    const unsafe = await runCli(['restart', '--in', '30m', '--no-safe', '--dry-run'], { env: testEnv(dir), cwd: dir })
    expect(unsafe.stdout).not.toMatch(/warn players|save:/)

    config('    web:\n      container: app\n    db: {}\n')
    const several = await runCli(['restart', '--in', '30m'], { env: testEnv(dir), cwd: dir })
    expect(several.code).toBe(2)
    expect(several.stderr).toMatch(/which service\? 3 are configured: mc, web, db/)
    expect(several.stderr).toMatch(/restart\.default/)

    config('    web:\n      container: app\n  default: web\n')
    const chosen = await runCli(['--json', 'restart', '--in', '30m', '--dry-run'], { env: testEnv(dir), cwd: dir })
    expect(chosen.code, chosen.stderr).toBe(0)
    expect(JSON.parse(chosen.stdout)).toMatchObject({ dryRun: true, service: 'web', container: 'app', warnings: [] })

    config('  default: mcc\n')
    const wrong = await runCli(['config', 'validate'], { env: testEnv(dir), cwd: dir })
    expect(wrong.code).toBe(78)
    expect(wrong.stdout).toMatch(/ownops\.yml:7 restart\.default: no service "mcc" in restart\.services \(did you mean "mc"\?\)/)
  })
})
