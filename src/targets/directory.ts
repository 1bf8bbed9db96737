/**
 * `type: directory` — a host path (a directory or a single file), a named Docker volume, or
 * a path inside a container (read on the host through its mount), archived with GNU tar
 * (POSIX format) and compressed with zstd (default) or gzip. tar stores symlinks as symlinks
 * (never follows them out of the tree), hard links as links, numeric owners, modes and
 * mtimes, and sparse files. A file that changed or vanished while tar read it is a warning
 * recorded in the manifest, not a silent success; any other tar error fails the backup.
 *
 * A restore reads the archive with a tar parser first and refuses anything that could reach
 * outside the destination, extracts it beside the live tree (as root: owners, modes, mtimes,
 * links — the top directory's included), and swaps it in by renames. The containers that
 * mount the volume or path are found through the engine and stopped for the swap.
 */
import { constants, createReadStream } from 'node:fs'
import { lstat, mkdir, mkdtemp, open, readdir, rename, rm, rmdir, stat, type FileHandle } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, dirname, join } from 'node:path'
import type { BackupEntry } from '../backup/catalog.js'
import { describeError, OwnopsError } from '../errors.js'
import { extractArchive, inspectArchive, readArchive, refusal, type Inspected, type TarEntry } from '../restore/tar-safety.js'
import { tarInto } from '../sys/archive.js'
import { compressionExt, defaultLevel } from '../sys/compress.js'
import { hostPathInContainer, inspectContainer, volumeMountpoint } from '../sys/docker-exec.js'
import { runCapture } from '../sys/exec.js'
import { processAlive } from '../sys/host.js'
import { containersUsing } from '../sys/in-use.js'
import { fileLeftovers, stampedLeftovers } from './leftovers.js'
import { DumpFailure, tail, type Leftover, type RestoreEnv, type Restorer, type TargetEnv, type TargetPlugin } from './types.js'
import { directorySchema, directoryRules, type DirectoryTarget } from './schema.js'

export { directorySchema as schema, type DirectoryTarget } from './schema.js'

/** tar's messages that mean "the tree moved while it was read": warnings, not failures. */
const CHANGED = /file changed as we read it|file removed before we read it|file shrank by|socket ignored/i
/** The FIFO directories of running archives: `ownops-tar-<pid>-XXXXXX` in the temp directory. */
const FIFO_PREFIX = 'ownops-tar-'

