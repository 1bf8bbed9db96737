/**
 * The contract every target type implements, in one file per type (targets/<type>.ts):
 * its config schema piece, how it is described, backed up (`dump`), talked to (`client`),
 * restored (`restorer`: stage, swap, rollback, undo), read to the end (`readable`), drilled,
 * and what interrupted restores and drills of it may leave behind (`leftovers`).
 */
import type { Writable } from 'node:stream'
import type { Logger } from 'pino'
import type { z } from 'zod'
import type { Docker } from '../sys/docker.js'
import type { BackupEntry } from '../backup/catalog.js'
import type { Manifest } from '../backup/artifact.js'
import type { ConfigProblem } from '../config/problems.js'
import { OwnopsError } from '../errors.js'
import type { ReadMeter } from '../ui/progress.js'

/** What every operation on a target gets: where to log, when to stop, the engine, the environment. */
export interface TargetEnv {
  target: string
  log: Logger
  signal: AbortSignal
  docker(): Promise<Docker>
  env: NodeJS.ProcessEnv
  /** Told how to read how many bytes of the backup a restore or a check has read so far (the terminal's progress line). */
  meter?: ReadMeter
}

export interface SourceEnv extends TargetEnv {
  /** The target's backup directory (temp files go here, as partial files). */
  dir: string
  /** The backup's id, `<target>-<timestamp>`. */
  id: string
}

export interface DumpResult {
  warnings: string[]
  /** Facts learnt while dumping (file count, bytes read…), added to the manifest's source. */
  details?: Record<string, unknown>
}

/**
 * Where a dump writes: a stream into the artifact — or, for a tool that can write the file
 * itself (as its stdout), the artifact's descriptor, which the artifact then hashes as the
 * bytes land. A dump uses one or the other.
 */
export interface ArtifactOutput extends Writable {
  fileDescriptor?(): number
}

export interface Dump {
  /** Artifact extension without the leading dot: pgdump, sql.gz, tar.zst, sqlite.gz… */
  ext: string
  compression: Manifest['compression']
  /** Manifest source details known before the dump: container, image, database, version… */
  details: Record<string, unknown>
  /** Containers this dump needs running (a database dumped through exec must not be stopped). */
  needsRunning?: string[]
  /** Resolves once every byte is written and every process writing them has exited. */
  write(out: ArtifactOutput): Promise<DumpResult>
}

export interface RestoreEnv extends TargetEnv {
  /** `20261124T030000Z`, used in the names of kept and staged copies. */
  stamp: string
  allowOutsideLinks?: boolean
}

/** Who uses the data a restore replaces: stopped for the swap, or named in a refusal. */
export interface DataUsers {
  /** Containers that mount the volume or path (running or not). */
  containers: string[]
  /** Host processes that hold the file open and belong to no container. */
  processes: Array<{ pid: number; command: string }>
}

/** Where a restore goes and what it replaces, for the plan shown before anything changes. */
export interface RestorePlace {
  /** The live database / file / directory, as people know it. */
  live: string
  /** What the old data will be called once replaced. */
  kept: string
  /** Whether the live data exists now (a restore may create it). */
  exists: boolean
}

export interface Staged {
  /** The staged copy: a database name or a path. */
  where: string
  details?: Record<string, unknown>
}

export interface Swapped {
  live: string
  /** Where the old data went, or undefined when there was none. */
  kept?: string
}

/** A backup read against its manifest. */
export interface ChecksumResult {
  ok: boolean
  size: number
  sha256: string
  problem?: string
}

export interface Restorer {
  /**
   * Reads a backup before it is planned: size and sha256 against the manifest, and in the
   * same read whatever else can be checked (every entry of an archive; throws the refusal
   * of an unsafe one), kept for `stage`. Without it the restore checks size and sha256 itself.
   */
  verify?(entry: BackupEntry): Promise<ChecksumResult>
  place(): Promise<RestorePlace>
  /** Containers and processes using the live data (empty for databases served by their container). */
  users(): Promise<DataUsers>
  /**
   * What must hold before anything changes (privileges, tools); throws an OwnopsError that
   * says what is missing and how to fix it.
   */
  preflight(entry: BackupEntry, to?: string): Promise<void>
  /** Restores into a fresh place (`to` for a side-by-side restore, else a staging place). */
  stage(entry: BackupEntry, to?: string): Promise<Staged>
  /** `safety`: the pre-restore backup of the current data, when one was taken. */
  swap(staged: Staged, safety?: BackupEntry): Promise<Swapped>
  rollback(swapped: Swapped): Promise<void>
  discard(staged: Staged): Promise<void>
  /** Reads every restored table / checks the restored file or tree. */
  check(staged: Staged, entry: BackupEntry): Promise<Record<string, unknown>>
  /** Swaps a kept copy back in (restore --undo); the replaced data is kept as `<live>…undone…`. */
  undo(kept: string): Promise<Swapped>
  /** A MariaDB/MySQL restore keeps the replaced data as its safety backup: one is required. */
  needsSafetyCopy?: boolean
  /**
   * The container the restore runs its client in (a database server): it keeps running
   * through the restore, whatever else is stopped. A SQLite file in a container has none:
   * the container only mounts the file, and is stopped for the swap like any other user.
   */
  runsIn?: string
}

