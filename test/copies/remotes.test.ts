/**
 * Copies to network remotes on loopback — SFTP (`rclone serve sftp`), an S3-compatible
 * server (s3rver), and restic behind a REST server (`rclone serve restic`) — each through a
 * TCP proxy that can refuse or drop connections mid-upload; wrong credentials; a full
 * destination and an unmounted disk (a tmpfs in a mount namespace of its own).
 */
import { execFile, spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BIN, runCli, tempDir, testEnv } from '../helpers/cli.js'
import {
  obscure,
  rcloneServe,
  resticInit,
  startProxy,
  startS3,
  writeRcloneConf,
  type Proxy,
  type S3Peer,
  type ServedPeer,
} from '../helpers/copies.js'
import { startHttpPeer, type HttpPeer } from '../helpers/http-peer.js'

const SFTP_PASS = 'sftp-pass-4b1d9e'
const REST_PASS = 'rest-pass-8e2c61'
const RESTIC_PW = 'restic-pw-5f03aa'

interface DestReport {
  destination: string
  ok: boolean
  error?: string
  hint?: string
  targets: Array<{ target: string; uploaded: Array<{ id: string }>; holds: number }>
}

describe('copies to SFTP, S3 and a restic REST server on loopback, with faults', () => {
  let work: { dir: string; cleanup: () => void }
  let peer: HttpPeer
  let sftp: ServedPeer
  let rest: ServedPeer
  let s3: S3Peer
  let sftpProxy: Proxy
  let s3Proxy: Proxy
  let restProxy: Proxy
  let day = 0
  const clock = () => new Date(Date.UTC(2026, 10, 20 + day, 3, 0, 0))
  const cli = (args: string[]) =>
    runCli(['--json', '-c', join(work.dir, 'ownops.yml'), ...args], {
      env: testEnv(work.dir, { RESTIC_PW, REST_PASS }),
      cwd: work.dir,
      clock,
    })

  beforeAll(async () => {
    work = tempDir()
    peer = await startHttpPeer()
    const data = join(work.dir, 'data')
    mkdirSync(data, { recursive: true })
    // Incompressible, so that an upload takes many packets and a proxy can cut it half-way.
    writeFileSync(join(data, 'random.bin'), randomBytes(3 << 20))
    writeFileSync(join(data, 'readme.txt'), 'hello\n')
    sftp = await rcloneServe('sftp', join(work.dir, 'sftp-root'), work.dir, { user: 'backup', pass: SFTP_PASS })
    rest = await rcloneServe('restic', join(work.dir, 'rest-root'), work.dir, { user: 'backup', pass: REST_PASS })
    s3 = await startS3(join(work.dir, 's3-root'), 'ownops')
    sftpProxy = await startProxy(sftp.port)
    s3Proxy = await startProxy(s3.port)
    restProxy = await startProxy(rest.port)
    const s3Section = (key: string) => ({
      type: 's3',
      provider: 'Other',
      access_key_id: key,
      secret_access_key: 'S3RVER',
      endpoint: `http://127.0.0.1:${s3Proxy.port}`,
      force_path_style: true,
    })
    writeRcloneConf(join(work.dir, 'rclone.conf'), {
      sftp: { type: 'sftp', host: '127.0.0.1', port: sftpProxy.port, user: 'backup', pass: obscure(SFTP_PASS) },
      sftpbad: { type: 'sftp', host: '127.0.0.1', port: sftp.port, user: 'backup', pass: obscure('not-the-password') },
      s3: s3Section('S3RVER'),
      s3bad: s3Section('NOBODY'),
    })
    const repo = `rest:http://backup:${REST_PASS}@127.0.0.1:${restProxy.port}/`
    resticInit(`rest:http://backup:${REST_PASS}@127.0.0.1:${rest.port}/`, RESTIC_PW, work.dir)
    resticInit(`rest:http://backup:${REST_PASS}@127.0.0.1:${rest.port}/second/`, RESTIC_PW, work.dir)
    const conf = join(work.dir, 'rclone.conf')
    writeFileSync(
      join(work.dir, 'ownops.yml'),
      `backup:
  dir: ${join(work.dir, 'backups')}
  keep: { last: 3 }
  targets:
    files: { type: directory, path: ${data}, compression: gzip }
  destinations:
    sftp: { type: rclone, remote: "sftp:backups", config: ${conf}, retries: 0, flags: [--low-level-retries, "1"] }
    s3: { type: rclone, remote: "s3:ownops/box1", config: ${conf}, retries: 0, flags: [--low-level-retries, "1"] }
    rest: { type: restic, repository: "rest:http://backup:\${REST_PASS}@127.0.0.1:${rest.port}/", password: "\${RESTIC_PW}", retries: 0 }
    # A second repository on that server, through the proxy; restic retries a dropped
    # connection for about a minute, so this run is bounded by the destination's timeout.
    restdrop: { type: restic, repository: "rest:http://backup:\${REST_PASS}@127.0.0.1:${restProxy.port}/second/", password: "\${RESTIC_PW}", retries: 0, timeout: 5s, schedule: "0 5 * * *" }
    s3bad: { type: rclone, remote: "s3bad:ownops/box1", config: ${conf}, retries: 0, schedule: "0 5 * * *", flags: [--low-level-retries, "1"] }
    sftpbad: { type: rclone, remote: "sftpbad:backups", config: ${conf}, retries: 0, schedule: "0 5 * * *", flags: [--low-level-retries, "1"] }
    resticbad: { type: restic, repository: "${repo}", password: wrong-password-123, retries: 0, schedule: "0 5 * * *" }
notify:
  channels:
    hook: { url: "json://127.0.0.1:${peer.port}/hook", levels: [info, warning, error, critical] }
  retries: 0
`,
    )
  }, 60_000)

  afterAll(async () => {
    await sftpProxy?.close()
    await s3Proxy?.close()
    await restProxy?.close()
    await sftp?.stop()
    await rest?.stop()
    await s3?.stop()
    await peer?.close()
    work?.cleanup()
  })

  const listFrom = async (dest: string) =>
    JSON.parse((await cli(['backups', '--from', dest])).stdout) as {
      copies: Array<{ id: string }>
      oddities: Array<{ kind: string }>
      pending: Array<{ id: string }>
    }

  it('a remote that drops the connection mid-upload leaves no copy; the local backup is kept, and the next run copies it', async () => {
    sftpProxy.dropAfter = 256 * 1024
    s3Proxy.dropAfter = 256 * 1024
    restProxy.dropAfter = 256 * 1024
    const r = await cli(['backup', '--tag', 'first'])
    expect(r.code, r.stdout).toBe(1)
    const report = JSON.parse(r.stdout) as { ok: boolean; targets: Array<{ ok: boolean; file: string }>; copies: DestReport[] }
    expect(report.targets[0]!.ok).toBe(true)
    expect(existsSync(report.targets[0]!.file)).toBe(true)
    expect(report.copies.map((c) => [c.destination, c.ok])).toEqual([
      ['sftp', false],
      ['s3', false],
      ['rest', true],
    ])
    for (const c of report.copies.filter((x) => !x.ok)) expect(c.hint, c.destination).toMatch(/next run/)
    const dropped = await cli(['copy', '--to', 'restdrop'])
    expect(dropped.code, dropped.stdout).toBe(1)
    expect((JSON.parse(dropped.stdout) as { destinations: DestReport[] }).destinations[0]!.error).toMatch(/timed out after 5s/)
    sftpProxy.dropAfter = undefined
    s3Proxy.dropAfter = undefined
    restProxy.dropAfter = undefined
    expect((await listFrom('restdrop')).copies).toEqual([]) // restic stores a snapshot whole or not at all
    for (const dest of ['sftp', 's3']) {
      const l = await listFrom(dest)
      expect(l.copies, dest).toEqual([])
      expect(
        l.pending.map((p) => p.id),
        dest,
      ).toEqual([
        report.targets[0]!.file.split('/')
          .pop()!
          .replace(/\.tar\.gz$/, ''),
      ])
    }
    // Nothing under a final name at the SFTP server: at most a partial file.
    const onServer = readdirSync(join(work.dir, 'sftp-root'), { recursive: true }).map(String)
    expect(onServer.filter((f) => /files-\d{8}T\d{6}Z\.(tar\.gz|json)$/.test(f))).toEqual([])
    expect(peer.requests.filter((q) => /copy to (sftp|s3|restdrop) failed/.test(q.text))).toHaveLength(3)

    for (const dest of ['sftp', 's3', 'restdrop']) {
      const again = await cli(['copy', '--to', dest])
      expect(again.code, again.stdout).toBe(0)
      const c = (JSON.parse(again.stdout) as { destinations: DestReport[] }).destinations[0]!
      expect(c.targets[0]!.uploaded).toHaveLength(1)
      const l = await listFrom(dest)
      expect(l.copies, dest).toHaveLength(1)
      expect(l.oddities, dest).toEqual([])
    }
  }, 180_000)

  it('a remote that refuses connections: a clear error, the local backup kept', async () => {
    day = 1
    sftpProxy.refuse = true
    try {
      const r = await cli(['backup'])
      expect(r.code).toBe(1)
      const report = JSON.parse(r.stdout) as { targets: Array<{ ok: boolean }>; copies: DestReport[] }
      expect(report.targets[0]!.ok).toBe(true)
      const c = report.copies.find((x) => x.destination === 'sftp')!
      expect(c.ok).toBe(false)
      expect(c.error).toMatch(/destination sftp: rclone .* failed/)
      expect(report.copies.find((x) => x.destination === 's3')!.ok).toBe(true)
    } finally {
      sftpProxy.refuse = false
    }
    const caught = await cli(['copy', '--to', 'sftp'])
    expect(caught.code, caught.stdout).toBe(0)
    expect((await listFrom('sftp')).copies).toHaveLength(2)
  }, 120_000)

  it('wrong credentials: a clear error naming the cause, nothing else touched, and a notification', async () => {
    const before = peer.requests.length
    for (const [dest, pattern] of [
      ['s3bad', /refused the credentials/],
      ['sftpbad', /refused the credentials/],
      ['resticbad', /password is wrong/],
    ] as const) {
      const r = await cli(['copy', '--to', dest])
      expect(r.code, r.stdout).toBe(1)
      const d = (JSON.parse(r.stdout) as { destinations: DestReport[] }).destinations[0]!
      expect(d.ok).toBe(false)
      expect(d.hint, `${dest}: ${d.error ?? ''}`).toMatch(pattern)
      expect(r.stdout + r.stderr).not.toContain(REST_PASS)
      expect(r.stdout + r.stderr).not.toContain(SFTP_PASS)
    }
    const sent = peer.requests.slice(before).map((q) => q.text)
    expect(sent.filter((t) => /copy to (s3bad|sftpbad|resticbad) failed/.test(t))).toHaveLength(3)
    for (const t of sent) expect(t).not.toContain(REST_PASS)
    const state = readFileSync(join(work.dir, 'state', 'copies.json'), 'utf8')
    expect(state).not.toContain(REST_PASS)
    expect(state).not.toContain(RESTIC_PW)
    expect(JSON.parse(state).destinations.s3bad.lastOk).toBe(false)
    expect((await cli(['backups'])).code).toBe(0)
  }, 120_000)

  it('restores side by side from SFTP, S3 and the REST server, and each verifies', async () => {
    const want = createHash('sha256')
      .update(readFileSync(join(work.dir, 'data', 'random.bin')))
      .digest('hex')
    for (const dest of ['sftp', 's3', 'rest']) {
      const v = await cli(['verify', '--from', dest, '--all'])
      expect(v.code, `${dest}: ${v.stdout}`).toBe(0)
      const to = join(work.dir, `restored-${dest}`)
      const r = await cli(['restore', 'files', 'latest', '--from', dest, '--to', to, '--yes'])
      expect(r.code, `${dest}: ${r.stdout}`).toBe(0)
      expect(
        createHash('sha256')
          .update(readFileSync(join(to, 'random.bin')))
          .digest('hex'),
        dest,
      ).toBe(want)
    }
    // S3 offers md5 only: --download checks the sha256 of the bytes themselves.
    const d = await cli(['verify', '--from', 's3', '--download'])
    expect(d.code, d.stdout).toBe(0)
    expect(d.stdout).toMatch(/downloaded/)
  }, 180_000)

  it('SIGTERM during an upload: exit 143, no copy that looks complete, and the next run copies it', async () => {
    day = 3
    sftpProxy.refuse = true
    const made = await cli(['backup'])
    sftpProxy.refuse = false
    const id = (JSON.parse(made.stdout) as { targets: Array<{ id: string }> }).targets[0]!.id
    sftpProxy.stallAfter = 256 * 1024
    const child = spawn(process.execPath, [BIN, '--json', '-c', join(work.dir, 'ownops.yml'), 'copy', '--to', 'sftp'], {
      env: testEnv(work.dir, { RESTIC_PW, REST_PASS }),
      cwd: work.dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stderr = ''
    await new Promise<void>((resolve) => {
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString()
        if (stderr.includes(`copying ${id} to sftp`)) resolve()
      })
    })
    child.kill('SIGTERM')
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
    sftpProxy.stallAfter = undefined
    expect(code, stderr).toBe(143)
    const l = await listFrom('sftp')
    expect(l.copies.map((c) => c.id)).not.toContain(id)
    const onServer = existsSync(join(work.dir, 'sftp-root', 'backups', 'files'))
      ? readdirSync(join(work.dir, 'sftp-root', 'backups', 'files'))
      : []
    expect(onServer.filter((f) => f.startsWith(id))).toEqual([])
    const state = JSON.parse(readFileSync(join(work.dir, 'state', 'copies.json'), 'utf8')) as {
      destinations: Record<string, { lastOk: boolean; error?: string }>
    }
    expect(state.destinations.sftp).toMatchObject({ lastOk: false, error: 'interrupted' })
    const again = await cli(['copy', '--to', 'sftp'])
    expect(again.code, again.stdout).toBe(0)
    expect((await listFrom('sftp')).copies.map((c) => c.id)).toContain(id)
    expect((await listFrom('sftp')).oddities).toEqual([])
  }, 120_000)
})

