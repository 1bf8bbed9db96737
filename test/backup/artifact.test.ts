/** Artifacts, the catalog, size-drop detection, metrics and the RCON client, without Docker. */
import { execFileSync, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { Readable } from 'node:stream'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Artifact, parsePartialName, partialName, timestampId } from '../../src/backup/artifact.js'
import { readCatalog, type BackupEntry } from '../../src/backup/catalog.js'
import { renderBackupMetrics } from '../../src/backup/metrics.js'
import { sizeDropWarning } from '../../src/backup/catalog.js'
import { decodePackets, encodePacket, RconClient } from '../../src/sys/rcon.js'
import { runCli, tempDir, testEnv } from '../helpers/cli.js'
import { startRconPeer } from '../helpers/rcon-peer.js'

let work: { dir: string; cleanup: () => void }
beforeEach(() => {
  work = tempDir()
})
afterEach(() => work.cleanup())

const base = {
  target: 'db',
  type: 'postgres',
  time: '2026-11-24T03:00:00.000Z',
  durationMs: 1200,
  compression: 'custom' as const,
  ownopsVersion: '0.1.0',
  host: 'box',
  source: {},
  warnings: [],
}

describe('artifact', () => {
  it('streams into a hidden partial file, then renames it and writes the manifest last', async () => {
    const dir = join(work.dir, 'b', 'db')
    const artifact = await Artifact.create(dir, 'db-20261124T030000Z', 'pgdump')
    expect(readdirSync(dir)).toEqual([partialName('db-20261124T030000Z.pgdump')])
    const data = Buffer.alloc(3 << 20, 'x')
    await pipeline(Readable.from([data.subarray(0, 1 << 20), data.subarray(1 << 20)]), artifact.sink)
    expect(existsSync(artifact.path)).toBe(false)
    const manifest = await artifact.commit(base)
    expect(readdirSync(dir).sort()).toEqual(['db-20261124T030000Z.json', 'db-20261124T030000Z.pgdump'])
    expect(manifest).toMatchObject({
      id: 'db-20261124T030000Z',
      file: 'db-20261124T030000Z.pgdump',
      size: data.length,
      sha256: createHash('sha256').update(data).digest('hex'),
    })
    expect(statSync(artifact.path).mode & 0o777).toBe(0o600)
    expect(statSync(join(dir, 'db-20261124T030000Z.json')).mode & 0o777).toBe(0o600)
    expect(statSync(dir).mode & 0o777).toBe(0o700)
    expect(JSON.parse(readFileSync(join(dir, 'db-20261124T030000Z.json'), 'utf8'))).toEqual(manifest)
  })

  it('abort removes the partial file and leaves nothing', async () => {
    const dir = join(work.dir, 'db')
    const artifact = await Artifact.create(dir, 'db-x', 'pgdump')
    artifact.sink.write(Buffer.from('half a dump'))
    await artifact.abort()
    await artifact.abort()
    expect(readdirSync(dir)).toEqual([])
  })

  it('refuses to commit a stream that has not finished', async () => {
    const artifact = await Artifact.create(work.dir, 'db-y', 'pgdump')
    artifact.sink.write(Buffer.from('x'))
    await expect(artifact.commit(base)).rejects.toThrow(/not finished/)
    await artifact.abort()
  })

  it('a write error of the partial file (a full disk) is kept as the failure, never an unhandled error event', async () => {
    const dir = join(work.dir, 'db')
    const artifact = await Artifact.create(dir, 'db-z', 'pgdump')
    // The descriptor goes away under the sink, as the disk would: the next write fails.
    await (artifact as unknown as { handle: { close(): Promise<void> } }).handle.close()
    const accepted = artifact.sink.write(Buffer.alloc(64, 'x'))
    await new Promise((resolve) => setImmediate(resolve))
    expect(accepted === false || artifact.sink.destroyed).toBe(true)
    expect(artifact.failure).toBeInstanceOf(Error)
    artifact.sink.end()
    await expect(artifact.commit(base)).rejects.toBe(artifact.failure)
    await artifact.abort()
    expect(readdirSync(dir)).toEqual([])
  })

  it('a tool that writes the partial file itself: the bytes it wrote are hashed as they land, and the manifest says so', async () => {
    const dir = join(work.dir, 'db')
    const artifact = await Artifact.create(dir, 'db-t', 'tar.zst')
    const fd = artifact.sink.fileDescriptor()
    // A writer that pauses half-way: the reader catches up, waits, and reads the rest.
    const child = spawn('sh', ['-c', 'head -c 3000000 /dev/urandom; sleep 0.3; head -c 1500000 /dev/urandom'], {
      stdio: ['ignore', fd, 'inherit'],
    })
    await new Promise((resolve) => child.on('close', resolve))
    const manifest = await artifact.commit(base)
    const written = readFileSync(artifact.path)
    expect(written.length).toBe(4_500_000)
    expect(manifest).toMatchObject({ size: 4_500_000, sha256: createHash('sha256').update(written).digest('hex') })
    expect(readdirSync(dir).sort()).toEqual(['db-t.json', 'db-t.tar.zst'])
  })

  it('an artifact larger than the early-flush stretch (32 MiB), streamed or written by a tool, commits whole with its checksum', async () => {
    const dir = join(work.dir, 'big')
    const streamed = await Artifact.create(dir, 'big-s', 'pgdump')
    const chunk = Buffer.alloc(1 << 20, 'y')
    await pipeline(
      Readable.from(
        (function* () {
          for (let i = 0; i < 70; i++) yield chunk
        })(),
      ),
      streamed.sink,
    )
    const a = await streamed.commit(base)
    expect(a.size).toBe(70 << 20)
    expect(a.sha256).toBe(createHash('sha256').update(readFileSync(streamed.path)).digest('hex'))
    const written = await Artifact.create(dir, 'big-t', 'tar.zst')
    const fd = written.sink.fileDescriptor()
    const child = spawn('sh', ['-c', 'head -c 73400320 /dev/urandom'], { stdio: ['ignore', fd, 'inherit'] })
    await new Promise((resolve) => child.on('close', resolve))
    const b = await written.commit(base)
    expect(b.size).toBe(73_400_320)
    expect(b.sha256).toBe(createHash('sha256').update(readFileSync(written.path)).digest('hex'))
  })

  it('a tool that goes back to rewrite the start of what it wrote (as pg_dump -Fc does on a file): the commit fails and leaves nothing', async () => {
    const dir = join(work.dir, 'db')
    let startHashed = (): void => undefined
    const hashed = new Promise<void>((resolve) => (startHashed = resolve))
    const artifact = await Artifact.create(dir, 'db-w', 'pgdump', (p) => p.bytes >= 3_000_000 && startHashed())
    // Writes 3 MB, waits for a line on stdin, then patches its first bytes through a second
    // open of the same file (its offset stays at the end, like fseeko and back).
    const child = spawn('sh', ['-c', 'head -c 3000000 /dev/zero; read go; printf TOC | dd of=/dev/fd/1 conv=notrunc status=none'], {
      stdio: ['pipe', artifact.sink.fileDescriptor(), 'inherit'],
    })
    const closed = new Promise((resolve) => child.on('close', resolve))
    // The start has been hashed before it is rewritten.
    await hashed
    child.stdin?.end('go\n')
    await closed
    expect(
      readFileSync(join(dir, partialName('db-w.pgdump')))
        .subarray(0, 4)
        .toString(),
    ).toBe('TOC\0')
    await expect(artifact.commit(base)).rejects.toThrow(/rewritten after its start was hashed/)
    expect(readdirSync(dir)).toEqual([])
  })

  it('a tool writing the partial file: abort stops the reader and removes the partial file', async () => {
    const dir = join(work.dir, 'db')
    const artifact = await Artifact.create(dir, 'db-u', 'tar.zst')
    const child = spawn('sh', ['-c', 'head -c 2000000 /dev/zero'], { stdio: ['ignore', artifact.sink.fileDescriptor(), 'inherit'] })
    await new Promise((resolve) => child.on('close', resolve))
    await artifact.abort()
    expect(readdirSync(dir)).toEqual([])
    // A stream already written to cannot hand its descriptor to a tool as well.
    const other = await Artifact.create(dir, 'db-v', 'pgdump')
    other.sink.write(Buffer.from('x'))
    expect(() => other.sink.fileDescriptor()).toThrow(/in use/)
    await other.abort()
  })

  it('names: timestamp ids and partial names round-trip', () => {
    expect(timestampId(new Date('2026-06-15T04:05:06.789Z'))).toBe('20260615T040506Z')
    expect(parsePartialName(partialName('w-1.tar.zst', 4242))).toEqual({ file: 'w-1.tar.zst', pid: 4242 })
    expect(parsePartialName('.notours')).toBeUndefined()
    // SQLite's journal beside a partial copy belongs to the same run.
    expect(parsePartialName(`${partialName('db-1.sqlite-copy', 4242)}-journal`)).toEqual({ file: 'db-1.sqlite-copy', pid: 4242 })
  })
})

