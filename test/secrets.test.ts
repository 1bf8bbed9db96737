import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Ctx } from '../src/context.js'
import { OwnopsError } from '../src/errors.js'
import { maskUrlCredentials, Redactor, urlSecretParts } from '../src/redact.js'
import { runBin, runCli, tempDir, testEnv } from './helpers/cli.js'
import { startHttpPeer, type HttpPeer } from './helpers/http-peer.js'

const SECRETS = {
  envPassword: 'Pg-Pa55word-from-env-file',
  webhookToken: 'DiscordTok3n_abcdefghijklmnopqrstuvwxyz0123',
  dockerPassword: 'd0cker-S3cret',
  rcon: 'rc0n-pass-in-yaml',
  slack: 'T0000SLACK/B0000SLACK/XXXXslackSECRETxxxx',
}

let dir: string
let cleanup: () => void
beforeEach(() => {
  ;({ dir, cleanup } = tempDir())
  writeFileSync(
    join(dir, 'ownops.env'),
    `DB_PASSWORD=${SECRETS.envPassword}\nHOOK=https://discord.com/api/webhooks/123456789012345678/${SECRETS.webhookToken}\n`,
    { mode: 0o600 },
  )
  writeFileSync(
    join(dir, 'ownops.yml'),
    [
      `envFile: ${join(dir, 'ownops.env')}`,
      // An unreachable endpoint whose error message carries the URL and its credentials.
      `docker: { host: "tcp://admin:${SECRETS.dockerPassword}@127.0.0.1:9" }`,
      'notify:',
      '  channels:',
      '    discord: { url: "${HOOK}" }',
      `    slack: { url: "slack://${SECRETS.slack}" }`,
      'backup:',
      '  targets:',
      '    db: { type: mysql, container: db, password: "${DB_PASSWORD}" }',
      '    world:',
      '      type: directory',
      '      volume: mc',
      `      minecraft: { rcon: { password: "${SECRETS.rcon}" } }`,
    ].join('\n'),
  )
})
afterEach(() => cleanup())

function assertNoSecret(text: string): void {
  for (const [name, secret] of Object.entries(SECRETS)) {
    expect(text, `secret ${name} leaked`).not.toContain(secret)
    for (const part of secret.split('/')) if (part.length >= 8) expect(text, `part of ${name} leaked`).not.toContain(part)
  }
}

describe.each(['json', 'text', 'journal'] as const)('no secret reaches %s logs or errors', (format) => {
  it('logs that carry config values, errors and the CLI report are masked', async () => {
    const lines: string[] = []
    const ctx = new Ctx({
      options: { json: false, quiet: false, color: format === 'text', logLevel: 'debug' },
      env: { ...testEnv(dir), OWNOPS_LOG_FORMAT: format },
      cwd: dir,
      logWrite: (line) => lines.push(line),
      logFormat: format,
    })
    const loaded = ctx.config()
    // A careless log line: whole config objects, the raw URL, an error quoting a secret.
    ctx.log.info({ config: loaded.config }, 'loaded config')
    ctx.log.debug(`connecting to https://discord.com/api/webhooks/123456789012345678/${SECRETS.webhookToken}`)
    ctx.log.error({ err: new Error(`auth failed for password ${SECRETS.envPassword}`) }, 'database said no')
    ctx.log.warn({ url: `slack://${SECRETS.slack}` }, 'slack returned 500')
    const output = lines.join('')
    expect(output).toContain('***')
    expect(output).toContain('loaded config')
    assertNoSecret(output)
  })

  it('command output and errors from a real run are masked (doctor: Docker endpoint with credentials)', async () => {
    const env = { ...testEnv(dir), OWNOPS_LOG_FORMAT: format }
    const json = await runCli(['--json', '--log-level', 'debug', 'doctor'], { env, cwd: dir })
    const text = await runCli(['config', 'show'], { env, cwd: dir })
    const all = json.stdout + json.stderr + text.stdout + text.stderr
    expect(json.code).toBe(69)
    expect(json.stdout).toContain('tcp://***@127.0.0.1:9')
    assertNoSecret(all)
  })
})

it('a thrown OwnopsError quoting a secret is masked on stderr and in --json (real process)', async () => {
  writeFileSync(
    join(dir, 'bad.yml'),
    `envFile: ${join(dir, 'ownops.env')}\nnotify:\n  channels:\n    d: { url: "\${HOOK}", levels: [loud] }\n`,
  )
  for (const format of ['json', 'text']) {
    const result = await runBin(['-c', 'bad.yml', '--json', 'config', 'show'], {
      env: { ...testEnv(dir), OWNOPS_LOG_FORMAT: format },
      cwd: dir,
    })
    expect(result.code).toBe(78)
    expect(result.stdout).toContain('levels[0]')
    assertNoSecret(result.stdout + result.stderr)
  }
})

