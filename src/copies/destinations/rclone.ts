/**
 * `type: rclone` — any rclone remote (Google Drive, S3 and compatibles, B2, SFTP, WebDAV, a
 * local path, `crypt` over any of them) through the `rclone` binary and the user's
 * rclone.conf. An upload goes to `.<file>.<pid>.partial` and is checked, renamed, and then
 * its manifest is written the same way. A plain upload is `rclone copyto`: the file's sha256
 * is checked against the manifest while rclone reads it, and rclone checks the transfer with
 * a hash both sides have. With `age` the bytes are encrypted before they leave the box (age |
 * rclone rcat) and the ciphertext is checked against the remote's sha256 or md5 of it, or by
 * downloading it where the backend has no hash (crypt).
 */
import { createReadStream } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import type { Manifest } from '../../backup/artifact.js'
import { partialName } from '../../backup/artifact.js'
import type { BackupEntry } from '../../backup/catalog.js'
import { OwnopsError } from '../../errors.js'
import type { ReadMeter } from '../../ui/progress.js'
import { processAlive } from '../../sys/host.js'
import { runTool, startTool, type ToolResult } from '../../sys/tool.js'
import { joinRemote, listingFromFiles, storedName, type ListedFile } from '../layout.js'
import { ageStage, HashingPass, type AgeSettings } from '../streams.js'
import type {
  Destination,
  DestinationEnv,
  RemoteCopy,
  RemoteListing,
  RemoteManifest,
  RemoteOddity,
  StoredObject,
  VerifyOutcome,
} from '../types.js'
import { compareStored, discard, fetchStored, needIdentity, piped } from './path.js'

/**
 * rclone writes a local path (a local remote, a mounted disk) with the umask it is given: the
 * copies get the modes of the backups they copy (files 0600, directories 0700), as a path
 * destination's do, also when ownops runs from a shell with umask 022.
 */
const COPY_UMASK = 0o077

type RcloneConfig = Extract<DestinationEnv['config'], { type: 'rclone' }>

interface Features {
  hashes: string[]
  slowHash: boolean
}

/** The remote's name and, for on-the-fly remotes (`:s3,…:bucket`), its backend; a plain path is the local backend. */
export function remoteName(remote: string): { name: string | undefined; inlineType: string | undefined } {
  if (remote.startsWith('/') || !remote.includes(':')) return { name: undefined, inlineType: 'local' }
  if (remote.startsWith(':')) return { name: undefined, inlineType: /^:([a-z0-9]+)/i.exec(remote)?.[1] }
  return { name: remote.slice(0, remote.indexOf(':')), inlineType: undefined }
}

/** `rclone listremotes --long`: name → backend type. */
export function parseListRemotes(text: string): Map<string, string> {
  const out = new Map<string, string>()
  for (const line of text.split('\n')) {
    const m = /^(.+?):\s+(\S+)\s*$/.exec(line.trim())
    if (m) out.set(m[1] ?? '', m[2] ?? '')
  }
  return out
}

export async function openRclone(env: DestinationEnv): Promise<Destination> {
  const config = env.config as RcloneConfig
  const d = new RcloneDestination(env, config)
  await d.init()
  return d
}

class RcloneDestination implements Destination {
  encryption = 'none'
  readonly where: string
  private readonly age: AgeSettings | undefined
  private features: Features = { hashes: [], slowHash: true }

  constructor(
    private readonly env: DestinationEnv,
    private readonly config: RcloneConfig,
  ) {
    this.where = config.remote
    this.age =
      config.age !== undefined && (config.age.recipients.length > 0 || config.age.recipientsFile !== undefined) ? config.age : undefined
  }

  private args(...rest: string[]): string[] {
    return [
      'rclone',
      ...(this.config.config !== undefined ? ['--config', this.config.config] : []),
      '--log-level',
      'ERROR',
      // ownops retries a failed upload as a whole (retries:); rclone keeps its low-level retries.
      '--retries',
      '1',
      ...(this.config.bwlimit !== undefined ? ['--bwlimit', this.config.bwlimit] : []),
      ...this.config.flags,
      ...rest,
    ]
  }

