import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Layer, Option } from "effect"
import { AppConfig, DEFAULT_CHUNK_CACHE } from "../../src/core/services/AppConfig.js"
import { AppConfigLive, appConfigFrom } from "../../src/layers/AppConfigLive.js"

const allowPrivate = (layer: Layer.Layer<AppConfig, unknown>, env: Record<string, string>) =>
  Effect.map(AppConfig, (config) => config.allowPrivateEndpoints).pipe(
    Effect.provide(layer.pipe(Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))))))
  )

describe("AppConfig: ALLOW_PRIVATE_ENDPOINTS", () => {
  it.effect("off by default in production (Workers), on by default under Bun", () =>
    Effect.gen(function*() {
      expect(yield* allowPrivate(AppConfigLive, {})).toBe(false)
      expect(yield* allowPrivate(appConfigFrom({ allowPrivateEndpoints: true }), {})).toBe(true)
    }))

  it.effect("the variable wins over either default", () =>
    Effect.gen(function*() {
      expect(yield* allowPrivate(AppConfigLive, { ALLOW_PRIVATE_ENDPOINTS: "true" })).toBe(true)
      expect(yield* allowPrivate(appConfigFrom({ allowPrivateEndpoints: true }), { ALLOW_PRIVATE_ENDPOINTS: "false" })).toBe(false)
    }))
})

const chunkCacheOf = (env: Record<string, string>) =>
  Effect.map(AppConfig, (config) => config.chunkCache).pipe(
    Effect.provide(AppConfigLive.pipe(Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))))))
  )

describe("AppConfig: the chunk cache", () => {
  it.effect("on by default with ADR-009's 4 MiB chunks; CHUNK_CACHE=false turns it off; the variables set each part", () =>
    Effect.gen(function*() {
      expect(yield* chunkCacheOf({})).toStrictEqual(Option.some(DEFAULT_CHUNK_CACHE))
      expect(DEFAULT_CHUNK_CACHE.chunkSize).toBe(4 * 1024 * 1024)
      expect(yield* chunkCacheOf({ CHUNK_CACHE: "false" })).toStrictEqual(Option.none())
      const set = yield* chunkCacheOf({ CHUNK_CACHE_CHUNK_BYTES: "65536", CHUNK_CACHE_TTL_S: "30", CHUNK_CACHE_META_TTL_S: "5", CHUNK_CACHE_MAX_CHUNKS: "8" })
      expect(set).toStrictEqual(Option.some({ chunkSize: 65536, ttl: Duration.seconds(30), metaTtl: Duration.seconds(5), maxChunks: 8 }))
    }))

  it.effect("a chunk size, TTL or chunk count out of bounds fails at startup with the variable's name", () =>
    Effect.gen(function*() {
      for (const [name, value] of [["CHUNK_CACHE_CHUNK_BYTES", "1024"], ["CHUNK_CACHE_TTL_S", "0"], ["CHUNK_CACHE_MAX_CHUNKS", "17"]] as const) {
        const error = yield* Effect.flip(chunkCacheOf({ [name]: value }))
        expect(String(error)).toContain(name)
      }
    }))
})
