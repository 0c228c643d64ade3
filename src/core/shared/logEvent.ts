import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"

/**
 * A structured event: one record of something that happened (the STS audit, the access log), not debug
 * output. It is written at every `LOG_LEVEL`, `off` included: the level filters diagnostics, never records.
 */
export const logEvent = (event: string, fields: Readonly<Record<string, unknown>>): Effect.Effect<void> =>
  Effect.logInfo({ event, ...fields }).pipe(Logger.withMinimumLogLevel(LogLevel.Info))
