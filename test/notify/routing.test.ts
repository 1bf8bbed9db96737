/**
 * Routing by check and target, escalation over time, and the channels that carry a
 * digest's structure — end to end through `ownops monitor` runs on an injected clock,
 * against loopback peers: PagerDuty's Events API v2 (test/helpers/pagerduty-peer.ts),
 * Discord, Slack and ntfy webhooks, JSON webhooks.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { MonitorReport } from '../../src/monitor/report.js'
import { runBin, tempDir, testEnv } from '../helpers/cli.js'
import { startHttpPeer, type HttpPeer } from '../helpers/http-peer.js'
import { Clock, monitorRun } from '../helpers/monitor.js'
import { startPagerDutyPeer, type PagerDutyPeer } from '../helpers/pagerduty-peer.js'

let dir: string
let cleanup: () => void
let env: NodeJS.ProcessEnv
let configFile: string
const closers: Array<() => Promise<void>> = []
const ROUTING_KEY = 'R0ut1ngKeyR0ut1ngKeyR0ut1ngKey32'

beforeEach(() => {
  ;({ dir, cleanup } = tempDir('ownops-routing-'))
  configFile = join(dir, 'ownops.yml')
  env = testEnv(dir, { DOCKER_HOST: `unix://${join(dir, 'no-docker.sock')}`, OWNOPS_CONFIG: configFile })
})
afterEach(async () => {
  for (const close of closers.splice(0)) await close()
  cleanup()
})

async function http(): Promise<HttpPeer> {
  const p = await startHttpPeer()
  closers.push(() => p.close())
  return p
}
async function pagerduty(): Promise<PagerDutyPeer> {
  const p = await startPagerDutyPeer()
  closers.push(() => p.close())
  return p
}

const monitor = async (clock: Clock): Promise<MonitorReport> => (await monitorRun({ env, cwd: dir }, clock)).report

/** A command check that fails while `flag` exists. */
const failsWhile = (flag: string, extra: Record<string, unknown> = {}) => ({
  kind: 'command',
  command: ['sh', '-c', `test ! -e ${flag} || { echo down; exit 2; }`],
  ...extra,
})

