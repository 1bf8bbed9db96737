/**
 * The invoking user's crontab, through the `crontab` command (the only supported way to edit
 * it: it checks the syntax and tells the cron daemon): `crontab -l`, `crontab -`, `crontab -r`.
 */
import type { Logger } from 'pino'
import { OwnopsError } from '../errors.js'
import { runCapture } from './exec.js'
import { which } from './which.js'

export interface Crontab {
  /** The crontab's text; '' when the user has none. */
  read(): Promise<string>
  /** Installs `text` as the whole crontab; '' removes it (crontab -r). */
  write(text: string): Promise<void>
}

export function crontab(options: { log: Logger; env: NodeJS.ProcessEnv; signal?: AbortSignal }): Crontab {
  const command = which('crontab', options.env)
  const run = async (args: string[], input?: string) => {
    if (command === undefined) {
      throw new OwnopsError('the crontab command is not installed', {
        kind: 'unavailable',
        hint: 'install cron (Debian, Ubuntu: apt install cron), or use systemd timers: ownops schedule install',
      })
    }
    return runCapture([command, ...args], {
      log: options.log,
      env: options.env,
      timeoutMs: 30_000,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(input !== undefined ? { input } : {}),
    })
  }
  return {
    async read() {
      const result = await run(['-l'])
      if (result.exitCode === 0) return result.stdout === '' ? '' : `${result.stdout}\n`
      if (/no crontab for/i.test(result.stderr)) return ''
      throw failure('crontab -l', result.stderr || result.reason)
    },
    async write(text) {
      const result = text.trim() === '' ? await run(['-r']) : await run(['-'], text)
      if (result.exitCode === 0 || (text.trim() === '' && /no crontab for/i.test(result.stderr))) return
      throw failure(text.trim() === '' ? 'crontab -r' : 'crontab -', result.stderr || result.reason)
    },
  }
}

function failure(command: string, output: string | undefined): OwnopsError {
  const text = (output ?? '').trim()
  const denied = /not allowed|permission denied/i.test(text)
  return new OwnopsError(`${command} failed: ${text || 'no output'}`, {
    kind: denied ? 'permission' : 'failed',
    hint: denied ? 'this user may not use cron: see /etc/cron.allow and /etc/cron.deny' : 'nothing was changed',
  })
}
