/** Runs the CLI in-process with captured output, or as a real process through bin/ownops.js. */
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { main } from '../../src/cli.js'

export const BIN = resolve(import.meta.dirname, '../../bin/ownops.js')

export interface CliResult {
  code: number
  stdout: string
  stderr: string
}

/** A clean environment for a CLI run: temp state and lock dirs, no real /etc config. */
export function testEnv(dir: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: dir,
    OWNOPS_STATE_DIR: join(dir, 'state'),
    OWNOPS_LOCK_DIR: join(dir, 'lock'),
    OWNOPS_LOG_FORMAT: 'json',
    ...(process.env.DOCKER_HOST ? { DOCKER_HOST: process.env.DOCKER_HOST } : {}),
    ...extra,
  }
}

export async function runCli(
  args: string[],
  options: {
    env: NodeJS.ProcessEnv
    cwd: string
    stdin?: string
    stdinIsTTY?: boolean
    stdoutIsTTY?: boolean
    systemd?: boolean
    clock?: () => Date
    sleep?: (ms: number, signal: AbortSignal) => Promise<void>
  },
): Promise<CliResult> {
  let stdout = ''
  let stderr = ''
  const code = await main(['node', 'ownops', ...args], {
    env: options.env,
    cwd: options.cwd,
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    stderrIsTTY: options.env.OWNOPS_LOG_FORMAT === 'text',
    stdinIsTTY: options.stdinIsTTY ?? false, // as under a timer or cron, whatever runs the tests
    stdoutIsTTY: options.stdoutIsTTY ?? false,
    systemd: options.systemd ?? false, // the same answer on every host: no systemd unless a test says so
    ...(options.stdin !== undefined ? { stdin: options.stdin } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.sleep ? { sleep: options.sleep } : {}),
  })
  return { code, stdout, stderr }
}

export function runBin(args: string[], options: { env: NodeJS.ProcessEnv; cwd: string; timeoutMs?: number }): Promise<CliResult> {
  return new Promise((resolvePromise) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: options.env, cwd: options.cwd, timeout: options.timeoutMs ?? 30_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1
        resolvePromise({ code, stdout, stderr })
      },
    )
  })
}

export function tempDir(prefix = 'ownops-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) }
}
