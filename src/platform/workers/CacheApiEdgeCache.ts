import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { EdgeCache } from "../../core/services/EdgeCache.js"
import { WaitUntil } from "../../core/services/WaitUntil.js"
import { makeMemoryCache } from "../../layers/MemoryEdgeCache.js"

const EXPIRES = "x-sdp-expires"
const keyUrl = (key: string) => `https://edge-cache.sdp.internal/${encodeURIComponent(key)}`
const edge = () => (caches as unknown as { readonly default: Cache }).default

/** The isolate's share of its 128 MB: a few chunks and many small entries; the colo's cache holds the rest. */
const L1_ENTRIES = 5_000
const L1_BYTES = 16 * 1024 * 1024

/**
 * Two levels: an isolate-local LRU in front of the colo's Cache API. Only finished values are shared
 * (docs/runtimes.md#no-request-waits-on-another); a failing Cache API is a miss, never an error.
 */
export const CacheApiEdgeCache = Layer.sync(EdgeCache, () => {
  const l1 = makeMemoryCache(L1_ENTRIES, L1_BYTES)

  /** The colo's entry, read with `decode`, while its own expiry (not the Cache API's rounding) has not passed. */
  const fromEdge = <A>(
    key: string,
    decode: (response: Response) => Promise<A>,
    keep: (value: A, ttl: Duration.Duration) => Effect.Effect<void>
  ) =>
    Effect.gen(function*() {
      const response = yield* Effect.tryPromise(() => edge().match(keyUrl(key)))
      if (response === undefined) return Option.none<A>()
      const value = yield* Effect.tryPromise(() => decode(response))
      const remaining = Number(response.headers.get(EXPIRES)) - (yield* Clock.currentTimeMillis)
      if (!(remaining > 0)) return Option.none<A>()
      yield* keep(value, Duration.millis(remaining))
      return Option.some(value)
    }).pipe(Effect.orElseSucceed(() => Option.none<A>()))

  const toEdge = (key: string, body: string | Uint8Array<ArrayBuffer>, ttl: Duration.DurationInput) =>
    Effect.gen(function*() {
      const expires = (yield* Clock.currentTimeMillis) + Duration.toMillis(ttl)
      // At least one second: a zero max-age may not be stored, and would leave the entry it should replace.
      const maxAge = Math.max(1, Math.ceil(Duration.toSeconds(ttl)))
      const response = new Response(body, {
        headers: { "cache-control": `max-age=${maxAge}`, [EXPIRES]: String(expires) }
      })
      // The colo's copy is written after the response (waitUntil): the request already has the value.
      const waitUntil = yield* WaitUntil
      yield* Effect.sync(() => waitUntil(edge().put(keyUrl(key), response).catch(() => undefined)))
    })

  return EdgeCache.of({
    get: (key) =>
      Effect.flatMap(l1.get(key), (hit) =>
        Option.isSome(hit) ? Effect.succeed(hit) : fromEdge(key, (response) => response.text(), (value, ttl) => l1.set(key, value, ttl))),
    set: (key, value, ttl) => Effect.zipRight(l1.set(key, value, ttl), toEdge(key, value, ttl)),
    getBytes: (key) =>
      Effect.flatMap(l1.getBytes(key), (hit) =>
        Option.isSome(hit) ? Effect.succeed(hit) : fromEdge(
          key,
          async (response) => new Uint8Array(await response.arrayBuffer()),
          (value, ttl) => l1.setBytes(key, value, ttl)
        )),
    setBytes: (key, bytes, ttl) => Effect.zipRight(l1.setBytes(key, bytes, ttl), toEdge(key, bytes, ttl))
  })
})
