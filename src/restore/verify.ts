/**
 * Is a backup what its manifest says, and readable to the end? Size and sha256 of the
 * artifact against its manifest, then a read of the whole content with the tool that will
 * restore it: `pg_restore --list` (in the database container), gzip/zstd integrity, `tar -t`,
 * SQLite `integrity_check` on a decompressed copy.
 */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { Writable } from 'node:stream'
import { createGunzip } from 'node:zlib'
import type { Logger } from 'pino'
import type { BackupTarget } from '../config/schema.js'
import type { BackupEntry } from '../backup/catalog.js'
import type { Docker } from '../sys/docker.js'
import { execWithInput } from '../sys/docker-exec.js'
import { runCapture } from '../sys/exec.js'

export interface VerifyResult {
  ok: boolean
  size: number
  sha256: string
  problem?: string
}

/** Re-reads the artifact: size and sha256 must equal the manifest's. */
export async function verifyChecksum(entry: BackupEntry, signal?: AbortSignal): Promise<VerifyResult> {
  const hash = createHash('sha256')
  let size = 0
  await pipeline(
    createReadStream(entry.path, { highWaterMark: 1 << 20 }),
    new Writable({
      write(chunk: Buffer, _e, callback) {
        hash.update(chunk)
        size += chunk.length
        callback()
      },
    }),
    ...(signal ? [{ signal }] : []),
  )
  const sha256 = hash.digest('hex')
  if (size !== entry.manifest.size) return { ok: false, size, sha256, problem: `size ${size} differs from the manifest's ${entry.manifest.size}` }
  if (sha256 !== entry.manifest.sha256) return { ok: false, size, sha256, problem: `sha256 ${sha256.slice(0, 12)}… differs from the manifest's ${entry.manifest.sha256.slice(0, 12)}… (the file is damaged)` }
  return { ok: true, size, sha256 }
}

export interface ReadableEnv {
  log: Logger
  signal: AbortSignal
  docker(): Promise<Docker>
}

/** Reads the content to the end with the restoring tool; returns a problem or undefined. */
export async function verifyReadable(entry: BackupEntry, target: BackupTarget | undefined, env: ReadableEnv): Promise<string | undefined> {
  const { compression } = entry.manifest
  const toolEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' }
  if (entry.manifest.type === 'directory') {
    const args = compression === 'zstd' ? ['-I', 'zstd'] : compression === 'gzip' ? ['-z'] : []
    const r = await runCapture(['sh', '-c', 'tar "$@" -tf "$0" >/dev/null', entry.path, ...args], { log: env.log, signal: env.signal, env: toolEnv })
    return r.exitCode === 0 ? undefined : `tar cannot read it to the end: ${r.stderr.trim().split('\n').slice(-2).join(' / ')}`
  }
  if (entry.manifest.type === 'postgres' && compression === 'custom') {
    const container = target?.type === 'postgres' ? target.container : undefined
    if (container === undefined) return undefined // no pg_restore to read it with; the checksum stands
    const r = await execWithInput(await env.docker(), container, ['pg_restore', '--list'], createReadStream(entry.path, { highWaterMark: 1 << 20 }), { signal: env.signal })
    return r.exitCode === 0 ? undefined : `pg_restore --list fails: ${r.stderr.trim().split('\n').slice(-2).join(' / ')}`
  }
  if (entry.manifest.type === 'sqlite') {
    const copy = join(tmpdir(), `ownops-verify-${process.pid}-${Date.now()}.sqlite`)
    try {
      const { decompressFile } = await import('./decompress.js')
      await decompressFile(entry, copy, env.signal)
      const r = await runCapture(['sqlite3', '-bail', copy, 'PRAGMA integrity_check;'], { log: env.log, signal: env.signal })
      return r.exitCode === 0 && r.stdout.trim() === 'ok' ? undefined : `integrity_check: ${r.stdout.trim() || r.stderr.trim()}`
    } catch (error) {
      return `cannot decompress it: ${(error as Error).message}`
    } finally {
      await rm(copy, { force: true })
    }
  }
  if (compression === 'gzip') {
    try {
      await pipeline(createReadStream(entry.path), createGunzip(), new Writable({ write: (_c, _e, cb) => cb() }), { signal: env.signal })
    } catch (error) {
      return `gzip stream is damaged: ${(error as Error).message}`
    }
  }
  return undefined
}
