/**
 * Copies off the box against real tools and real storage on this machine: a path
 * destination encrypted with age, an rclone local remote, an rclone crypt remote over it,
 * and a restic repository on a local path. Backups of a directory are copied after
 * `ownops backup`, listed with `backups --from`, verified, tampered with, restored side by
 * side from each destination, and pruned by each destination's retention.
 */
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli, tempDir, testEnv } from '../helpers/cli.js'
import { ageKey, obscure, resticInit, toolEnv, writeRcloneConf } from '../helpers/copies.js'
import { startHttpPeer, type HttpPeer } from '../helpers/http-peer.js'

const RESTIC_PW = 'restic-pw-0c4f1e8a9b'
const CRYPT_PW = 'crypt-pw-77d2aa13'

interface CopyReport {
  ok: boolean
  destinations: Array<{
    destination: string
    ok: boolean
    encryption?: string
    error?: string
    hint?: string
    targets: Array<{ target: string; uploaded: Array<{ id: string }>; removed: string[]; holds: number; error?: string }>
  }>
}

function tree(root: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const rel of readdirSync(root, { recursive: true }).map(String).sort()) {
    const p = join(root, rel)
    const s = lstatSync(p)
    out[rel] = s.isFile()
      ? `file ${(s.mode & 0o7777).toString(8)} ${Math.floor(s.mtimeMs / 1000)} ${createHash('sha256').update(readFileSync(p)).digest('hex')}`
      : s.isDirectory()
        ? `dir ${(s.mode & 0o7777).toString(8)}`
        : 'other'
  }
  return out
}

