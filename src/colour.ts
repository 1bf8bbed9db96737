/**
 * Colour on the terminal: whether to use it, and the colours of a status. Colour only when
 * the stream is a terminal; never with --no-color or NO_COLOR set to something (an empty
 * NO_COLOR is unset, as https://no-color.org says); FORCE_COLOR set to anything but 0 or
 * false colours off a terminal too. Pure: the caller says what the stream is.
 */

export interface ColourChoice {
  /** --color (false for --no-color). */
  flag: boolean
  env: NodeJS.ProcessEnv
  /** Whether the stream the text goes to is a terminal. */
  isTTY: boolean
}

export function useColour({ flag, env, isTTY }: ColourChoice): boolean {
  if (!flag) return false
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false
  const force = env.FORCE_COLOR
  if (force !== undefined && force !== '' && force !== '0' && force !== 'false') return true
  return isTTY
}

const SGR = { red: '31', green: '32', yellow: '33', magenta: '35', grey: '90', bold: '1' } as const
export type Colour = keyof typeof SGR

/** `text` in a colour (SGR codes around it). */
export function paint(text: string, colour: Colour): string {
  return `\u001b[${SGR[colour]}m${text}\u001b[0m`
}

/** The colour of a status word in a table: ok green, warnings yellow, failures red; undefined: as it is. */
export function statusColour(status: string): Colour | undefined {
  const word =
    status
      .trim()
      .toLowerCase()
      .split(/[\s(:]/)[0] ?? ''
  if (['ok', 'verified', 'succeeded', 'success', 'free'].includes(word)) return 'green'
  if (['warning', 'stale', 'pending', 'paused', 'maintenance', 'unverified', 'held', 'skipped', 'missed'].includes(word)) return 'yellow'
  if (['critical', 'failed', 'error', 'missing', 'alerting', 'never', 'none'].includes(word)) return 'red'
  if (['unknown', 'not', '-'].includes(word)) return 'grey'
  return undefined
}

/** A function for renderTable's `paint`: colours the cells of column `column` by their status. */
export function statusPainter(column: number, enabled: boolean): ((cell: string, index: number) => string) | undefined {
  if (!enabled) return undefined
  return (cell, index) => {
    if (index !== column) return cell
    const colour = statusColour(cell)
    return colour === undefined ? cell : paint(cell, colour)
  }
}
