/** The one line of a tool's stderr that says why it failed, past its warnings and hints. */
import { describe, expect, it } from 'vitest'
import { failureReason } from '../../src/targets/types.js'

describe('failureReason', () => {
  it('takes the error line, not a warning, a DETAIL or a HINT after it', () => {
    const pg = [
      'pg_dump: error: query failed: ERROR:  permission denied for table secrets',
      'DETAIL:  the role has no SELECT on it',
      'HINT:  GRANT SELECT',
      'pg_dump: detail: Query was: LOCK TABLE public.secrets IN ACCESS SHARE MODE',
    ].join('\n')
    expect(failureReason(pg)).toBe('pg_dump: error: query failed: ERROR:  permission denied for table secrets')
    const maria = [
      'mariadb-dump: [Warning] Using a password on the command line interface can be insecure.',
      "mariadb-dump: Got error: 1045: \"Access denied for user 'shop'@'localhost' (using password: YES)\" when trying to connect",
      '',
    ].join('\n')
    expect(failureReason(maria)).toMatch(/^mariadb-dump: Got error: 1045: "Access denied/)
  })

  it('falls back to the last line that is not noise, and to nothing on an empty stderr', () => {
    expect(failureReason('tar: something odd happened\n')).toBe('tar: something odd happened')
    expect(failureReason('\n  \n')).toBeUndefined()
    expect(failureReason('warning: only a warning')).toBeUndefined()
  })

  it('keeps a long line to 300 characters', () => {
    const reason = failureReason(`error: ${'x'.repeat(1000)}`) as string
    expect(reason).toHaveLength(300)
    expect(reason.endsWith('…')).toBe(true)
  })
})
