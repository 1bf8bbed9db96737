/**
 * `type: sql` — old rows out of a table in batches: each batch is one DELETE of at most
 * `batch` rows in its own transaction, so locks stay short and an interruption loses
 * nothing but the batch in flight. Batches run until one deletes nothing or the time
 * budget ends; then optional VACUUM/ANALYZE. A dry run counts the matching rows.
 *
 * How a batch is picked, per database: PostgreSQL by ctid (or `key`), MariaDB/MySQL with
 * DELETE … LIMIT, SQLite by rowid (or `key`).
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { formatDuration, formatDurationSetting } from '../duration.js'
import { OwnopsError } from '../errors.js'
import { openDbClient } from '../targets/index.js'
import type { DbClient, Dialect } from '../targets/types.js'
import type { SqlRule } from './schema.js'
import { record, ruleReport, type RuleEnv, type RuleReport } from './types.js'

export function quoteIdent(dialect: Dialect, name: string): string {
  return name
    .split('.')
    .map((part) => (dialect === 'mysql' ? `\`${part.replace(/`/g, '``')}\`` : `"${part.replace(/"/g, '""')}"`))
    .join('.')
}

/**
 * The statements of a rule, pure: count, the dry run's count (in a read-only transaction
 * that is rolled back: a condition with side effects cannot change anything), one batch
 * (printing the rows it deleted), maintenance.
 */
export function sqlStatements(
  dialect: Dialect,
  rule: Pick<SqlRule, 'table' | 'where' | 'key' | 'batch' | 'vacuum' | 'analyze'>,
): { count: string; dryCount: string; batch: string; after: string[] } {
  const t = quoteIdent(dialect, rule.table)
  const where = `(${rule.where})`
  const n = rule.batch
  const count = `SELECT count(*) FROM ${t} WHERE ${where}`
  const dryCount =
    dialect === 'postgres'
      ? `BEGIN TRANSACTION READ ONLY; ${count}; ROLLBACK`
      : dialect === 'mysql'
        ? `START TRANSACTION READ ONLY; ${count}; ROLLBACK`
        : `BEGIN; ${count}; ROLLBACK;`
  let batch: string
  const after: string[] = []
  switch (dialect) {
    case 'postgres': {
      const key = rule.key !== undefined ? quoteIdent(dialect, rule.key) : 'ctid'
      const from = rule.key !== undefined ? t : `ONLY ${t}`
      batch = `WITH d AS (DELETE FROM ${from} WHERE ${key} = ANY(ARRAY(SELECT ${key} FROM ${from} WHERE ${where} LIMIT ${n})) RETURNING 1) SELECT count(*) FROM d`
      if (rule.vacuum) after.push(`VACUUM${rule.analyze ? ' (ANALYZE)' : ''} ${t}`)
      else if (rule.analyze) after.push(`ANALYZE ${t}`)
      break
    }
    case 'mysql':
      batch = `DELETE FROM ${t} WHERE ${where} LIMIT ${n}; SELECT ROW_COUNT()`
      if (rule.vacuum) after.push(`OPTIMIZE TABLE ${t}`)
      if (rule.analyze) after.push(`ANALYZE TABLE ${t}`)
      break
    case 'sqlite': {
      const key = rule.key !== undefined ? quoteIdent(dialect, rule.key) : 'rowid'
      batch = `DELETE FROM ${t} WHERE ${key} IN (SELECT ${key} FROM ${t} WHERE ${where} LIMIT ${n}); SELECT changes();`
      if (rule.vacuum) after.push('VACUUM;')
      if (rule.analyze) after.push(`ANALYZE ${t};`)
      break
    }
  }
  return { count, dryCount, batch, after }
}

/** A partitioned table or one with inheritance children: ctid does not identify a row there. */
async function postgresNeedsKey(client: DbClient, table: string): Promise<boolean> {
  const out = await client.query(
    `SELECT c.relkind = 'p' OR EXISTS (SELECT 1 FROM pg_inherits WHERE inhparent = c.oid) FROM pg_class c WHERE c.oid = '${quoteIdent('postgres', table).replace(/'/g, "''")}'::regclass`,
  )
  return out.trim() === 't'
}

function lastNumber(output: string): number {
  const lines = output.trim().split('\n')
  const value = Number(lines[lines.length - 1])
  if (!Number.isInteger(value)) throw new Error(`unexpected output from the database: ${output.slice(0, 200)}`)
  return value
}

export async function runSqlRule(name: string, rule: SqlRule, env: RuleEnv): Promise<RuleReport> {
  const report = ruleReport(name, 'sql')
  const target = env.config.backup.targets[rule.target]
  if (target === undefined) throw new OwnopsError(`no backup target named "${rule.target}"`, { kind: 'config' })
  const client = await openDbClient(rule.target, target, { log: env.log, docker: env.docker, env: env.env, signal: env.signal })
  const statements = sqlStatements(client.dialect, rule)
  const what = `${rule.table} in ${client.where}`
  const condition = `WHERE ${rule.where}`
  if (client.dialect === 'postgres' && rule.key === undefined && (await postgresNeedsKey(client, rule.table))) {
    throw new OwnopsError(`${rule.table} is partitioned or has child tables: batches need a unique column`, {
      kind: 'config',
      hint: `set cleanup.rules.${name}.key, e.g. key: id`,
    })
  }
  if (env.dryRun) {
    const rows = lastNumber(await client.query(statements.dryCount, { readOnly: true }))
    report.rows = rows
    record(report, {
      action: 'delete-rows',
      what,
      reason: `${condition}: ${rows} row${rows === 1 ? '' : 's'} match, ${Math.ceil(rows / rule.batch)} batch${Math.ceil(rows / rule.batch) === 1 ? '' : 'es'} of ${rule.batch}`,
      bytes: 0,
      rows,
    })
    return report
  }
  const budget = rule.budget
  const pause = rule.pause
  const started = performance.now()
  let rows = 0
  let batches = 0
  let stopped: string | undefined
  for (;;) {
    const deleted = lastNumber(await client.query(statements.batch))
    batches++
    rows += deleted
    env.log.debug({ rule: name, batch: batches, deleted }, 'batch deleted')
    if (deleted === 0 || deleted < rule.batch) break
    if (env.signal.aborted) {
      stopped = 'interrupted'
      break
    }
    if (performance.now() - started >= budget) {
      stopped = `the time budget of ${formatDurationSetting(rule.budget)} ended`
      break
    }
    if (pause > 0) await sleep(pause, undefined, { signal: env.signal }).catch(() => undefined)
  }
  const took = formatDuration(performance.now() - started)
  report.rows = rows
  record(report, {
    action: 'delete-rows',
    what,
    reason: `${condition}: ${rows} row${rows === 1 ? '' : 's'} in ${batches} batch${batches === 1 ? '' : 'es'} of ${rule.batch}, ${took}${stopped ? `; stopped: ${stopped}, matching rows may remain` : ''}`,
    bytes: 0,
    rows,
  })
  if (stopped !== undefined) report.warnings.push(`${name}: ${stopped} after ${rows} rows; the next run goes on`)
  env.log.info({ rule: name, rows, batches }, 'rows deleted')
  if (stopped === undefined && !env.signal.aborted) {
    for (const statement of statements.after) {
      await client.query(statement)
      env.log.info({ rule: name, statement }, 'maintenance done')
    }
  }
  return report
}
