/** The `restart:` section of the config: services ownops restarts safely. */
import { z } from 'zod'
import { argv, duration, name, timerDuration } from '../config/fields.js'
import { ownRouteSchema } from '../notify/routes.js'

const rcon = z.strictObject({
  host: z.string().default('127.0.0.1'),
  port: z.number().int().min(1).max(65535).default(25575),
  password: z.string().meta({ description: 'rcon.password from server.properties; write ${RCON_PASSWORD} and keep it in the env file.' }),
  timeout: timerDuration.prefault('10s'),
})

const health = z.union([
  z.literal('docker').meta({ description: 'The container runs and its Docker healthcheck (if it has one) says healthy.' }),
  z.strictObject({
    http: z.string().regex(/^https?:\/\//i, { error: 'expected an http:// or https:// URL' }),
    status: z.number().int().min(100).max(599).optional(),
    match: z.string().optional(),
  }),
  z.strictObject({ tcp: z.strictObject({ host: z.string().default('127.0.0.1'), port: z.number().int().min(1).max(65535) }) }),
  z.strictObject({
    minecraft: z.strictObject({ host: z.string().default('127.0.0.1'), port: z.number().int().min(1).max(65535).default(25565) }),
  }),
])

export const restartServiceSchema = z
  .strictObject({
    container: z.string().optional().meta({ description: 'The container (default: the service name).' }),
    compose: z.strictObject({ project: z.string(), service: z.string() }).optional().meta({
      description:
        'Or a Docker Compose service: its container is found by the labels compose sets (com.docker.compose.project / .service).',
    }),
    rcon: rcon.optional().meta({ description: "The Minecraft server's RCON: used to announce, to save, and to count players." }),
    announce: z
      .union([
        z.enum(['tellraw', 'say', 'none']),
        z.strictObject({
          exec: argv.meta({
            description: 'Run in the container; {message} is replaced by the text, e.g. ["rcon-cli", "say", "{message}"].',
          }),
        }),
      ])
      .optional()
      .meta({
        description:
          'How players are warned: tellraw (a coloured chat line, needs rcon), say, an exec command, or none (default: tellraw with rcon, else none).',
      }),
    save: z
      .union([z.enum(['rcon', 'none']), z.strictObject({ exec: argv })])
      .optional()
      .meta({
        description:
          'How the world is saved before the stop: rcon (save-all flush, waiting for it), an exec command in the container, or none (default: rcon with rcon, else none).',
      }),
    saveTimeout: timerDuration.prefault('2m').meta({ description: 'How long the save may take.' }),
    safe: z.boolean().default(false).meta({
      description:
        'Restart this service the safe way by default: warn the players on the countdown and save first, as with --safe (--no-safe overrides).',
    }),
    health: health.default('docker').meta({
      description:
        'When it counts as up again: docker, { http: URL }, { tcp: { port } }, { minecraft: { port } } (with the container running).',
    }),
    stopTimeout: timerDuration
      .prefault('30s')
      .meta({ description: "Grace time of the stop (the container's own stop signal), then SIGKILL." }),
    healthyTimeout: timerDuration
      .prefault('3m')
      .meta({ description: 'How long the start may take to become healthy; then one more start, then a critical alert.' }),
    warnAt: z
      .array(duration)
      .prefault(['30m', '15m', '10m', '5m', '1m', '30s', '10s'])
      .meta({ description: 'Countdown offsets before the restart at which players are warned (only those within the delay).' }),
    ifEmpty: z
      .strictObject({
        interval: timerDuration.prefault('1m').meta({ description: 'How often the player count is asked.' }),
        maxWait: duration.prefault('2h').meta({ description: 'How long --if-empty waits for the server to empty (--max-wait overrides).' }),
        onTimeout: z
          .enum(['restart', 'give-up'])
          .default('restart')
          .meta({ description: 'When players are still online after maxWait: restart anyway (after the usual warning) or give up.' }),
      })
      .prefault({}),
    notify: ownRouteSchema.optional(),
    pull: z.boolean().default(false).meta({
      description:
        "Pull the container's image before every restart of this service and start the newer image when there is one, as restart --pull (the weekly update restart). A new image that does not come up healthy is rolled back.",
    }),
    hooks: z
      .strictObject({
        before: argv.optional().meta({
          description:
            'Run on the host before the stop (after any countdown), e.g. ["/srv/mc/tunnel.sh", "down"]. Its failure stops the restart: nothing is stopped, and the failure is notified.',
        }),
        after: argv.optional().meta({
          description:
            'Run on the host after the restart, healthy or not, e.g. ["/srv/mc/dns-register.sh"]. Its failure is in the notice (warning) and the exit status (1).',
        }),
        timeout: duration.prefault('5m').meta({ description: 'Time limit of each hook.' }),
      })
      .optional()
      .meta({
        description:
          'Commands around a restart, with OWNOPS_SERVICE, OWNOPS_CONTAINER, OWNOPS_HOOK (before/after), OWNOPS_TRIGGER (restart/monitor), OWNOPS_REASON and, after, OWNOPS_OUTCOME (healthy/unhealthy) and OWNOPS_DOWNTIME_SECONDS in the environment.',
      }),
    messages: z
      .strictObject({
        warn: z
          .string()
          .default('Server restart in {left}{reason}')
          .meta({ description: '{left} (5 minutes), {reason} (": text" or empty), {time} (04:00).' }),
        now: z.string().default('Server restarting now{reason}'),
        pending: z.string().default('A server restart is pending: it happens as soon as everyone has left{reason}'),
        cancelled: z.string().default('Server restart cancelled'),
      })
      .prefault({}),
  })
  .meta({ description: 'A service ownops restarts: warn, save, stop gracefully, start, wait until healthy.' })

export const restartSchema = z
  .strictObject({
    services: z.record(name, restartServiceSchema).prefault({}).meta({
      description:
        'Services by name: `ownops restart NAME`. A container without an entry here is restarted with the defaults (no announcements).',
    }),
    default: name.optional().meta({
      description: 'The service `ownops restart` restarts when none is named (default: the only service, when there is exactly one).',
    }),
  })
  .prefault({})

export type RestartService = z.output<typeof restartServiceSchema>
