import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { afterEach, beforeEach, expect, it } from 'vitest'
import { createLogger } from '../../src/log.js'
import { Redactor } from '../../src/redact.js'
import { StateStore } from '../../src/sys/state.js'
import { tempDir } from '../helpers/cli.js'

let dir: string
let cleanup: () => void
beforeEach(() => {
  ;({ dir, cleanup } = tempDir())
})
afterEach(() => cleanup())

it('writes JSON state atomically with mode 0600 and reads it back', async () => {
  const store = new StateStore(`${dir}/state`)
  await store.write('monitor', { runs: 3 })
  expect(await store.read('monitor', { runs: 0 })).toEqual({ runs: 3 })
  expect(statSync(store.path('monitor')).mode & 0o777).toBe(0o600)
  expect(statSync(`${dir}/state`).mode & 0o777).toBe(0o700)
  expect(readdirSync(`${dir}/state`)).toEqual(['monitor.json']) // no temp files left
})

it('a missing file reads as the fallback; a corrupt one too, with a warning', async () => {
  const lines: string[] = []
  const store = new StateStore(dir, createLogger({ level: 'info', redactor: new Redactor(), format: 'json', write: (l) => lines.push(l) }))
  expect(await store.read('none', { fresh: true })).toEqual({ fresh: true })
  expect(lines).toEqual([])
  writeFileSync(store.path('broken'), '{"runs": 3') // truncated by a crash
  expect(await store.read('broken', { fresh: true })).toEqual({ fresh: true })
  expect(lines.join('')).toContain('state file is corrupt')
  writeFileSync(store.path('wrong'), '[1,2]')
  const validate = (v: unknown) => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as { n: number }) : undefined)
  expect(await store.read('wrong', { n: 0 }, validate)).toEqual({ n: 0 })
  await store.write('broken', { runs: 4 })
  expect(JSON.parse(readFileSync(store.path('broken'), 'utf8'))).toEqual({ runs: 4 })
})

it('refuses state names that could escape the directory', () => {
  expect(() => new StateStore(dir).path('../etc/passwd')).toThrow(/invalid state file name/)
})
