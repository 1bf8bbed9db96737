/**
 * The byte paths of a copy: hashing pass-throughs and age encryption and decryption as
 * stream stages (the `age` binary, so the box needs only public keys to encrypt).
 */
import { createHash, type Hash } from 'node:crypto'
import { Transform, type Readable, type TransformCallback } from 'node:stream'
import type { Logger } from 'pino'
import { OwnopsError } from '../errors.js'
import { startTool, stderrTail, type ToolResult } from '../sys/tool.js'

/** Counts and hashes (sha256, optionally md5) what passes through. */
export class HashingPass extends Transform {
  private readonly sha = createHash('sha256')
  private readonly md: Hash | undefined
  bytes = 0
  private digests: { sha256: string; md5?: string } | undefined

  constructor(options: { md5?: boolean } = {}) {
    super({ highWaterMark: 1 << 20 })
    this.md = options.md5 === true ? createHash('md5') : undefined
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.sha.update(chunk)
    this.md?.update(chunk)
    this.bytes += chunk.length
    callback(null, chunk)
  }

  /** The digests; valid once the stream has ended. */
  result(): { sha256: string; md5?: string; size: number } {
    this.digests ??= { sha256: this.sha.digest('hex'), ...(this.md ? { md5: this.md.digest('hex') } : {}) }
    return { ...this.digests, size: this.bytes }
  }
}

export interface AgeSettings {
  recipients: readonly string[]
  recipientsFile?: string | undefined
}

export function ageEncryptArgs(age: AgeSettings): string[] {
  return [
    'age',
    '--encrypt',
    ...age.recipients.flatMap((r) => ['-r', r]),
    ...(age.recipientsFile !== undefined ? ['-R', age.recipientsFile] : []),
  ]
}

export interface AgeStage {
  output: Readable
  /** Resolves when age has exited; rejects with a clear error when it failed. */
  done: Promise<ToolResult>
  kill(): void
}

/** Pipes `input` through `age` (encrypting to the recipients, or decrypting with the identities). */
export function ageStage(
  input: Readable,
  mode: { encrypt: AgeSettings } | { decrypt: readonly string[] },
  env: { log: Logger; env: NodeJS.ProcessEnv; signal: AbortSignal },
): AgeStage {
  const argv = 'encrypt' in mode ? ageEncryptArgs(mode.encrypt) : ['age', '--decrypt', ...mode.decrypt.flatMap((i) => ['-i', i])]
  const tool = startTool(argv, {
    log: env.log,
    env: { PATH: env.env.PATH, HOME: env.env.HOME, LC_ALL: 'C' },
    signal: env.signal,
    stdin: input,
    pipeStdout: true,
  })
  const done = tool.result.then((r) => {
    if (!r.ok && !r.aborted) {
      const what = 'encrypt' in mode ? 'encrypting with age' : 'decrypting with age'
      throw new OwnopsError(`${what} failed: ${stderrTail(r.stderr) || `exit ${String(r.exitCode)}`}`, {
        kind: 'failed',
        hint:
          'encrypt' in mode
            ? 'check the age recipients (age1… public keys) of this destination'
            : 'give the private key the copies were encrypted to: --identity FILE',
      })
    }
    return r
  })
  // The caller awaits `done`; a failure also shows up as a short stream there.
  done.catch(() => undefined)
  return { output: tool.child.stdout as Readable, done, kill: tool.kill }
}
