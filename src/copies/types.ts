/**
 * The vocabulary of copies off the box: what a destination holds (copies and anything odd),
 * and what a destination plugin does (destinations/<type>.ts).
 */
import type { Logger } from 'pino'
import type { BackupEntry } from '../backup/catalog.js'
import type { Manifest } from '../backup/artifact.js'
import type { DestinationConfig } from '../config/schema.js'
import type { ReadMeter } from '../ui/progress.js'

/** How the bytes of a copy are stored: as they are, or age-encrypted (rclone and path destinations). */
export interface StoredObject {
  /** Name of the stored file, e.g. db-20261124T030000Z.pgdump.age */
  file: string
  size: number
  /** Of the stored bytes (the age ciphertext when encrypted). */
  sha256: string
  md5?: string
  encryption: 'age' | 'none'
  /** The public keys it was encrypted to. */
  recipients?: string[]
}

/** The manifest uploaded beside a copy: the backup's own manifest plus how it is stored. */
export interface RemoteManifest extends Manifest {
  copy: StoredObject & { host: string; copiedAt: string }
}

export interface RemoteCopy {
  target: string
  /** The backup id (the local manifest's id). */
  id: string
  time: Date
  tags: string[]
  /** Size and sha256 of the backup itself (after decryption). */
  size: number
  sha256: string
  /** The whole manifest where the listing had it (rclone, path). */
  manifest?: Manifest
  stored?: StoredObject
  /** Where it is: the remote path of the stored file, or the restic snapshot id. */
  location: string
  manifestLocation?: string
  /** restic: the paths of artifact and manifest inside the snapshot. */
  paths?: { artifact: string; manifest: string }
}

export type RemoteOddityKind =
  'unfinished' | 'no-manifest' | 'no-artifact' | 'size-mismatch' | 'hash-mismatch' | 'bad-manifest' | 'missing' | 'locked'

export interface RemoteOddity {
  kind: RemoteOddityKind
  target?: string
  /** Remote path (or snapshot id) it is about. */
  path: string
  message: string
  /** unfinished: left by a run that is gone, safe to remove. */
  stale?: boolean
}

export interface RemoteListing {
  /** Newest first. */
  copies: RemoteCopy[]
  oddities: RemoteOddity[]
  /**
   * What the listing compared with each copy's manifest: the size always, and the hash the
   * backend keeps where it hands it out cheaply (S3's md5, Drive's sha256). Content a backend
   * keeps no hash of is only read by `verify --from`.
   */
  compared?: { hash?: string }
}

export interface DestinationEnv {
  name: string
  config: DestinationConfig
  log: Logger
  signal: AbortSignal
  /** The environment tools start from (PATH, HOME …). */
  env: NodeJS.ProcessEnv
  host: string
  stateDir: string
  /** Registers a value that must never be printed (passwords, keys). */
  secret(value: string): void
}

export interface VerifyOutcome {
  ok: boolean
  checks: string[]
  problem?: string
}

export interface Destination {
  /** 'age', 'crypt' (an rclone crypt remote), 'restic', 'age+crypt' or 'none'. */
  readonly encryption: string
  /** Where, for people (credentials masked by the redactor). */
  readonly where: string
  list(targets: readonly string[], options?: { hashes?: boolean }): Promise<RemoteListing>
  /** Stores one backup under a temporary name, checks it, renames it, then writes its manifest. */
  /** `meter` is told how to read how many bytes of the backup have gone out so far (the terminal's progress line). */
  upload(entry: BackupEntry, meter?: ReadMeter): Promise<RemoteCopy>
  /** Removes copies (manifest first, so a half-removed copy never looks valid). */
  remove(copies: readonly RemoteCopy[]): Promise<void>
  /** Removes what interrupted uploads left; returns how many. */
  removeUnfinished(oddities: readonly RemoteOddity[]): Promise<number>
  /**
   * Downloads a copy into `dir` (as `<file>`, through a partial file), decrypting with the
   * identities, and checks its sha256 against the manifest. Returns the manifest.
   */
  fetch(copy: RemoteCopy, dir: string, identities: readonly string[]): Promise<Manifest>
  /** Re-checks a stored copy against its recorded hash (downloading it where needed, or when asked). */
  verify(copy: RemoteCopy, options: { download: boolean }): Promise<VerifyOutcome>
  /** The repository's own integrity check (restic check). */
  check?(): Promise<VerifyOutcome>
}
