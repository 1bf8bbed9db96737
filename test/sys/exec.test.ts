/**
 * Every process ownops starts goes through src/sys/exec.ts: the command line it logs has its
 * secrets masked (a database URL's password, --password=…, a secret NAME=value, the value
 * after --token), and a program that is not installed is a typed error with the caller's hint.
 */
import { describe, expect, it } from 'vitest'
import { errorExitCode } from '../../src/errors.js'
import { createLogger } from '../../src/log.js'
import { Redactor } from '../../src/redact.js'
import { maskArgv, runCapture, spawnProcess } from '../../src/sys/exec.js'

function debugLog() {
  const lines: string[] = []
  const log = createLogger({
    level: 'debug',
    redactor: new Redactor(),
    color: false,
    env: {},
    format: 'json',
    write: (line) => void lines.push(line),
  })
  return { log, lines }
}

describe('command lines in logs', () => {
  it('masks URL credentials, secret flags and secret NAME=value pairs; leaves the rest as it is', () => {
    expect(maskArgv(['pg_dump', '--no-password', '--dbname=postgresql://app:s3cret-pw@db:5432/app', '-Fc'])).toEqual([
      'pg_dump',
      '--no-password',
      '--dbname=postgresql://***@db:5432/app',
      '-Fc',
    ])
    expect(maskArgv(['tool', '--password=hunter2', '--token', 'tok-123', 'API_KEY=abc', 'TZ=UTC', '--user=bob'])).toEqual([
      'tool',
      '--password=***',
      '--token',
      '***',
      'API_KEY=***',
      'TZ=UTC',
      '--user=bob',
    ])
  })

  it('what runCapture and spawnProcess log at debug level holds no secret', async () => {
    const { log, lines } = debugLog()
    const r = await runCapture(['sh', '-c', 'exit 0', 'sh', '--password=hunter2', 'postgres://u:pw-in-url@h/db'], { log })
    expect(r.exitCode).toBe(0)
    const p = spawnProcess(['true', '--token', 'tok-123'], { log })
    expect((await p.exited).exitCode).toBe(0)
    const text = lines.join('')
    expect(text).toContain('running command')
    expect(text).toContain('--password=***')
    expect(text).not.toMatch(/hunter2|pw-in-url|tok-123/)
  })
})

describe('programs that are not installed', () => {
  it('are an error of kind unavailable (exit 69) with the hint the caller gives', async () => {
    const { log } = debugLog()
    const captured = runCapture(['ownops-no-such-tool', '-v'], { log, notInstalled: 'apt-get install it' })
    await expect(captured).rejects.toMatchObject({
      kind: 'unavailable',
      message: 'ownops-no-such-tool is not installed',
      hint: 'apt-get install it',
    })
    await expect(captured.catch(errorExitCode)).resolves.toBe(69)
    const spawned = spawnProcess(['ownops-no-such-tool'], { log, notInstalled: 'apt-get install it' })
    await expect(spawned.exited).rejects.toMatchObject({ kind: 'unavailable', hint: 'apt-get install it' })
    // Without a hint, runCapture reports it in its result instead (a check shows it as its value).
    expect(await runCapture(['ownops-no-such-tool'], { log })).toMatchObject({ failed: true, exitCode: undefined })
  })
})