describe('directory backups written by tar and zstd themselves', () => {
  const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex')
  interface Report {
    targets: Array<{ ok: boolean; id?: string; file?: string; error?: string }>
  }

  it.for(['zstd', 'none'])(
    'compression %s: the manifest has the checksum and size of the file the tool wrote, and a second backup within the same second goes beside the first, never over it',
    async (compression) => {
      // Some MB of mixed data (random, text, many small files): the tool writes for a while,
      // and the artifact is hashed as it grows.
      const tree = join(work.dir, 'site')
      mkdirSync(join(tree, 'deep', 'er'), { recursive: true })
      execFileSync('sh', ['-c', `head -c 3000000 /dev/urandom > '${tree}/random'; seq 1 400000 > '${tree}/deep/text'`])
      for (let i = 0; i < 200; i++) writeFileSync(join(tree, 'deep', 'er', `f${i}`), `file ${i}\n`)
      const config = join(work.dir, 'ownops.yml')
      writeFileSync(
        config,
        `backup:\n  dir: ${join(work.dir, 'backups')}\n  targets:\n    site: { type: directory, path: ${tree}, compression: ${compression} }\n`,
      )
      // Every run at the same instant: the same timestamp id.
      const at = new Date('2026-11-24T03:00:00.000Z')
      const backup = async () => {
        const r = await runCli(['--json', '-c', config, 'backup', 'site'], { env: testEnv(work.dir), cwd: work.dir, clock: () => at })
        expect(r.code, r.stderr).toBe(0)
        return (JSON.parse(r.stdout) as Report).targets[0]!
      }
      const dir = join(work.dir, 'backups', 'site')
      const ext = compression === 'zstd' ? 'tar.zst' : 'tar'
      const manifestOf = (id: string) =>
        JSON.parse(readFileSync(join(dir, `${id}.json`), 'utf8')) as {
          file: string
          size: number
          sha256: string
          source: { files: number }
        }
      const listing = (file: string) =>
        execFileSync('tar', [...(compression === 'zstd' ? ['--zstd'] : []), '-tf', file], { encoding: 'utf8', maxBuffer: 1 << 26 })
          .split('\n')
          .filter(Boolean)

      const first = await backup()
      expect(first.id).toBe('site-20261124T030000Z')
      const one = manifestOf(first.id!)
      expect(one.file).toBe(`site-20261124T030000Z.${ext}`)
      expect(statSync(join(dir, one.file)).size).toBe(one.size)
      expect(sha256(join(dir, one.file))).toBe(one.sha256)
      expect(listing(join(dir, one.file))).toHaveLength(one.source.files)
      expect(one.source.files).toBe(205) // . random deep deep/text deep/er and 200 files
      const firstBytes = { manifest: readFileSync(join(dir, `${first.id}.json`), 'utf8'), sha256: one.sha256 }

      writeFileSync(join(tree, 'later'), 'written after the first backup')
      const second = await backup()
      expect(second.id).toBe('site-20261124T030000Z-2')
      const two = manifestOf(second.id!)
      expect(sha256(join(dir, two.file))).toBe(two.sha256)
      expect(listing(join(dir, two.file))).toContain('./later')
      // The first is as it was.
      expect(readFileSync(join(dir, `${first.id}.json`), 'utf8')).toBe(firstBytes.manifest)
      expect(sha256(join(dir, one.file))).toBe(firstBytes.sha256)
      expect(listing(join(dir, one.file))).not.toContain('./later')

      // An artifact whose manifest is missing holds its name too: it is left for the operator to look at, not overwritten.
      writeFileSync(join(dir, `site-20261124T030000Z-3.${ext}`), 'an artifact without its manifest')
      const third = await backup()
      expect(third.id).toBe('site-20261124T030000Z-4')
      expect(readFileSync(join(dir, `site-20261124T030000Z-3.${ext}`), 'utf8')).toBe('an artifact without its manifest')
      expect(sha256(join(dir, manifestOf(third.id!).file))).toBe(manifestOf(third.id!).sha256)
      const listed = await runCli(['--json', '-c', config, 'backups', 'site'], { env: testEnv(work.dir), cwd: work.dir, clock: () => at })
      const ids = (JSON.parse(listed.stdout) as { targets: Array<{ backups: Array<{ id: string }> }> }).targets[0]!.backups.map(
        (b) => b.id,
      ).sort()
      expect(ids).toEqual(['site-20261124T030000Z', 'site-20261124T030000Z-2', 'site-20261124T030000Z-4'])
    },
  )
})

