/**
 * Faults: the tool that writes a directory backup's artifact itself — zstd, or tar when
 * uncompressed — dies in the middle of its write. The real tools run under a file size
 * limit (prlimit --fsize, what `ulimit -f` or a unit's LimitFSIZE= sets), so the kernel
 * kills them with SIGXFSZ at a known byte, every time. The backup must fail with a report
 * that names the tool and the signal, leave no partial file and nothing that looks like a
 * backup, notify, and keep every earlier backup intact — also when tar had already
 * finished (exit 1: a file shrank as it read it) before zstd died.
 */
import { execFileSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Artifact } from '../../src/backup/artifact.js'
import { tarInto } from '../../src/sys/archive.js'
import { tempDir, testEnv } from '../helpers/cli.js'
import { startHttpPeer, type HttpPeer } from '../helpers/http-peer.js'
import { backupLedger, expectNothingLost, faultsTried, runOwnops, strays } from './helpers.js'

interface Report {
  ok: boolean
  targets: Array<{ target: string; ok: boolean; error?: string; hint?: string; warnings: string[] }>
}

/** A sysfs file: its size says 4096, a read gives a few bytes — tar (without --sparse) pads it and exits 1. */
const SHRINKING = ['/sys/kernel/uevent_seqnum', '/sys/power/state', '/sys/kernel/mm/transparent_hugepage/enabled'].find((p) =>
  existsSync(p),
)

interface Case {
  what: string
  target: string
  /** The tool that gets the limit, and the limit in bytes. */
  tool: 'zstd' | 'tar'
  limit: number
  error: RegExp
  hint?: RegExp
}

const cases: Case[] = [
  // 24 MB of random bytes: zstd dies at 1 MiB while tar still writes into it (tar then dies of a broken pipe).
  {
    what: 'zstd dies while tar still writes into it',
    target: 'treezstd',
    tool: 'zstd',
    limit: 1 << 20,
    error: /^zstd was killed by SIGXFSZ; the partial archive was removed$/,
    hint: /file size limit/,
  },
  // Uncompressed: tar writes the artifact itself.
  {
    what: 'tar dies writing an uncompressed archive',
    target: 'treenone',
    tool: 'tar',
    limit: 1 << 20,
    error: /^tar of .*\/tree was killed by SIGXFSZ$/,
  },
]

describe('faults: the tool writing a directory backup dies mid-write', () => {
  let work: { dir: string; cleanup: () => void }
  let peer: HttpPeer
  const backups = () => join(work.dir, 'backups')
  /** A directory whose `tool` is the real one under a file size limit of `limit` bytes. */
  const limited = (tool: string, limit: number): string => {
    const dir = join(work.dir, `limit-${tool}-${limit}`)
    if (existsSync(dir)) return dir
    mkdirSync(dir)
    const real = execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim()
    writeFileSync(join(dir, tool), `#!/bin/sh\nexec prlimit --fsize=${limit} ${real} "$@"\n`)
    chmodSync(join(dir, tool), 0o755)
    return dir
  }

  beforeAll(async () => {
    expect(SHRINKING, 'a sysfs file that reads shorter than its size').toBeDefined()
    work = tempDir('ownops-fault-tool-')
    peer = await startHttpPeer()
    const tree = join(work.dir, 'tree')
    mkdirSync(tree)
    writeFileSync(join(tree, 'keep'), 'keep me')
    execFileSync('sh', ['-c', `head -c 24000000 /dev/urandom > '${tree}/noise'`])
    writeFileSync(
      join(work.dir, 'ownops.yml'),
      [
        'backup:',
        `  dir: ${backups()}`,
        '  targets:',
        `    treezstd: { type: directory, path: ${tree} }`,
        `    treenone: { type: directory, path: ${tree}, compression: none }`,
        'notify:',
        '  channels:',
        `    hook: { url: "json://127.0.0.1:${peer.port}/hook", levels: [error, critical] }`,
        '  retries: 0',
        '',
      ].join('\n'),
    )
  })

  afterAll(async () => {
    await peer?.close()
    work?.cleanup()
  })

  it.for(cases.map((c) => [c.what, c] as const))(
    '%s (SIGXFSZ): a clean failure that names it, nothing that looks valid, and the earlier backup kept',
    { timeout: 60_000 },
    async ([, c], ctx) => {
      const env = testEnv(work.dir)
      const config = ['-c', join(work.dir, 'ownops.yml')]
      const good = await runOwnops([...config, '--json', 'backup', c.target], env, work.dir)
      expect(good.code, good.stderr).toBe(0)
      const ledger = backupLedger(backups())
      const kept = readdirSync(join(backups(), c.target)).sort()

      faultsTried(ctx)
      const sent = peer.requests.length
      const cut = await runOwnops(
        [...config, '--json', 'backup', c.target],
        { ...env, PATH: `${limited(c.tool, c.limit)}:${env.PATH}` },
        work.dir,
      )
      expect(cut.code, cut.stderr).toBe(1)
      const report = JSON.parse(cut.stdout) as Report
      expect(report.targets[0]).toMatchObject({ target: c.target, ok: false })
      expect(report.targets[0]?.error).toMatch(c.error)
      if (c.hint) expect(report.targets[0]?.hint).toMatch(c.hint)
      expect(cut.stderr).not.toMatch(/Unhandled|internal error|ERR_/)
      expect(readdirSync(join(backups(), c.target)).sort(), 'no partial file, no new artifact or manifest').toEqual(kept)
      expect(strays(join(backups(), c.target))).toEqual([])
      const notes = peer.requests.slice(sent).map((r) => r.json as { level: string; title: string; body: string })
      expect(notes.find((n) => n.level === 'error')).toMatchObject({
        title: `backup of ${c.target} failed`,
        body: expect.stringMatching(new RegExp(`${c.tool}.*SIGXFSZ`)),
      })
      expectNothingLost(ctx, ledger.losses())
    },
  )

  it('zstd dies after tar has finished with a warning (exit 1): the archive is cut short, and that is the failure', async (ctx) => {
    // Everything tar writes of one small file fits into the pipe: it exits 1 (the file
    // "shrank") whatever happens to zstd, which then dies at its first write.
    const path = process.env.PATH
    process.env.PATH = `${limited('zstd', 16)}:${path}`
    faultsTried(ctx)
    const dir = join(work.dir, 'direct')
    const artifact = await Artifact.create(dir, 'shrunk-1', 'tar.zst')
    try {
      const args = ['--create', '--file=-', '--format=posix', `--directory=${join(SHRINKING!, '..')}`, '--', SHRINKING!.split('/').pop()!]
      const result = await tarInto({ args, compression: 'zstd', out: artifact.sink, outFd: () => artifact.sink.fileDescriptor() })
      expect(result.exitCode).toBe(1)
      expect(result.stderr).toMatch(/shrank/)
      expect(String(result.sinkError)).toMatch(/zstd was killed by SIGXFSZ/)
    } finally {
      process.env.PATH = path
      await artifact.abort()
    }
    expect(readdirSync(dir)).toEqual([])
  })
})
