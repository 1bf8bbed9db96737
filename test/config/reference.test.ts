/**
 * The README's reference tables against their sources: the schema (job keys, check kinds and
 * their keys, target types, channel schemes), the exit-code table, and the commands the CLI
 * registers. A key renamed in the schema, or a kind or command added without a row, fails here.
 */
import type { CommandUnknownOpts } from '@commander-js/extra-typings'
import { readdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { z } from 'zod'
import { describe, expect, it } from 'vitest'
import { buildProgram } from '../../src/cli.js'
import { checkConfig } from '../../src/config/load.js'
import { backupTargetTypes, scheduleJobSchema } from '../../src/config/schema.js'
import { exitCodeTable } from '../../src/errors.js'
import { checkSchemas } from '../../src/monitor/checks/index.js'
import { channels } from '../../src/notify/channels/index.js'

const ROOT = resolve(import.meta.dirname, '../..')
const README = readFileSync(join(ROOT, 'README.md'), 'utf8')

/** The rows of the table whose header line is `header`, as cells. */
function table(header: string): string[][] {
  const lines = README.split('\n')
  const start = lines.findIndex((l) => l.trim() === header)
  expect(start, `README has a table "${header}"`).toBeGreaterThan(-1)
  const rows: string[][] = []
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break
    rows.push(
      line
        .replace(/\\\|/g, '\u0000')
        .split('|')
        .slice(1, -1)
        .map((c) => c.replace(/\u0000/g, '|').trim()),
    )
  }
  return rows
}

/** `code` spans of a cell. */
const codes = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1] as string)

const keysOf = (schema: z.ZodType) => Object.keys((schema as unknown as { shape: Record<string, unknown> }).shape)

describe('README reference tables', () => {
  it('the job keys are the keys of schedule.jobs.<name>', () => {
    expect(table('| job key | meaning |').map(([key]) => codes(key ?? '')[0])).toEqual(keysOf(scheduleJobSchema))
  })

  it('every monitor check kind has a row, and every key a row names is a key of that kind', () => {
    const rows = table('| kind | checks | main keys |')
    const kinds = new Map(checkSchemas.map((s) => [(s.shape.kind as unknown as { value: string }).value, keysOf(s)]))
    const listed = rows.flatMap(([kind]) => codes(kind ?? ''))
    expect([...listed].sort()).toEqual([...kinds.keys()].sort())
    for (const [kindCell = '', , keyCell = ''] of rows) {
      for (const kind of codes(kindCell)) {
        // `period: 1 | 5 | 15`, `tls: { ca, verify }`: the key is what comes before the colon.
        for (const key of codes(keyCell).map((k) => k.split(':')[0] as string)) expect(kinds.get(kind), `${kind}.${key}`).toContain(key)
      }
    }
  })

  it('every backup target type has a row', () => {
    const listed = table('| type | how | artifact |').flatMap(([type]) => codes(type ?? ''))
    expect([...listed].sort()).toEqual([...backupTargetTypes].sort())
  })

  it('every notification channel has a row that shows its URL scheme', () => {
    const text = table('| channel | URL forms |')
      .map(([, forms]) => forms ?? '')
      .join('\n')
    for (const [name, channel] of Object.entries(channels))
      expect(
        channel.schemes.some((scheme) => text.includes(`${scheme}://`)),
        name,
      ).toBe(true)
  })

  it('the exit codes are the ones errors.ts maps kinds to', () => {
    const listed = table('| code | meaning |').flatMap(([code]) => (code ?? '').split('/').map((c) => Number(c.trim())))
    expect(listed).toEqual(exitCodeTable.map(([code]) => code))
  })

  it('every command has a row', () => {
    const names = (buildProgram(async () => undefined) as unknown as CommandUnknownOpts).commands
      .map((c) => c.name())
      .filter((name) => !name.startsWith('__')) // hidden: what completion calls
    const text = table('| command | status |')
      .map(([command]) => command ?? '')
      .join('\n')
    for (const name of names) expect(text, name).toMatch(new RegExp(`(?:ownops|\\|) ${name}\\b`))
  })
})

describe('the example configs', () => {
  it.each(['ownops.example.yml', ...readdirSync(join(ROOT, 'examples')).map((f) => `examples/${f}`)])(
    '%s is valid against the schema',
    (file) => {
      const result = checkConfig({ path: join(ROOT, file), env: {}, cwd: ROOT, defaultEnvFile: join(ROOT, 'no-such.env') })
      expect(result.problems.filter((p) => p.severity === 'error')).toEqual([])
    },
  )
})
