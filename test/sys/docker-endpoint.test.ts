/** Docker endpoints as DOCKER_HOST and docker.host write them, ssh:// included (the pure part). */
import { describe, expect, it } from 'vitest'
import { dockerEndpoint } from '../../src/sys/docker.js'
import { parseSshUrl, sshArgs } from '../../src/sys/docker-ssh.js'

describe('ssh:// endpoints', () => {
  it('are read as the docker CLI reads them, and run the same ssh command', () => {
    expect(parseSshUrl('ssh://deploy@box2')).toEqual({ user: 'deploy', host: 'box2' })
    expect(parseSshUrl('ssh://root@127.0.0.1:2222')).toEqual({ user: 'root', host: '127.0.0.1', port: 2222 })
    expect(parseSshUrl('ssh://[::1]:22/')).toEqual({ host: '::1', port: 22 })
    expect(parseSshUrl('ssh://box2')).toEqual({ host: 'box2' }) // user, port, key: from ~/.ssh/config
    expect(parseSshUrl('ssh://a@b/some/path')).toBeUndefined()
    expect(sshArgs({ user: 'deploy', host: 'box2', port: 2222 })).toEqual([
      '-o',
      'BatchMode=yes',
      '-o',
      'ConnectTimeout=15',
      '-T',
      '-l',
      'deploy',
      '-p',
      '2222',
      '--',
      'box2',
      'docker',
      'system',
      'dial-stdio',
    ])
  })

  it('DOCKER_HOST=ssh://… becomes an endpoint over ssh; a malformed one is a config error that shows the forms', () => {
    const endpoint = dockerEndpoint({ DOCKER_HOST: 'ssh://deploy@box2:2222' })
    expect(endpoint).toMatchObject({ display: 'ssh://deploy@box2:2222', ssh: { target: { user: 'deploy', host: 'box2', port: 2222 } } })
    expect(() => dockerEndpoint({}, 'ssh://a@b/x')).toThrow(/unsupported Docker endpoint: ssh:\/\/a@b\/x/)
    // A password in the URL is not supported, and not repeated in the message.
    expect(() => dockerEndpoint({ DOCKER_HOST: 'ssh://deploy:hunter2@box2' })).toThrow('unsupported Docker endpoint: ssh://***@box2')
    expect(() => dockerEndpoint({}, 'npipe:////./pipe/docker')).toThrowError(
      expect.objectContaining({ exitCode: 78, hint: 'use unix:///var/run/docker.sock, tcp://HOST:PORT or ssh://USER@HOST' }),
    )
  })
})
