/**
 * The contract every backup source implements: `prepare` checks the target and gathers
 * facts before anything is stopped or written; the returned dump writes the artifact's
 * bytes into a stream, ends it, and throws when the tool failed.
 */
import type { Writable } from 'node:stream'
import type { Logger } from 'pino'
import type { Docker } from '../sys/docker.js'
import type { Manifest } from '../backup/artifact.js'
import { ExitCode, OwnopsError } from '../errors.js'

export interface SourceEnv {
  target: string
  log: Logger
  signal: AbortSignal
  docker(): Promise<Docker>
  env: NodeJS.ProcessEnv
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

export interface Dump {
  /** Artifact extension without the leading dot: pgdump, sql.gz, tar.zst, sqlite.gz… */
  ext: string
  compression: Manifest['compression']
  /** Manifest source details known before the dump: container, image, database, version… */
  details: Record<string, unknown>
  /** Containers this dump needs running (a database dumped through exec must not be stopped). */
  needsRunning?: string[]
  write(out: Writable): Promise<DumpResult>
}

export interface Source<T> {
  prepare(target: T, env: SourceEnv): Promise<Dump>
}

/** A tool failed: the message says which and how; the stderr tail goes to the notification. */
export class DumpFailure extends OwnopsError {
  constructor(
    message: string,
    readonly stderrTail: string,
  ) {
    super(message, { exitCode: ExitCode.failed, ...(stderrTail.trim() ? { details: stderrTail.trim().split('\n') } : {}) })
    this.name = 'DumpFailure'
  }
}

export function tail(text: string, lines = 20): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n')
}
