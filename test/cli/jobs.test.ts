/**
 * Jobs — what timers and cron run — against real HTTP peers on loopback: each job pings a
 * heartbeat of its own (start, then success or its exit status), and only jobs and
 * `ownops notify` retry the notification outbox, within a bounded time; read-only and
 * interactive commands never wait for it.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { OUTBOX_STATE, type OutboxEntry } from '../../src/notify/outbox.js'
import { runCli, tempDir, testEnv } from '../helpers/cli.js'
import { peer } from '../helpers/http-peer.js'

let dir: string
let cleanup: () => void
beforeEach(() => {
  ;({ dir, cleanup } = tempDir('ownops-test-jobs-'))
})
afterEach(async () => {
  cleanup()
})

describe('heartbeats: one per job', () => {
  const BACKUP_CHECK = '0b1a2c3d-0000-4000-8000-00000000000b'
  const MONITOR_CHECK = '0b1a2c3d-0000-4000-8000-00000000000d'

  it('backup and monitor ping checks of their own; cleanup, verify --drill, restart and lock run ping too; failures use /<exit status>', async () => {
    const hc = await peer()
    const base = `hc://127.0.0.1:${hc.port}/ping`
    writeFileSync(
      join(dir, 'ownops.yml'),
      [
        'notify:',
        '  retries: 0',
        '  channels:',
        `    hc-backup: { url: "${base}/${BACKUP_CHECK}", commands: [backup] }`,
        `    hc-monitor: { url: "${base}/${MONITOR_CHECK}", commands: [monitor] }`,
        `    every-job: { url: "${base}/ping-key/{job}" }`,
        'backup:',
        `  dir: ${join(dir, 'backups')}`,
        '  targets:',
        `    db: { type: sqlite, path: ${join(dir, 'missing', 'db.sqlite')} }`, // fails
        'monitor:',
        '  builtins: false',
        '  checks:',
        '    up: { kind: command, command: ["true"] }',
      ].join('\n'),
    )
    const env = testEnv(dir, { DOCKER_HOST: `unix://${join(dir, 'no-docker.sock')}` })
    const paths = (prefix: string) =>
      hc.requests
        .map((r) => r.path)
        .filter((p) => p.startsWith(prefix))
        .map((p) => p.slice(prefix.length).replace(/rid=[0-9a-f-]{36}/, 'rid=R'))

    const backup = await runCli(['backup'], { env, cwd: dir })
    expect(backup.code).toBe(1)
    const monitor = await runCli(['monitor'], { env, cwd: dir })
    expect(monitor.code, monitor.stderr).toBe(0)
    // The failed backup stays failed: monitor's success goes to monitor's own check.
    expect(paths(`/ping/${BACKUP_CHECK}`)).toEqual(['/start?rid=R', '/1?rid=R'])
    expect(paths(`/ping/${MONITOR_CHECK}`)).toEqual(['/start?rid=R', '?rid=R'])
    const failed = hc.requests.find((r) => r.path.startsWith(`/ping/${BACKUP_CHECK}/1`))
    expect(failed?.text).toMatch(/backup of db failed/) // the run's log tail
    const rid = (path: string) => /rid=([0-9a-f-]+)/.exec(path)?.[1]
    const backupPings = hc.requests.filter((r) => r.path.startsWith(`/ping/${BACKUP_CHECK}`)).map((r) => rid(r.path))
    expect(backupPings[0]).toBe(backupPings[1]) // start and end of one run pair up

    expect((await runCli(['cleanup'], { env, cwd: dir })).code).toBe(0)
    expect((await runCli(['verify', '--drill'], { env, cwd: dir })).code).toBe(1) // no backup to drill
    expect((await runCli(['restart', 'app'], { env, cwd: dir })).code).toBe(69) // no Docker engine here
    expect((await runCli(['lock', 'run', '--', 'sh', '-c', 'exit 3'], { env, cwd: dir })).code).toBe(3)
    expect((await runCli(['lock', 'run', '--name', 'Nightly rsync', '--', 'true'], { env, cwd: dir })).code).toBe(0)
    expect(paths('/ping/ping-key/')).toEqual([
      'backup/start?rid=R',
      'backup/1?rid=R',
      'monitor/start?rid=R',
      'monitor?rid=R',
      'cleanup/start?rid=R',
      'cleanup?rid=R',
      'verify-drill/start?rid=R',
      'verify-drill/1?rid=R',
      'restart-app/start?rid=R',
      'restart-app/69?rid=R',
      'lock-run/start?rid=R',
      'lock-run/3?rid=R',
      'lock-run-nightly-rsync/start?rid=R',
      'lock-run-nightly-rsync?rid=R',
    ])
    // Read-only commands and dry runs ping nothing.
    const before = hc.requests.length
    for (const args of [
      ['backups'],
      ['config', 'show'],
      ['lock', 'status'],
      ['monitor', '--dry-run'],
      ['cleanup', '--dry-run'],
      ['backup', '--dry-run'],
    ])
      await runCli(args, { env, cwd: dir })
    expect(hc.requests.length).toBe(before)
  })

  it('config validate warns about a heartbeat channel of one check that every job would ping', async () => {
    writeFileSync(
      join(dir, 'ownops.yml'),
      `notify:\n  channels:\n    ping: { url: "hc://${BACKUP_CHECK}" }\n    per-job: { url: "hc://ping-key-0123456789/{job}" }\n    backup-only: { url: "hc://${MONITOR_CHECK}", commands: [backup] }\n`,
    )
    const r = await runCli(['config', 'validate'], { env: testEnv(dir), cwd: dir })
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(
      /ownops\.yml:3 warning: notify\.channels\.ping: every job pings this one check: a failed backup is hidden by the next successful monitor run/,
    )
    expect(r.stdout).toMatch(/commands: \[backup\]/)
    expect(r.stdout).not.toMatch(/per-job|backup-only/)
  })
})

describe('the outbox is retried by jobs and notify only, within a bounded time', () => {
  it('a hanging webhook in the outbox: read-only and interactive commands do not touch it; notify tries once per channel and ends; the next scheduled job delivers everything in order', async () => {
    const hook = await peer()
    hook.reply({ hang: true })
    writeFileSync(
      join(dir, 'ownops.yml'),
      `notify:\n  timeout: 1s\n  retries: 0\n  channels:\n    hook: { url: "json://127.0.0.1:${hook.port}/x", levels: [info, warning, error, critical] }\nmonitor:\n  builtins: false\n  checks:\n    up: { kind: command, command: ["true"] }\n`,
    )
    const env = testEnv(dir, { DOCKER_HOST: `unix://${join(dir, 'no-docker.sock')}` })
    const outbox = () => JSON.parse(readFileSync(join(dir, 'state', `${OUTBOX_STATE}.json`), 'utf8')) as OutboxEntry[]
    for (const title of ['one', 'two']) {
      const r = await runCli(['notify', '--level', 'error', title], { env, cwd: dir })
      expect(r.code).toBe(1) // not delivered, kept
    }
    // The second notify tried the outbox once more ('one'), not what it queued itself.
    expect(outbox().map((e) => [e.event.title, e.attempts])).toEqual([
      ['one', 2],
      ['two', 1],
    ])

    hook.requests.length = 0
    for (const args of [
      ['lock', 'status'],
      ['config', 'show'],
      ['backups'],
      ['monitor', '--dry-run'],
      ['restart', '--list'],
      ['schedule', 'list'],
      ['doctor'],
    ])
      await runCli(args, { env, cwd: dir })
    expect(hook.requests).toEqual([]) // none of them waited for the webhook
    expect(outbox().map((e) => [e.event.title, e.attempts])).toEqual([
      ['one', 2],
      ['two', 1],
    ])

    // notify: the new message, then one attempt at the outbox for this channel; the rest waits.
    const third = await runCli(['notify', '--level', 'error', 'three'], { env, cwd: dir })
    expect(third.code).toBe(1)
    expect(hook.requests.map((r) => (r.json as { title: string }).title)).toEqual(['three', 'one'])
    expect(outbox().map((e) => [e.event.title, e.attempts])).toEqual([
      ['one', 3],
      ['two', 1],
      ['three', 1],
    ])

    // A job run by a person at a terminal does not wait for it either.
    hook.requests.length = 0
    expect((await runCli(['monitor'], { env, cwd: dir, stdinIsTTY: true })).code).toBe(0)
    expect(hook.requests).toEqual([])

    // The webhook is back: the next job (monitor, every 5 minutes) delivers them, oldest first.
    hook.requests.length = 0
    hook.reply({ status: 204 })
    const m = await runCli(['monitor'], { env, cwd: dir })
    expect(m.code, m.stderr).toBe(0)
    expect(hook.requests.map((r) => (r.json as { title: string }).title)).toEqual(['one', 'two', 'three'])
    expect(new Set(hook.requests.map((r) => r.headers['idempotency-key'])).size).toBe(3)
    expect(existsSync(join(dir, 'state', `${OUTBOX_STATE}.json`))).toBe(false)
  })
})
