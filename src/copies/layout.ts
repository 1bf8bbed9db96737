/**
 * The layout of rclone and path destinations, and the plans of a copy run. Pure.
 *
 * A destination holds `<target>/<id>.<ext>[.age]` and `<target>/<id>.json` (the backup's
 * manifest plus how the copy is stored). As locally, the manifest is the commit mark: the
 * artifact is uploaded under a temporary name (`.<file>.<pid>.partial`), checked against its
 * hash, renamed, and only then the manifest is written. Anything else is odd: unfinished
 * uploads, artifacts without a manifest, manifests without their artifact, wrong sizes or hashes.
 */
import { parsePartialName, type Manifest } from '../backup/artifact.js'
import { parseManifest, type BackupEntry } from '../backup/catalog.js'
import { planRetention, type RetentionOptions, type RetentionPolicy } from '../backup/retention.js'
import type { RemoteCopy, RemoteListing, RemoteManifest, RemoteOddity, StoredObject } from './types.js'

export interface ListedFile {
  /** `<target>/<name>` */
  path: string
  size: number
  /** Hashes the listing carried (lower-case hex), by type: sha256, md5. */
  hashes?: Record<string, string>
}

export function parseRemoteManifest(value: unknown): RemoteManifest | undefined {
  const manifest = parseManifest(value)
  const copy = (value as { copy?: Partial<StoredObject> } | null)?.copy
  if (manifest === undefined || typeof manifest.id !== 'string' || copy === undefined || copy === null) return undefined
  if (typeof copy.file !== 'string' || copy.file.includes('/') || typeof copy.size !== 'number' || typeof copy.sha256 !== 'string')
    return undefined
  if (copy.encryption !== 'age' && copy.encryption !== 'none') return undefined
  return value as RemoteManifest
}

/** The local manifest inside a remote one (what a fetched copy is stored with). */
export function localManifest(remote: RemoteManifest): Manifest {
  const { copy: _copy, ...manifest } = remote
  return manifest
}

/** What a destination holds, from a listing of its files and the manifests among them. */
export function listingFromFiles(
  files: readonly ListedFile[],
  manifests: ReadonlyMap<string, unknown>,
  targets: readonly string[],
  isStale: (pid: number) => boolean,
): RemoteListing {
  const listing: RemoteListing = { copies: [], oddities: [] }
  const byPath = new Map(files.map((f) => [f.path, f]))
  for (const target of targets) {
    const inDir = files.filter((f) => f.path.startsWith(`${target}/`) && !f.path.slice(target.length + 1).includes('/'))
    const claimed = new Set<string>()
    for (const file of inDir) {
      const name = file.path.slice(target.length + 1)
      if (name.startsWith('.')) {
        const partial = parsePartialName(name)
        if (partial !== undefined) {
          const stale = isStale(partial.pid)
          listing.oddities.push({
            kind: 'unfinished',
            target,
            path: file.path,
            stale,
            message: stale ? `unfinished upload of ${partial.file} (interrupted); not a copy` : `upload in progress (pid ${partial.pid})`,
          })
        }
        continue
      }
      if (!name.endsWith('.json')) continue
      claimed.add(file.path)
      const manifest = parseRemoteManifest(manifests.get(file.path))
      if (manifest === undefined || manifest.target !== target) {
        listing.oddities.push({
          kind: 'bad-manifest',
          target,
          path: file.path,
          message: 'manifest is unreadable or not an ownops copy manifest',
        })
        continue
      }
      const storedPath = `${target}/${manifest.copy.file}`
      const stored = byPath.get(storedPath)
      claimed.add(storedPath)
      if (stored === undefined) {
        listing.oddities.push({
          kind: 'no-artifact',
          target,
          path: file.path,
          message: `manifest without its file ${manifest.copy.file} (missing at the destination)`,
        })
        continue
      }
      if (stored.size !== manifest.copy.size) {
        listing.oddities.push({
          kind: 'size-mismatch',
          target,
          path: storedPath,
          message: `stored file is ${stored.size} bytes, its manifest says ${manifest.copy.size}`,
        })
        continue
      }
      const mismatch = hashMismatch(stored.hashes, manifest.copy)
      if (mismatch !== undefined) {
        listing.oddities.push({ kind: 'hash-mismatch', target, path: storedPath, message: mismatch })
        continue
      }
      listing.copies.push({
        target,
        id: manifest.id,
        time: new Date(manifest.time),
        tags: Array.isArray(manifest.tags) ? manifest.tags : [],
        size: manifest.size,
        sha256: manifest.sha256,
        manifest: localManifest(manifest),
        stored: manifest.copy,
        location: storedPath,
        manifestLocation: file.path,
      })
    }
    for (const file of inDir) {
      const name = file.path.slice(target.length + 1)
      if (name.startsWith('.') || claimed.has(file.path)) continue
      listing.oddities.push({
        kind: 'no-manifest',
        target,
        path: file.path,
        message: 'file without a manifest: an upload that did not finish; not a copy',
      })
    }
  }
  listing.copies.sort((a, b) => b.time.getTime() - a.time.getTime())
  return listing
}

