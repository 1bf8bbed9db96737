/**
 * Real storage peers for the copy tests, all on loopback: `rclone serve sftp` and
 * `rclone serve restic` (port 0, the port read from rclone's log), s3rver (an S3-compatible
 * server from npm), a TCP proxy that can drop connections after a number of bytes, and the
 * age and restic command lines to set things up.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net'
import { join } from 'node:path'

/** A clean environment for the tools (no CA bundle or proxy settings of the machine). */
export function toolEnv(home: string): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: home, LC_ALL: 'C' }
}

export function obscure(password: string): string {
  return execFileSync('rclone', ['obscure', password], { env: toolEnv('/tmp') })
    .toString()
    .trim()
}

/** age-keygen into `dir`: the identity file and its public key. */
export function ageKey(dir: string, name = 'age.key'): { identity: string; recipient: string } {
  const identity = join(dir, name)
  execFileSync('age-keygen', ['-o', identity], { stdio: ['ignore', 'ignore', 'ignore'] })
  const recipient = /# public key: (age1\S+)/.exec(readFileSync(identity, 'utf8'))?.[1] ?? ''
  return { identity, recipient }
}

export function resticInit(repository: string, password: string, home: string): void {
  execFileSync('restic', ['init'], { env: { ...toolEnv(home), RESTIC_REPOSITORY: repository, RESTIC_PASSWORD: password }, stdio: 'ignore' })
}

export interface ServedPeer {
  port: number
  process: ChildProcess
  stop(): Promise<void>
}

/** `rclone serve sftp|restic DIR` on 127.0.0.1, port 0. */
export async function rcloneServe(
  kind: 'sftp' | 'restic',
  dir: string,
  home: string,
  auth?: { user: string; pass: string },
): Promise<ServedPeer> {
  mkdirSync(dir, { recursive: true })
  const child = spawn(
    'rclone',
    ['serve', kind, dir, '--addr', '127.0.0.1:0', ...(auth ? ['--user', auth.user, '--pass', auth.pass] : [])],
    { env: toolEnv(home), stdio: ['ignore', 'ignore', 'pipe'] },
  )
  const port = await new Promise<number>((resolve, reject) => {
    let text = ''
    const timer = setTimeout(() => reject(new Error(`rclone serve ${kind} did not start: ${text}`)), 20_000)
    child.stderr?.setEncoding('utf8')
    child.stderr?.on('data', (chunk: string) => {
      text += chunk
      const m = /(?:listening on |Serving restic REST API on http:\/\/)127\.0\.0\.1:(\d+)/.exec(text)
      if (m) {
        clearTimeout(timer)
        resolve(Number(m[1]))
      }
    })
    child.once('exit', (code) => reject(new Error(`rclone serve ${kind} exited ${String(code)}: ${text}`)))
  })
  return { port, process: child, stop: () => stopChild(child) }
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    child.once('exit', () => resolve())
    child.kill('SIGTERM')
  })
}

export interface S3Peer {
  port: number
  directory: string
  stop(): Promise<void>
}

/** s3rver on 127.0.0.1 with one bucket. */
export async function startS3(directory: string, bucket: string): Promise<S3Peer> {
  mkdirSync(directory, { recursive: true })
  const { default: S3rver } = await import('s3rver')
  const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory, configureBuckets: [{ name: bucket }] })
  const { port } = await server.run()
  return { port, directory, stop: () => server.close() }
}

export interface Proxy {
  port: number
  /** Bytes from client to server after which each connection is cut; undefined passes everything. */
  dropAfter: number | undefined
  /** Refuse connections outright. */
  refuse: boolean
  /** Bytes from client to server after which what it sends is swallowed, the connection kept open: an upload hangs. */
  stallAfter: number | undefined
  close(): Promise<void>
}

/** A TCP proxy on 127.0.0.1 in front of `target`, which can drop connections mid-upload. */
export async function startProxy(target: number): Promise<Proxy> {
  const sockets = new Set<Socket>()
  const proxy: Proxy = { port: 0, dropAfter: undefined, refuse: false, stallAfter: undefined, close: async () => undefined }
  const server: Server = createServer((client) => {
    sockets.add(client)
    client.on('close', () => sockets.delete(client))
    if (proxy.refuse) return void client.destroy()
    const upstream = connect(target, '127.0.0.1')
    sockets.add(upstream)
    upstream.on('close', () => sockets.delete(upstream))
    let sent = 0
    const limit = proxy.dropAfter
    client.on('data', (chunk: Buffer) => {
      sent += chunk.length
      if (proxy.stallAfter !== undefined && sent > proxy.stallAfter) return
      if (limit !== undefined && sent > limit) {
        client.destroy()
        upstream.destroy()
        return
      }
      upstream.write(chunk)
    })
    upstream.pipe(client)
    client.on('error', () => upstream.destroy())
    upstream.on('error', () => client.destroy())
    client.on('end', () => upstream.end())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  proxy.port = (server.address() as AddressInfo).port
  proxy.close = () =>
    new Promise((resolve) => {
      for (const s of sockets) s.destroy()
      server.close(() => resolve())
    })
  return proxy
}

export function writeRcloneConf(file: string, sections: Record<string, Record<string, string | number | boolean>>): string {
  const text = Object.entries(sections)
    .map(
      ([name, keys]) =>
        `[${name}]\n${Object.entries(keys)
          .map(([k, v]) => `${k} = ${String(v)}`)
          .join('\n')}\n`,
    )
    .join('\n')
  writeFileSync(file, text, { mode: 0o600 })
  return file
}
