import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"

/**
 * A cache of finished values (never of in-flight work, docs/runtimes.md#no-request-waits-on-another). A broken
 * cache is a miss, so the methods cannot fail.
 */
export class EdgeCache extends Context.Tag("sdp/EdgeCache")<EdgeCache, {
  readonly get: (key: string) => Effect.Effect<Option.Option<string>>
  readonly set: (key: string, value: string, ttl: Duration.DurationInput) => Effect.Effect<void>
}>() {}