describe('catalog', () => {
  it('lists valid backups newest first and reports everything odd', async () => {
    const dir = join(work.dir, 'db')
    for (const [id, time] of [
      ['db-20261122T030000Z', '2026-11-22T03:00:00.000Z'],
      ['db-20261124T030000Z', '2026-11-24T03:00:00.000Z'],
      ['db-20261123T030000Z', '2026-11-23T03:00:00.000Z'],
    ] as const) {
      const a = await Artifact.create(dir, id, 'pgdump')
      await pipeline(Readable.from([Buffer.from(id)]), a.sink)
      await a.commit({ ...base, time })
    }
    writeFileSync(join(dir, 'db-20261120T030000Z.pgdump'), 'no manifest')
    writeFileSync(
      join(dir, 'db-20261121T030000Z.json'),
      JSON.stringify({ ...base, manifestVersion: 1, id: 'db-20261121T030000Z', file: 'db-20261121T030000Z.pgdump', size: 1, sha256: 'x' }),
    )
    writeFileSync(join(dir, 'broken.json'), '{ not json')
    writeFileSync(join(dir, 'db-20261123T030000Z.pgdump'), 'truncated') // size no longer matches
    writeFileSync(join(dir, partialName('db-20261125T030000Z.pgdump', 999_999_999)), 'partial')
    writeFileSync(join(dir, partialName('db-20261125T030001Z.pgdump', process.pid)), 'in progress')

    const catalog = await readCatalog(work.dir, 'db')
    expect(catalog.backups.map((b) => b.manifest.id)).toEqual(['db-20261124T030000Z', 'db-20261122T030000Z'])
    const odd = catalog.oddities.map((o) => `${o.kind}${o.stale === undefined ? '' : o.stale ? ':stale' : ':live'}`).sort()
    expect(odd).toEqual(['bad-manifest', 'no-artifact', 'no-manifest', 'partial:live', 'partial:stale', 'size-mismatch'])
  })

  it('an absent target directory is an empty catalog', async () => {
    expect(await readCatalog(work.dir, 'nothing')).toMatchObject({ backups: [], oddities: [] })
  })
})