describe('Redactor', () => {
  it('masks exact values, JSON-escaped forms, and URL credentials by pattern', () => {
    const r = new Redactor()
    r.add('with"quote\\and-backslash')
    expect(r.redact(JSON.stringify({ v: 'with"quote\\and-backslash' }))).toBe('{"v":"***"}')
    expect(maskUrlCredentials('see postgres://app:hunter2@db:5432/app now')).toBe('see postgres://***@db:5432/app now')
    expect(maskUrlCredentials('POST https://discord.com/api/webhooks/1/tok failed')).toBe(
      'POST https://discord.com/api/webhooks/***/*** failed',
    )
    expect(maskUrlCredentials('https://hooks.slack.com/services/T1/B2/xyz')).toBe('https://hooks.slack.com/services/***')
  })

  it('finds the secret parts of channel URLs', () => {
    expect(urlSecretParts('ntfy://tk_abcdefgh@ntfy.sh/topic')).toContain('tk_abcdefgh')
    expect(urlSecretParts('tgram://123456:ABCdefGHIjkl/987654')).toContain('123456:ABCdefGHIjkl')
    const escaped = urlSecretParts('tgram://123456%3AABCdefGHIjkl/987654')
    expect(escaped).toContain('123456:ABCdefGHIjkl')
    expect(escaped).toContain('123456%3AABCdefGHIjkl')
    expect(escaped).toContain('ABCdefGHIjkl')
    expect(urlSecretParts('gotify://push.example.org/AbCdEfGhIjKlMnO')).toContain('AbCdEfGhIjKlMnO')
    expect(urlSecretParts('jsons://h/x?token=sekrit99')).toContain('sekrit99')
    expect(urlSecretParts('https://example.org/health')).toEqual([])
  })

  it('never masks short or empty values (they would mangle every line)', () => {
    const r = new Redactor()
    r.add('')
    r.add('abc')
    expect(r.size).toBe(0)
    expect(r.redact('abc')).toBe('abc')
  })

  it('an OwnopsError message is not special: the CLI masks it the same way', async () => {
    const lines: string[] = []
    const ctx = new Ctx({
      options: { json: false, quiet: false, color: false },
      env: testEnv(dir),
      cwd: dir,
      logWrite: (l) => lines.push(l),
      logFormat: 'json',
    })
    ctx.config()
    const error = new OwnopsError(`login failed: ${SECRETS.rcon}`)
    ctx.log.error({ err: error }, ctx.redactor.redact(error.message))
    assertNoSecret(lines.join(''))
  })
})

