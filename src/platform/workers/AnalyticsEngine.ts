import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Analytics, type DataPoint, type Location } from "../../core/services/Analytics.js"

/** The Analytics Engine binding's one method (workers-types' AnalyticsEngineDataset). */
interface AnalyticsEngineDataset {
  writeDataPoint(point: { indexes: Array<string>; blobs: Array<string>; doubles: Array<number> }): void
}

/** A service binding (workers-types' Fetcher). */
interface ServiceBinding {
  fetch(input: string, init: RequestInit): Promise<Response>
}

/** How long a location broadcast may take; it runs in waitUntil, after the response. */
const BROADCAST_TIMEOUT_MS = 5_000

const datasetOf = (binding: unknown): AnalyticsEngineDataset | undefined =>
  typeof binding === "object" && binding !== null && "writeDataPoint" in binding ? (binding as AnalyticsEngineDataset) : undefined

const serviceOf = (binding: unknown): ServiceBinding | undefined =>
  typeof binding === "object" && binding !== null && "fetch" in binding ? (binding as ServiceBinding) : undefined

/**
 * The `ANALYTICS` dataset and the `PUBLIC_LOG_STREAM` service (docs/runtimes.md#logs-and-telemetry), with
 * IP_HASH_SALT as the key of client IP hashes. A missing binding is reported once, when the isolate starts, and
 * then skipped.
 */
export const AnalyticsEngine = (analytics: unknown, logStream: unknown) =>
  Layer.effect(
    Analytics,
    Effect.gen(function*() {
      const dataset = datasetOf(analytics)
      const stream = serviceOf(logStream)
      const salt = (yield* Config.string("IP_HASH_SALT").pipe(Config.withDefault(""))).trim()
      if (dataset === undefined) yield* Effect.logWarning("the ANALYTICS binding is missing: no data points are written")
      if (salt === "") yield* Effect.logWarning("IP_HASH_SALT is not set: data points carry no client IP hash")
      return {
        ipHashKey: salt === "" ? undefined : new TextEncoder().encode(salt),
        write: dataset === undefined ? undefined : (point: DataPoint) =>
          Effect.try(() =>
            dataset.writeDataPoint({ indexes: [...point.indexes], blobs: [...point.blobs], doubles: [...point.doubles] })
          ).pipe(Effect.catchAll((error) => Effect.logWarning("analytics data point not written", error.error))),
        broadcastLocation: stream === undefined ? undefined : (location: Location) =>
          Effect.tryPromise(async () => {
            const response = await stream.fetch("https://public-log-stream/location", {
              method: "POST",
              headers: { "content-type": "application/json" },
              body: JSON.stringify(location),
              signal: AbortSignal.timeout(BROADCAST_TIMEOUT_MS)
            })
            await response.body?.cancel()
          }).pipe(Effect.ignore)
      }
    })
  )
