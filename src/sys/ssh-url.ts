/** A Docker endpoint over ssh (`DOCKER_HOST=ssh://user@host`), as a URL names it. The connection itself is docker-ssh.ts, loaded only for such an endpoint. */
export interface SshTarget {
  user?: string
  host: string
  port?: number
}

/** `ssh://[user@]host[:port][/]`; undefined when it is not such a URL. */
export function parseSshUrl(raw: string): SshTarget | undefined {
  const m = /^ssh:\/\/(?:([^@/:]+)@)?(\[[^\]]+\]|[^:/@]+)(?::(\d+))?\/?$/.exec(raw)
  if (m === null) return undefined
  return {
    ...(m[1] ? { user: decodeURIComponent(m[1]) } : {}),
    host: (m[2] as string).replace(/^\[|\]$/g, ''),
    ...(m[3] ? { port: Number(m[3]) } : {}),
  }
}
