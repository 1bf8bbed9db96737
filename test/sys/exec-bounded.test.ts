/**
 * Command output is kept as a head and a tail within a limit, wherever ownops captures it:
 * a command check that prints 300 MB costs a megabyte, not the 300 MB (the run once
 * reached 712 MB), and its first line and the match still work.
 */
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { BoundedOutput } from '../../src/sys/exec.js'
import { BIN, tempDir, testEnv } from '../helpers/cli.js'

let dir: string
let done: () => void
beforeEach(() => ({ dir, cleanup: done } = tempDir('ownops-bounded-')))
afterEach(() => done())

describe('bounded output', () => {
  it('keeps everything under the limit, and the head and the tail over it, saying how much was left out', () => {
    const small = new BoundedOutput(64)
    small.add(Buffer.from('hello '))
    small.add(Buffer.from('world'))
    expect(small.text()).toBe('hello world')
    const big = new BoundedOutput(64)
    big.add(Buffer.from('FIRST LINE\n'))
    for (let i = 0; i < 1000; i++) big.add(Buffer.from(`line ${i}\n`))
    big.add(Buffer.from('LAST LINE\n'))
    const text = big.text()
    expect(text.startsWith('FIRST LI')).toBe(true)
    expect(text.endsWith('LAST LINE\n')).toBe(true)
    expect(text).toMatch(/… \(\d+ bytes of output left out\) …/)
    const total = Buffer.byteLength(`FIRST LINE\n${Array.from({ length: 1000 }, (_, i) => `line ${i}\n`).join('')}LAST LINE\n`)
    expect(big.leftOut).toBe(total - 64)
  })

  it('a monitor command check that prints 300 MB: the run stays small, the check still reads the first line and matches', async () => {
    writeFileSync(
      join(dir, 'ownops.yml'),
      `monitor:
  builtins: false
  checks:
    chatty:
      kind: command
      command: [sh, -c, "echo 'status: all good'; head -c 300000000 /dev/zero | tr '\\\\0' x; echo; echo 'done: ok'"]
      match: "done: ok"
      timeout: 50s
  deadline: 55s
`,
    )
    // The CLI in a process of its own, reporting its peak memory when it ends.
    const script = `const { main } = await import(${JSON.stringify(new URL('../dist/cli.js', `file://${BIN}`).href)}); const code = await main(process.argv); process.stderr.write('\\nmaxRSS=' + process.resourceUsage().maxRSS + '\\n'); process.exit(code)`
    const child = spawn(
      process.execPath,
      ['--input-type=module', '-e', script, 'ownops', '--json', '-c', join(dir, 'ownops.yml'), 'monitor'],
      { env: testEnv(dir), cwd: dir },
    )
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => void (stdout += c.toString()))
    child.stderr.on('data', (c: Buffer) => void (stderr += c.toString()))
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve))
    expect(code, stderr).toBe(0)
    const row = (JSON.parse(stdout) as { checks: Array<{ check: string; status: string; value: string }> }).checks.find(
      (r) => r.check === 'chatty',
    )
    expect(row).toMatchObject({ status: 'ok', value: expect.stringMatching(/^exit 0 in \d+ ms: status: all good$/) })
    const maxRssMiB = Number(/maxRSS=(\d+)/.exec(stderr)?.[1]) / 1024
    expect(maxRssMiB).toBeGreaterThan(0)
    expect(maxRssMiB, 'peak memory of the monitor run (MiB)').toBeLessThan(200)
  }, 120_000)
})