  private run(rest: string[], extra: { stdin?: import('node:stream').Readable | string } = {}): Promise<ToolResult> {
    return runTool(this.args(...rest), { log: this.env.log, env: this.env.env, signal: this.env.signal, umask: COPY_UMASK, ...extra })
  }

  private fail(what: string, r: ToolResult): OwnopsError {
    return rcloneError(this.env.name, this.config.remote, what, r)
  }

  async init(): Promise<void> {
    const { name, inlineType } = remoteName(this.config.remote)
    let type = inlineType
    if (name !== undefined) {
      const r = await this.run(['listremotes', '--long'])
      if (!r.ok) throw this.fail('reading rclone.conf', r)
      type = parseListRemotes(r.stdout).get(name)
      if (type === undefined) {
        throw new OwnopsError(
          `destination ${this.env.name}: rclone has no remote named "${name}"${this.config.config ? ` in ${this.config.config}` : ''}`,
          {
            kind: 'config',
            hint: `rclone listremotes${this.config.config ? ` --config ${this.config.config}` : ''} shows the remotes; create it with rclone config`,
          },
        )
      }
    }
    this.encryption = type === 'crypt' ? (this.age ? 'age+crypt' : 'crypt') : this.age ? 'age' : 'none'
    const f = await this.run(['backend', 'features', this.config.remote])
    if (f.ok) {
      try {
        const parsed = JSON.parse(f.stdout) as { Hashes?: string[]; Features?: Record<string, boolean> }
        this.features = { hashes: (parsed.Hashes ?? []).map((h) => h.toLowerCase()), slowHash: parsed.Features?.SlowHash !== false }
      } catch {
        // unknown features: hashes are checked by downloading
      }
    }
  }

  private path(...parts: string[]): string {
    return joinRemote(this.config.remote, ...parts)
  }

