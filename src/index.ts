/**
 * ownops as a library: the pure functions other tools can reuse. Everything here is
 * free of side effects except where the name says otherwise (checkConfig reads files).
 *
 *   import { parseDuration, interpolate, checkConfig, configJsonSchema, planRetention, Redactor } from 'ownops'
 *   import { cronToOnCalendar, nextRuns } from 'ownops'
 */
export { parseDuration, formatDuration } from './duration.js'
export { interpolate, checkConfig, loadConfig, locateConfig, type LoadOptions, type LoadedConfig } from './config/load.js'
export { parseEnvFile } from './config/env-file.js'
export { formatProblem, type ConfigProblem } from './config/problems.js'
export { configSchema, configJsonSchema, type Config, type BackupTarget, type KeepPolicy, type Level } from './config/schema.js'
export {
  planRetention,
  isEmptyRetentionPolicy,
  parseRetentionDuration,
  formatRetentionDuration,
  type RetentionPolicy,
  type RetentionItem,
  type RetentionOptions,
  type RetentionPlan,
  type RetentionDuration,
} from './backup/retention.js'
export { Redactor, maskUrlCredentials } from './redact.js'
export { didYouMean } from './text.js'
export { ExitCode, OwnopsError } from './errors.js'
export {
  cronToOnCalendar,
  cronToTimer,
  parseCron,
  nextRuns,
  dstWarning,
  CronError,
  REBOOT_DELAY,
  type CalendarOptions,
  type TimerSchedule,
  type ParsedCron,
  type CronFieldName,
  type NextRunsOptions,
} from './schedule/cron.js'
export { planSchedule, type SchedulePlan, type ScheduledJob, type BootUnit } from './schedule/jobs.js'
export { renderSystemdUnits, isGenerated, GENERATED_MARK, type GeneratedFile } from './schedule/units.js'
export { renderCronD } from './schedule/crond.js'
export { parseByteSize, formatBytes } from './text.js'
export { planLogSteps, planSizeCap, rotationSet, rotationSets, type LogFile, type LogStep } from './cleanup/logs.js'
export { sqlStatements } from './cleanup/sql.js'
export { refusedRoot } from './cleanup/roots.js'
export { restartTime, countdownOffsets, parsePlayerList, formatLeft } from './restart/plan.js'
