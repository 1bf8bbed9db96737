/** The y/n questions of `ownops init`: answers, the default, asking again, and input that ends. */
import { PassThrough } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { InputClosed, terminalPrompter } from '../../src/sys/terminal.js'

function prompter(input: string) {
  const stdin = new PassThrough()
  const stderr = new PassThrough()
  let said = ''
  stderr.on('data', (chunk: Buffer) => (said += chunk.toString()))
  stdin.end(input)
  return { p: terminalPrompter(stdin, stderr), said: () => said }
}

describe('terminalPrompter', () => {
  it('reads y, yes, n, no and Enter (the default), in order', async () => {
    const { p, said } = prompter('y\nNO\n\nyes\nn\n')
    expect([await p.confirm('a?'), await p.confirm('b?'), await p.confirm('c?'), await p.confirm('d?'), await p.confirm('e?')]).toEqual([
      true,
      false,
      true,
      true,
      false,
    ])
    expect(said()).toBe('a? [Y/n] b? [Y/n] c? [Y/n] d? [Y/n] e? [Y/n] ')
    p.close()
  })

  it('asks again on anything else; a default of no shows [y/N]', async () => {
    const { p, said } = prompter('maybe\n\n')
    expect(await p.confirm('keep?', false)).toBe(false)
    expect(said()).toBe('keep? [y/N] Please answer y or n.\nkeep? [y/N] ')
    p.close()
  })

  it('rejects with InputClosed when the input ends before an answer', async () => {
    const { p } = prompter('y\n')
    expect(await p.confirm('one?')).toBe(true)
    await expect(p.confirm('two?')).rejects.toBeInstanceOf(InputClosed)
    p.close()
  })
})
