import * as Cause from "effect/Cause"
import * as HashMap from "effect/HashMap"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** JSON.stringify that never throws: cycles, bigints and errors become plain values. */
const stringify = (record: Record<string, unknown>): string => {
  const seen = new WeakSet<object>()
  return JSON.stringify(record, (_name, value: unknown) => {
    if (typeof value === "bigint") return value.toString()
    if (typeof value === "object" && value !== null) {
      if (seen.has(value)) return "[Circular]"
      seen.add(value)
      // An Error's message is not enumerable: keep it with its tag (Data.TaggedError) and own fields.
      if (value instanceof Error) return { ...value, name: value.name, message: value.message }
    }
    return value
  })
}

/**
 * One log entry as one JSON object: `time`, `level`, `message` (the string parts), the fields of object
 * parts (an Error part as `error`), the fiber's annotations (`requestId`), then `cause` (Cause.pretty).
 */
export const jsonLine = (options: Logger.Logger.Options<unknown>): string => {
  const texts: Array<string> = []
  const fields: Record<string, unknown> = {}
  for (const part of Array.isArray(options.message) ? options.message : [options.message]) {
    if (typeof part === "string") texts.push(part)
    else if (part instanceof Error) fields["error"] = part
    else if (isRecord(part)) Object.assign(fields, part)
    else if (part !== undefined) texts.push(String(part))
  }
  const record: Record<string, unknown> = {
    time: options.date.toISOString(),
    level: options.logLevel.label.toLowerCase(),
    ...(texts.length > 0 ? { message: texts.join(" ") } : {}),
    ...fields
  }
  for (const [name, value] of HashMap.toEntries(options.annotations)) record[name] = value
  if (!Cause.isEmpty(options.cause)) record["cause"] = Cause.pretty(options.cause)
  return stringify(record)
}

/**
 * Logs as JSON lines in both shells (Workers Logs and `bun run dev` alike): one object per line, never logfmt
 * with multi-line values. Warnings go to console.warn and errors to console.error, so the runtime's own
 * levels agree with the entry's.
 */
export const JsonLinesLogger = Logger.replace(
  Logger.defaultLogger,
  Logger.make((options) => {
    const line = jsonLine(options)
    if (LogLevel.greaterThanEqual(options.logLevel, LogLevel.Error)) console.error(line)
    else if (LogLevel.greaterThanEqual(options.logLevel, LogLevel.Warning)) console.warn(line)
    else console.log(line)
  })
)
