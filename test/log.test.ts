import { execFileSync } from 'node:child_process'
import { openSync, closeSync, fstatSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { createLogger, detectLogFormat } from '../src/log.js'
import { Redactor } from '../src/redact.js'
import { BIN, tempDir, testEnv } from './helpers/cli.js'

function capture(format: 'json' | 'text' | 'journal', level: 'info' | 'debug' = 'debug') {
  const lines: string[] = []
  const log = createLogger({ level, redactor: new Redactor(), format, color: false, write: (l) => lines.push(l) })
  return { log, lines }
}

describe('log formats', () => {
  it('journal: sd-daemon priority prefixes so journalctl -p works', () => {
    const { log, lines } = capture('journal')
    log.debug('d')
    log.info({ target: 'db' }, 'backup done')
    log.warn('w')
    log.error('e')
    log.fatal('f')
    expect(lines).toEqual(['<7>d\n', '<6>backup done target=db\n', '<4>w\n', '<3>e\n', '<2>f\n'])
  })

  it('json: one JSON object per line with level, time and message', () => {
    const { log, lines } = capture('json')
    log.child({ cmd: 'backup' }).warn({ bytes: 12 }, 'small backup')
    const record = JSON.parse(lines[0] ?? '')
    expect(record).toMatchObject({ level: 40, cmd: 'backup', bytes: 12, msg: 'small backup' })
    expect(Date.parse(record.time)).not.toBeNaN()
  })

  it('text: time, level, message and fields; stacks only at debug', () => {
    const info = capture('text', 'info')
    info.log.error({ err: new Error('boom') }, 'failed')
    expect(info.lines[0]).toMatch(/^\d\d:\d\d:\d\d ERROR failed err=boom\n$/)
    const debug = capture('text', 'debug')
    debug.log.error({ err: new Error('boom') }, 'failed')
    expect(debug.lines[0]).toContain('at ')
  })

  it('respects the level', () => {
    const { log, lines } = capture('json', 'info')
    log.debug('hidden')
    expect(lines).toEqual([])
  })

  it('detects the journal from JOURNAL_STREAM matching stderr, a terminal, or a pipe', () => {
    const { dir, cleanup } = tempDir()
    try {
      const file = join(dir, 'err.log')
      const fd = openSync(file, 'w')
      const st = fstatSync(fd)
      // A real process whose stderr is the "journal stream" (a file here, identified by dev:inode).
      execFileSync(process.execPath, [BIN, '--log-level', 'info', 'backup'], {
        env: { ...testEnv(dir), OWNOPS_LOG_FORMAT: '', JOURNAL_STREAM: `${st.dev}:${st.ino}` },
        stdio: ['ignore', 'ignore', fd],
      }).toString?.()
      closeSync(fd)
    } catch {
      // exit 78 (no backup targets) is expected; the log line is what we check
    }
    try {
      const text = readFileSync(join(dir, 'err.log'), 'utf8')
      expect(text).toMatch(/^<3>no backup targets configured/)
    } finally {
      cleanup()
    }
    expect(detectLogFormat({ JOURNAL_STREAM: '1:2' }, false)).toBe('json')
    expect(detectLogFormat({}, true)).toBe('text')
    expect(detectLogFormat({ OWNOPS_LOG_FORMAT: 'journal' }, true)).toBe('journal')
  })
})

describe('log lines of a command', () => {
  it("carry the command as cmd, once, also the notifier's (tagged component=notify), and an error as an err object", async () => {
    const { startHttpPeer } = await import('./helpers/http-peer.js')
    const { runCli } = await import('./helpers/cli.js')
    const { mkdirSync, writeFileSync, utimesSync } = await import('node:fs')
    const peer = await startHttpPeer()
    const work = tempDir()
    try {
      peer.reply({ status: 400, body: 'no' })
      const root = join(work.dir, 'tmp')
      mkdirSync(root)
      writeFileSync(join(root, 'old.tmp'), 'x')
      utimesSync(join(root, 'old.tmp'), new Date('2020-01-01'), new Date('2020-01-01'))
      writeFileSync(
        join(work.dir, 'ownops.yml'),
        `backup: { dir: ${join(work.dir, 'backups')} }\nnotify:\n  channels:\n    hook: { url: "json://127.0.0.1:${peer.port}/hook", levels: [info, warning, error, critical] }\n  retries: 0\ncleanup:\n  notifyOnSuccess: true\n  rules:\n    tmp: { type: files, root: ${root}, olderThan: 1d }\n`,
      )
      const r = await runCli(['cleanup'], { env: testEnv(work.dir), cwd: work.dir })
      expect(r.code, r.stderr).toBe(0)
      const records = r.stderr
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>)
      expect(records.length).toBeGreaterThan(0)
      for (const record of records) expect(record, JSON.stringify(record)).toMatchObject({ cmd: 'cleanup' })
      for (const line of r.stderr.trim().split('\n')) expect(line.match(/"cmd":/g)).toHaveLength(1)
      const refused = records.find((x) => x.msg === 'notification rejected; not retrying')
      expect(refused).toMatchObject({
        cmd: 'cleanup',
        component: 'notify',
        err: { type: 'DeliveryError', message: expect.stringContaining('400') },
      })
    } finally {
      await peer.close()
      work.cleanup()
    }
  })
})
