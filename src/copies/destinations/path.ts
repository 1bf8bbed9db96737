/**
 * `type: path` — a directory on an external disk or NFS, written with the same care as the
 * local backups: a partial file, fsync, rename, fsync of the directory, the manifest last.
 * With `requireMount` it refuses to write unless a file system is mounted there (an
 * unmounted USB disk must not fill the root file system). With `age` it stores ciphertext.
 */
import { createReadStream } from 'node:fs'
import { mkdir, open, readdir, readFile, realpath, rename, rm, stat } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { Writable, type Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { ARTIFACT_DIR_MODE, ARTIFACT_FILE_MODE, partialName } from '../../backup/artifact.js'
import type { BackupEntry } from '../../backup/catalog.js'
import type { Manifest } from '../../backup/artifact.js'
import { OwnopsError } from '../../errors.js'
import type { ReadMeter } from '../../ui/progress.js'
import { fsyncDir, writeFileAtomic } from '../../sys/atomic.js'
import { processAlive, readMounts } from '../../sys/host.js'
import { listingFromFiles, storedName, type ListedFile } from '../layout.js'
import { ageStage, HashingPass, type AgeSettings } from '../streams.js'
import type { Destination, DestinationEnv, RemoteCopy, RemoteListing, RemoteManifest, RemoteOddity, VerifyOutcome } from '../types.js'

type PathConfig = Extract<DestinationEnv['config'], { type: 'path' }>

export async function openPath(env: DestinationEnv): Promise<Destination> {
  const config = env.config as PathConfig
  await checkMount(config.path, config.requireMount, env.name)
  return new PathDestination(env, config)
}

/** Refuses when `requireMount` is set and no file system is mounted where it must be. */
export async function checkMount(path: string, requireMount: boolean | string, name: string, mountsFile?: string): Promise<void> {
  if (requireMount === false) return
  const mountPoint = requireMount === true ? path : requireMount
  const refuse = (why: string) =>
    new OwnopsError(`destination ${name}: ${why}; refusing to write there`, {
      kind: 'failed',
      hint: `mount the disk (e.g. mount ${mountPoint}), or check that it is plugged in; the next run copies what is missing`,
    })
  let real: string
  try {
    real = await realpath(mountPoint)
  } catch {
    throw refuse(`${mountPoint} does not exist, so nothing is mounted there`)
  }
  const mounts = await readMounts(mountsFile)
  if (!mounts.some((m) => m.mountPoint === real)) throw refuse(`${mountPoint} is not a mount point (requireMount)`)
  if (requireMount !== true) {
    const inside = relative(real, await realpath(path).catch(() => path))
    if (inside.startsWith('..'))
      throw new OwnopsError(`destination ${name}: path ${path} is not under requireMount ${requireMount}`, { kind: 'config' })
  }
}

class PathDestination implements Destination {
  readonly encryption: string
  readonly where: string
  private readonly age: AgeSettings | undefined

  constructor(
    private readonly env: DestinationEnv,
    private readonly config: PathConfig,
  ) {
    this.age =
      config.age !== undefined && (config.age.recipients.length > 0 || config.age.recipientsFile !== undefined) ? config.age : undefined
    this.encryption = this.age ? 'age' : 'none'
    this.where = config.path
  }

  private full(rel: string): string {
    return join(this.config.path, rel)
  }

  async list(targets: readonly string[]): Promise<RemoteListing> {
    const files: ListedFile[] = []
    const manifests = new Map<string, unknown>()
    for (const target of targets) {
      let names: string[]
      try {
        names = await readdir(this.full(target))
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue
        throw error
      }
      for (const name of names) {
        const rel = `${target}/${name}`
        const s = await stat(this.full(rel)).catch(() => undefined)
        if (s === undefined || !s.isFile()) continue
        files.push({ path: rel, size: s.size })
        if (name.endsWith('.json') && !name.startsWith('.')) {
          manifests.set(
            rel,
            await readFile(this.full(rel), 'utf8')
              .then((t) => JSON.parse(t) as unknown)
              .catch(() => undefined),
          )
        }
      }
    }
    const listing = listingFromFiles(files, manifests, targets, (pid) => !processAlive(pid))
    for (const c of listing.copies) {
      c.location = this.full(c.location)
      if (c.manifestLocation) c.manifestLocation = this.full(c.manifestLocation)
    }
    for (const o of listing.oddities) o.path = this.full(o.path)
    return { ...listing, compared: {} }
  }

  async upload(entry: BackupEntry, meter?: ReadMeter): Promise<RemoteCopy> {
    const m = entry.manifest
    const dir = this.full(m.target)
    await mkdir(dir, { recursive: true, mode: ARTIFACT_DIR_MODE })
    const file = storedName(m.file, this.age ? 'age' : 'none')
    const partial = join(dir, partialName(file))
    const final = join(dir, file)
    const handle = await open(partial, 'wx', ARTIFACT_FILE_MODE)
    const plain = new HashingPass()
    const stored = new HashingPass()
    meter?.(() => plain.bytes)
    try {
      const source = piped(createReadStream(entry.path, { highWaterMark: 1 << 20 }), plain)
      let body: Readable = source
      const age = this.age ? ageStage(source, { encrypt: this.age }, this.env) : undefined
      if (age) body = age.output
      await pipeline(body, stored, fileSink(handle), { signal: this.env.signal })
      if (age) await age.done
      const p = plain.result()
      if (p.size !== m.size || p.sha256 !== m.sha256) {
        throw new OwnopsError(`the local backup ${m.id} no longer matches its manifest (sha256 or size differ); it was not copied`, {
          kind: 'failed',
          hint: `ownops verify ${m.target} --all`,
        })
      }
      await handle.sync()
      await handle.close()
      await rename(partial, final)
      await fsyncDir(dir)
    } catch (error) {
      await handle.close().catch(() => undefined)
      await rm(partial, { force: true })
      throw describeFsError(error, this.env.name, this.config.path)
    }
    const s = stored.result()
    const remote: RemoteManifest = {
      ...m,
      copy: {
        file,
        size: s.size,
        sha256: s.sha256,
        encryption: this.age ? 'age' : 'none',
        ...(this.age ? { recipients: [...this.age.recipients] } : {}),
        host: this.env.host,
        copiedAt: new Date().toISOString(),
      },
    }
    const manifestPath = join(dir, `${m.id}.json`)
    try {
      await writeFileAtomic(manifestPath, `${JSON.stringify(remote, null, 2)}\n`, { mode: ARTIFACT_FILE_MODE, dirMode: ARTIFACT_DIR_MODE })
    } catch (error) {
      await rm(final, { force: true })
      throw describeFsError(error, this.env.name, this.config.path)
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
      manifestLocation: manifestPath,
    }
  }

  async remove(copies: readonly RemoteCopy[]): Promise<void> {
    for (const c of copies) {
      if (c.manifestLocation) await rm(c.manifestLocation, { force: true })
      await rm(c.location, { force: true })
    }
  }

  async removeUnfinished(oddities: readonly RemoteOddity[]): Promise<number> {
    let n = 0
    for (const o of oddities) {
      if (o.kind !== 'unfinished' || o.stale !== true) continue
      await rm(o.path, { force: true })
      n++
    }
    return n
  }

  async fetch(copy: RemoteCopy, dir: string, identities: readonly string[]): Promise<Manifest> {
    return fetchStored(copy, dir, identities, this.env, () => createReadStream(copy.location, { highWaterMark: 1 << 20 }))
  }

  async verify(copy: RemoteCopy): Promise<VerifyOutcome> {
    const hash = new HashingPass()
    await pipeline(createReadStream(copy.location, { highWaterMark: 1 << 20 }), hash, discard(), { signal: this.env.signal })
    return compareStored(copy, hash.result(), 'read back')
  }
}

/** Compares what was read back with the recorded size and sha256 of the stored bytes. */
export function compareStored(copy: RemoteCopy, got: { sha256: string; size: number }, how: string): VerifyOutcome {
  const want = copy.stored
  if (want === undefined) return { ok: false, checks: [], problem: 'no record of the stored bytes' }
  if (got.size !== want.size)
    return { ok: false, checks: [how], problem: `stored copy is ${got.size} bytes, its manifest says ${want.size} (damaged or truncated)` }
  if (got.sha256 !== want.sha256)
    return {
      ok: false,
      checks: [how],
      problem: `sha256 of the stored copy ${got.sha256.slice(0, 12)}… differs from the recorded ${want.sha256.slice(0, 12)}… (the copy is damaged or was changed)`,
    }
  return { ok: true, checks: [how, 'size', 'sha256'] }
}

/**
 * Fetches a stored copy (any byte source) into `dir`: stored hash checked, decrypted when it
 * was encrypted, the backup's sha256 checked; a partial file renamed into place, then the
 * backup's own manifest written beside it. Nothing that looks valid unless it is.
 */
export async function fetchStored(
  copy: RemoteCopy,
  dir: string,
  identities: readonly string[],
  env: Pick<DestinationEnv, 'log' | 'env' | 'signal'>,
  open_: () => Readable,
): Promise<Manifest> {
  const manifest = copy.manifest
  const stored = copy.stored
  if (manifest === undefined || stored === undefined) throw new OwnopsError(`copy ${copy.id}: no manifest`, { kind: 'failed' })
  needIdentity(copy, identities)
  await mkdir(dir, { recursive: true, mode: ARTIFACT_DIR_MODE })
  const partial = join(dir, partialName(manifest.file))
  const handle = await open(partial, 'w', ARTIFACT_FILE_MODE)
  const storedHash = new HashingPass()
  const plain = new HashingPass()
  try {
    const source = piped(open_(), storedHash)
    const age = stored.encryption === 'age' ? ageStage(source, { decrypt: identities }, env) : undefined
    await pipeline(age ? age.output : source, plain, fileSink(handle), { signal: env.signal })
    if (age) await age.done
    const s = storedHash.result()
    const check = compareStored(copy, s, 'downloaded')
    if (!check.ok)
      throw new OwnopsError(`refusing ${copy.id}: ${check.problem ?? ''}`, {
        kind: 'failed',
        hint: 'pick another copy (ownops backups --from DEST)',
      })
    const p = plain.result()
    if (p.size !== manifest.size || p.sha256 !== manifest.sha256) {
      throw new OwnopsError(`refusing ${copy.id}: the decrypted backup's sha256 or size differs from its manifest`, {
        kind: 'failed',
        hint: 'pick another copy (ownops backups --from DEST)',
      })
    }
    await handle.sync()
    await handle.close()
    await rename(partial, join(dir, manifest.file))
  } catch (error) {
    await handle.close().catch(() => undefined)
    await rm(partial, { force: true })
    throw error
  }
  await writeFileAtomic(join(dir, `${manifest.id}.json`), `${JSON.stringify(manifest, null, 2)}\n`, {
    mode: ARTIFACT_FILE_MODE,
    dirMode: ARTIFACT_DIR_MODE,
  })
  return manifest
}

export function fileSink(handle: import('node:fs/promises').FileHandle): Writable {
  return new Writable({
    highWaterMark: 1 << 20,
    write(chunk: Buffer, _e, callback) {
      writeAll(handle, chunk).then(() => callback(), callback)
    },
  })
}

async function writeAll(handle: import('node:fs/promises').FileHandle, buffer: Buffer): Promise<void> {
  let offset = 0
  while (offset < buffer.length) {
    const { bytesWritten } = await handle.write(buffer, offset, buffer.length - offset)
    offset += bytesWritten
  }
}

/** An age-encrypted copy cannot be fetched without a private key: say so before anything is downloaded. */
export function needIdentity(copy: RemoteCopy, identities: readonly string[]): void {
  if (copy.stored?.encryption === 'age' && identities.length === 0) {
    throw new OwnopsError(`${copy.id} is encrypted with age`, {
      kind: 'usage',
      hint: 'give the private key it was encrypted to: --identity FILE (age-keygen output, or an SSH private key)',
    })
  }
}

/** `from.pipe(to)`, with an error of `from` passed on to `to`. */
export function piped<T extends import('node:stream').Duplex>(from: Readable, to: T): T {
  from.on('error', (error) => to.destroy(error))
  return from.pipe(to)
}

export function discard(): Writable {
  return new Writable({ write: (_c, _e, cb) => cb() })
}

function describeFsError(error: unknown, name: string, path: string): unknown {
  const code = (error as NodeJS.ErrnoException).code
  if (code === 'ENOSPC')
    return new OwnopsError(`destination ${name} is full: no space left under ${path}; the partial copy was removed`, {
      kind: 'failed',
      hint: 'free space there or tighten its keep:; the next run copies what is missing',
    })
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS')
    return new OwnopsError(`destination ${name}: cannot write under ${path}: ${(error as Error).message}`, {
      kind: 'failed',
      hint: 'check the permissions and that the disk is mounted read-write',
    })
  return error
}
