/**
 * Faults: the peers a backup reports to misbehave. A Slack webhook answers 200 with its
 * headers and never finishes the body; a JSON webhook takes the whole request and never
 * answers. The backup still succeeds within the notification budget and loses nothing, no
 * message reaches a peer twice (Slack has no idempotency key: a request that went out whole
 * is not sent again), and the next run does not send the old messages again.
 */
import { randomBytes } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { tempDir, testEnv } from '../helpers/cli.js'
import { startHttpPeer, type HttpPeer } from '../helpers/http-peer.js'
import { backupLedger, expectNothingLost, faultsTried, runOwnops } from './helpers.js'

describe('faults: hostile notification peers', () => {
  let work: { dir: string; cleanup: () => void }
  let slack: HttpPeer
  let hook: HttpPeer
  beforeAll(async () => {
    work = tempDir('ownops-fault-peers-')
    ;[slack, hook] = await Promise.all([startHttpPeer(), startHttpPeer()])
    slack.reply({ status: 200, hangBody: true })
    hook.reply({ hang: true })
    mkdirSync(join(work.dir, 'data'))
    writeFileSync(join(work.dir, 'data', 'state.txt'), 'the data')
    writeFileSync(
      join(work.dir, 'ownops.yml'),
      `backup:
  dir: ${join(work.dir, 'backups')}
  targets:
    files: { type: directory, path: ${join(work.dir, 'data')}, compression: gzip }
notify:
  channels:
    slack: { url: "slack://T0000/B0000/XXXXXXXXXXXXXXXX", baseUrl: "${slack.url}", levels: [info, warning, error, critical] }
    hook: { url: "json://127.0.0.1:${hook.port}/hook", levels: [info, warning, error, critical] }
  timeout: 1s
  retries: 1
  budget: 5s
`,
    )
  })
  afterAll(async () => {
    await Promise.all([slack?.close(), hook?.close()])
    work?.cleanup()
  })

  it('a body that never ends and an answer that never comes: the backup succeeds, nothing is lost, nothing is sent twice', async (ctx) => {
    const env = testEnv(work.dir)
    const config = ['-c', join(work.dir, 'ownops.yml')]
    faultsTried(ctx, 2)
    const first = await runOwnops([...config, 'backup'], env, work.dir)
    expect(first.code, first.stderr).toBe(0)
    const ledger = backupLedger(join(work.dir, 'backups'))
    expect(ledger.count).toBe(1)
    const titles = (peer: HttpPeer) => peer.requests.map((r) => r.text)
    const once = (list: string[]) => list.filter((t, i) => list.indexOf(t) !== i)
    expect(slack.requests.length).toBeGreaterThan(0)
    expect(once(titles(slack)), 'a message Slack may have taken is never sent again').toEqual([])

    // The next run: the messages of the first are not sent to Slack again. Its data differ in
    // size, so its own message differs from the first run's (same text would read as a resend).
    writeFileSync(join(work.dir, 'data', 'state.txt'), randomBytes(4096).toString('hex'))
    const before = slack.requests.length
    const second = await runOwnops([...config, 'backup'], env, work.dir)
    expect(second.code, second.stderr).toBe(0)
    expect(once(titles(slack))).toEqual([])
    expect(slack.requests.length, 'the second run reported').toBeGreaterThan(before)
    expect(slack.requests.slice(before).map((r) => r.text)).not.toContain(slack.requests[0]?.text)
    expectNothingLost(ctx, ledger.losses())
  }, 120_000)
})
