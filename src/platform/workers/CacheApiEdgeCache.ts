import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { parseContentRange } from "../../core/s3/range.js"
import { type BytePart, EdgeCache } from "../../core/services/EdgeCache.js"
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

  /**
   * The colo's entry, read with `decode` (undefined: not usable), while its own expiry (not the Cache API's
   * rounding) has not passed. `range` asks the colo for part of the entry only.
   */
  const fromEdge = <A>(
    key: string,
    decode: (response: Response) => Promise<A | undefined>,
    keep: (value: A, ttl: Duration.Duration) => Effect.Effect<void>,
    range?: string
  ) => Effect.orElseSucceed(entryOf(key, decode, keep, range), () => Option.none<A>())

  const entryOf = Effect.fnUntraced(
    function*<A>(
      key: string,
      decode: (response: Response) => Promise<A | undefined>,
      keep: (value: A, ttl: Duration.Duration) => Effect.Effect<void>,
      range?: string
    ) {
      const request = range === undefined ? keyUrl(key) : new Request(keyUrl(key), { headers: { range } })
      const response = yield* Effect.tryPromise(() => edge().match(request))
      if (response === undefined) return Option.none<A>()
      const remaining = Number(response.headers.get(EXPIRES)) - (yield* Clock.currentTimeMillis)
      if (!(remaining > 0)) {
        yield* Effect.promise(() => response.body?.cancel().catch(() => undefined) ?? Promise.resolve())
        return Option.none<A>()
      }
      const value = yield* Effect.tryPromise(() => decode(response))
      if (value === undefined) return Option.none<A>()
      yield* keep(value, Duration.millis(remaining))
      return Option.some(value)
    }
  )

  /**
   * Part of a colo entry: the colo answers a Range with a 206 of just those bytes (checked against the size the
   * entry must have), so a 16 KiB read of a 4 MiB chunk copies 16 KiB into the isolate, and nothing is kept in
   * L1 (it holds whole entries). A colo that answers the whole entry (200) is read whole and kept, as without a part.
   */
  const partFromEdge = (key: string, part: BytePart) =>
    fromEdge<{ readonly whole: boolean; readonly bytes: Uint8Array<ArrayBuffer> }>(
      key,
      async (response) => {
        const bytes = new Uint8Array(await response.arrayBuffer())
        if (response.status === 200) return bytes.byteLength === part.size ? { whole: true, bytes } : undefined
        const range = parseContentRange(response.headers.get("content-range"))
        const exact = response.status === 206 && range?.start === part.from && range.end === part.to - 1
          && range.size === part.size && bytes.byteLength === part.to - part.from
        return exact ? { whole: false, bytes } : undefined
      },
      (value, ttl) => value.whole ? l1.setBytes(key, value.bytes, ttl) : Effect.void,
      `bytes=${part.from}-${part.to - 1}`
    ).pipe(Effect.map(Option.map((value) => value.whole ? value.bytes.slice(part.from, part.to) : value.bytes)))

  const toEdge = Effect.fnUntraced(function*(key: string, body: string | Uint8Array<ArrayBuffer>, ttl: Duration.DurationInput) {
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
    getBytes: (key, part) =>
      Effect.flatMap(l1.getBytes(key, part), (hit) =>
        Option.isSome(hit)
          ? Effect.succeed(hit)
          : part !== undefined && part.to - part.from < part.size
          ? partFromEdge(key, part)
          : fromEdge(
            key,
            async (response) => {
              const bytes = new Uint8Array(await response.arrayBuffer())
              return part === undefined || bytes.byteLength === part.size ? bytes : undefined
            },
            (value, ttl) => l1.setBytes(key, value, ttl)
          ).pipe(Effect.map(Option.map((bytes) => part === undefined ? bytes : bytes.slice(part.from, part.to))))),
    setBytes: (key, bytes, ttl) => Effect.zipRight(l1.setBytes(key, bytes, ttl), toEdge(key, bytes, ttl))
  })
})