describe('what is masked, and what is not', () => {
  const PASSWORD = 'Pg-Pa55word-from-env-file'
  const TOKEN = 'tok_9f8e7d6c5b4a3210fedcba'
  let peer: HttpPeer
  let hc: HttpPeer
  let down: string
  beforeEach(async () => {
    peer = await startHttpPeer()
    hc = await startHttpPeer()
    const dead = await startHttpPeer()
    await dead.close()
    down = `json://127.0.0.1:${dead.port}/down`
  })
  afterEach(async () => {
    await peer.close()
    await hc.close()
  })

  function setup(extra: string[] = []): NodeJS.ProcessEnv {
    writeFileSync(
      join(dir, 'ownops.env'),
      [
        `TZ=Europe/Berlin`,
        `BACKUP_ROOT=${join(dir, 'srv', 'backups')}`,
        'POSTGRES_USER=postgres',
        `DB_PASSWORD=${PASSWORD}`,
        `API_TOKEN=${TOKEN}`,
        'NTFY_TOPIC=pagerduty',
      ].join('\n') + '\n',
      { mode: 0o600 },
    )
    writeFileSync(
      join(dir, 'ownops.yml'),
      [
        `envFile: ${join(dir, 'ownops.env')}`,
        'schedule: { timezone: "${TZ}" }',
        'notify:',
        '  retries: 0',
        '  timeout: 1s',
        '  channels:',
        `    pagerduty: { url: "json://127.0.0.1:${peer.port}/\${NTFY_TOPIC}", levels: [info, warning, error, critical] }`,
        `    hb: { url: "hc://127.0.0.1:${hc.port}/ping/key/{job}" }`,
        `    down: { url: "${down}", levels: [error, critical] }`,
        'backup:',
        '  dir: ${BACKUP_ROOT}',
        '  targets:',
        '    db: { type: postgres, container: "${POSTGRES_USER}", database: app }',
        '    shop: { type: mariadb, container: shop, password: "${DB_PASSWORD}" }',
        ...extra,
      ].join('\n'),
    )
    return testEnv(dir, { DOCKER_HOST: `unix://${join(dir, 'no-docker.sock')}` })
  }

  it('values of the env file that are not secrets are never masked, and data output is never rewritten', async () => {
    const env = setup()
    const units = await runCli(['schedule', 'generate'], { env, cwd: dir })
    expect(units.stdout).toContain('OnCalendar=*-*-* 03:00:00 Europe/Berlin')
    const backups = await runCli(['--json', 'backups'], { env, cwd: dir })
    expect(JSON.parse(backups.stdout)).toMatchObject({ dir: join(dir, 'srv', 'backups') })
    const plan = await runCli(['backup', '--dry-run'], { env, cwd: dir })
    expect(plan.stdout).toMatch(/^db +postgres +pg_dump app in postgres /m)
    const test = await runCli(['notify', '--test', '--channel', 'pagerduty'], { env, cwd: dir })
    expect(test.stdout).toMatch(/^pagerduty +json +delivered/m)
    expect(peer.requests[0]?.path).toBe('/pagerduty')
    const shown = await runCli(['config', 'show'], { env, cwd: dir })
    expect(shown.stdout).toContain('timezone: Europe/Berlin')
    expect(shown.stdout).toMatch(/password: "?\*\*\*"?/)
    expect(shown.stdout).toContain('pagerduty:')
    expect(shown.stdout).toMatch(/url: json:\/\/\*\*\*/) // channel URLs are secrets: only the scheme shows
    const all = [units, backups, plan, test, shown].map((r) => r.stdout + r.stderr).join('')
    expect(all).not.toContain(PASSWORD)
    expect(all).not.toContain('Europe/***')
  })

  it('no secret in notification bodies, heartbeat log tails, the outbox, monitor.json or the metrics', async () => {
    const prom = join(dir, 'monitor.prom')
    const env = setup([
      `    jobs: { type: sqlite, path: ${join(dir, 'jobs.db')}, before: [sh, -c, "echo login with \${DB_PASSWORD} refused >&2; exit 1"] }`,
      'monitor:',
      '  builtins: false',
      '  failuresBeforeAlert: 1',
      `  prometheus: { textfile: ${prom} }`,
      '  checks:',
      '    script: { kind: command, command: [sh, -c, "echo token=${API_TOKEN} rejected; exit 2"] }',
      `    api: { kind: http, url: "http://127.0.0.1:${peer.port}/health?token=\${API_TOKEN}" }`,
    ])
    peer.reply((req) => ({ status: req.path.startsWith('/health') ? 500 : 204 }))
    const backup = await runCli(['--json', 'backup', 'jobs'], { env, cwd: dir })
    expect(backup.code).toBe(1)
    const monitor = await runCli(['--json', 'monitor'], { env, cwd: dir })
    expect(monitor.code).toBe(1)

    const sent = peer.requests
      .filter((r) => r.path === '/pagerduty')
      .map((r) => r.text)
      .join('\n')
    expect(sent).toContain('login with *** refused') // the hook's stderr, masked
    expect(sent).toContain('token=*** rejected') // the check's output, masked
    const pings = hc.requests.map((r) => r.text).join('\n')
    expect(pings).toContain('backup of jobs failed')
    const files = ['notify-outbox.json', 'monitor.json'].map((f) => readFileSync(join(dir, 'state', f), 'utf8')).join('\n')
    expect(files).toContain('***')
    // A script run under the lock with a password in its argv: the lock file does not keep it.
    const lockFile = join(dir, 'lock', 'host.lock')
    const locked = await runCli(['lock', 'run', '--', 'sh', '-c', `cp ${lockFile} ${join(dir, 'held.json')}`, PASSWORD], { env, cwd: dir })
    expect(locked.code, locked.stderr).toBe(0)
    const held = readFileSync(join(dir, 'held.json'), 'utf8')
    expect(held).toContain('***')
    const outputs = [backup, monitor, locked].map((r) => r.stdout + r.stderr).join('\n')
    for (const text of [sent, pings, files, readFileSync(prom, 'utf8'), outputs, held]) {
      expect(text).not.toContain(PASSWORD)
      expect(text).not.toContain(TOKEN)
    }
  })
})
