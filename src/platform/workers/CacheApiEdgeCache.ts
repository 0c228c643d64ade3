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

/**
 * Two levels: an isolate-local LRU in front of the colo's Cache API. Only finished values are shared
 * (docs/runtimes.md#no-request-waits-on-another); a failing Cache API is a miss, never an error.
 */
export const CacheApiEdgeCache = Layer.sync(EdgeCache, () => {
  const l1 = makeMemoryCache(5_000)
  return EdgeCache.of({
    get: (key) =>
      Effect.flatMap(l1.get(key), (hit) =>
        Option.isSome(hit) ? Effect.succeed(hit) : Effect.gen(function*() {
          const response = yield* Effect.tryPromise(() => edge().match(keyUrl(key)))
          if (response === undefined) return Option.none<string>()
          const value = yield* Effect.tryPromise(() => response.text())
          const remaining = Number(response.headers.get(EXPIRES)) - (yield* Clock.currentTimeMillis)
          if (remaining > 0) yield* l1.set(key, value, Duration.millis(remaining))
          return remaining > 0 ? Option.some(value) : Option.none<string>()
        }).pipe(Effect.orElseSucceed(() => Option.none<string>()))),
    set: (key, value, ttl) =>
      Effect.gen(function*() {
        yield* l1.set(key, value, ttl)
        const expires = (yield* Clock.currentTimeMillis) + Duration.toMillis(ttl)
        const response = new Response(value, {
          headers: { "cache-control": `max-age=${Math.ceil(Duration.toSeconds(ttl))}`, [EXPIRES]: String(expires) }
        })
        // The colo's copy is written after the response (waitUntil): the request already has the value.
        const waitUntil = yield* WaitUntil
        yield* Effect.sync(() => waitUntil(edge().put(keyUrl(key), response).catch(() => undefined)))
      })
  })
})
