/** Log level names (kept apart from log.ts so that the CLI can list them without loading pino). */
export const logLevels = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const
export type LogLevel = (typeof logLevels)[number]
