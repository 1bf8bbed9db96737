/**
 * `type: restic` — a restic repository (local path, SFTP, REST server, S3, rclone:…) through
 * the `restic` binary: encrypted and deduplicated by restic. Each backup is one snapshot of
 * its artifact and manifest, dated with the backup's time and tagged `ownops`,
 * `target:<name>`, `backup:<id>`, `sha256:<hex>`, `size:<bytes>` (and `tag:<t>` for the
 * backup's own tags). A snapshot exists only once restic has stored all of it. Retention is
 * `restic forget` (with `--prune`) of the snapshots the policy does not keep; integrity is
 * `restic check`, optionally with `--read-data-subset`. The password and repository
 * credentials reach restic through its environment, never its command line.
 */
import { mkdir, open, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { ARTIFACT_DIR_MODE, ARTIFACT_FILE_MODE, partialName, type Manifest } from '../../backup/artifact.js'
import { parseManifest, type BackupEntry } from '../../backup/catalog.js'
import { OwnopsError } from '../../errors.js'
import { maskUrlCredentials, urlSecretParts } from '../../redact.js'
import { writeFileAtomic } from '../../sys/atomic.js'
import { resticRate } from '../schema.js'
import { runTool, startTool, stderrTail, type ToolResult } from '../../sys/tool.js'
import { HashingPass } from '../streams.js'
import type { Destination, DestinationEnv, RemoteCopy, RemoteListing, RemoteOddity, VerifyOutcome } from '../types.js'
import { discard, fileSink } from './path.js'

type ResticConfig = Extract<DestinationEnv['config'], { type: 'restic' }>

export interface ResticSnapshot {
  id: string
  short_id?: string
  time: string
  hostname?: string
  tags?: string[]
  paths?: string[]
}

/** "2026-11-24 03:00:00" in the host's time zone: restic's --time. */
function resticTime(time: Date): string {
  const p = (n: number) => String(n).padStart(2, '0')
  return `${time.getFullYear()}-${p(time.getMonth() + 1)}-${p(time.getDate())} ${p(time.getHours())}:${p(time.getMinutes())}:${p(time.getSeconds())}`
}

/** Copies and odd snapshots from `restic snapshots --json`. */
export function listingFromSnapshots(snapshots: readonly ResticSnapshot[], targets: readonly string[]): RemoteListing {
  const listing: RemoteListing = { copies: [], oddities: [] }
  for (const s of snapshots) {
    const tags = s.tags ?? []
    const value = (prefix: string) => tags.find((t) => t.startsWith(prefix))?.slice(prefix.length)
    const target = value('target:')
    if (target === undefined || !targets.includes(target)) continue
    const id = value('backup:')
    const sha256 = value('sha256:')
    const size = Number(value('size:'))
    const paths = s.paths ?? []
    const manifestPath = paths.find((p) => p.endsWith('.json'))
    const artifactPath = paths.find((p) => !p.endsWith('.json'))
    if (id === undefined || sha256 === undefined || !Number.isFinite(size) || manifestPath === undefined || artifactPath === undefined) {
      listing.oddities.push({
        kind: 'bad-manifest',
        target,
        path: s.short_id ?? s.id,
        message: 'snapshot tagged ownops without its backup id, sha256, size or files',
      })
      continue
    }
    listing.copies.push({
      target,
      id,
      time: new Date(s.time),
      tags: tags.filter((t) => t.startsWith('tag:')).map((t) => t.slice(4)),
      size,
      sha256,
      location: s.id,
      paths: { artifact: artifactPath, manifest: manifestPath },
    })
  }
  listing.copies.sort((a, b) => b.time.getTime() - a.time.getTime())
  return listing
}

export async function openRestic(env: DestinationEnv): Promise<Destination> {
  const config = env.config as ResticConfig
  if (config.password !== undefined) env.secret(config.password)
  for (const value of Object.values(config.env)) env.secret(value)
  for (const part of urlSecretParts(config.repository.replace(/^rest:/, ''))) env.secret(part)
  if (
    config.password === undefined &&
    config.passwordFile === undefined &&
    config.env.RESTIC_PASSWORD === undefined &&
    config.env.RESTIC_PASSWORD_FILE === undefined &&
    env.env.RESTIC_PASSWORD === undefined &&
    env.env.RESTIC_PASSWORD_FILE === undefined
  ) {
    throw new OwnopsError(`destination ${env.name}: the restic repository needs a password`, {
      kind: 'config',
      hint: 'password: ${RESTIC_PASSWORD} (in the env file) or passwordFile: /etc/ownops/restic.pass',
    })
  }
  return new ResticDestination(env, config)
}

class ResticDestination implements Destination {
  readonly encryption = 'restic'
  readonly where: string
  private readonly toolEnv: NodeJS.ProcessEnv

  constructor(
    private readonly env: DestinationEnv,
    private readonly config: ResticConfig,
  ) {
    this.where = maskUrlCredentials(config.repository)
    this.toolEnv = {
      ...env.env,
      RESTIC_REPOSITORY: config.repository,
      // The sandboxed units keep the home directory read-only: restic's cache lives in the state directory.
      RESTIC_CACHE_DIR: join(env.stateDir, 'restic-cache'),
      ...(config.password !== undefined ? { RESTIC_PASSWORD: config.password } : {}),
      ...(config.passwordFile !== undefined ? { RESTIC_PASSWORD_FILE: config.passwordFile } : {}),
      ...config.env,
    }
  }

  private args(rest: string[], upload = false): string[] {
    const rate = upload && this.config.bwlimit !== undefined ? resticRate(this.config.bwlimit) : undefined
    return ['restic', ...(rate !== undefined ? ['--limit-upload', String(rate)] : []), ...this.config.flags, ...rest]
  }

  private async run(rest: string[], upload = false): Promise<ToolResult> {
    let r = await runTool(this.args(rest, upload), { log: this.env.log, env: this.toolEnv, signal: this.env.signal })
    if (!r.ok && /already locked|unable to create lock/i.test(r.stderr)) {
      // A lock left by an interrupted run: `restic unlock` removes stale locks only, then try once more.
      this.env.log.warn({ destination: this.env.name }, 'the restic repository is locked; removing stale locks and trying again')
      await runTool(this.args(['unlock']), { log: this.env.log, env: this.toolEnv, signal: this.env.signal })
      r = await runTool(this.args(rest, upload), { log: this.env.log, env: this.toolEnv, signal: this.env.signal })
    }
    return r
  }

  private fail(what: string, r: ToolResult): OwnopsError {
    if (r.timedOut || r.aborted)
      return new OwnopsError(`destination ${this.env.name}: restic ${what}: ${r.timedOut ? 'timed out' : 'interrupted'}`, {
        kind: 'failed',
        hint: 'the next run retries',
      })
    const tail = stderrTail(r.stderr) || `exit ${String(r.exitCode)}`
    let hint = `restic -r ${this.where} snapshots checks the repository by hand; the next run retries`
    if (/wrong password|no key found/i.test(r.stderr))
      hint = 'the repository password is wrong: check password:/passwordFile: of this destination'
    else if (/Is there a repository|repository does not exist|unable to open config file|config file does not exist/i.test(r.stderr))
      hint = `there is no restic repository there yet: create it once with  restic -r ${this.where} init`
    else if (/no space left|quota|507|insufficient storage/i.test(r.stderr))
      hint = 'the repository is full: free space there or tighten its keep:; the next run copies what is missing'
    else if (/\b40[13]\b|unauthori[sz]ed|forbidden|access denied|SignatureDoesNotMatch|InvalidAccessKeyId/i.test(r.stderr))
      hint = 'the server refused the credentials: check the repository URL and env: of this destination'
    return new OwnopsError(`destination ${this.env.name}: restic ${what} failed: ${tail}`, { kind: 'failed', hint })
  }

  async list(targets: readonly string[]): Promise<RemoteListing> {
    const r = await this.run(['snapshots', '--json', '--no-lock', '--tag', 'ownops'])
    if (!r.ok) throw this.fail('listing snapshots', r)
    const listing = listingFromSnapshots(JSON.parse(r.stdout || '[]') as ResticSnapshot[], targets)
    const locks = await this.run(['list', 'locks', '--no-lock'])
    const held = locks.ok ? locks.stdout.split('\n').filter((l) => /^[0-9a-f]{64}$/.test(l.trim())) : []
    for (const id of held)
      listing.oddities.push({
        kind: 'locked',
        path: `lock ${id.slice(0, 8)}`,
        message: 'the repository is locked: a run in progress, or one that was interrupted (restic unlock removes stale locks)',
        stale: true,
      })
    return listing
  }

  async upload(entry: BackupEntry): Promise<RemoteCopy> {
    const m = entry.manifest
    const tags = [
      'ownops',
      `target:${m.target}`,
      `backup:${m.id}`,
      `sha256:${m.sha256}`,
      `size:${m.size}`,
      ...entry.tags.filter((t) => !t.includes(',')).map((t) => `tag:${t}`),
    ]
    const r = await this.run(
      [
        'backup',
        '--json',
        '--host',
        this.env.host,
        '--time',
        resticTime(entry.time),
        ...tags.flatMap((t) => ['--tag', t]),
        entry.path,
        entry.manifestPath,
      ],
      true,
    )
    const summary = r.stdout
      .split('\n')
      .map((l) => {
        try {
          return JSON.parse(l) as { message_type?: string; snapshot_id?: string }
        } catch {
          return undefined
        }
      })
      .find((x) => x?.message_type === 'summary')
    if (!r.ok) {
      // Exit 3: a snapshot was written but some files could not be read; it is not a copy.
      if (r.exitCode === 3 && summary?.snapshot_id) await this.run(['forget', summary.snapshot_id]).catch(() => undefined)
      throw this.fail(`backup of ${m.id}`, r)
    }
    const id = summary?.snapshot_id
    if (id === undefined)
      throw new OwnopsError(`destination ${this.env.name}: restic backup of ${m.id} reported no snapshot`, { kind: 'failed' })
    return {
      target: m.target,
      id: m.id,
      time: entry.time,
      tags: entry.tags,
      size: m.size,
      sha256: m.sha256,
      manifest: m,
      location: id,
      paths: { artifact: entry.path, manifest: entry.manifestPath },
    }
  }

  async remove(copies: readonly RemoteCopy[]): Promise<void> {
    if (copies.length === 0) return
    const r = await this.run(['forget', ...(this.config.prune ? ['--prune'] : []), ...copies.map((c) => c.location)])
    if (!r.ok) throw this.fail('forget', r)
  }

  async removeUnfinished(oddities: readonly RemoteOddity[]): Promise<number> {
    if (!oddities.some((o) => o.kind === 'locked')) return 0
    const r = await runTool(this.args(['unlock']), { log: this.env.log, env: this.toolEnv, signal: this.env.signal })
    return r.ok ? 1 : 0
  }

  private dump(copy: RemoteCopy, path: string): ReturnType<typeof startTool> {
    return startTool(this.args(['dump', '--no-lock', copy.location, path]), {
      log: this.env.log,
      env: this.toolEnv,
      signal: this.env.signal,
      pipeStdout: true,
    })
  }

  async fetch(copy: RemoteCopy, dir: string): Promise<Manifest> {
    if (copy.paths === undefined) throw new OwnopsError(`copy ${copy.id}: snapshot without files`, { kind: 'failed' })
    const m = await runTool(this.args(['dump', '--no-lock', copy.location, copy.paths.manifest]), {
      log: this.env.log,
      env: this.toolEnv,
      signal: this.env.signal,
    })
    if (!m.ok) throw this.fail(`reading the manifest of ${copy.id}`, m)
    let manifest: Manifest | undefined
    try {
      manifest = parseManifest(JSON.parse(m.stdout))
    } catch {
      manifest = undefined
    }
    if (manifest === undefined || manifest.sha256 !== copy.sha256 || manifest.size !== copy.size) {
      throw new OwnopsError(
        `refusing ${copy.id}: its manifest in snapshot ${copy.location.slice(0, 8)} is unreadable or disagrees with the snapshot's tags`,
        { kind: 'failed' },
      )
    }
    await mkdir(dir, { recursive: true, mode: ARTIFACT_DIR_MODE })
    const partial = join(dir, partialName(manifest.file))
    const handle = await open(partial, 'w', ARTIFACT_FILE_MODE)
    const dump = this.dump(copy, copy.paths.artifact)
    const hash = new HashingPass()
    try {
      const piping = pipeline(dump.child.stdout as Readable, hash, fileSink(handle), { signal: this.env.signal }).catch(
        (e: unknown) => e as Error,
      )
      const [r, p] = await Promise.all([dump.result, piping])
      if (!r.ok) throw this.fail(`restoring ${copy.id}`, r)
      if (p instanceof Error) throw p
      const got = hash.result()
      if (got.size !== manifest.size || got.sha256 !== manifest.sha256) {
        throw new OwnopsError(`refusing ${copy.id}: the restored file's sha256 or size differs from its manifest`, {
          kind: 'failed',
          hint: 'run ownops verify --from with restic check; pick another copy',
        })
      }
      await handle.sync()
      await handle.close()
      await rename(partial, join(dir, manifest.file))
    } catch (error) {
      dump.kill()
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

  async verify(copy: RemoteCopy): Promise<VerifyOutcome> {
    if (copy.paths === undefined) return { ok: false, checks: [], problem: 'snapshot without files' }
    const dump = this.dump(copy, copy.paths.artifact)
    const hash = new HashingPass()
    const piping = pipeline(dump.child.stdout as Readable, hash, discard()).catch((e: unknown) => e)
    const [r] = await Promise.all([dump.result, piping])
    if (!r.ok) return { ok: false, checks: ['restic dump'], problem: this.fail(`reading ${copy.id}`, r).message }
    const got = hash.result()
    if (got.size !== copy.size)
      return { ok: false, checks: ['restic dump'], problem: `restored file is ${got.size} bytes, the snapshot says ${copy.size}` }
    if (got.sha256 !== copy.sha256)
      return {
        ok: false,
        checks: ['restic dump'],
        problem: `sha256 of the restored file ${got.sha256.slice(0, 12)}… differs from the backup's ${copy.sha256.slice(0, 12)}…`,
      }
    return { ok: true, checks: ['restic dump', 'size', 'sha256'] }
  }

  async check(): Promise<VerifyOutcome> {
    const subset = this.config.check.readDataSubset
    const r = await this.run(['check', ...(subset !== undefined ? ['--read-data-subset', subset] : [])])
    if (!r.ok) return { ok: false, checks: ['restic check'], problem: this.fail('check', r).message }
    return { ok: true, checks: [subset !== undefined ? `restic check --read-data-subset ${subset}` : 'restic check'] }
  }
}