function entry(size: number, i: number): BackupEntry {
  return {
    manifest: { ...base, manifestVersion: 1, id: `db-${i}`, file: `db-${i}.pgdump`, size, sha256: '' },
    path: '',
    manifestPath: '',
    time: new Date(Date.UTC(2026, 0, 30 - i)),
    tags: [],
  }
}

describe('size drop', () => {
  it('flags a new backup under the ratio of the median of the previous five', () => {
    const previous = [100, 110, 90, 105, 95, 1].map((s, i) => entry(s, i + 1)) // the sixth is outside the window
    expect(sizeDropWarning([entry(49, 0), ...previous], 49, 0.5)).toMatch(/under 50% of the median of the previous 5 \(100 bytes\)/)
    expect(sizeDropWarning([entry(50, 0), ...previous], 50, 0.5)).toBeUndefined()
    expect(sizeDropWarning([entry(10, 0)], 10, 0.5)).toBeUndefined()
    expect(sizeDropWarning([entry(1, 0), entry(100, 1)], 1, 0)).toBeUndefined()
    expect(sizeDropWarning([entry(40, 0), entry(100, 1), entry(60, 2)], 40, 0.5)).toBeUndefined() // median 80 → 40 is not under
    expect(sizeDropWarning([entry(39, 0), entry(100, 1), entry(60, 2)], 39, 0.5)).toMatch(/median of the previous 2 \(80 bytes\)/)
  })
})