export const directory: TargetPlugin<DirectoryTarget> = {
  schema: directorySchema,
  description: 'GNU tar of a directory, a file, a Docker volume or a path in a container (Minecraft quiesced over RCON)',

  describe(target) {
    return [
      target.volume ? `volume ${target.volume}` : '',
      target.path ?? '',
      target.container ? `in ${target.container}` : '',
      target.minecraft ? '(minecraft)' : '',
    ]
      .filter(Boolean)
      .join(' ')
  },

  rules: directoryRules,

  async dump(target, env) {
    const { root, where } = await resolveRoot(target, env)
    let info
    try {
      info = await stat(root)
    } catch (error) {
      throw new OwnopsError(`backup target ${env.target}: ${where} does not exist (${(error as NodeJS.ErrnoException).code ?? 'error'})`, {
        kind: 'failed',
      })
    }
    const single = info.isFile()
    if (!single && !info.isDirectory())
      throw new OwnopsError(`backup target ${env.target}: ${where} is neither a directory nor a file`, { kind: 'config' })
    const compression = target.compression
    const level = target.level ?? defaultLevel(compression)
    return {
      ext: `tar${compressionExt[compression]}`,
      compression,
      details: {
        ...describeSource(target),
        hostPath: root,
        ...(single ? { kind: 'file' } : {}),
        ...(level !== undefined ? { level } : {}),
        exclude: target.exclude,
      },
      async write(out) {
        // tar lists every entry it archives into a FIFO (no disk space, not on the backup
        // disk), counted as it goes for the manifest. stdio pipes are sockets, which tar
        // cannot open by /dev/fd path.
        const fifoDir = await mkdtemp(join(tmpdir(), `${FIFO_PREFIX}${process.pid}-`))
        const indexFile = join(fifoDir, 'index')
        const made = await runCapture(['mkfifo', '-m', '600', indexFile], { log: env.log })
        if (made.exitCode !== 0) throw new OwnopsError(`cannot create a FIFO in ${fifoDir}: ${made.stderr.trim()}`, { kind: 'failed' })
        const counting = countLines(indexFile)
        try {
          const args = [
            '--create',
            '--file=-',
            // POSIX format: long names, exact mtimes, sparse files in a form every tar parser reads.
            '--format=posix',
            '--pax-option=delete=atime,delete=ctime',
            `--directory=${single ? dirname(root) : root}`,
            '--numeric-owner',
            '--sparse',
            '--totals',
            '--verbose',
            `--index-file=${indexFile}`,
            ...target.exclude.map((pattern) => `--exclude=${pattern}`),
            '--',
            single ? basename(root) : '.',
          ]
          const outFd = out.fileDescriptor?.bind(out)
          const result = await tarInto({
            args,
            compression,
            ...(level !== undefined ? { level } : {}),
            out,
            ...(outFd !== undefined ? { outFd } : {}),
            signal: env.signal,
          })
          if (env.signal.aborted) throw env.signal.reason ?? new Error('interrupted')
          // tar dies of a broken pipe when the artifact side failed (disk full): that is the cause.
          if (result.sinkError !== undefined)
            throw result.sinkError instanceof Error ? result.sinkError : new Error(describeError(result.sinkError))
          const lines = result.stderr
            .split('\n')
            .map((l) => l.replace(/^tar: /, '').trim())
            .filter(Boolean)
          if (result.exitCode !== 0 && result.exitCode !== 1) {
            const how = result.signal !== undefined ? `was killed by ${result.signal}` : `failed with exit ${String(result.exitCode)}`
            throw new DumpFailure(`tar of ${where} ${how}`, tail(lines.filter((l) => !/^Total bytes/.test(l)).join('\n')))
          }
          const warnings = lines.filter((l) => CHANGED.test(l))
          const files = await counting
          const totals = /Total bytes written: (\d+)/.exec(result.stderr)
          return {
            warnings: warnings.map((w) => `tar: ${w}`),
            details: { files, ...(totals ? { tarBytes: Number(totals[1]) } : {}) },
          }
        } finally {
          await releaseFifo(indexFile)
          await counting.catch(() => 0)
          await rm(fifoDir, { recursive: true, force: true })
        }
      },
    }
  },

  restorer: directoryRestorer,

  async readable(entry, _target, env) {
    try {
      await readArchive(entry, env.signal, env.meter)
      return undefined
    } catch (error) {
      if (env.signal.aborted) throw error
      return (error as Error).message
    }
  },

  drillPlace(name, _target, env) {
    return join(env.backupDir, `.drill-${name}-${env.stamp}`)
  },

  async leftovers(name, target, env) {
    const found: Leftover[] = []
    const { root } = await resolveRoot(target, { target: name, docker: env.docker })
    found.push(...(await fileLeftovers(root.replace(/\/+$/, ''))))
    found.push(...(await stampedLeftovers(env.backupDir, `.drill-${name}-`, '')))
    found.push(...(await fifoLeftovers()))
    return found
  },
}

/** FIFO directories of archives whose process is gone (`ownops-tar-<pid>-…`). */
async function fifoLeftovers(): Promise<Leftover[]> {
  const dir = tmpdir()
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.startsWith(FIFO_PREFIX))
  const found: Leftover[] = []
  for (const name of names) {
    // Only those that name their process (`ownops-tar-<pid>-…`), and only when it is gone.
    const pid = /^ownops-tar-(\d+)-/.exec(name)?.[1]
    if (pid === undefined || processAlive(Number(pid))) continue
    const path = join(dir, name)
    const stats = await lstat(path).catch(() => undefined)
    if (stats === undefined || !stats.isDirectory()) continue
    found.push({ what: `${path}/`, kind: 'staging', time: stats.mtime, bytes: 0, remove: () => rm(path, { recursive: true, force: true }) })
  }
  return found
}

function describeSource(target: DirectoryTarget): Record<string, unknown> {
  return {
    ...(target.path !== undefined ? { path: target.path } : {}),
    ...(target.volume !== undefined ? { volume: target.volume } : {}),
    ...(target.container !== undefined ? { container: target.container } : {}),
  }
}

export async function resolveRoot(
  target: DirectoryTarget,
  env: Pick<TargetEnv, 'target' | 'docker'>,
): Promise<{ root: string; where: string; volume?: string }> {
  if (target.volume !== undefined) {
    const mountpoint = await volumeMountpoint(await env.docker(), target.volume)
    const sub = target.path?.replace(/^\/+/, '')
    return {
      root: sub ? `${mountpoint}/${sub}` : mountpoint,
      where: `volume ${target.volume}${sub ? ` /${sub}` : ''}`,
      volume: target.volume,
    }
  }
  if (target.container !== undefined) {
    if (target.path === undefined)
      throw new OwnopsError(`backup target ${env.target}: container needs path (the directory inside it)`, { kind: 'config' })
    const facts = await inspectContainer(await env.docker(), target.container)
    return { root: hostPathInContainer(facts, target.path), where: `${target.path} in container ${facts.name}` }
  }
  if (target.path === undefined)
    throw new OwnopsError(`backup target ${env.target}: directory needs path, volume or container`, { kind: 'config' })
  return { root: target.path, where: target.path }
}

