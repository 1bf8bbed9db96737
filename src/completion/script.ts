/** The completion script for a shell, made from the program's command definitions. */
import type { CommandUnknownOpts } from '@commander-js/extra-typings'
import { describeCommand } from '../help/model.js'
import { ownopsVersion } from '../version.js'
import { bashScript } from './bash.js'
import { fishScript } from './fish.js'
import { completionSpec, type CompletionSpec } from './spec.js'
import { zshScript } from './zsh.js'

export type Shell = 'bash' | 'zsh' | 'fish'

export function completionScript(shell: Shell, program: CommandUnknownOpts): string {
  const spec: CompletionSpec = completionSpec(describeCommand(program), ownopsVersion())
  switch (shell) {
    case 'bash':
      return bashScript(spec)
    case 'zsh':
      return zshScript(spec)
    case 'fish':
      return fishScript(spec)
  }
}
