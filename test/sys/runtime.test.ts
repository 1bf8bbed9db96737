/**
 * What units, cron lines and a detached restart run: this Node and bin/ownops.js of the package,
 * or the single executable alone (Node and ownops in one file, npm run build:sea).
 */
import { existsSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { planSchedule } from '../../src/schedule/jobs.js'
import { renderSystemdUnits } from '../../src/schedule/units.js'
import { renderCronD } from '../../src/schedule/crond.js'
import { configSchema } from '../../src/config/schema.js'
import { isSingleExecutable, ownopsRuntime, runtimeFacts } from '../../src/sys/runtime.js'

const config = configSchema.parse({
  backup: { dir: '/srv/backups', targets: { files: { type: 'directory', path: '/srv/data' } } },
})

describe('ownopsRuntime', () => {
  it('under Node: the absolute paths of this Node and of the package bin/ownops.js', () => {
    expect(isSingleExecutable()).toBe(false)
    expect(runtimeFacts()).toEqual({ sea: false, execPath: process.execPath })
    const [node, script] = ownopsRuntime()
    expect(node).toBe(process.execPath)
    expect(script).toMatch(/\/bin\/ownops\.js$/)
    expect(existsSync(script!)).toBe(true)
  })

  it('as a single executable: the executable alone, no node', () => {
    expect(ownopsRuntime({ sea: true, execPath: '/usr/local/bin/ownops' })).toEqual(['/usr/local/bin/ownops'])
  })

  it('units and cron lines run what it returns', () => {
    for (const [runtime, exec] of [
      [['/usr/local/bin/ownops'], '/usr/local/bin/ownops backup'],
      [['/opt/node/bin/node', '/opt/ownops/bin/ownops.js'], '/opt/node/bin/node /opt/ownops/bin/ownops.js backup'],
    ] as const) {
      const plan = planSchedule(config, { configFile: '/etc/ownops/ownops.yml', runtime: [...runtime] })
      const service = renderSystemdUnits(plan).find((f) => f.name === 'ownops-backup.service')
      expect(service?.content).toMatch(new RegExp(`^ExecStart=${exec.replaceAll('.', '\\.')}\\b`, 'm'))
      expect(renderCronD(plan).content).toContain(` ${exec}`)
    }
  })
})
