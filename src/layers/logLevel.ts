import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"

const LEVELS: Record<string, LogLevel.LogLevel> = {
  trace: LogLevel.Trace, debug: LogLevel.Debug, info: LogLevel.Info, warn: LogLevel.Warning,
  warning: LogLevel.Warning, error: LogLevel.Error, off: LogLevel.None
}

/** `LOG_LEVEL` (trace … error, off); an unknown value is `warn`, the production default. */
export const minimumLogLevel = (raw: string | undefined, fallback: LogLevel.LogLevel = LogLevel.Warning) =>
  Logger.minimumLogLevel(LEVELS[(raw ?? "").trim().toLowerCase()] ?? fallback)