describe('copies to a path (age), an rclone remote, an rclone crypt remote and a restic repository', () => {
  let work: { dir: string; cleanup: () => void }
  let peer: HttpPeer
  let key: { identity: string; recipient: string }
  let day = 0
  const clock = () => new Date(Date.UTC(2026, 10, 20 + day, 3, 0, 0))
  const cli = (args: string[]) =>
    runCli(['--json', '-c', join(work.dir, 'ownops.yml'), ...args], { env: testEnv(work.dir, { RESTIC_PW }), cwd: work.dir, clock })

  beforeAll(async () => {
    work = tempDir()
    peer = await startHttpPeer()
    key = ageKey(work.dir)
    const data = join(work.dir, 'data')
    mkdirSync(join(data, 'sub'), { recursive: true })
    writeFileSync(join(data, 'notes.txt'), '日本語のメモ\n'.repeat(1000))
    writeFileSync(join(data, 'sub', 'blob.bin'), createHash('sha512').update('x').digest().toString('hex').repeat(5000))
    chmodSync(join(data, 'sub', 'blob.bin'), 0o640)
    utimesSync(join(data, 'notes.txt'), new Date('2026-01-02T03:04:05Z'), new Date('2026-01-02T03:04:05Z'))
    writeRcloneConf(join(work.dir, 'rclone.conf'), {
      loc: { type: 'local' },
      vault: { type: 'crypt', remote: `loc:${join(work.dir, 'vaultroot')}`, password: obscure(CRYPT_PW) },
    })
    resticInit(join(work.dir, 'restic'), RESTIC_PW, work.dir)
    writeFileSync(
      join(work.dir, 'ownops.yml'),
      `backup:
  dir: ${join(work.dir, 'backups')}
  keep: { last: 5 }
  targets:
    files: { type: directory, path: ${data}, compression: gzip }
  destinations:
    disk: { type: path, path: ${join(work.dir, 'disk')}, age: { recipients: [${key.recipient}] }, retries: 0 }
    plain: { type: rclone, remote: "loc:${join(work.dir, 'plain')}", config: ${join(work.dir, 'rclone.conf')}, keep: { last: 1 }, retries: 0 }
    vault: { type: rclone, remote: "vault:", config: ${join(work.dir, 'rclone.conf')}, retries: 0 }
    repo: { type: restic, repository: ${join(work.dir, 'restic')}, password: "\${RESTIC_PW}", retries: 0 }
notify:
  channels:
    hook: { url: "json://127.0.0.1:${peer.port}/hook", levels: [info, warning, error, critical] }
  retries: 0
`,
    )
  }, 60_000)

  afterAll(async () => {
    await peer?.close()
    work?.cleanup()
  })

  it('ownops backup copies the new backup to every destination without a schedule, each stored as promised', async () => {
    const r = await cli(['backup'])
    expect(r.code, r.stdout + r.stderr).toBe(0)
    const report = JSON.parse(r.stdout) as {
      ok: boolean
      targets: Array<{ file: string; sha256: string }>
      copies: CopyReport['destinations']
    }
    expect(report.copies.map((c) => [c.destination, c.ok, c.encryption])).toEqual([
      ['disk', true, 'age'],
      ['plain', true, 'none'],
      ['vault', true, 'crypt'],
      ['repo', true, 'restic'],
    ])
    const artifact = readFileSync(report.targets[0]!.file)
    const id = report.targets[0]!.file.split('/')
      .pop()!
      .replace(/\.tar\.gz$/, '')

    // disk: age ciphertext, which only the identity (kept off the box) turns back into the backup.
    const stored = join(work.dir, 'disk', 'files', `${id}.tar.gz.age`)
    expect(readFileSync(stored).subarray(0, 21).toString()).toBe('age-encryption.org/v1')
    expect(execFileSync('age', ['-d', '-i', key.identity, stored], { maxBuffer: 1 << 28 }).equals(artifact)).toBe(true)
    expect(statSync(stored).mode & 0o777).toBe(0o600)
    const manifest = JSON.parse(readFileSync(join(work.dir, 'disk', 'files', `${id}.json`), 'utf8')) as {
      sha256: string
      copy: { encryption: string; sha256: string }
    }
    expect(manifest.sha256).toBe(report.targets[0]!.sha256)
    expect(manifest.copy.encryption).toBe('age')
    expect(manifest.copy.sha256).toBe(createHash('sha256').update(readFileSync(stored)).digest('hex'))
    // plain: the file as it is; vault: rclone crypt, nothing readable on the disk below it.
    expect(readFileSync(join(work.dir, 'plain', 'files', `${id}.tar.gz`)).equals(artifact)).toBe(true)
    const vaultFiles = readdirSync(join(work.dir, 'vaultroot'), { recursive: true }).map(String)
    expect(vaultFiles.length).toBeGreaterThan(0)
    expect(vaultFiles.some((f) => f.includes('files') || f.includes(id))).toBe(false)

    for (const dest of ['disk', 'plain', 'vault', 'repo']) {
      const list = await cli(['backups', '--from', dest])
      expect(list.code, list.stdout).toBe(0)
      const l = JSON.parse(list.stdout) as { copies: Array<{ id: string; sha256: string }>; oddities: unknown[]; pending: unknown[] }
      expect(
        l.copies.map((c) => [c.id, c.sha256]),
        dest,
      ).toEqual([[id, report.targets[0]!.sha256]])
      expect(l.oddities, dest).toEqual([])
      expect(l.pending, dest).toEqual([])
    }
    const local = JSON.parse((await cli(['backups'])).stdout) as { targets: Array<{ backups: Array<{ id: string; copies?: string }> }> }
    expect(local.targets[0]!.backups[0]!.copies).toBe('at disk, plain, vault, repo')
  }, 120_000)

  it("a second backup: each destination's retention applies (plain keeps one), and the restic snapshot carries its tags", async () => {
    day = 1
    writeFileSync(join(work.dir, 'data', 'day2.txt'), 'second day\n')
    const r = await cli(['backup'])
    expect(r.code, r.stdout + r.stderr).toBe(0)
    const report = JSON.parse(r.stdout) as { copies: CopyReport['destinations'] }
    const plain = report.copies.find((c) => c.destination === 'plain')!
    expect(plain.targets[0]!.removed).toHaveLength(1)
    expect(plain.targets[0]!.holds).toBe(1)
    expect(report.copies.find((c) => c.destination === 'disk')!.targets[0]!.holds).toBe(2)
    const snaps = JSON.parse(
      execFileSync('restic', ['snapshots', '--json'], {
        env: { ...toolEnv(work.dir), RESTIC_REPOSITORY: join(work.dir, 'restic'), RESTIC_PASSWORD: RESTIC_PW },
      }).toString(),
    ) as Array<{ time: string; tags: string[] }>
    expect(snaps).toHaveLength(2)
    expect(snaps.map((s) => new Date(s.time).toISOString()).sort()).toEqual(['2026-11-20T03:00:00.000Z', '2026-11-21T03:00:00.000Z'])
    expect(snaps[0]!.tags).toEqual(
      expect.arrayContaining([
        'ownops',
        'target:files',
        expect.stringMatching(/^backup:files-2026112\dT030000Z$/),
        expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
      ]),
    )
  }, 120_000)

  it('restores side by side from every destination, with content, modes and mtimes as backed up', async () => {
    const want = tree(join(work.dir, 'data'))
    for (const dest of ['disk', 'plain', 'vault', 'repo']) {
      const to = join(work.dir, `restored-${dest}`)
      const refused = await cli(['restore', 'files', 'latest', '--from', dest, '--to', to, '--yes'])
      if (dest === 'disk') {
        // age: without the private key there is nothing to decrypt with; nothing was changed.
        expect(refused.code, refused.stdout).toBe(2)
        expect(refused.stdout).toMatch(/encrypted with age/)
        expect(existsSync(to)).toBe(false)
      }
      const r =
        dest === 'disk'
          ? await cli(['restore', 'files', 'latest', '--from', dest, '--identity', key.identity, '--to', to, '--yes'])
          : refused
      expect(r.code, `${dest}: ${r.stdout}${r.stderr}`).toBe(0)
      expect(tree(to), dest).toEqual(want)
      expect(existsSync(join(work.dir, 'backups', '.fetched', dest, 'files')), dest).toBe(false)
    }
  }, 180_000)

  it('verify --from finds a tampered copy; the others verify', async () => {
    const dir = join(work.dir, 'plain', 'files')
    const file = join(
      dir,
      readdirSync(dir).find((f) => f.endsWith('.tar.gz'))!,
    )
    const original = readFileSync(file)
    const flipped = Buffer.from(original)
    flipped.writeUInt8(flipped.readUInt8(100) ^ 0x01, 100)
    writeFileSync(file, flipped)
    try {
      const bad = await cli(['verify', '--from', 'plain'])
      expect(bad.code, bad.stdout).toBe(1)
      expect(bad.stdout).toMatch(/sha256 .* differs from the recorded .*damaged or was changed/)
      expect(peer.requests.some((q) => /copies at plain failed verification/.test(q.text))).toBe(true)
      const listed = JSON.parse((await cli(['backups', '--from', 'plain'])).stdout) as { oddities: unknown[] }
      expect(listed.oddities).toEqual([]) // local rclone hashes are slow: the listing does not compute them; verify does
    } finally {
      writeFileSync(file, original)
    }
    for (const dest of ['plain', 'disk', 'vault', 'repo']) {
      const ok = await cli(['verify', '--from', dest, '--all'])
      expect(ok.code, `${dest}: ${ok.stdout}`).toBe(0)
    }
  }, 120_000)

  it('an unfinished upload is reported by backups --from and removed by the next copy', async () => {
    const leftover = join(work.dir, 'disk', 'files', '.files-20261122T030000Z.tar.gz.age.999999.partial')
    writeFileSync(leftover, 'half an upload')
    const list = JSON.parse((await cli(['backups', '--from', 'disk'])).stdout) as { oddities: Array<{ kind: string; message: string }> }
    expect(list.oddities).toEqual([
      expect.objectContaining({ kind: 'unfinished', message: expect.stringMatching(/unfinished upload .*not a copy/) }),
    ])
    const r = await cli(['copy', '--to', 'disk'])
    expect(r.code, r.stdout).toBe(0)
    expect(existsSync(leftover)).toBe(false)
  }, 60_000)

  it('never prints, logs or stores the restic password or the crypt password', async () => {
    const r = await cli(['copy', '--to', 'repo'])
    expect(r.code).toBe(0)
    const state = readFileSync(join(work.dir, 'state', 'copies.json'), 'utf8')
    for (const text of [r.stdout, r.stderr, state, ...peer.requests.map((q) => q.text)]) {
      expect(text).not.toContain(RESTIC_PW)
      expect(text).not.toContain(CRYPT_PW)
    }
  }, 60_000)
})

