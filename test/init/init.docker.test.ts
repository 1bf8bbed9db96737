/**
 * `ownops init` against real containers of each kind it detects — PostgreSQL, MariaDB, a
 * SQLite file on a volume, a game server with RCON settings in its environment (RCON
 * answered by the loopback stand-in), a plain web container in a compose project — then
 * the written config validates and `ownops backup` with it succeeds for every target. Also:
 * --yes, the questions on a real terminal (a pty from script(1)), exit 2 off a terminal,
 * refusal to overwrite, the env file's mode, and no secret in the config or the output.
 */
import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { BIN, runCli, tempDir, testEnv } from '../helpers/cli.js'
import {
  cleanupAll,
  createVolume,
  describeDocker,
  dockerEnv,
  execOk,
  getDocker,
  IMAGE_PATH,
  RUN_LABEL,
  runContainer,
  startMariadb,
  startPostgres,
  TEST_IMAGE,
  TEST_LABEL,
  uniqueName,
  type MariadbContainer,
  type PostgresContainer,
} from '../helpers/docker.js'
import { startRconPeer, type RconPeer } from '../helpers/rcon-peer.js'

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/** Runs a command under a real pseudo-terminal (script(1)), `input` typed into it. */
function underPty(command: string, input: string, env: NodeJS.ProcessEnv, cwd: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = execFile('script', ['-qec', command, '/dev/null'], { env, cwd, timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1
      resolve({ code, output: `${stdout}${stderr}` })
    })
    child.stdin?.end(input)
  })
}

