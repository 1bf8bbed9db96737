/**
 * `kind: filesystem` — space and inodes of every real mounted filesystem, or of the
 * paths given. Real means: backed by a device or a network/pool filesystem, writable,
 * not a container's overlay, not a pseudo filesystem, not a RAM disk, not a read-only
 * image (squashfs snaps are always 100% full). A filesystem mounted at several places
 * (bind mounts, /var/lib/docker on the root device) is one row, at its shortest path.
 */
import { z } from 'zod'
import { deviceOf, filesystemUsage, readMounts, type FsUsage, type Mount } from '../../sys/host.js'
import { formatBytes, formatPercent, globMatch } from '../../text.js'
import { commonFields, levelOf, percentThresholds } from '../spec.js'
import type { CheckKind, Finding } from '../types.js'

export const schema = z.strictObject({
  kind: z.literal('filesystem'),
  ...commonFields,
  ...percentThresholds(80, 90),
  inodesWarn: z.number().min(0).max(100).default(80).meta({ description: 'Warning when this percentage of inodes is used (default 80).' }),
  inodesCritical: z
    .number()
    .min(0)
    .max(100)
    .default(90)
    .meta({ description: 'Critical when this percentage of inodes is used (default 90).' }),
  paths: z
    .array(z.string())
    .optional()
    .meta({ description: 'Check these paths (any filesystem, tmpfs too) instead of every mounted one.' }),
  exclude: z.array(z.string()).default([]).meta({
    description:
      'Mount points to leave out, as globs (picomatch, as in cleanup rules): * within a path segment, ** across /, e.g. /mnt/backup*, /snap/**.',
  }),
})
export type FilesystemSpec = z.output<typeof schema>

/** Filesystem types that never hold user data worth watching. */
const PSEUDO_TYPES = new Set([
  'proc',
  'sysfs',
  'devtmpfs',
  'devpts',
  'tmpfs',
  'ramfs',
  'cgroup',
  'cgroup2',
  'overlay',
  'aufs',
  'nsfs',
  'mqueue',
  'debugfs',
  'tracefs',
  'securityfs',
  'pstore',
  'bpf',
  'autofs',
  'hugetlbfs',
  'configfs',
  'fusectl',
  'binfmt_misc',
  'rpc_pipefs',
  'efivarfs',
  'squashfs',
  'iso9660',
  'udf',
  'nfsd',
  'selinuxfs',
  'shiftfs',
  'fuse.lxcfs',
  'fuse.gvfsd-fuse',
  'fuse.portal',
  'fuse.snapfuse',
])
/** Filesystems without a /dev source that are real storage. */
const SOURCELESS_REAL = new Set([
  'zfs',
  'nfs',
  'nfs4',
  'cifs',
  'smb3',
  'smbfs',
  '9p',
  'virtiofs',
  'ceph',
  'glusterfs',
  'fuse.sshfs',
  'fuse.rclone',
  'fuse.mergerfs',
  'lustre',
])
/** Mount points under these belong to the system or the container engine. */
const SKIP_PREFIXES = [
  '/proc/',
  '/sys/',
  '/dev/',
  '/run/',
  '/var/lib/docker/',
  '/var/lib/containers/',
  '/snap/',
  '/var/snap/',
  '/mnt/sandboxing/',
]

/** The mounts worth watching, before de-duplication by device. Pure. */
export function realMounts(mounts: readonly Mount[], exclude: readonly string[] = []): Mount[] {
  return mounts.filter((m) => {
    if (PSEUDO_TYPES.has(m.type)) return false
    if (m.options.includes('ro')) return false
    if (SKIP_PREFIXES.some((p) => m.mountPoint.startsWith(p)) || ['/proc', '/sys', '/dev', '/run'].includes(m.mountPoint)) return false
    if (!m.source.startsWith('/') && !SOURCELESS_REAL.has(m.type)) return false
    return !exclude.some((pattern) => globMatch(pattern, m.mountPoint))
  })
}

export function assessUsage(
  usage: FsUsage,
  spec: Pick<FilesystemSpec, 'warn' | 'critical' | 'inodesWarn' | 'inodesCritical'>,
): Pick<Finding, 'status' | 'value' | 'threshold' | 'message' | 'metrics'> {
  const space = levelOf(usage.usedPercent, spec.warn, spec.critical)
  const inodes = usage.inodesUsedPercent === undefined ? 'ok' : levelOf(usage.inodesUsedPercent, spec.inodesWarn, spec.inodesCritical)
  const order = { ok: 0, warning: 1, critical: 2 } as const
  const status = order[inodes] > order[space] ? inodes : space
  const inodeText = usage.inodesUsedPercent === undefined ? '' : `, inodes ${formatPercent(usage.inodesUsedPercent)}`
  const value = `${formatPercent(usage.usedPercent)} used (${formatBytes(usage.availBytes)} free)${inodeText}`
  const message =
    inodes !== 'ok' && order[inodes] >= order[space]
      ? `inodes ${formatPercent(usage.inodesUsedPercent ?? 0)} used (${usage.inodesFree} free)`
      : `${formatPercent(usage.usedPercent)} used, ${formatBytes(usage.availBytes)} free of ${formatBytes(usage.totalBytes)}`
  return {
    status,
    value,
    threshold: `warn ${spec.warn}%, crit ${spec.critical}%`,
    message,
    metrics: {
      used_percent: round(usage.usedPercent),
      avail_bytes: usage.availBytes,
      size_bytes: usage.totalBytes,
      ...(usage.inodesUsedPercent === undefined ? {} : { inodes_used_percent: round(usage.inodesUsedPercent) }),
    },
  }
}

const round = (n: number) => Math.round(n * 100) / 100

export const filesystem: CheckKind<FilesystemSpec> = {
  usesDocker: false,
  recoverable: false,
  async run(spec) {
    let paths: string[]
    if (spec.paths !== undefined) {
      paths = spec.paths
    } else {
      const candidates = realMounts(await readMounts(), spec.exclude)
      // One row per filesystem: the shortest mount point of each device wins.
      const byDevice = new Map<number, string>()
      for (const mount of [...candidates].sort((a, b) => a.mountPoint.length - b.mountPoint.length)) {
        const dev = await deviceOf(mount.mountPoint).catch(() => undefined)
        if (dev === undefined || byDevice.has(dev)) continue
        byDevice.set(dev, mount.mountPoint)
      }
      paths = [...byDevice.values()].sort()
    }
    return Promise.all(
      paths.map(async (path): Promise<Finding> => {
        try {
          return { subject: path, ...assessUsage(await filesystemUsage(path), spec) }
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message
          return {
            subject: path,
            status: 'critical',
            value: `cannot read (${code})`,
            message: `cannot read the filesystem at ${path}: ${code}`,
          }
        }
      }),
    )
  },
}
