import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer } from "effect"
import { AppConfig } from "../../src/core/services/AppConfig.js"
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
