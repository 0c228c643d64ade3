import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { EdgeCache } from "../core/services/EdgeCache.js"

/** Enough for a few dozen 4 MiB chunks; a Bun process's memory stays flat whatever the traffic. */
export const DEFAULT_MAX_BYTES = 256 * 1024 * 1024

type Value = string | Uint8Array<ArrayBuffer>

interface Entry {
  readonly value: Value
  readonly expires: number
  readonly weight: number
}

/** A string counts as its UTF-16 code units (two bytes each), bytes as their length. */
const weightOf = (value: Value) => typeof value === "string" ? value.length * 2 : value.byteLength

/**
 * Asks the runtime to collect garbage now. Every stored chunk pushes an older one out and leaves the backend
 * body's buffers behind, and Bun's collector frees such large ArrayBuffers late: without a hint the process
 * held about three times `maxBytes` under cold reads (bench section 9).
 */
export type Reclaim = () => void

/**
 * A bounded in-memory cache with expiry read from Effect's Clock: at most `maxEntries` entries and `maxBytes`
 * of values, least recently used out first. A value larger than `maxBytes` is not kept. `reclaim`, if given,
 * runs after each quarter of `maxBytes` (at least 16 MiB) of bytes values stored.
 */
export const makeMemoryCache = (maxEntries: number, maxBytes: number = DEFAULT_MAX_BYTES, reclaim?: Reclaim) => {
  const entries = new Map<string, Entry>()
  let bytes = 0
  const reclaimEvery = Math.max(16 * 1024 * 1024, maxBytes / 4)
  let storedSinceReclaim = 0

  const remove = (key: string) => {
    const entry = entries.get(key)
    if (entry === undefined) return undefined
    entries.delete(key)
    bytes -= entry.weight
    return entry
  }

  const read = (key: string) =>
    Effect.map(Clock.currentTimeMillis, (now) => {
      const entry = remove(key)
      if (entry === undefined || entry.expires <= now) return undefined
      entries.set(key, entry) // most recently used last
      bytes += entry.weight
      return entry.value
    })

  const write = (key: string, value: Value, ttl: Duration.DurationInput) =>
    Effect.map(Clock.currentTimeMillis, (now) => {
      remove(key)
      const ttlMs = Duration.toMillis(ttl)
      const weight = weightOf(value)
      if (ttlMs <= 0 || weight > maxBytes) return
      entries.set(key, { value, expires: now + ttlMs, weight })
      bytes += weight
      while (entries.size > maxEntries || bytes > maxBytes) {
        const oldest = entries.keys().next()
        if (oldest.done === true) break
        remove(oldest.value)
      }
      if (reclaim !== undefined && typeof value !== "string") {
        storedSinceReclaim += weight
        if (storedSinceReclaim >= reclaimEvery) {
          storedSinceReclaim = 0
          reclaim()
        }
      }
    })

  return EdgeCache.of({
    get: (key) => Effect.map(read(key), (value) => typeof value === "string" ? Option.some(value) : Option.none()),
    set: write,
    getBytes: (key, part) =>
      Effect.map(read(key), (value) =>
        value === undefined || typeof value === "string" || (part !== undefined && value.byteLength !== part.size)
          ? Option.none()
          : Option.some(part === undefined ? value : value.slice(part.from, part.to))),
    setBytes: write
  })
}

export const MemoryEdgeCache = (maxEntries: number, maxBytes: number = DEFAULT_MAX_BYTES) =>
  Layer.sync(EdgeCache, () => makeMemoryCache(maxEntries, maxBytes))

/** The Bun shell's cache: `EDGE_CACHE_MAX_MB` bounds the bytes it holds (default 256), chunks included. */
export const MemoryEdgeCacheFromEnv = (maxEntries: number, reclaim?: Reclaim) =>
  Layer.effect(
    EdgeCache,
    Effect.map(
      Config.integer("EDGE_CACHE_MAX_MB").pipe(
        Config.withDefault(DEFAULT_MAX_BYTES / (1024 * 1024)),
        Config.validate({ message: "EDGE_CACHE_MAX_MB must be at least 1", validation: (mb) => mb >= 1 })
      ),
      (mb) => makeMemoryCache(maxEntries, mb * 1024 * 1024, reclaim)
    )
  )