describe('routing by check', () => {
  it('the card-game policy: disk alerts to PagerDuty and on-call mail, every other check to Slack; each channel gets a digest of its own checks, and the recovery resolves the same PagerDuty alert', async () => {
    const pd = await pagerduty()
    const oncall = await http()
    const slackPeer = await http()
    const disk = join(dir, 'disk-full')
    const api = join(dir, 'api-down')
    writeFileSync(disk, '')
    writeFileSync(api, '')
    writeFileSync(
      configFile,
      JSON.stringify({
        hostname: 'box1',
        notify: {
          channels: {
            pagerduty: { url: `pagerduty://${ROUTING_KEY}`, baseUrl: pd.url },
            oncall: { url: `json://127.0.0.1:${oncall.port}/oncall` },
            slack: { url: 'slack://T000/B000/XXXX?ping=here', baseUrl: slackPeer.url },
          },
          routes: [
            { checks: ['disk'], channels: ['pagerduty', 'oncall'] },
            { checks: ['*'], channels: ['slack'] },
          ],
        },
        monitor: {
          builtins: false,
          failuresBeforeAlert: 1,
          checks: { disk: failsWhile(disk, { description: 'disk space on /srv' }), api: failsWhile(api) },
        },
      }),
    )
    const clock = new Clock()
    await monitor(clock)
    expect(pd.requests.map((r) => [r.body.event_action, r.body.dedup_key])).toEqual([['trigger', 'ownops/box1/monitor/disk']])
    expect(pd.requests[0]?.body).toMatchObject({
      routing_key: ROUTING_KEY,
      payload: { severity: 'critical', source: 'box1', component: 'disk', summary: 'disk on box1: disk space on /srv: sh exited 2: down' },
    })
    expect(oncall.requests.map((r) => (r.json as { title: string }).title)).toEqual([
      'disk critical: disk space on /srv: sh exited 2: down',
    ])
    const slackBody = slackPeer.requests[0]?.json as {
      text: string
      attachments: Array<{ blocks: Array<{ type: string; text?: { text: string } }> }>
    }
    expect(slackPeer.requests).toHaveLength(1)
    expect(slackBody.text).toBe('<!here> [CRITICAL] api critical: sh exited 2: down')
    expect(slackBody.attachments[0]?.blocks.map((b) => [b.type, b.text?.text])).toEqual([
      ['header', 'api critical: sh exited 2: down'],
      ['section', '<!here>'],
      ['section', '*CRITICAL* `api`\nsh exited 2: down'],
      ['context', undefined],
    ])

    ;(await import('node:fs')).rmSync(disk)
    ;(await import('node:fs')).rmSync(api)
    await monitor(clock.advance(5))
    expect(pd.requests.map((r) => [r.body.event_action, r.body.dedup_key])).toEqual([
      ['trigger', 'ownops/box1/monitor/disk'],
      ['resolve', 'ownops/box1/monitor/disk'],
    ])
    expect(pd.open.size).toBe(0)
    expect(oncall.requests.map((r) => (r.json as { level: string; title: string }).title)).toEqual([
      'disk critical: disk space on /srv: sh exited 2: down',
      expect.stringMatching(/^disk resolved: disk space on \/srv: healthy again after 5m/),
    ])
    expect(slackPeer.requests.map((r) => (r.json as { text: string }).text)).toEqual([
      '<!here> [CRITICAL] api critical: sh exited 2: down',
      expect.stringMatching(/^\[INFO\] api resolved: healthy again after 5m/),
    ])
  })

  it("escalation over time (the Minecraft manager's level 1 → 2 → 3): Discord first, mail after 15 minutes, PagerDuty after an hour; the recovery goes to all three", async () => {
    const pd = await pagerduty()
    const discordPeer = await http()
    const mail = await http()
    const down = join(dir, 'mc-down')
    writeFileSync(down, '')
    writeFileSync(
      configFile,
      JSON.stringify({
        hostname: 'box1',
        notify: {
          channels: {
            discord: { url: 'discord://123456789012345678/tok-en?ping=987654321098765432', baseUrl: discordPeer.url },
            mail: { url: `json://127.0.0.1:${mail.port}/mail` },
            pagerduty: { url: `pagerduty://${ROUTING_KEY}`, baseUrl: pd.url },
          },
        },
        monitor: {
          builtins: false,
          failuresBeforeAlert: 1,
          checks: {
            mc: failsWhile(down, {
              description: 'Minecraft server',
              notify: {
                channels: ['discord'],
                escalate: [
                  { after: '15m', channels: ['mail'] },
                  { after: '1h', channels: ['pagerduty'] },
                ],
              },
            }),
          },
        },
      }),
    )
    const clock = new Clock()
    const types = async (minutes: number) => (await monitor(clock.advance(minutes))).transitions.map((t) => t.type)
    expect(await types(0)).toEqual(['alert'])
    expect([discordPeer.requests.length, mail.requests.length, pd.requests.length]).toEqual([1, 0, 0])
    const first = discordPeer.requests[0]?.json as {
      content?: string
      allowed_mentions?: { users: string[] }
      embeds: Array<{ title: string; fields: Array<{ name: string; value: string }> }>
    }
    expect(first.content).toBe('<@987654321098765432>')
    expect(first.allowed_mentions?.users).toEqual(['987654321098765432'])
    expect(first.embeds[0]?.fields).toEqual([{ name: 'CRITICAL · mc', value: 'Minecraft server: sh exited 2: down' }])
    expect(await types(10)).toEqual([])
    expect(await types(6)).toEqual(['escalation'])
    expect([discordPeer.requests.length, mail.requests.length, pd.requests.length]).toEqual([1, 1, 0])
    expect((mail.requests[0]?.json as { title: string }).title).toBe(
      'mc critical, escalated: Minecraft server: unresolved for 16m: sh exited 2: down',
    )
    expect(await types(30)).toEqual([])
    expect(await types(15)).toEqual(['escalation'])
    expect([discordPeer.requests.length, mail.requests.length, pd.requests.length]).toEqual([1, 1, 1])
    expect(pd.requests[0]?.body).toMatchObject({ event_action: 'trigger', dedup_key: 'ownops/box1/monitor/mc' })
    ;(await import('node:fs')).rmSync(down)
    expect(await types(1)).toEqual(['recover'])
    expect([discordPeer.requests.length, mail.requests.length, pd.requests.length]).toEqual([2, 2, 2])
    expect(pd.requests[1]?.body).toMatchObject({ event_action: 'resolve', dedup_key: 'ownops/box1/monitor/mc' })
    expect((discordPeer.requests[1]?.json as { content?: string }).content).toBeUndefined() // no mention for a recovery
  })
})

