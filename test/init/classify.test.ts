/**
 * `ownops init`'s pure part: facts of a typical machine (official images, compose, a game
 * server on a bridge network) → findings → the config text (golden file) and the env file.
 * The config must pass ownops' own loader, and carry no secret.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { checkConfig } from '../../src/config/load.js'
import { classify, configName, envName, kindOf } from '../../src/init/classify.js'
import type { ContainerFact, Facts } from '../../src/init/types.js'
import { envValue, renderConfig, renderEnvFile, scalar, secretsOf } from '../../src/init/render.js'
import { parseEnvFile } from '../../src/config/env-file.js'

const GiB = 1024 ** 3

function container(name: string, over: Partial<ContainerFact>): ContainerFact {
  return {
    id: `${name}-id`,
    name,
    image: 'busybox',
    env: {},
    labels: {},
    cmd: [],
    mounts: [],
    ports: [],
    networkMode: 'bridge',
    restartPolicy: 'unless-stopped',
    logDriver: 'json-file',
    logMaxSize: '10m',
    sqlite: [],
    ...over,
  }
}

const compose = (project: string, service: string) => ({
  'com.docker.compose.project': project,
  'com.docker.compose.service': service,
})

const appData = {
  type: 'volume',
  name: 'app_data',
  source: '/var/lib/docker/volumes/app_data/_data',
  destination: '/app/data',
  readOnly: false,
}

const facts: Facts = {
  containers: [
    container('app-db-1', {
      image: 'postgres:16-alpine',
      env: { POSTGRES_PASSWORD: 'pg-secret-1', POSTGRES_USER: 'app', POSTGRES_DB: 'appdb' },
      databases: ['appdb', 'postgres', 'reports'],
      labels: compose('app', 'db'),
      mounts: [{ type: 'volume', name: 'app_pg', source: '/v/app_pg', destination: '/var/lib/postgresql/data', readOnly: false }],
    }),
    container('app-web-1', {
      image: 'nginx:1.27',
      labels: compose('app', 'web'),
      ports: [{ port: 80, protocol: 'tcp', hostPort: 8080, hostIp: '0.0.0.0', httpStatus: 200 }],
      mounts: [appData, { type: 'bind', source: '/srv/app/uploads', destination: '/app/uploads', readOnly: false, dataDir: true }],
      sqlite: [{ path: '/app/data/jobs.db', hostPath: '/var/lib/docker/volumes/app_data/_data/jobs.db', mount: appData }],
    }),
    container('wiki', {
      image: 'mariadb:11',
      env: { MARIADB_ROOT_PASSWORD_FILE: '/run/secrets/root' },
      mounts: [{ type: 'volume', name: 'wiki_db', source: '/v/wiki_db', destination: '/var/lib/mysql', readOnly: false }],
      logMaxSize: undefined,
    }),
    container('shop', {
      image: 'mysql:8',
      env: { MYSQL_USER: 'shop', MYSQL_PASSWORD: 'shop-secret-2', MYSQL_DATABASE: 'shop', MYSQL_RANDOM_ROOT_PASSWORD: 'yes' },
      ports: [{ port: 3306, protocol: 'tcp', hostPort: 3306, hostIp: '127.0.0.1' }],
    }),
    container('mc', {
      image: 'itzg/minecraft-server:latest',
      env: { EULA: 'TRUE', RCON_PASSWORD: 'rcon "secret" $3' },
      mounts: [{ type: 'volume', name: 'mc_data', source: '/v/mc_data', destination: '/data', readOnly: false }],
      ports: [{ port: 25565, protocol: 'tcp', hostPort: 25565, hostIp: '0.0.0.0' }],
      ip: '172.18.0.5',
    }),
    container('docker', { image: 'docker:dind' }),
    container('/weird name!', { image: 'busybox' }),
  ],
  stopped: ['old-job'],
  volumes: [
    { name: 'app_pg', usedBy: ['app-db-1'] },
    { name: 'leftover', usedBy: [] },
  ],
  compose: [
    { name: 'app', configFiles: ['/srv/app/compose.yml'], workingDir: '/srv/app', filesExist: true, containers: ['app-db-1', 'app-web-1'] },
  ],
  disks: [
    {
      role: 'backup',
      path: '/var/backups',
      usage: { usedBytes: 60 * GiB, availBytes: 40 * GiB, totalBytes: 100 * GiB, usedPercent: 60, inodesUsedPercent: 1, inodesFree: 1e6 },
    },
  ],
  remote: false,
}

const secrets = ['pg-secret-1', 'shop-secret-2', 'rcon "secret" $3']

describe('ownops init: classify and render', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ownops-init-unit-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))
  const { findings, notes } = classify(facts, { backupDir: '/var/backups/ownops' })
  const envFile = join(dir, 'ownops.env')
  const text = renderConfig({ findings, notes, envFile: '/etc/ownops/ownops.env', backupDir: '/var/backups/ownops', date: '2026-12-03' })

  it('writes the config it always writes for these facts', async () => {
    await expect(text).toMatchFileSnapshot('../golden/init/ownops.yml')
  })

  it('tells what a container is by its image, else by its environment and mounts', () => {
    const kinds = Object.fromEntries(facts.containers.map((c) => [c.name, kindOf(c)]))
    expect(kinds).toEqual({
      'app-db-1': 'postgres',
      'app-web-1': 'other',
      wiki: 'mariadb',
      shop: 'mysql',
      mc: 'minecraft',
      docker: 'other',
      '/weird name!': 'other',
    })
    expect(kindOf(container('x', { env: { PGDATA: '/pg' } }))).toBe('postgres')
    expect(kindOf(container('x', { image: 'bitnami/postgresql:16' }))).toBe('postgres')
    expect(kindOf(container('x', { image: 'docker.io/library/mariadb@sha256:abc' }))).toBe('mariadb')
    expect(kindOf(container('x', { mounts: [{ type: 'volume', source: '/v', destination: '/var/lib/mysql', readOnly: false }] }))).toBe(
      'mysql',
    )
    expect(kindOf(container('x', { env: { RCON_PORT: '25575' } }))).toBe('minecraft')
  })

  it('copies no database password: the targets use the containers’ own environment', () => {
    const pg = findings.filter((f) => f.value.type === 'postgres')
    expect(pg.map((f) => [f.name, f.value])).toEqual([
      ['app-db-1-appdb', { type: 'postgres', container: 'app-db-1', database: 'appdb', user: 'app' }],
      ['app-db-1-reports', { type: 'postgres', container: 'app-db-1', database: 'reports', user: 'app' }],
    ])
    expect(pg.flatMap((f) => f.secrets)).toEqual([])
    const shop = findings.find((f) => f.id === 'backup:shop')
    expect(shop?.value).toEqual({ type: 'mysql', container: 'shop', user: 'shop', database: 'shop' })
    const wiki = findings.find((f) => f.id === 'backup:wiki')
    expect(wiki?.value).toEqual({ type: 'mariadb', container: 'wiki', password: '${WIKI_DB_PASSWORD}' })
    expect(wiki?.todo).toContain('WIKI_DB_PASSWORD')
  })

  it('keeps every secret out of the config; the env file has them, as systemd reads them', () => {
    for (const secret of secrets) expect(text).not.toContain(secret)
    const env = renderEnvFile(secretsOf(findings), '2026-12-03')
    const parsed = parseEnvFile(env)
    expect(parsed.problems).toEqual([])
    expect(parsed.vars).toEqual({ MC_RCON_PASSWORD: 'rcon "secret" $3', WIKI_DB_PASSWORD: '' })
  })

  it('passes ownops’ own loader (names, keys, env variables)', () => {
    const configFile = join(dir, 'ownops.yml')
    writeFileSync(configFile, text.replace('envFile: /etc/ownops/ownops.env', `envFile: ${envFile}`))
    writeFileSync(envFile, renderEnvFile(secretsOf(findings), '2026-12-03'), { mode: 0o600 })
    const check = checkConfig({ path: configFile, env: {}, cwd: dir })
    expect(check.problems.filter((p) => p.severity === 'error')).toEqual([])
  })

  it('makes valid names and variables of anything', () => {
    expect(configName('/weird name!')).toBe('weird-name')
    expect(configName('___')).toBe('x0')
    expect(configName('app_data')).toBe('app_data')
    expect(envName('9lives', 'RCON_PASSWORD')).toBe('_9LIVES_RCON_PASSWORD')
    expect(envName('my-mc.server', 'RCON_PASSWORD')).toBe('MY_MC_SERVER_RCON_PASSWORD')
    expect(findings.find((f) => f.section === 'monitor' && f.value.name === 'docker')?.name).toBe('docker-container')
  })

  it('quotes YAML scalars only when they would read back as something else', () => {
    expect(scalar('app-db-1')).toBe('app-db-1')
    expect(scalar('30d')).toBe('30d')
    expect(scalar('yes')).toBe('"yes"')
    expect(scalar('8080')).toBe('"8080"')
    expect(scalar('${X}')).toBe('"${X}"')
    expect(scalar('http://a:1/')).toBe('"http://a:1/"')
    expect(envValue('a"b\\c$d`e')).toBe('"a\\"b\\\\c\\$d\\`e"')
  })
})