describe('a destination that is behind: local retention keeps what it lacks, monitor says so', () => {
  let work: { dir: string; cleanup: () => void }
  let now = new Date(Date.UTC(2026, 10, 20, 3, 0, 0))
  const cli = (args: string[]) =>
    runCli(['--json', '-c', join(work.dir, 'ownops.yml'), ...args], { env: testEnv(work.dir), cwd: work.dir, clock: () => now })
  const writeConfig = (keep: string) =>
    writeFileSync(
      join(work.dir, 'ownops.yml'),
      `backup:
  dir: ${join(work.dir, 'backups')}
  keep: ${keep}
  prometheus: ${join(work.dir, 'metrics', 'ownops_backup.prom')}
  targets:
    files: { type: directory, path: ${join(work.dir, 'data')}, compression: gzip }
  destinations:
    usb: { type: path, path: ${join(work.dir, 'usb')}, retries: 0, keep: { last: 5 }, schedule: "0 5 * * *" }
monitor:
  builtins: false
  checks:
    copies: { kind: backup, maxAge: 30d }
`,
    )

  beforeAll(() => {
    work = tempDir()
    mkdirSync(join(work.dir, 'data'))
    writeFileSync(join(work.dir, 'data', 'a.txt'), 'a\n')
    writeConfig('{ last: 5 }')
  })
  afterAll(() => work?.cleanup())

  it('keeps the newest backup the destination has not received, names it in backups, and monitor warns then alerts', async () => {
    const first = JSON.parse((await cli(['backup'])).stdout) as { targets: Array<{ file: string }> }
    now = new Date(Date.UTC(2026, 10, 21, 3, 0, 0))
    const second = JSON.parse((await cli(['backup'])).stdout) as { targets: Array<{ file: string }> }
    const older = first.targets[0]!.file.split('/').pop()!
    const olderId = older.replace(/\.tar\.gz$/, '')
    // The upload of the older backup fails (its partial file's name is taken): the newer one arrives.
    mkdirSync(join(work.dir, 'usb', 'files', `.${older}.${process.pid}.partial`), { recursive: true })
    const copy = await cli(['copy', '--to', 'usb'])
    expect(copy.code, copy.stdout).toBe(1)
    const d = (JSON.parse(copy.stdout) as CopyReport).destinations[0]!
    expect(d.targets[0]!.uploaded.map((u) => u.id)).toEqual([
      second.targets[0]!.file.split('/')
        .pop()!
        .replace(/\.tar\.gz$/, ''),
    ])
    const metrics = readFileSync(join(work.dir, 'metrics', 'ownops_copy.prom'), 'utf8')
    expect(metrics).toContain('ownops_copy_last_run_success{destination="usb"} 0')
    expect(metrics).toContain(
      `ownops_copy_newest_backup_timestamp_seconds{destination="usb",target="files"} ${Date.UTC(2026, 10, 21, 3) / 1000}`,
    )
    expect(statSync(join(work.dir, 'metrics', 'ownops_copy.prom')).mode & 0o777).toBe(0o644)

    // keep: last 1 would remove the older backup; it is the newest one usb lacks (and its own keep wants), so it stays.
    writeConfig('{ last: 1 }')
    const cleanup = await cli(['cleanup', 'backups'])
    expect(cleanup.code, cleanup.stdout).toBe(0)
    expect(existsSync(first.targets[0]!.file)).toBe(true)
    const kept = (JSON.parse(cleanup.stdout) as { rules: Array<{ kept?: Array<{ id: string; reasons: string[] }> }> }).rules[0]!.kept!
    expect(kept.find((k) => k.id === olderId)?.reasons).toEqual(['not yet copied to usb'])
    const listed = JSON.parse((await cli(['backups'])).stdout) as { targets: Array<{ backups: Array<{ id: string; copies?: string }> }> }
    expect(listed.targets[0]!.backups.map((b) => b.copies)).toEqual(['at usb', 'not yet at usb (kept until copied)'])

    now = new Date(Date.UTC(2026, 10, 21, 6, 0, 0))
    const warn = JSON.parse((await cli(['monitor', 'copies'])).stdout) as {
      checks: Array<{ subject?: string; status: string; message: string }>
    }
    expect(warn.checks.find((c) => c.subject === 'files@usb')).toMatchObject({
      status: 'warning',
      message: expect.stringMatching(/the last copy run failed: files: .*EEXIST|the last copy run failed: files: .*exists/),
    })
    now = new Date(Date.UTC(2026, 10, 23, 6, 0, 0))
    const crit = JSON.parse((await cli(['monitor', 'copies'])).stdout) as {
      checks: Array<{ subject?: string; status: string; message: string }>
    }
    expect(crit.checks.find((c) => c.subject === 'files@usb')).toMatchObject({
      status: 'critical',
      message: expect.stringMatching(/the newest copy at usb is 2d3h old \(more than 1d2h\)/),
    })

    // Once it has arrived, retention may remove it.
    rmSync(join(work.dir, 'usb', 'files', `.${older}.${process.pid}.partial`), { recursive: true })
    writeConfig('{ last: 5 }')
    expect((await cli(['copy', '--to', 'usb'])).code).toBe(0)
    writeConfig('{ last: 1 }')
    expect((await cli(['cleanup', 'backups'])).code).toBe(0)
    expect(existsSync(first.targets[0]!.file)).toBe(false)
  }, 120_000)
})
