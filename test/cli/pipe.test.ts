/**
 * ownops as a real process writing into a pipe whose reader is slower than ownops: the whole
 * output arrives, whatever the command and the size, and a reader that goes away (EPIPE)
 * ends ownops quietly.
 */
import { execFile } from 'node:child_process'
import { mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BIN, runCli, tempDir, testEnv } from '../helpers/cli.js'

let dir: string
let cleanup: () => void
let env: NodeJS.ProcessEnv
const FILES = 2500

beforeAll(() => {
  ;({ dir, cleanup } = tempDir('ownops-test-pipe-'))
  const scratch = join(dir, 'scratch')
  mkdirSync(scratch)
  const old = new Date(Date.UTC(2020, 0, 1))
  for (let i = 0; i < FILES; i++) {
    const file = join(scratch, `abaqus_${String(i).padStart(5, '0')}.tmp`)
    writeFileSync(file, 'x')
    utimesSync(file, old, old)
  }
  writeFileSync(
    join(dir, 'ownops.yml'),
    `backup: { dir: ${join(dir, 'backups')} }\ncleanup:\n  backups: false\n  rules:\n    scratch: { type: files, root: ${scratch}, match: "abaqus_*", olderThan: 1d }\nschedule:\n  bin: /usr/local/bin/ownops\n  jobs:\n${Array.from({ length: 60 }, (_, i) => `    job${i}: { command: [monitor], schedule: "${i} * * * *" }`).join('\n')}\n`,
  )
  env = testEnv(dir, { OWNOPS_CONFIG: join(dir, 'ownops.yml') })
})
afterAll(() => cleanup())

interface Piped {
  code: number
  stdout: Buffer
  stderr: string
}

/**
 * Runs bin/ownops.js with its stdout on a real pipe (pipe(2), 64 KiB, as in `ownops … | jq`)
 * read by a deliberately slow reader: nothing is read for a while, so the pipe fills and
 * ownops' writes queue up; then the reader takes everything. With `closeAfter`, the reader
 * takes that many bytes and goes away (`| head -c N`). ownops' exit status and stderr are
 * kept in files beside the pipe.
 */
function pipeToSlowReader(args: string[], options: { closeAfter?: number } = {}): Promise<Piped> {
  const reader = options.closeAfter === undefined ? '(sleep 0.3; cat)' : `(sleep 0.3; head -c ${options.closeAfter})`
  const code = join(dir, 'exit-code')
  const stderr = join(dir, 'stderr')
  const script = `{ "$@" 2>${stderr}; echo $? >${code}; } | ${reader}`
  return new Promise((done, fail) => {
    execFile(
      'sh',
      ['-c', script, 'sh', process.execPath, BIN, ...args],
      { env, cwd: dir, encoding: 'buffer', maxBuffer: 64 << 20 },
      (error, stdout) => {
        if (error !== null) return fail(error)
        done({ code: Number(readFileSync(code, 'utf8')), stdout, stderr: readFileSync(stderr, 'utf8') })
      },
    )
  })
}

describe('output into a slow pipe', () => {
  it('config schema (200 KB): every byte arrives, exit 0', async () => {
    const expected = await runCli(['config', 'schema'], { env, cwd: dir })
    expect(expected.stdout.length).toBeGreaterThan(150_000)
    const result = await pipeToSlowReader(['config', 'schema'])
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
    expect(result.stdout.length).toBe(Buffer.byteLength(expected.stdout))
    expect(result.stdout.toString()).toBe(expected.stdout)
  })

  it('cleanup --dry-run --json (hundreds of KB): the whole report parses and lists every file', async () => {
    const result = await pipeToSlowReader(['cleanup', '--dry-run', '--json'])
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout.length).toBeGreaterThan(200_000)
    const report = JSON.parse(result.stdout.toString())
    const text = JSON.stringify(report)
    for (const i of [0, 1, FILES / 2, FILES - 1]) expect(text).toContain(`abaqus_${String(i).padStart(5, '0')}.tmp`)
  })

  it.each([
    ['cleanup --dry-run (table)', ['cleanup', '--dry-run']],
    ['schedule generate', ['schedule', 'generate']],
    ['schedule generate --json', ['--json', 'schedule', 'generate']],
    ['--help', ['--help']],
    ['schedule generate --help', ['schedule', 'generate', '--help']],
    ['lock status', ['lock', 'status']],
  ])('%s: the same bytes as in-process', async (_name, args) => {
    const expected = await runCli(args, { env, cwd: dir })
    const result = await pipeToSlowReader(args)
    expect(result.code).toBe(expected.code)
    // The two runs are moments apart: ages ("modified 2527d15h8m48s ago") may differ by a second.
    const ages = (text: string) => text.replace(/modified \S+ ago/g, 'modified … ago')
    expect(ages(result.stdout.toString())).toBe(ages(expected.stdout))
    expect(result.stdout.length).toBeGreaterThan(0)
  })

  it('a reader that goes away (EPIPE) ends ownops quietly with its own exit status', async () => {
    for (const args of [
      ['config', 'schema'],
      ['cleanup', '--dry-run', '--json'],
    ]) {
      const result = await pipeToSlowReader(args, { closeAfter: 10 })
      expect(result.stderr, args.join(' ')).toBe('')
      expect(result.code, args.join(' ')).toBe(0)
    }
  })
})