describeDocker('ownops init on real containers', () => {
  const { dir, cleanup } = tempDir('ownops-init-')
  const glob = `ownops-test-init-*-${process.pid}-*`
  let pg: PostgresContainer
  let maria: MariadbContainer
  let rcon: RconPeer
  let web: string
  let sqliteVolume: string
  const removers: Array<() => Promise<void>> = []
  const env = () => testEnv(dir)

  beforeAll(async () => {
    rcon = await startRconPeer(`rcon-pw-${process.pid}-secret`)
    ;[pg, maria] = await Promise.all([startPostgres({ name: uniqueName('init-pg') }), startMariadb({ name: uniqueName('init-maria') })])
    await execOk(pg.container, ['psql', '-U', 'postgres', '-c', 'CREATE TABLE things (id int); INSERT INTO things VALUES (1), (2);'])
    await execOk(pg.container, ['psql', '-U', 'postgres', '-c', 'CREATE DATABASE reports;'])
    await execOk(pg.container, ['psql', '-U', 'postgres', '-d', 'reports', '-c', 'CREATE TABLE r (id int); INSERT INTO r VALUES (3);'])
    await execOk(maria.container, [
      'mariadb',
      '-uroot',
      `-p${maria.rootPassword}`,
      '-e',
      'CREATE DATABASE shop; CREATE TABLE shop.orders (id int); INSERT INTO shop.orders VALUES (7);',
    ])

    // An app with a SQLite database (and a file that only has the name of one) on a volume.
    sqliteVolume = uniqueName('init-app-data')
    await createVolume(sqliteVolume)
    const mountpoint = (await getDocker().getVolume(sqliteVolume).inspect()).Mountpoint
    await new Promise<void>((resolve, reject) =>
      execFile('sqlite3', [join(mountpoint, 'jobs.db'), 'CREATE TABLE jobs (id int); INSERT INTO jobs VALUES (1);'], (e) =>
        e ? reject(e) : resolve(),
      ),
    )
    writeFileSync(join(mountpoint, 'notes.db'), 'not a database')
    writeFileSync(join(mountpoint, 'settings.json'), '{}')
    await runContainer({ name: uniqueName('init-app'), cmd: ['sleep', '3600'], volumes: [`${sqliteVolume}:/app/data`] })

    // The game server stand-in: itzg/minecraft-server's RCON settings, RCON itself on the loopback peer.
    const world = uniqueName('init-mc-data')
    await createVolume(world)
    const worldDir = (await getDocker().getVolume(world).inspect()).Mountpoint
    mkdirSync(join(worldDir, 'world'), { recursive: true })
    writeFileSync(join(worldDir, 'world', 'level.dat'), 'level')
    await runContainer({
      name: uniqueName('init-mc'),
      cmd: ['sleep', '3600'],
      volumes: [`${world}:/data`],
      network: 'host',
      env: { EULA: 'TRUE', ENABLE_RCON: 'true', RCON_PORT: String(rcon.port), RCON_PASSWORD: rcon.password },
    })

    // A plain web container on the host network, in a compose project whose file is here.
    const port = await freePort()
    const compose = join(dir, 'compose.yml')
    writeFileSync(compose, 'services: {}\n')
    web = uniqueName('init-web')
    const container = await getDocker().createContainer({
      name: web,
      Image: TEST_IMAGE,
      Cmd: ['sh', '-c', `mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 127.0.0.1:${port} -h /www`],
      Env: [`PATH=${IMAGE_PATH}`],
      ExposedPorts: { [`${port}/tcp`]: {} },
      Labels: {
        [TEST_LABEL]: '1',
        [RUN_LABEL]: dockerEnv.runId,
        'com.docker.compose.project': `ownops-test-init-proj-${process.pid}`,
        'com.docker.compose.project.config_files': compose,
        'com.docker.compose.project.working_dir': dir,
      },
      HostConfig: { NetworkMode: 'host' },
    })
    removers.push(() => container.remove({ force: true }))
    await container.start()
  })

  afterAll(async () => {
    for (const remove of removers) await remove().catch(() => undefined)
    await rcon?.close()
    await cleanupAll()
    cleanup()
  })

  const secrets = () => [rcon.password, maria.rootPassword]

  it('--yes writes a config that validates and backs up every database kind, with secrets only in the 0600 env file', async () => {
    const config = join(dir, 'yes', 'ownops.yml')
    const envFile = join(dir, 'yes', 'secrets.env')
    const args = ['-c', config, 'init', '--yes', '--env-file', envFile, '--backup-dir', join(dir, 'yes', 'backups'), '--container', glob]
    const r = await runCli(args, { env: env(), cwd: dir })
    expect(r.stderr).not.toMatch(/"level":(50|60)/)
    expect(r.code).toBe(0)
    expect(statSync(envFile).mode & 0o777).toBe(0o600)
    const text = readFileSync(config, 'utf8')
    for (const secret of secrets()) {
      expect(text).not.toContain(secret)
      expect(r.stdout).not.toContain(secret)
      expect(r.stderr).not.toContain(secret)
    }
    expect(readFileSync(envFile, 'utf8')).toMatch(
      new RegExp(`^OWNOPS_TEST_INIT_MC_${process.pid}_[0-9A-F]+_RCON_PASSWORD="${rcon.password}"$`, 'm'),
    )
    expect(text).toContain(`container: ${pg.container}`)
    // Each database of the PostgreSQL container, as psql in it listed them.
    expect(text).toMatch(/type: postgres\n\s+container: \S+\n\s+database: postgres\n/)
    expect(text).toMatch(/type: postgres\n\s+container: \S+\n\s+database: reports\n/)
    expect(text).toMatch(/type: mariadb/)
    expect(text).toMatch(/type: sqlite\n\s+container: ownops-test-init-app-\S+\n\s+path: \/app\/data\/jobs\.db/)
    expect(text).not.toContain('notes.db"')
    expect(text).toMatch(/password: "\$\{OWNOPS_TEST_INIT_MC_\w+_RCON_PASSWORD\}"/)
    expect(text).toMatch(/kind: http\n\s+url: "http:\/\/127\.0\.0\.1:\d+\/"/)
    expect(text).toMatch(/boot:\n(.*\n)*\s+compose: .*compose\.yml/)
    expect(r.stdout).toContain('The config is valid')
    expect(r.stdout).toContain('schedule install')

    const validate = await runCli(['-c', config, 'config', 'validate'], { env: env(), cwd: dir })
    expect(validate.code, validate.stdout + validate.stderr).toBe(0)

    const backup = await runCli(['-c', config, '--json', 'backup'], { env: env(), cwd: dir })
    const report = JSON.parse(backup.stdout) as { targets: Array<{ target: string; ok: boolean; error?: unknown }> }
    expect(report.targets.filter((t) => !t.ok)).toEqual([])
    expect(backup.code).toBe(0)
    const types = readFileSync(config, 'utf8').match(/type: (postgres|mariadb|sqlite|directory)/g) ?? []
    expect(new Set(types)).toEqual(new Set(['type: postgres', 'type: mariadb', 'type: sqlite', 'type: directory']))
    expect(report.targets.length).toBe(types.length)
    expect(report.targets.length).toBe(6) // 2 PostgreSQL databases, MariaDB, SQLite, the app's volume, the world
    expect(rcon.commands).toEqual(expect.arrayContaining(['save-off', 'save-all flush', 'save-on']))
    for (const secret of secrets()) expect(backup.stdout + backup.stderr).not.toContain(secret)

    // Never over an existing file: the second run names it and changes nothing.
    const before = readFileSync(config, 'utf8')
    const again = await runCli(args, { env: env(), cwd: dir })
    expect(again.code).toBe(1)
    expect(again.stderr).toContain(`${config} exists already`)
    expect(readFileSync(config, 'utf8')).toBe(before)
  })

  it('off a terminal without --yes: exit 2, nothing written', async () => {
    const config = join(dir, 'notty', 'ownops.yml')
    const r = await runCli(['-c', config, 'init', '--container', glob], { env: env(), cwd: dir })
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('--yes')
    expect(existsSync(config)).toBe(false)
  })

  it('an existing env file stops it before anything is written', async () => {
    const config = join(dir, 'envthere', 'ownops.yml')
    mkdirSync(join(dir, 'envthere'))
    writeFileSync(join(dir, 'envthere', 'ownops.env'), 'KEEP=1\n')
    const r = await runCli(['-c', config, 'init', '--yes', '--container', glob], { env: env(), cwd: dir })
    expect(r.code).toBe(1)
    expect(r.stderr).toContain(`${join(dir, 'envthere', 'ownops.env')} exists already`)
    expect(existsSync(config)).toBe(false)
    expect(readFileSync(join(dir, 'envthere', 'ownops.env'), 'utf8')).toBe('KEEP=1\n')
  })

  it('on a terminal, asks about each finding (in container name order): "n" leaves one out, Enter takes the rest', async () => {
    const config = join(dir, 'tty', 'ownops.yml')
    const command = `${process.execPath} ${BIN} -c ${config} init --backup-dir ${join(dir, 'tty', 'backups')} --container '${glob}'`
    const r = await underPty(command, `n\n${'\n'.repeat(40)}`, { ...env(), OWNOPS_LOG_FORMAT: 'text' }, dir)
    expect(r.code, r.output).toBe(0)
    expect(r.output).toMatch(/^n\r?\n(\r?\n)+Back up MariaDB in container ownops-test-init-maria-\S+\? \[Y\/n\] Watch container/)
    expect(r.output).toMatch(/Back up PostgreSQL database postgres in container ownops-test-init-pg-\S+ \(pg_dump inside it\)\? \[Y\/n\]/)
    expect(r.output).toMatch(/- back up MariaDB/)
    expect(r.output).toMatch(/\+ back up PostgreSQL/)
    const text = readFileSync(config, 'utf8')
    expect(text).toMatch(/type: postgres/)
    expect(text).not.toMatch(/type: mariadb/)
    expect(statSync(join(dir, 'tty', 'ownops.env')).mode & 0o777).toBe(0o600)
    for (const secret of secrets()) {
      expect(text).not.toContain(secret)
      expect(r.output).not.toContain(secret)
    }
  })

  it('on a terminal, input that ends before the last answer: exit 2, nothing written', async () => {
    const config = join(dir, 'eof', 'ownops.yml')
    const command = `${process.execPath} ${BIN} -c ${config} init --container '${glob}'`
    const r = await underPty(command, 'y\n', { ...env(), OWNOPS_LOG_FORMAT: 'text' }, dir)
    expect(r.code, r.output).toBe(2)
    expect(r.output).toContain('standard input ended before every finding was answered; nothing was written')
    expect(existsSync(config)).toBe(false)
    expect(existsSync(join(dir, 'eof', 'ownops.env'))).toBe(false)
  })

  it('--print shows the config and writes nothing', async () => {
    const config = join(dir, 'print', 'ownops.yml')
    const r = await runCli(['-c', config, 'init', '--print', '--container', glob], { env: env(), cwd: dir })
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^# yaml-language-server: \$schema=ownops\.schema\.json\n/)
    expect(r.stdout).toContain(`container: ${maria.container}`)
    for (const secret of secrets()) expect(r.stdout + r.stderr).not.toContain(secret)
    expect(existsSync(config)).toBe(false)
    expect(web).toMatch(/^ownops-test-init-web-/)
    expect(sqliteVolume).toMatch(/^ownops-test-init-app-data-/)
  })
})