describe('channels', () => {
  it('PagerDuty: a rejected event (400 invalid event) is not retried; 429 and 500 are', async () => {
    const pd = await pagerduty()
    writeFileSync(
      configFile,
      JSON.stringify({ notify: { retries: 2, channels: { pd: { url: 'pagerduty://shortkey123', baseUrl: pd.url } } } }),
    )
    const bad = await runBin(['--json', 'notify', '--level', 'critical', 'disk full'], { env, cwd: dir })
    expect(bad.code).toBe(1)
    expect(pd.requests).toHaveLength(1)
    expect(bad.stdout).toContain('HTTP 400')
    writeFileSync(
      configFile,
      JSON.stringify({ notify: { retries: 2, channels: { pd: { url: `pagerduty://${ROUTING_KEY}`, baseUrl: pd.url } } } }),
    )
    pd.fail(500, 429)
    const ok = await runBin(['--json', 'notify', '--level', 'critical', '--title', 'backup db failed', 'pg_dump: connection refused'], {
      env,
      cwd: dir,
    })
    expect(ok.code, ok.stderr).toBe(0)
    expect(pd.requests.slice(1).map((r) => r.body.event_action)).toEqual(['trigger', 'trigger', 'trigger'])
    expect([...pd.open.keys()]).toEqual([expect.stringMatching(/^ownops\/.+\/notify$/)])
  })

  it("json with format: apprise sends apprise's body: {version, title, message, type}", async () => {
    const hook = await http()
    writeFileSync(
      configFile,
      JSON.stringify({
        notify: {
          channels: {
            hook: { url: `json://127.0.0.1:${hook.port}/a`, format: 'apprise', levels: ['info', 'warning', 'error', 'critical'] },
          },
        },
      }),
    )
    for (const level of ['info', 'warning', 'error'])
      expect((await runBin(['notify', '--level', level, '--title', `t-${level}`, 'body text'], { env, cwd: dir })).code).toBe(0)
    expect(hook.requests.map((r) => r.json)).toEqual([
      { version: '1.0', title: 't-info', message: 'body text', type: 'info', attachments: [] },
      { version: '1.0', title: 't-warning', message: 'body text', type: 'warning', attachments: [] },
      { version: '1.0', title: 't-error', message: 'body text', type: 'failure', attachments: [] },
    ])
  })

  it('apprise URL parameters: Discord thread, avatar_url and bot name, ntfy priority, tags and click are honoured', async () => {
    const peer = await http()
    writeFileSync(
      configFile,
      JSON.stringify({
        notify: {
          channels: {
            discord: {
              url: 'discord://opsbot@123456789012345678/tok-en?thread=555&avatar_url=https://img.example/a.png',
              baseUrl: peer.url,
            },
            phone: { url: 'ntfy://alerts?priority=max&tags=fire,server&click=https://status.example', baseUrl: peer.url },
          },
        },
      }),
    )
    expect((await runBin(['notify', '--level', 'warning', 'disk 91%'], { env, cwd: dir })).code).toBe(0)
    const discordReq = peer.requests.find((r) => r.path.startsWith('/api/webhooks'))
    expect(discordReq?.path).toBe('/api/webhooks/123456789012345678/tok-en?wait=true&thread_id=555')
    expect(discordReq?.json).toMatchObject({ username: 'opsbot', avatar_url: 'https://img.example/a.png' })
    const ntfyReq = peer.requests.find((r) => r.path === '/')
    expect(ntfyReq?.json).toMatchObject({
      topic: 'alerts',
      priority: 5,
      tags: ['warning', 'fire', 'server'],
      click: 'https://status.example',
    })
  })

  it('a URL parameter ownops would ignore is refused by name by config validate (exit 78)', async () => {
    writeFileSync(
      configFile,
      [
        'notify:',
        '  channels:',
        '    discord: { url: "discord://123456789012345678/tok-en?avatar_url=https://a/b.png&template=x.json" }',
        '    phone: { url: "ntfy://alerts?priority=max&mode=private" }',
        '    tg: { url: "tgram://123456:AAbbCCdd/42?silent=yes" }',
        '    routes-to-nowhere: { url: "json://127.0.0.1:9/x" }',
        '  routes:',
        '    - { checks: [disk], channels: [pagerdty] }',
      ].join('\n'),
    )
    const r = await runBin(['config', 'validate'], { env, cwd: dir })
    expect(r.code).toBe(78)
    expect(r.stdout + r.stderr).toMatch(/ownops\.yml:3 notify\.channels\.discord\.url: discord URL: unknown parameter "template"/)
    expect(r.stdout + r.stderr).toMatch(/ownops\.yml:4 notify\.channels\.phone\.url: ntfy URL: unknown parameter "mode"/)
    expect(r.stdout + r.stderr).toMatch(/ownops\.yml:5 notify\.channels\.tg\.url: tgram URL: unknown parameter "silent"/)
    expect(r.stdout + r.stderr).toMatch(/notify\.routes\[0\]\.channels\[0\]: no channel named "pagerdty"/)
  })
})
