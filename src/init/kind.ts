/** What a container is, for `ownops init`: a database, a game server, or something else. */
import type { ContainerFact } from './types.js'

export const has = (env: Record<string, string>, ...keys: string[]): boolean => keys.some((k) => env[k] !== undefined)

export type Kind = 'postgres' | 'mysql' | 'mariadb' | 'minecraft' | 'other'

const imageName = (image: string) =>
  image
    .replace(/@.*$/, '')
    .replace(/:[^/]*$/, '')
    .toLowerCase()

/** What a container is: by its image, else by the environment and mounts its image documents. */
export function kindOf(c: ContainerFact): Kind {
  const image = imageName(c.image)
  const dests = c.mounts.map((m) => m.destination.replace(/\/+$/, ''))
  if (/(^|\/)(postgres|postgresql|postgis|timescaledb[^/]*|pgvector)$/.test(image)) return 'postgres'
  if (/(^|\/)mariadb$/.test(image)) return 'mariadb'
  if (/(^|\/)(mysql|mysql-server|percona|percona-server)$/.test(image)) return 'mysql'
  if (/minecraft/.test(image)) return 'minecraft'
  if (has(c.env, 'POSTGRES_PASSWORD', 'POSTGRES_USER', 'POSTGRES_DB', 'PGDATA') || dests.some((d) => d.startsWith('/var/lib/postgresql')))
    return 'postgres'
  if (Object.keys(c.env).some((k) => k.startsWith('MARIADB_'))) return 'mariadb'
  if (has(c.env, 'MYSQL_ROOT_PASSWORD', 'MYSQL_DATABASE', 'MYSQL_ALLOW_EMPTY_PASSWORD', 'MYSQL_RANDOM_ROOT_PASSWORD')) return 'mysql'
  if (dests.includes('/var/lib/mysql')) return c.cmd.some((a) => a.includes('mariadb')) ? 'mariadb' : 'mysql'
  if (has(c.env, 'RCON_PASSWORD', 'ENABLE_RCON', 'RCON_PORT') || c.serverProperties !== undefined) return 'minecraft'
  return 'other'
}