/** A listed hash that differs from the recorded one, described; undefined when none differs. */
export function hashMismatch(hashes: Record<string, string> | undefined, stored: Pick<StoredObject, 'sha256' | 'md5'>): string | undefined {
  const sha256 = hashes?.sha256
  if (sha256 !== undefined && sha256 !== '' && sha256.toLowerCase() !== stored.sha256) {
    return `sha256 ${sha256.slice(0, 12)}… differs from the recorded ${stored.sha256.slice(0, 12)}… (the copy is damaged)`
  }
  const md5 = hashes?.md5
  if (md5 !== undefined && md5 !== '' && stored.md5 !== undefined && md5.toLowerCase() !== stored.md5) {
    return `md5 ${md5} differs from the recorded ${stored.md5} (the copy is damaged)`
  }
  return undefined
}

interface PlanItem {
  time: Date
  tags: readonly string[]
  id: string
  local?: BackupEntry
}

/**
 * The local backups a destination should receive, newest first: those its retention policy
 * keeps among what it already holds and what is here, that it does not hold yet. Safety
 * copies taken before a restore stay on the box.
 */
export function planUploads(
  local: readonly BackupEntry[],
  remote: readonly Pick<RemoteCopy, 'id' | 'time' | 'tags'>[],
  policy: RetentionPolicy | undefined,
  options: RetentionOptions = {},
): BackupEntry[] {
  const have = new Set(remote.map((r) => r.id))
  const candidates = local.filter((b) => !b.tags.includes('pre-restore') && !have.has(b.manifest.id))
  if (policy === undefined) return [...candidates].sort((a, b) => b.time.getTime() - a.time.getTime())
  const items: PlanItem[] = [
    ...remote.map((r) => ({ time: r.time, tags: r.tags, id: r.id })),
    ...candidates.map((b) => ({ time: b.time, tags: b.tags, id: b.manifest.id, local: b })),
  ]
  const plan = planRetention(items, policy, options)
  return plan.keep.map((k) => k.item.local).filter((b): b is BackupEntry => b !== undefined)
}

/** The copies a destination's retention removes (never the newest). */
export function planRemoteRetention<T extends Pick<RemoteCopy, 'time' | 'tags'>>(
  copies: readonly T[],
  policy: RetentionPolicy | undefined,
  options: RetentionOptions = {},
): { keep: Array<{ item: T; reasons: string[] }>; remove: T[] } {
  if (policy === undefined || copies.length === 0) return { keep: copies.map((item) => ({ item, reasons: ['keep all'] })), remove: [] }
  const plan = planRetention([...copies], policy, options)
  return { keep: plan.keep.map((k) => ({ item: k.item, reasons: k.reasons })), remove: plan.remove }
}

/** `remote:path` joined with more path segments. */
export function joinRemote(root: string, ...parts: string[]): string {
  let out = root
  for (const part of parts) {
    if (part === '') continue
    out = out === '' || out.endsWith(':') || out.endsWith('/') ? `${out}${part}` : `${out}/${part}`
  }
  return out
}

/** The stored name of a backup's artifact. */
export function storedName(file: string, encryption: 'age' | 'none'): string {
  return encryption === 'age' ? `${file}.age` : file
}

/** Backups the copy state says a destination received (and its retention did not remove) that it no longer holds. */
export function missingOddities(received: Readonly<Record<string, readonly string[]>>, listing: RemoteListing): RemoteOddity[] {
  const present = new Set(listing.copies.map((c) => `${c.target}/${c.id}`))
  const out: RemoteOddity[] = []
  for (const [target, ids] of Object.entries(received)) {
    for (const id of ids) {
      if (present.has(`${target}/${id}`)) continue
      // There, but damaged or unfinished: that oddity says it (whatever form its path has).
      if (listing.oddities.some((o) => oddityId(o) === id && (o.target === undefined || o.target === target))) continue
      out.push({ kind: 'missing', target, path: `${target}/${id}`, message: `${id} was copied here by an earlier run and is gone` })
    }
  }
  return out
}

/** The backup id an oddity is about, from the name of its file (`<id>.<ext>`, `.<id>.<ext>.<pid>.partial`); undefined when none. */
export function oddityId(oddity: Pick<RemoteOddity, 'path'>): string | undefined {
  const name = oddity.path.split(/[/:]/).pop() ?? ''
  return /^\.?(.+-\d{8}T\d{6}Z)(\.|$)/.exec(name)?.[1]
}
