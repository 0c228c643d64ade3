import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { EdgeCache } from "../core/services/EdgeCache.js"

/** A bounded in-memory cache (least recently used out first) with expiry read from Effect's Clock. */
export const makeMemoryCache = (maxEntries: number) => {
  const entries = new Map<string, { readonly value: string; readonly expires: number }>()
  return EdgeCache.of({
    get: (key) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const entry = entries.get(key)
        if (entry === undefined) return Option.none()
        entries.delete(key)
        if (entry.expires <= now) return Option.none()
        entries.set(key, entry) // most recently used last
        return Option.some(entry.value)
      }),
    set: (key, value, ttl) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        entries.delete(key)
        entries.set(key, { value, expires: now + Duration.toMillis(ttl) })
        while (entries.size > maxEntries) {
          const oldest = entries.keys().next()
          if (oldest.done === true) break
          entries.delete(oldest.value)
        }
      })
  })
}

export const MemoryEdgeCache = (maxEntries: number) => Layer.sync(EdgeCache, () => makeMemoryCache(maxEntries))
