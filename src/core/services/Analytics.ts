import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type { Bytes } from "./Hmac.js"

/** One Analytics Engine data point: its index, then blobs and doubles in the dataset's column order. */
export interface DataPoint {
  readonly indexes: ReadonlyArray<string>
  readonly blobs: ReadonlyArray<string>
  readonly doubles: ReadonlyArray<number>
}

/** Where a public object was just read from, for the live map (docs/runtimes.md#logs-and-telemetry). */
export interface Location {
  readonly account_id: string
  readonly product_id: string
  readonly path: string
  readonly lat: number
  readonly lon: number
  readonly city: string
  readonly colo: string
  readonly country: string
}

/** Each destination is undefined where the runtime has none: nothing is then built for it, per response. */
export interface AnalyticsSink {
  /** The HMAC key client IPs are hashed with (IP_HASH_SALT); undefined: no IP hash is recorded. */
  readonly ipHashKey: Bytes | undefined
  /** Never fails and never waits on the network: a lost data point is logged by the sink. */
  readonly write: ((point: DataPoint) => Effect.Effect<void>) | undefined
  /** Best effort, bounded in time; errors are dropped. */
  readonly broadcastLocation: ((location: Location) => Effect.Effect<void>) | undefined
}

/**
 * Per-response telemetry (docs/runtimes.md#logs-and-telemetry): Workers Analytics Engine and the public log
 * stream. A shell without them (Bun, the tests) keeps the default, which has neither.
 */
export class Analytics extends Context.Reference<Analytics>()("sdp/Analytics", {
  defaultValue: (): AnalyticsSink => ({ ipHashKey: undefined, write: undefined, broadcastLocation: undefined })
}) {}
