/**
 * Questions on a terminal: y/n confirmations read line by line from standard input, asked
 * on stderr (stdout carries data only).
 */
import { createInterface } from 'node:readline'

export interface Prompter {
  /** y/yes or n/no, an empty line is the default; anything else asks again. Rejects when input ends. */
  confirm(question: string, defaultYes?: boolean): Promise<boolean>
  close(): void
}

export class InputClosed extends Error {
  constructor() {
    super('standard input ended before an answer')
  }
}

export function terminalPrompter(input: NodeJS.ReadableStream = process.stdin, output: NodeJS.WritableStream = process.stderr): Prompter {
  const rl = createInterface({ input, terminal: false })
  const lines: string[] = []
  const waiting: Array<{ resolve: (line: string) => void; reject: (error: Error) => void }> = []
  let closed = false
  rl.on('line', (line) => {
    const next = waiting.shift()
    if (next) next.resolve(line)
    else lines.push(line)
  })
  rl.on('close', () => {
    closed = true
    for (const w of waiting.splice(0)) w.reject(new InputClosed())
  })
  const nextLine = (): Promise<string> => {
    const line = lines.shift()
    if (line !== undefined) return Promise.resolve(line)
    if (closed) return Promise.reject(new InputClosed())
    return new Promise((resolve, reject) => waiting.push({ resolve, reject }))
  }
  return {
    async confirm(question, defaultYes = true) {
      for (;;) {
        output.write(`${question} ${defaultYes ? '[Y/n]' : '[y/N]'} `)
        const answer = (await nextLine()).trim().toLowerCase()
        if (answer === '') return defaultYes
        if (answer === 'y' || answer === 'yes') return true
        if (answer === 'n' || answer === 'no') return false
        output.write('Please answer y or n.\n')
      }
    },
    close() {
      rl.close()
    },
  }
}
