/**
 * `DOCKER_HOST=ssh://user@host[:port]`: the Docker API over SSH, the way the docker CLI does
 * it — the OpenSSH client runs `docker system dial-stdio` on the remote host, and the API
 * talks HTTP over that process's stdin and stdout. Using the system's `ssh` (rather than
 * docker-modem's built-in ssh2 transport, which opens a new SSH connection for every request
 * and accepts any host key unless told otherwise) means ~/.ssh/config, known_hosts, keys and
 * the ssh-agent work exactly as for `ssh` and `docker -H ssh://…`.
 *
 * Each HTTP connection is one ssh process; an http.Agent keeps up to `maxSockets` of them
 * alive for reuse within a run, and `closeSshAgents()` ends them when the run ends.
 */
import type { ChildProcessWithoutNullStreams } from 'node:child_process'
import { Agent } from 'node:http'
import { Duplex } from 'node:stream'
import { spawnProcess } from './exec.js'
import type { SshTarget } from './ssh-url.js'

export { parseSshUrl, type SshTarget } from './ssh-url.js'

/** The ssh command line, as the docker CLI builds it. */
export function sshArgs(target: SshTarget): string[] {
  return [
    '-o',
    'BatchMode=yes', // never wait for a password or a host-key question: a timer has no terminal
    '-o',
    'ConnectTimeout=15',
    '-T',
    ...(target.user ? ['-l', target.user] : []),
    ...(target.port ? ['-p', String(target.port)] : []),
    '--',
    target.host,
    'docker',
    'system',
    'dial-stdio',
  ]
}

export class SshError extends Error {
  readonly code = 'ESSH'
  constructor(message: string) {
    super(message)
    this.name = 'SshError'
  }
}

/** One ssh process as a socket for an HTTP client. */
class SshChannel extends Duplex {
  private timer: NodeJS.Timeout | undefined
  private timeoutMs = 0
  private stderr = ''
  private closing = false

  constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    display: string,
  ) {
    super()
    child.stdout.on('data', (chunk: Buffer) => {
      this.touch()
      if (!this.push(chunk)) child.stdout.pause()
    })
    child.stderr.on('data', (chunk: Buffer) => {
      this.stderr = `${this.stderr}${chunk.toString('utf8')}`.slice(-2000)
    })
    child.on('error', (error) => this.destroy(new SshError(`cannot run ssh for ${display}: ${error.message}`)))
    child.on('close', (code, signal) => {
      clearTimeout(this.timer)
      if (this.closing || this.destroyed) return
      if (code === 0) {
        this.push(null)
        return
      }
      const why = this.stderr.trim().split('\n').filter(Boolean).pop() ?? `ssh exited with ${code ?? signal}`
      this.destroy(new SshError(`ssh: ${why}`))
    })
  }

  private touch(): void {
    if (this.timeoutMs > 0) {
      clearTimeout(this.timer)
      this.timer = setTimeout(() => this.emit('timeout'), this.timeoutMs)
      if (!this.refed) this.timer.unref()
    }
  }

  private refed = true

  override _read(): void {
    this.child.stdout.resume()
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.touch()
    this.child.stdin.write(chunk, callback)
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.child.stdin.end(callback)
  }

  override _destroy(error: Error | null, callback: (error: Error | null) => void): void {
    this.closing = true
    clearTimeout(this.timer)
    this.child.stdin.destroy()
    this.child.stdout.destroy()
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM')
    callback(error)
  }

  // What node:http asks of a socket.
  setTimeout(ms: number, callback?: () => void): this {
    this.timeoutMs = ms
    if (callback) this.once('timeout', callback)
    if (ms === 0) clearTimeout(this.timer)
    else this.touch()
    return this
  }

  setNoDelay(): this {
    return this
  }

  setKeepAlive(): this {
    return this
  }

  /** An idle connection kept for reuse does not keep the process alive. */
  unref(): this {
    this.refed = false
    this.child.unref()
    for (const stream of [this.child.stdin, this.child.stdout, this.child.stderr])
      (stream as unknown as { _handle?: { unref?: () => void } })._handle?.unref?.()
    this.timer?.unref()
    return this
  }

  ref(): this {
    this.refed = true
    this.child.ref()
    for (const stream of [this.child.stdin, this.child.stdout, this.child.stderr])
      (stream as unknown as { _handle?: { ref?: () => void } })._handle?.ref?.()
    this.timer?.ref()
    return this
  }
}

const agents = new Set<Agent>()

/** An http.Agent whose connections are ssh processes running `docker system dial-stdio`. */
export function sshAgent(target: SshTarget, options: { env: NodeJS.ProcessEnv; display: string; maxSockets?: number }): Agent {
  const agent = new Agent({ keepAlive: true, maxSockets: options.maxSockets ?? 8, maxFreeSockets: options.maxSockets ?? 8 })
  // node:http takes the returned socket (and ignores the host and port it was asked for).
  ;(agent as unknown as { createConnection: () => Duplex }).createConnection = () => {
    const { child } = spawnProcess(['ssh', ...sshArgs(target)], {
      env: options.env,
      stdin: 'pipe',
      stdout: 'pipe',
      notInstalled: 'apt-get install openssh-client',
    })
    return new SshChannel(child as ChildProcessWithoutNullStreams, options.display)
  }
  agents.add(agent)
  return agent
}

/** Ends every ssh connection of this process (the end of a run). */
export function closeSshAgents(): void {
  for (const agent of agents) agent.destroy()
  agents.clear()
}
