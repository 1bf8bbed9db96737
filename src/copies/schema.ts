/**
 * The config piece of copies off the box: `backup.destinations.<name>`, one of three types —
 * an rclone remote, a restic repository, or a plain path (an external disk, NFS).
 */
import { z } from 'zod'
import { duration } from '../config/fields.js'

const age = z
  .strictObject({
    recipients: z
      .array(
        z.string().regex(/^(age1[0-9a-z]{58}|ssh-(ed25519|rsa) \S+.*)$/, {
          error: 'expected an age public key (age1…) or an SSH public key (ssh-ed25519 …)',
        }),
      )
      .default([])
      .meta({
        description:
          'Public keys the copies are encrypted to (age1…, or ssh-ed25519/ssh-rsa public keys). The box holds no key that can decrypt them.',
      }),
    recipientsFile: z.string().optional().meta({ description: 'A file of recipients, one per line (age -R).' }),
  })
  .meta({
    description: 'Encrypt each copy with age before it leaves the box. Restore with `--identity FILE` (the private key, kept off the box).',
  })

/** Built with the config's keep schema (passed in, so that schema.ts can import this file). */
function destinationSchemas<K extends z.ZodType>(keepSchema: K) {
  const common = {
    schedule: z.string().optional().meta({
      description:
        'Cron expression: copy on this schedule (ownops-copy-<name>.timer). Without it, backups are copied after every successful backup.',
    }),
    targets: z.array(z.string()).optional().meta({ description: 'Backup targets copied here (default: all).' }),
    keep: keepSchema
      .optional()
      .meta({ description: "Retention at this destination (restic forget rules; default: the target's keep, then backup.keep)." }),
    maxAge: duration.optional().meta({
      description:
        'monitor: critical when the newest copy here is older than this (default 26h, or the longest gap of the schedule plus 2h).',
    }),
    timeout: duration
      .prefault('6h')
      .meta({ description: 'A copy run to this destination is stopped after this long (and retried by the next run).' }),
    bwlimit: z.string().optional().meta({
      description:
        'Upload bandwidth limit, e.g. 10M (MiB/s) or an rclone timetable "08:00,512k 23:00,off" (rclone); restic takes a plain rate.',
    }),
    retries: z.number().int().min(0).max(10).default(3).meta({ description: 'Attempts after the first one for a failed upload.' }),
  }

  const schemas = {
    rclone: z.strictObject({
      type: z.literal('rclone'),
      remote: z
        .string()
        .min(1)
        .meta({ description: 'remote:path from rclone.conf (Google Drive, S3, B2, SFTP, WebDAV, crypt …), e.g. gdrive:backups/box1' }),
      config: z
        .string()
        .optional()
        .meta({ description: "rclone.conf to use (default: rclone's own, $RCLONE_CONFIG or ~/.config/rclone/rclone.conf)." }),
      age: age.optional(),
      flags: z.array(z.string()).default([]).meta({ description: 'Extra rclone flags, e.g. ["--s3-upload-concurrency", "8"].' }),
      ...common,
    }),
    restic: z.strictObject({
      type: z.literal('restic'),
      repository: z.string().min(1).meta({
        description:
          'A restic repository: /path, sftp:user@host:/path, rest:https://host/, s3:host/bucket, rclone:remote:path. May hold credentials: put it in the env file.',
      }),
      password: z.string().optional().meta({ description: 'Repository password (a secret: ${RESTIC_PASSWORD} from the env file).' }),
      passwordFile: z.string().optional().meta({ description: 'A file holding the repository password (restic --password-file).' }),
      env: z
        .record(z.string(), z.string())
        .default({})
        .meta({ description: 'Extra environment for restic, e.g. AWS_ACCESS_KEY_ID, B2_ACCOUNT_KEY (secrets: use ${VAR}).' }),
      check: z
        .strictObject({
          readDataSubset: z.string().optional().meta({ description: 'verify --from: restic check --read-data-subset, e.g. 5% or 1/10.' }),
        })
        .prefault({}),
      prune: z.boolean().default(true).meta({ description: 'Run restic forget with --prune, so removed copies free space.' }),
      flags: z.array(z.string()).default([]).meta({ description: 'Extra restic flags.' }),
      ...common,
    }),
    path: z.strictObject({
      type: z.literal('path'),
      path: z.string().min(1).meta({ description: 'A directory, e.g. on an external disk or NFS: /mnt/usb/ownops' }),
      requireMount: z.union([z.boolean(), z.string()]).default(false).meta({
        description:
          'Refuse to write unless a file system is mounted there: true (path itself is a mount point) or the mount point that must hold it, e.g. /mnt/usb.',
      }),
      age: age.optional(),
      ...common,
    }),
  }
  return schemas
}

export const destinationTypes = ['rclone', 'restic', 'path'] as const
export type DestinationType = (typeof destinationTypes)[number]

/** `backup.destinations.<name>`: one of the three types, by `type`. */
export function destinationSchema<K extends z.ZodType>(keepSchema: K) {
  const s = destinationSchemas(keepSchema)
  return z.discriminatedUnion('type', [s.rclone, s.restic, s.path])
}

/** A bandwidth such as 10M, 512K, 2G or 800 (KiB/s), in KiB/s for restic's --limit-upload. */
export function resticRate(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMG])?i?B?\s*$/i.exec(text)
  if (m === null) return undefined
  const factor = { K: 1, M: 1024, G: 1024 * 1024 }[(m[2] ?? 'K').toUpperCase() as 'K' | 'M' | 'G']
  return Math.max(1, Math.round(Number(m[1]) * factor))
}
