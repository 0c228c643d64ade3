import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"

/** Bytes `from` (inclusive) to `to` (exclusive) of an entry that holds exactly `size` bytes. */
export interface BytePart {
  readonly from: number
  readonly to: number
  readonly size: number
}

/**
 * A cache of finished values (never of in-flight work, docs/runtimes.md#no-request-waits-on-another). A broken
 * cache is a miss, so the methods cannot fail. A write with a zero TTL removes the entry: later reads miss.
 *
 * Byte entries are handed over, not copied: the caller must not change `bytes` after `setBytes`, nor the
 * array `getBytes` returns without a part (it may be the cache's own copy). With a part, `getBytes` answers
 * a copy of just those bytes, or none when the entry is missing or holds another number of bytes; a cache
 * that can read part of an entry (the Cache API, with a Range) then reads no more than that.
 */
export class EdgeCache extends Context.Tag("sdp/EdgeCache")<EdgeCache, {
  readonly get: (key: string) => Effect.Effect<Option.Option<string>>
  readonly set: (key: string, value: string, ttl: Duration.DurationInput) => Effect.Effect<void>
  readonly getBytes: (key: string, part?: BytePart) => Effect.Effect<Option.Option<Uint8Array<ArrayBuffer>>>
  readonly setBytes: (key: string, bytes: Uint8Array<ArrayBuffer>, ttl: Duration.DurationInput) => Effect.Effect<void>
}>() {}