/** Something an interrupted restore or drill, or a finished restore, left behind. */
export interface Leftover {
  what: string
  /** kept: data a restore replaced (restore.keepOld); staging: a leftover of an interrupted run. */
  kind: 'kept' | 'staging'
  time: Date
  bytes: number
  remove(): Promise<void>
}

export interface LeftoverEnv {
  docker(): Promise<Docker>
  env: NodeJS.ProcessEnv
  signal?: AbortSignal
  log: Logger
  backupDir: string
}

export type Dialect = 'postgres' | 'mysql' | 'sqlite'

/** SQL against a database target through the database's own client. */
export interface DbClient {
  dialect: Dialect
  /** For messages: "database shop in container db", "/srv/jobs/jobs.db". */
  where: string
  /** The database name (PostgreSQL, MariaDB) or file (SQLite). */
  database: string
  /** `readOnly`: the session cannot change anything (PostgreSQL default_transaction_read_only, sqlite3 -readonly -safe). */
  query(sql: string, options?: { database?: string; readOnly?: boolean }): Promise<string>
  /** An identifier quoted for this dialect. */
  quote(name: string): string
}

export interface DbClientEnv {
  log: Logger
  docker(): Promise<Docker>
  env: NodeJS.ProcessEnv
  signal?: AbortSignal
}

export interface ReadableEnv {
  log: Logger
  signal: AbortSignal
  docker(): Promise<Docker>
  /** Told how to read how far the backup has been read (the terminal's progress line). */
  meter?: ReadMeter
}

export type TargetProblem = Omit<ConfigProblem, 'file' | 'line'>

export interface TargetPlugin<T> {
  /** The config schema of this type (its `type:` literal and its own keys). */
  schema: z.ZodType
  /** One line for the docs and `config schema`. */
  description: string
  /** "pg_dump shop in app-db", for the backup plan. */
  describe(target: T): string
  /** Cross-field problems of one target's config; `at` is its key path. */
  rules(target: T, at: string[]): TargetProblem[]
  dump(target: T, env: SourceEnv): Promise<Dump>
  /** Databases only. */
  client?(name: string, target: T, env: DbClientEnv): Promise<DbClient>
  restorer(target: T, env: RestoreEnv): Promise<Restorer>
  /** Reads the artifact to the end with the tool that restores it; a problem, or undefined. */
  readable(entry: BackupEntry, target: T, env: ReadableEnv): Promise<string | undefined>
  /** Where a drill restores (a throwaway database, file or directory). */
  drillPlace(name: string, target: T, env: { stamp: string; backupDir: string }): string
  leftovers(name: string, target: T, env: LeftoverEnv): Promise<Leftover[]>
}

/** A tool failed: the message says which and how; the stderr tail goes to the notification. */
export class DumpFailure extends OwnopsError {
  constructor(
    message: string,
    readonly stderrTail: string,
  ) {
    super(message, { ...(stderrTail.trim() ? { details: stderrTail.trim().split('\n') } : {}) })
    this.name = 'DumpFailure'
  }
}

export function tail(text: string, lines = 20): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n')
}

/** The database's own error line ("ERROR:  column "x" does not exist"), for messages. */
export function firstError(stderr: string): string | undefined {
  const line = stderr
    .split('\n')
    .map((l) => l.trim())
    .find((l) => /error|no such|syntax|denied|unknown|cannot|prohibited/i.test(l))
  return line?.replace(/^(psql:[^:]*:\d+:\s*)/, '').slice(0, 300)
}

/** Lines a tool prints that say nothing about why it failed. */
const NOISE = /^\s*$|\[warning\]|^warning:|using a password on the command line|^\s*(detail|hint|context):|^\s*line \d+:/i

/**
 * Why a tool failed, in one line: the last line of its stderr that says so ("pg_dump: error:
 * … database "x" does not exist", "mariadb-dump: Got error: 1045: Access denied …"), for the
 * backup table, the report and the first line of the notification.
 */
export function failureReason(stderr: string): string | undefined {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => !NOISE.test(l))
  const line =
    [...lines]
      .reverse()
      .find((l) => /error|denied|fatal|does not exist|no such|not found|cannot|could not|unknown|refused|permission|failed/i.test(l)) ??
    lines.at(-1)
  return line === undefined ? undefined : line.length > 300 ? `${line.slice(0, 299)}…` : line
}

export const literal = (text: string): string => `'${text.replace(/'/g, "''")}'`
