import { describe, expect, it } from "@effect/vitest"
import { Effect, Option, TestClock } from "effect"
import { EdgeCache } from "../../src/core/services/EdgeCache.js"
import { makeMemoryCache, MemoryEdgeCache } from "../../src/layers/MemoryEdgeCache.js"

describe("MemoryEdgeCache", () => {
  it.effect("a value is served until its TTL has passed on the clock", () =>
    Effect.gen(function*() {
      const cache = yield* EdgeCache
      yield* cache.set("k", "v", "1 hour")
      expect(yield* cache.get("k")).toStrictEqual(Option.some("v"))
      yield* TestClock.adjust("59 minutes")
      expect(yield* cache.get("k")).toStrictEqual(Option.some("v"))
      yield* TestClock.adjust("1 minute")
      expect(yield* cache.get("k")).toStrictEqual(Option.none())
    }).pipe(Effect.provide(MemoryEdgeCache(10))))

  it.effect("an expired entry stays gone after the read that found it expired", () =>
    Effect.gen(function*() {
      const cache = yield* EdgeCache
      yield* cache.set("k", "v", "1 second")
      yield* TestClock.adjust("2 seconds")
      expect(yield* cache.get("k")).toStrictEqual(Option.none())
      expect(yield* cache.get("k")).toStrictEqual(Option.none())
    }).pipe(Effect.provide(MemoryEdgeCache(10))))

  it.effect("set again replaces the value and restarts the TTL", () =>
    Effect.gen(function*() {
      const cache = yield* EdgeCache
      yield* cache.set("k", "old", "1 minute")
      yield* TestClock.adjust("50 seconds")
      yield* cache.set("k", "new", "1 minute")
      yield* TestClock.adjust("50 seconds")
      expect(yield* cache.get("k")).toStrictEqual(Option.some("new"))
    }).pipe(Effect.provide(MemoryEdgeCache(10))))

  it.effect("a miss is none", () =>
    Effect.gen(function*() {
      expect(yield* (yield* EdgeCache).get("absent")).toStrictEqual(Option.none())
    }).pipe(Effect.provide(MemoryEdgeCache(10))))

  it.effect("holds at most maxEntries, evicting the least recently used", () =>
    Effect.gen(function*() {
      const cache = yield* EdgeCache
      yield* cache.set("a", "1", "1 hour")
      yield* cache.set("b", "2", "1 hour")
      yield* cache.set("c", "3", "1 hour")
      expect(yield* cache.get("a")).toStrictEqual(Option.some("1")) // a is now the most recent
      yield* cache.set("d", "4", "1 hour") // evicts b
      expect(yield* cache.get("b")).toStrictEqual(Option.none())
      expect(yield* cache.get("a")).toStrictEqual(Option.some("1"))
      expect(yield* cache.get("c")).toStrictEqual(Option.some("3"))
      expect(yield* cache.get("d")).toStrictEqual(Option.some("4"))
    }).pipe(Effect.provide(MemoryEdgeCache(3))))

  it.effect("rewriting a key does not grow the cache past its bound", () =>
    Effect.gen(function*() {
      const cache = yield* EdgeCache
      for (let i = 0; i < 10; i++) yield* cache.set("same", String(i), "1 hour")
      yield* cache.set("other", "x", "1 hour")
      expect(yield* cache.get("same")).toStrictEqual(Option.some("9"))
      expect(yield* cache.get("other")).toStrictEqual(Option.some("x"))
    }).pipe(Effect.provide(MemoryEdgeCache(2))))

  it.effect("each layer build is its own cache", () =>
    Effect.gen(function*() {
      yield* Effect.flatMap(EdgeCache, (c) => c.set("k", "v", "1 hour")).pipe(Effect.provide(MemoryEdgeCache(10)))
      const again = yield* Effect.flatMap(EdgeCache, (c) => c.get("k")).pipe(Effect.provide(MemoryEdgeCache(10)))
      expect(again).toStrictEqual(Option.none())
    }))

  it.effect("bytes are bounded by weight: the least recently used go first, a value over the bound is not kept", () =>
    Effect.gen(function*() {
      const cache = yield* EdgeCache
      const chunk = (fill: number) => new Uint8Array(40).fill(fill)
      yield* cache.setBytes("a", chunk(1), "1 hour")
      yield* cache.setBytes("b", chunk(2), "1 hour")
      yield* cache.getBytes("a") // a is now the most recently used
      yield* cache.setBytes("c", chunk(3), "1 hour") // 120 bytes > 100: b goes
      expect([yield* cache.getBytes("a"), yield* cache.getBytes("b"), yield* cache.getBytes("c")].map(Option.isSome))
        .toStrictEqual([true, false, true])
      yield* cache.setBytes("huge", new Uint8Array(101), "1 hour")
      expect(Option.isNone(yield* cache.getBytes("huge"))).toBe(true)
      // Strings and bytes live apart: neither reads as the other.
      yield* cache.set("s", "text", "1 hour")
      expect([Option.isNone(yield* cache.getBytes("s")), Option.isNone(yield* cache.get("a"))]).toStrictEqual([true, true])
    }).pipe(Effect.provide(MemoryEdgeCache(10, 100))))

  it.effect("a zero TTL removes the entry", () =>
    Effect.gen(function*() {
      const cache = yield* EdgeCache
      yield* cache.set("k", "v", "1 hour")
      yield* cache.set("k", "", 0)
      expect(yield* cache.get("k")).toStrictEqual(Option.none())
    }).pipe(Effect.provide(MemoryEdgeCache(10))))

  it.effect("reclaim runs once per quarter of the byte bound stored as bytes (16 MiB at least), never for strings", () =>
    Effect.gen(function*() {
      const MiB = 1024 * 1024
      let reclaims = 0
      const cache = makeMemoryCache(1_000, 128 * MiB, () => reclaims++)
      for (let i = 0; i < 7; i++) yield* cache.setBytes(`c${i}`, new Uint8Array(5 * MiB), "1 hour")
      expect(reclaims).toBe(1) // 35 MiB stored: one 32 MiB step
      yield* cache.set("s", "x".repeat(MiB), "1 hour")
      expect(reclaims).toBe(1)
      yield* cache.setBytes("c7", new Uint8Array(5 * MiB), "1 hour")
      expect(reclaims).toBe(1)
      for (let i = 8; i < 14; i++) yield* cache.setBytes(`c${i}`, new Uint8Array(5 * MiB), "1 hour")
      expect(reclaims).toBe(2)
      const small = makeMemoryCache(1_000, 8 * MiB, () => reclaims++)
      for (let i = 0; i < 3; i++) yield* small.setBytes(`s${i}`, new Uint8Array(5 * MiB), "1 hour")
      expect(reclaims).toBe(2) // 15 MiB through an 8 MiB cache: below the 16 MiB floor
      yield* small.setBytes("s3", new Uint8Array(5 * MiB), "1 hour")
      expect(reclaims).toBe(3)
    }))

  it.effect("a part of a bytes entry is a copy of just those bytes, and none when the entry holds another size", () =>
    Effect.gen(function*() {
      const cache = yield* EdgeCache
      yield* cache.setBytes("chunk", Uint8Array.from({ length: 10 }, (_, i) => i), "1 hour")
      const part = yield* cache.getBytes("chunk", { from: 2, to: 5, size: 10 })
      expect(Option.map(part, (bytes) => [...bytes])).toStrictEqual(Option.some([2, 3, 4]))
      if (Option.isSome(part)) part.value.fill(99)
      expect(Option.map(yield* cache.getBytes("chunk"), (bytes) => bytes[2])).toStrictEqual(Option.some(2))
      expect(Option.isNone(yield* cache.getBytes("chunk", { from: 0, to: 4, size: 11 }))).toBe(true)
      expect(Option.isNone(yield* cache.getBytes("absent", { from: 0, to: 4, size: 10 }))).toBe(true)
    }).pipe(Effect.provide(MemoryEdgeCache(10))))
})