describe('metrics', () => {
  it('renders the newest backup per target and the last run result', () => {
    const text = renderBackupMetrics(
      [
        { target: 'db', dir: '', backups: [entry(2048, 0)], oddities: [] },
        { target: 'w"x', dir: '', backups: [], oddities: [] },
      ],
      [{ target: 'db', ok: false, at: '2026-01-31T03:00:00.000Z' }],
    )
    expect(text).toContain(`ownops_backup_last_success_timestamp_seconds{target="db"} ${Date.UTC(2026, 0, 30) / 1000}`)
    expect(text).toContain('ownops_backup_last_size_bytes{target="db"} 2048')
    expect(text).toContain('ownops_backup_last_duration_seconds{target="db"} 1.2')
    expect(text).toContain('ownops_backup_kept{target="w\\"x"} 0')
    expect(text).toContain('ownops_backup_last_run_success{target="db"} 0')
    expect(text).toContain(`ownops_backup_last_run_timestamp_seconds{target="db"} ${Date.UTC(2026, 0, 31, 3) / 1000}`)
    expect(text).toContain('# TYPE ownops_backup_last_size_bytes gauge')
    expect(text.endsWith('\n')).toBe(true)
  })
})

describe('RCON', () => {
  it('encodes and decodes packets, including split reads', () => {
    const a = encodePacket(7, 2, 'save-all flush')
    const b = encodePacket(8, 0, 'Saved the game')
    const joined = Buffer.concat([a, b])
    const first = decodePackets(joined.subarray(0, a.length + 3))
    expect(first.packets).toEqual([{ id: 7, type: 2, body: 'save-all flush' }])
    const second = decodePackets(Buffer.concat([first.rest, joined.subarray(a.length + 3)]))
    expect(second.packets).toEqual([{ id: 8, type: 0, body: 'Saved the game' }])
    expect(second.rest.length).toBe(0)
    expect(() => decodePackets(Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]))).toThrow(/malformed/)
  })

  it('logs in, runs commands, and tells a wrong password apart from a dead server', async () => {
    const peer = await startRconPeer('pw-123')
    try {
      const client = await RconClient.connect({ host: '127.0.0.1', port: peer.port, password: 'pw-123' })
      expect(await client.command('save-all flush')).toBe('Saved the game')
      client.close()
      expect(peer.commands).toEqual(['save-all flush'])
      await expect(RconClient.connect({ host: '127.0.0.1', port: peer.port, password: 'nope' })).rejects.toMatchObject({
        authFailed: true,
        message: expect.stringMatching(/wrong password/),
      })
    } finally {
      await peer.close()
    }
    await expect(RconClient.connect({ host: '127.0.0.1', port: peer.port, password: 'x', timeoutMs: 2000 })).rejects.toMatchObject({
      authFailed: false,
      message: expect.stringMatching(/ECONNREFUSED/),
    })
  })

  it('RCON: a reply cut into several packets comes back whole, in order, and the next command gets its own reply', async () => {
    const peer = await startRconPeer('pw-123')
    try {
      const long = Array.from({ length: 900 }, (_, i) => `/command${i} – ünïcödé`).join(' ')
      peer.respond = (command) => (command === 'help' ? long : command === 'list' ? 'There are 0 of a max of 20 players online: ' : '')
      const client = await RconClient.connect({ host: '127.0.0.1', port: peer.port, password: 'pw-123' })
      expect(Buffer.byteLength(long)).toBeGreaterThan(3 * 4096)
      expect(await client.command('help')).toBe(long)
      expect(await client.command('list')).toBe('There are 0 of a max of 20 players online: ')
      client.close()
      expect(peer.commands).toEqual(['help', 'list'])
    } finally {
      await peer.close()
    }
  })

  it('RCON: a server that ignores the end marker still answers short replies', async () => {
    const { createServer } = await import('node:net')
    const server = createServer((socket) => {
      let buffer: Buffer = Buffer.alloc(0)
      socket.on('data', (chunk: Buffer) => {
        buffer = Buffer.concat([buffer, chunk])
        const { packets, rest } = decodePackets(buffer)
        buffer = rest
        for (const p of packets) {
          if (p.type === 3) socket.write(encodePacket(p.id, 2, ''))
          else if (p.type === 2) socket.write(encodePacket(p.id, 0, `ran ${p.body}`))
          // type 0: no answer at all
        }
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      const port = (server.address() as { port: number }).port
      const client = await RconClient.connect({ host: '127.0.0.1', port, password: 'x', timeoutMs: 5000 })
      expect(await client.command('say hi')).toBe('ran say hi')
      expect(await client.command('list')).toBe('ran list')
      client.close()
    } finally {
      server.close()
    }
  })
})