  async list(targets: readonly string[], options: { hashes?: boolean } = {}): Promise<RemoteListing> {
    const hashType =
      options.hashes === true && !this.features.slowHash
        ? this.features.hashes.includes('sha256')
          ? 'sha256'
          : this.features.hashes.includes('md5')
            ? 'md5'
            : undefined
        : undefined
    const r = await this.run([
      'lsjson',
      '-R',
      '--files-only',
      '--max-depth',
      '2',
      ...(hashType ? ['--hash', '--hash-type', hashType] : []),
      this.config.remote,
    ])
    if (!r.ok) {
      if (/directory not found|not found|doesn't exist|NoSuchBucket/i.test(r.stderr) && r.exitCode === 3)
        return { copies: [], oddities: [] }
      throw this.fail('listing', r)
    }
    const entries = JSON.parse(r.stdout || '[]') as Array<{ Path: string; Size: number; Hashes?: Record<string, string> }>
    const files: ListedFile[] = entries
      .filter((e) => targets.some((t) => e.Path.startsWith(`${t}/`)))
      .map((e) => ({
        path: e.Path,
        size: e.Size,
        ...(e.Hashes ? { hashes: Object.fromEntries(Object.entries(e.Hashes).map(([k, v]) => [k.toLowerCase(), v])) } : {}),
      }))
    const manifests = await this.readManifests(
      files.filter((f) => f.path.endsWith('.json') && !f.path.split('/').pop()?.startsWith('.')).map((f) => f.path),
    )
    const listing = listingFromFiles(files, manifests, targets, (pid) => !processAlive(pid))
    for (const c of listing.copies) {
      c.location = this.path(c.location)
      if (c.manifestLocation) c.manifestLocation = this.path(c.manifestLocation)
    }
    for (const o of listing.oddities) o.path = this.path(o.path)
    return { ...listing, compared: hashType !== undefined ? { hash: hashType } : {} }
  }

  /** All manifests in one transfer (rclone copy with filters) rather than one process each. */
  private async readManifests(paths: string[]): Promise<Map<string, unknown>> {
    const out = new Map<string, unknown>()
    if (paths.length === 0) return out
    const dir = await mkdtemp(join(tmpdir(), 'ownops-manifests-'))
    try {
      const r = await this.run([
        'copy',
        '--max-depth',
        '2',
        ...paths.flatMap((p) => ['--include', `/${p.replace(/[*?[\]{}\\]/g, '\\$&')}`]),
        this.config.remote,
        dir,
      ])
      if (!r.ok) throw this.fail('reading the manifests', r)
      for (const p of paths) {
        const text = await readFile(join(dir, p), 'utf8').catch(() => undefined)
        if (text === undefined) continue
        try {
          out.set(p, JSON.parse(text))
        } catch {
          out.set(p, undefined)
        }
      }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
    return out
  }

  async upload(entry: BackupEntry, meter?: ReadMeter): Promise<RemoteCopy> {
    const m = entry.manifest
    const file = storedName(m.file, this.age ? 'age' : 'none')
    const partial = this.path(m.target, partialName(file))
    const final = this.path(m.target, file)
    let stored: StoredObject
    let transferChecked = false
    try {
      if (this.age) {
        const plain = new HashingPass()
        const out = new HashingPass({ md5: true })
        meter?.(() => plain.bytes)
        const age = ageStage(piped(createReadStream(entry.path, { highWaterMark: 1 << 20 }), plain), { encrypt: this.age }, this.env)
        const rcat = startTool(this.args('rcat', partial), {
          log: this.env.log,
          env: this.env.env,
          signal: this.env.signal,
          umask: COPY_UMASK,
          pipeStdin: true,
        })
        const stdin = rcat.child.stdin as NodeJS.WritableStream
        const piping = pipeline(age.output, out, stdin as import('node:stream').Writable).catch((error: unknown) => {
          age.kill()
          rcat.kill()
          throw error
        })
        const [r] = await Promise.all([rcat.result, piping.catch((e: unknown) => e)])
        const ageResult = await age.done.catch((e: unknown) => e as Error)
        if (ageResult instanceof Error) throw ageResult
        if (!r.ok) throw this.fail('uploading', r)
        const p = plain.result()
        if (p.size !== m.size || p.sha256 !== m.sha256) {
          throw new OwnopsError(`the local backup ${m.id} no longer matches its manifest (sha256 or size differ); it was not copied`, {
            kind: 'failed',
            hint: `ownops verify ${m.target} --all`,
          })
        }
        const o = out.result()
        stored = {
          file,
          size: o.size,
          sha256: o.sha256,
          ...(o.md5 ? { md5: o.md5 } : {}),
          encryption: 'age',
          recipients: [...this.age.recipients],
        }
      } else {
        // rclone reads the file (and checks the transfer with a hash both sides have); the same
        // bytes are hashed here meanwhile, and their sha256 must be the manifest's.
        const h = new HashingPass()
        const hashing = pipeline(createReadStream(entry.path, { highWaterMark: 1 << 20 }), h, discard(), { signal: this.env.signal }).then(
          () => h.result(),
        )
        const [r, got] = await Promise.all([this.run(['copyto', entry.path, partial]), hashing])
        if (got.sha256 !== m.sha256 || got.size !== m.size) {
          throw new OwnopsError(`the local backup ${m.id} no longer matches its manifest (sha256 or size differ); it was not copied`, {
            kind: 'failed',
            hint: `ownops verify ${m.target} --all`,
          })
        }
        if (!r.ok) throw this.fail('uploading', r)
        // Where the backend keeps only an md5 (S3, B2 …), record it: verify --from compares it later.
        const md5 =
          !this.features.slowHash && !this.features.hashes.includes('sha256') && this.features.hashes.includes('md5')
            ? await this.remoteHash('md5', partial)
            : undefined
        stored = { file, size: m.size, sha256: m.sha256, ...(md5 ? { md5 } : {}), encryption: 'none' }
        transferChecked = this.features.hashes.length > 0 && !this.config.flags.includes('--ignore-checksum')
      }
      // The manifest's sha256 against the remote where the backend keeps sha256s (Drive …). Else a
      // plain upload stands on rclone's check of the transfer (md5 on S3, a read on local and
      // SFTP remotes), and the stored bytes of an age upload are checked here.
      const storedSha256 = !this.features.slowHash && this.features.hashes.includes('sha256')
      const check =
        transferChecked && !storedSha256 ? { ok: true, checks: ['rclone transfer hash'] } : await this.checkStored(partial, stored)
      if (!check.ok)
        throw new OwnopsError(`destination ${this.env.name}: the uploaded copy of ${m.id} does not match: ${check.problem ?? ''}`, {
          kind: 'failed',
          hint: 'the next run uploads it again',
        })
      const moved = await this.run(['moveto', partial, final])
      if (!moved.ok) throw this.fail('renaming the upload', moved)
    } catch (error) {
      await this.run(['deletefile', partial]).catch(() => undefined)
      throw error
    }
    const remote: RemoteManifest = { ...m, copy: { ...stored, host: this.env.host, copiedAt: new Date().toISOString() } }
    const manifestPartial = this.path(m.target, partialName(`${m.id}.json`))
    const manifestFinal = this.path(m.target, `${m.id}.json`)
    const put = await this.run(['rcat', manifestPartial], { stdin: `${JSON.stringify(remote, null, 2)}\n` })
    const moved = put.ok ? await this.run(['moveto', manifestPartial, manifestFinal]) : put
    if (!moved.ok) {
      await this.run(['deletefile', manifestPartial]).catch(() => undefined)
      throw this.fail('writing the manifest', moved)
    }
    return {
      target: m.target,
      id: m.id,
      time: entry.time,
      tags: entry.tags,
      size: m.size,
      sha256: m.sha256,
      manifest: m,
      stored: remote.copy,
      location: final,
      manifestLocation: manifestFinal,
    }
  }

  /** The hash the backend has for an object, or undefined (e.g. a streamed multipart upload). */
  private async remoteHash(type: string, path: string): Promise<string | undefined> {
    const r = await this.run(['hashsum', type, path])
    if (!r.ok) throw this.fail(`reading the ${type} of ${path}`, r)
    const got = r.stdout.trim().split(/\s+/)[0]?.toLowerCase() ?? ''
    return /^[0-9a-f]{32,64}$/.test(got) ? got : undefined
  }

  /**
   * The stored bytes at `path` against their record: the sha256 or md5 the backend keeps, else
   * one it computes by reading the file (a local path, SFTP), else a download.
   */
  private async checkStored(path: string, stored: StoredObject, options: { download?: boolean } = {}): Promise<VerifyOutcome> {
    const { hashes, slowHash } = this.features
    if (options.download !== true) {
      const cheap = !slowHash
        ? hashes.includes('sha256')
          ? 'sha256'
          : hashes.includes('md5') && stored.md5 !== undefined
            ? 'md5'
            : undefined
        : undefined
      const type = cheap ?? (hashes.includes('md5') && stored.md5 !== undefined ? 'md5' : hashes.includes('sha256') ? 'sha256' : undefined)
      if (type !== undefined) {
        const got = await this.remoteHash(type, path)
        if (got !== undefined) {
          const want = type === 'sha256' ? stored.sha256 : (stored.md5 ?? '')
          if (got !== want)
            return {
              ok: false,
              checks: [`remote ${type}`],
              problem: `${type} of the stored copy ${got.slice(0, 12)}… differs from the recorded ${want.slice(0, 12)}… (the copy is damaged or was changed)`,
            }
          return { ok: true, checks: [`remote ${type}`] }
        }
        // The backend has no hash for this object (e.g. a streamed multipart upload): download it.
      }
    }
    const hash = new HashingPass()
    const cat = startTool(this.args('cat', path), {
      log: this.env.log,
      env: this.env.env,
      signal: this.env.signal,
      umask: COPY_UMASK,
      pipeStdout: true,
    })
    const piping = pipeline(cat.child.stdout as import('node:stream').Readable, hash, discard()).catch((e: unknown) => e)
    const [r] = await Promise.all([cat.result, piping])
    if (!r.ok) throw this.fail(`downloading ${path}`, r)
    return compareStored({ stored } as RemoteCopy, hash.result(), 'downloaded')
  }

  async remove(copies: readonly RemoteCopy[]): Promise<void> {
    for (const c of copies) {
      if (c.manifestLocation) {
        const r = await this.run(['deletefile', c.manifestLocation])
        if (!r.ok) throw this.fail(`removing ${c.manifestLocation}`, r)
      }
      const r = await this.run(['deletefile', c.location])
      if (!r.ok) throw this.fail(`removing ${c.location}`, r)
    }
  }

  async removeUnfinished(oddities: readonly RemoteOddity[]): Promise<number> {
    let n = 0
    for (const o of oddities) {
      if (o.kind !== 'unfinished' || o.stale !== true) continue
      const r = await this.run(['deletefile', o.path])
      if (r.ok) n++
    }
    return n
  }

  async fetch(copy: RemoteCopy, dir: string, identities: readonly string[]): Promise<Manifest> {
    needIdentity(copy, identities)
    const cat = startTool(this.args('cat', copy.location), {
      log: this.env.log,
      env: this.env.env,
      signal: this.env.signal,
      umask: COPY_UMASK,
      pipeStdout: true,
    })
    try {
      const manifest = await fetchStored(copy, dir, identities, this.env, () => cat.child.stdout as import('node:stream').Readable)
      const r = await cat.result
      if (!r.ok) throw this.fail(`downloading ${copy.location}`, r)
      return manifest
    } catch (error) {
      cat.kill()
      const r = await cat.result
      // The download's own failure explains a short stream better than what came of it.
      if (!r.ok && r.exitCode !== null && r.exitCode !== 0) throw this.fail(`downloading ${copy.location}`, r)
      throw error
    }
  }

  async verify(copy: RemoteCopy, options: { download: boolean }): Promise<VerifyOutcome> {
    if (copy.stored === undefined) return { ok: false, checks: [], problem: 'no record of the stored bytes' }
    return this.checkStored(copy.location, copy.stored, { download: options.download })
  }
}

/** An rclone failure, with what the remote said and a hint for the common causes. */
export function rcloneError(name: string, remote: string, what: string, r: ToolResult): OwnopsError {
  if (r.timedOut || r.aborted)
    return new OwnopsError(`destination ${name}: rclone ${what}: ${r.timedOut ? 'timed out' : 'interrupted'}`, {
      kind: 'failed',
      hint: 'the next run retries',
    })
  const tail = rcloneMessage(r.stderr) || `exit ${String(r.exitCode)}`
  let hint = `rclone lsd ${remote.includes(':') ? remote.slice(0, remote.indexOf(':') + 1) : remote} checks the remote by hand; the next run retries`
  if (
    /SignatureDoesNotMatch|InvalidAccessKeyId|AccessDenied|Forbidden|\b40[13]\b|unable to authenticate|auth(entication)? fail|permission denied|invalid_grant|couldn't connect SSH|handshake failed/i.test(
      r.stderr,
    )
  ) {
    hint = `the remote refused the credentials: check the remote in rclone.conf (rclone config reconnect / rclone lsd ${remote.slice(0, remote.indexOf(':') + 1)})`
  } else if (/no space left|too big for remaining disk space|quota|insufficient storage|507|storage full|EntityTooLarge/i.test(r.stderr)) {
    hint = 'the destination is full: free space there or tighten its keep:; the next run copies what is missing'
  } else if (/connection refused|no such host|timeout|i\/o timeout|connection reset|EOF/i.test(r.stderr)) {
    hint = 'the remote could not be reached or dropped the connection; the next run retries'
  }
  return new OwnopsError(`destination ${name}: rclone ${what} failed: ${tail}`, { kind: 'failed', hint })
}

/** rclone's last distinct error lines, without their log prefixes (date, time, level). */
export function rcloneMessage(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.replace(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d (?:[A-Z]+ ?: )?/, '').trim())
    .filter((l) => l !== '' && !/^Attempt \d+\/\d+ failed/.test(l))
  return [...new Set(lines)].slice(-2).join(' / ')
}