async function countLines(file: string): Promise<number> {
  let lines = 0
  try {
    for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) {
      for (const byte of chunk as Buffer) if (byte === 10) lines++
    }
  } catch {
    return 0
  }
  return lines
}

/** Unblocks a reader still waiting for tar to open the FIFO (tar failed before it did). */
async function releaseFifo(fifo: string): Promise<void> {
  try {
    const handle = await open(fifo, constants.O_WRONLY | constants.O_NONBLOCK)
    await handle.close()
  } catch {
    // no reader waiting (ENXIO) or already gone
  }
}

async function pathExists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  )
}

async function directoryRestorer(target: DirectoryTarget, env: RestoreEnv): Promise<Restorer> {
  const { root, where, volume } = await resolveRoot(target, env)
  const live = root.replace(/\/+$/, '')
  const kept = `${live}.pre-restore-${env.stamp}`
  const liveInfo = await lstat(live).catch(() => undefined)

  /**
   * Backups read by `verify` (checksum and every entry in one read), with the identity of
   * the file that was read: the extraction reads that very file, or reads it again.
   */
  const inspected = new Map<string, { identity: string; result: Inspected }>()
  const identity = async (handle: FileHandle): Promise<string> => {
    const s = await handle.stat({ bigint: true })
    return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`
  }
  const inspect = async (entry: BackupEntry, handle: FileHandle): Promise<Inspected> => {
    const id = await identity(handle)
    const known = inspected.get(entry.path)
    if (known !== undefined && known.identity === id) return known.result
    const result = await inspectArchive(handle, entry, {
      signal: env.signal,
      allowOutsideLinks: env.allowOutsideLinks === true,
      ...(env.meter ? { meter: env.meter } : {}),
    })
    inspected.set(entry.path, { identity: id, result })
    return result
  }
  const withFile = async <T>(entry: BackupEntry, use: (handle: FileHandle) => Promise<T>): Promise<T> => {
    const handle = await open(entry.path, 'r')
    try {
      return await use(handle)
    } finally {
      await handle.close()
    }
  }
  /** Extracts into a new directory `dest` (removed again when anything fails), once every entry has passed the checks. */
  const extract = (entry: BackupEntry, dest: string): Promise<TarEntry[]> =>
    withFile(entry, async (handle) => {
      const result = await inspect(entry, handle)
      inspected.delete(entry.path)
      if (result.size !== entry.manifest.size || result.sha256 !== entry.manifest.sha256) {
        throw new OwnopsError(`${entry.manifest.file} does not match its manifest (size or sha256): the file is damaged`, {
          kind: 'failed',
        })
      }
      if (result.unreadable !== undefined) throw result.unreadable
      if (result.problems.length > 0) throw refusal(entry, result.problems)
      await mkdir(dest, { mode: 0o700 })
      try {
        // As root, tar gives every entry — the top directory `./` included — its owner, mode and mtime.
        await extractArchive(handle, entry, dest, {
          signal: env.signal,
          tarArgs: ['--numeric-owner', '--same-owner', '--same-permissions', '--delay-directory-restore'],
          ...(env.meter ? { meter: env.meter } : {}),
        })
      } catch (error) {
        await rm(dest, { recursive: true, force: true })
        throw error
      }
      return result.entries
    })
  /** The one file of a single-file archive. */
  const soleFile = (entries: TarEntry[], entry: BackupEntry): string => {
    const files = entries.filter((e) => e.type !== 'directory')
    if (files.length !== 1 || files[0] === undefined)
      throw new OwnopsError(`${entry.manifest.file} holds ${files.length} entries, not the one file of this target`, { kind: 'failed' })
    return files[0].path
  }
  const isFileBackup = (entry: BackupEntry): boolean => entry.manifest.source.kind === 'file'

  return {
    async verify(entry) {
      const result = await withFile(entry, (handle) => inspect(entry, handle))
      const damaged =
        result.size !== entry.manifest.size
          ? `size ${result.size} differs from the manifest's ${entry.manifest.size}`
          : result.sha256 !== entry.manifest.sha256
            ? `sha256 ${result.sha256.slice(0, 12)}… differs from the manifest's ${entry.manifest.sha256.slice(0, 12)}… (the file is damaged)`
            : undefined
      if (damaged === undefined && result.unreadable !== undefined) throw result.unreadable
      if (damaged === undefined && result.problems.length > 0) throw refusal(entry, result.problems)
      return { ok: damaged === undefined, size: result.size, sha256: result.sha256, ...(damaged !== undefined ? { problem: damaged } : {}) }
    },
    async place() {
      return { live: `${where} (${live})`, kept, exists: liveInfo !== undefined }
    },
    async users() {
      const docker = await env.docker().catch(() => undefined)
      if (docker === undefined) return { containers: [], processes: [] }
      const using = await containersUsing(docker, volume !== undefined ? { volume } : { hostPath: live })
      return { containers: using.filter((c) => c.running).map((c) => c.name), processes: [] }
    },
    async preflight(entry, to) {
      if (liveInfo !== undefined && isFileBackup(entry) !== liveInfo.isFile()) {
        throw new OwnopsError(
          `${live} is a ${liveInfo.isFile() ? 'file' : 'directory'}, the backup ${entry.manifest.id} holds a ${isFileBackup(entry) ? 'file' : 'directory'}`,
          { kind: 'failed', hint: 'restore it side by side with --to' },
        )
      }
      if (to !== undefined) {
        const existing = await lstat(to).catch(() => undefined)
        if (existing !== undefined && !(existing.isDirectory() && !isFileBackup(entry) && (await readdir(to)).length === 0)) {
          throw new OwnopsError(`${to} already exists${existing.isDirectory() ? ' and is not empty' : ''}`, {
            kind: 'failed',
            hint: 'restore side by side into a new (or empty) directory',
          })
        }
      } else if (!(await pathExists(dirname(live)))) {
        throw new OwnopsError(`${dirname(live)} does not exist`, { kind: 'failed', hint: `create it first: mkdir -p ${dirname(live)}` })
      }
    },
    async stage(entry, to) {
      const final = to ?? live
      // A staging directory beside the final place: same file system, so the swap is a rename.
      const staging = join(dirname(final), `${isFileBackup(entry) ? '.' : ''}${basename(final)}.ownops-restore-${env.stamp}`)
      const entries = await extract(entry, staging)
      if (isFileBackup(entry)) {
        const inside = join(staging, soleFile(entries, entry))
        if (to === undefined) return { where: inside, details: { staging } }
        try {
          await rename(inside, to)
        } finally {
          await rm(staging, { recursive: true, force: true })
        }
        return { where: to }
      }
      if (to === undefined) return { where: staging }
      try {
        if (await pathExists(to)) await rmdir(to)
        await rename(staging, to)
      } catch (error) {
        await rm(staging, { recursive: true, force: true })
        throw error
      }
      return { where: to }
    },
    async swap(staged) {
      const had = await pathExists(live)
      if (had) await rename(live, kept)
      try {
        await rename(staged.where, live)
      } catch (error) {
        if (had) await rename(kept, live)
        throw error
      }
      if (typeof staged.details?.staging === 'string') await rm(staged.details.staging, { recursive: true, force: true })
      return { live, ...(had ? { kept } : {}) }
    },
    async rollback(swapped) {
      const failed = `${live}.failed-restore-${env.stamp}`
      await rename(live, failed)
      if (swapped.kept !== undefined) await rename(swapped.kept, live)
      await rm(failed, { recursive: true, force: true })
    },
    async discard(staged) {
      await rm(typeof staged.details?.staging === 'string' ? staged.details.staging : staged.where, { recursive: true, force: true })
    },
    async check(staged, entry) {
      const info = await lstat(staged.where)
      if (info.isFile()) return { entries: 1, bytes: info.size }
      // One byte per entry: names may hold newlines.
      const counted = await runCapture(['sh', '-c', 'find . -printf x | wc -c; du -sb --apparent-size . | cut -f1'], {
        log: env.log,
        cwd: staged.where,
      })
      const [entries = 0, bytes = 0] = counted.stdout.trim().split('\n').map(Number)
      const expected = entry.manifest.source.files
      if (typeof expected === 'number' && entries !== expected) {
        throw new DumpFailure(`the restored tree has ${entries} entries, the manifest says ${expected}`, '')
      }
      return { entries, bytes }
    },
    async undo(keptPath) {
      if (!(await pathExists(keptPath))) throw new OwnopsError(`${keptPath} is gone; nothing to undo`, { kind: 'failed' })
      const undone = `${live}.undone-${env.stamp}`
      if (await pathExists(live)) await rename(live, undone)
      await rename(keptPath, live)
      return { live, kept: undone }
    },
  }
}