/** Runs the built CLI inside a mount namespace of its own, with a tmpfs mounted at `at` first. */
function inMountNamespace(
  dir: string,
  args: string[],
  mount?: { at: string; size: string },
): Promise<{ code: number; stdout: string; stderr: string }> {
  const asRoot = process.getuid?.() === 0
  const script = `${mount ? `mount -t tmpfs -o size=${mount.size},mode=0700 ownops-test "$1" || exit 99; shift; ` : 'shift; '}exec "$@"`
  const argv = [
    ...(asRoot ? ['-m'] : ['-rm']),
    '--propagation',
    'private',
    'sh',
    '-c',
    script,
    'sh',
    mount?.at ?? '-',
    process.execPath,
    BIN,
    '--json',
    '-c',
    join(dir, 'ownops.yml'),
    ...args,
  ]
  return new Promise((resolve) => {
    execFile('unshare', argv, { env: testEnv(dir), cwd: dir, timeout: 120_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stdout, stderr })
    })
  })
}

describe('a path destination on a disk that is not mounted, or full', () => {
  let work: { dir: string; cleanup: () => void }
  const usb = () => join(work.dir, 'usb')

  beforeAll(async () => {
    work = tempDir()
    const data = join(work.dir, 'data')
    mkdirSync(data, { recursive: true })
    writeFileSync(join(data, 'random.bin'), randomBytes(512 << 10))
    mkdirSync(usb())
    mkdirSync(join(work.dir, 'remote'))
    writeFileSync(
      join(work.dir, 'ownops.yml'),
      `backup:
  dir: ${join(work.dir, 'backups')}
  targets:
    files: { type: directory, path: ${data}, compression: gzip }
  destinations:
    usb: { type: path, path: ${usb()}, requireMount: true, retries: 0, schedule: "0 5 * * *" }
    nas: { type: rclone, remote: ${join(work.dir, 'remote')}, retries: 0, schedule: "0 5 * * *" }
`,
    )
    const b = await runCli(['--json', '-c', join(work.dir, 'ownops.yml'), 'backup'], { env: testEnv(work.dir), cwd: work.dir })
    expect(b.code, b.stdout + b.stderr).toBe(0)
  }, 60_000)

  afterAll(() => work?.cleanup())

  it('requireMount: refuses to write to a directory with nothing mounted on it, and copies once a disk is mounted there', async () => {
    const refused = await runCli(['--json', '-c', join(work.dir, 'ownops.yml'), 'copy', '--to', 'usb'], {
      env: testEnv(work.dir),
      cwd: work.dir,
    })
    expect(refused.code).toBe(1)
    const d = (JSON.parse(refused.stdout) as { destinations: DestReport[] }).destinations[0]!
    expect(d.error).toMatch(/is not a mount point \(requireMount\); refusing to write there/)
    expect(d.hint).toMatch(/mount the disk/)
    expect(readdirSync(usb())).toEqual([])
    const mounted = await inMountNamespace(work.dir, ['copy', '--to', 'usb'], { at: usb(), size: '8m' })
    expect(mounted.code, mounted.stdout + mounted.stderr).toBe(0)
    expect((JSON.parse(mounted.stdout) as { destinations: DestReport[] }).destinations[0]!.targets[0]!.uploaded).toHaveLength(1)
  }, 60_000)

  it('a full destination (path or rclone): a clear error, no partial file left, the local backup kept', async () => {
    const full = await inMountNamespace(work.dir, ['copy', '--to', 'usb'], { at: usb(), size: '64k' })
    expect(full.code, full.stdout + full.stderr).toBe(1)
    const d = (JSON.parse(full.stdout) as { destinations: DestReport[] }).destinations[0]!
    expect(d.error).toMatch(/destination usb is full: no space left .*the partial copy was removed/)
    const nas = await inMountNamespace(work.dir, ['copy', '--to', 'nas'], { at: join(work.dir, 'remote'), size: '64k' })
    expect(nas.code, nas.stdout + nas.stderr).toBe(1)
    const n = (JSON.parse(nas.stdout) as { destinations: DestReport[] }).destinations[0]!
    expect(n.error).toMatch(/rclone uploading failed: .*(no space left on device|too big for remaining disk space)/)
    expect(n.hint).toMatch(/destination is full/)
    const local = JSON.parse(
      (await runCli(['--json', '-c', join(work.dir, 'ownops.yml'), 'backups'], { env: testEnv(work.dir), cwd: work.dir })).stdout,
    ) as { targets: Array<{ backups: unknown[] }> }
    expect(local.targets[0]!.backups).toHaveLength(1)
  }, 60_000)
})
