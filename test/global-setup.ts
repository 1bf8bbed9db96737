/**
 * vitest globalSetup, used by both projects in vitest.config.ts.
 *
 * - Project "unit": never touches Docker; provides `{ ok: false, reason: 'unit project' }`.
 * - Project "docker": runs `scripts/test-env.sh up` (starts the engine if it can, builds the
 *   offline test image if missing) unless OWNOPS_TEST_ENV_UP=0, pings the engine, and
 *   provides the outcome as `inject('docker')`. Without an engine the Docker-backed tests
 *   are skipped with one line, unless CI=true or OWNOPS_REQUIRE_DOCKER=1: then the run fails.
 *   Teardown removes every container and volume labelled with this run's id.
 *
 * This file runs in the main vitest process: it must not import test/helpers/docker.ts
 * (that module calls `inject`, which only exists inside test workers).
 */
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import Docker from 'dockerode'
import type { TestProject } from 'vitest/node'

/** What the global setup hands to tests via `inject('docker')`. */
export type DockerProvided =
  { ok: true; version: string; required: boolean; runId: string } | { ok: false; reason: string; required: boolean; runId: string }

declare module 'vitest' {
  export interface ProvidedContext {
    docker: DockerProvided
  }
}

// Keep in sync with test/helpers/docker.ts.
const TEST_IMAGE = 'ownops-test/busybox:1'
const RUN_LABEL = 'ownops-test.run'

const SCRIPT = fileURLToPath(new URL('../scripts/test-env.sh', import.meta.url))
const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url))

function dockerRequired(): boolean {
  return process.env.CI === 'true' || process.env.OWNOPS_REQUIRE_DOCKER === '1'
}

function runScript(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('bash', [SCRIPT, ...args], { cwd: REPO_ROOT, timeout: 300_000, maxBuffer: 4 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0
      const extra = error && typeof error.code !== 'number' ? `${error.message}\n` : ''
      resolve({ code, stdout: String(stdout), stderr: extra + String(stderr) })
    })
  })
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms)
  })
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer))
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e)
}

async function probe(): Promise<{ ok: true; version: string } | { ok: false; reason: string }> {
  let docker: Docker
  try {
    docker = new Docker() // honours DOCKER_HOST (unix://, tcp://, npipe://)
  } catch (e) {
    return { ok: false, reason: `cannot create a Docker client: ${errorMessage(e)}` }
  }
  const where = process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock'
  try {
    await withTimeout(docker.ping(), 5_000, `ping ${where}`)
    const v = await withTimeout(docker.version(), 5_000, `version ${where}`)
    try {
      await docker.getImage(TEST_IMAGE).inspect()
    } catch {
      return { ok: false, reason: `test image ${TEST_IMAGE} is missing (run: bash scripts/test-env.sh up)` }
    }
    return { ok: true, version: v.Version }
  } catch (e) {
    return { ok: false, reason: `Docker engine at ${where} does not answer: ${errorMessage(e)}` }
  }
}

/** Last meaningful line of the script's stderr, without its "test-env: " prefix. */
function scriptReason(stderr: string, code: number): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('test-env: '))
  const line = lines[0] ?? stderr.trim().split('\n').pop() ?? ''
  return `scripts/test-env.sh up failed (exit ${code}): ${line.replace(/^test-env: /, '') || 'no output'}`
}

async function removeRunObjects(runId: string): Promise<void> {
  const docker = new Docker()
  const label = `${RUN_LABEL}=${runId}`
  const containers = await docker.listContainers({ all: true, filters: { label: [label] } })
  await Promise.all(
    containers.map((c) =>
      docker
        .getContainer(c.Id)
        .remove({ force: true, v: true })
        .catch(() => undefined),
    ),
  )
  const { Volumes } = await docker.listVolumes({ filters: { label: [label] } })
  await Promise.all(
    (Volumes ?? []).map((v) =>
      docker
        .getVolume(v.Name)
        .remove({ force: true })
        .catch(() => undefined),
    ),
  )
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const runId = `${process.pid.toString(36)}${randomBytes(3).toString('hex')}`

  if (project.name === 'unit') {
    project.provide('docker', { ok: false, reason: 'unit project', required: false, runId })
    return undefined
  }

  const required = dockerRequired()
  let scriptFailure: string | undefined
  if (process.env.OWNOPS_TEST_ENV_UP !== '0') {
    const r = await runScript(['up'])
    if (r.code !== 0) scriptFailure = scriptReason(r.stderr, r.code)
  }

  const state = await probe()
  if (!state.ok) {
    const reason = (scriptFailure ?? state.reason).replace(/\.+$/, '')
    if (required) {
      const why = process.env.OWNOPS_REQUIRE_DOCKER === '1' ? 'OWNOPS_REQUIRE_DOCKER=1' : 'CI=true'
      throw new Error(
        `[ownops tests] Docker-backed tests cannot run: ${reason}. ` +
          `${why} makes a working Docker engine mandatory (see scripts/test-env.sh).`,
      )
    }
    console.warn(`[ownops tests] Docker-backed tests skipped: ${reason} (set OWNOPS_REQUIRE_DOCKER=1 to make this an error)`)
    project.provide('docker', { ok: false, reason, required, runId })
    return undefined
  }

  project.provide('docker', { ok: true, version: state.version, required, runId })
  return async () => {
    if (process.env.OWNOPS_TEST_KEEP === '1') return
    await removeRunObjects(runId).catch((e: unknown) => {
      console.warn(`[ownops tests] cleanup of run ${runId} failed: ${errorMessage(e)}`)
    })
  }
}
