/** Destination plugins by `type`. */
import type { DestinationType } from '../schema.js'
import type { Destination, DestinationEnv } from '../types.js'
import { openPath } from './path.js'
import { openRclone } from './rclone.js'
import { openRestic } from './restic.js'

export const destinations = {
  rclone: openRclone,
  restic: openRestic,
  path: openPath,
} satisfies Record<DestinationType, (env: DestinationEnv) => Promise<Destination>>

export function openDestination(env: DestinationEnv): Promise<Destination> {
  return destinations[env.config.type](env)
}
