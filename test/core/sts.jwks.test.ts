import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Option, TestClock } from "effect"
import { isAllowedIssuerUrl, JWKS_MAX_BYTES, JwksCache } from "../../src/core/sts/JwksCache.js"
import { JwksCacheLive } from "../../src/layers/JwksCacheLive.js"
import type { UpstreamRequest } from "../../src/core/services/Upstream.js"
import { FixedOidcProvider } from "../fixtures/services.js"
import { ecKey, IDP, idpServer, rsaKey } from "../fixtures/sts.js"
import { type Answer, json, stubUpstream } from "../fixtures/stubUpstream.js"

/** An IdP whose behaviour the test switches while the cache runs. */
const switchable = () => {
  const state = { mode: "up" as "up" | "down" | "hang" | "rotated" }
  const up = idpServer({ [IDP]: [rsaKey.jwk] })
  const rotated = idpServer({ [IDP]: [rsaKey.jwk, ecKey.jwk] })
  const answer = (request: UpstreamRequest): Answer =>
    state.mode === "up" ? up(request)
    : state.mode === "rotated" ? rotated(request)
    : state.mode === "down" ? new Response("down", { status: 503 })
    : Effect.never
  const upstream = stubUpstream(answer)
  const layer = JwksCacheLive.pipe(Layer.provide(Layer.mergeAll(upstream.layer, FixedOidcProvider)))
  return { state, calls: upstream.calls, layer }
}

const kids = (jwks: { readonly keys: ReadonlyArray<{ readonly kid?: string | undefined }> }) => jwks.keys.map((k) => k.kid)

describe("JwksCache", () => {
  it.effect("discovery → jwks_uri → keys, cached for an hour", () => {
    const { calls, layer } = switchable()
    return Effect.gen(function*() {
      const cache = yield* JwksCache
      expect(kids(yield* cache.keys(IDP))).toStrictEqual(["rsa-1"])
      expect(calls.map((c) => c.url)).toStrictEqual([`${IDP}/.well-known/openid-configuration`, `${IDP}/keys`])
      yield* TestClock.adjust("59 minutes")
      yield* cache.keys(`${IDP}/`) // the same issuer, trailing slash or not
      expect(calls).toHaveLength(2)
      yield* TestClock.adjust("2 minutes")
      yield* cache.keys(IDP)
      expect(calls).toHaveLength(4)
    }).pipe(Effect.provide(layer))
  })

  it.effect("the IdP fails: a copy up to 24 h old serves, older is IDPCommunicationError", () => {
    const { state, calls, layer } = switchable()
    return Effect.gen(function*() {
      const cache = yield* JwksCache
      yield* cache.keys(IDP)
      state.mode = "down"
      yield* TestClock.adjust("23 hours")
      expect(kids(yield* cache.keys(IDP))).toStrictEqual(["rsa-1"])
      yield* TestClock.adjust("61 minutes")
      const error = yield* Effect.flip(cache.keys(IDP))
      expect(error._tag).toBe("IDPCommunicationError")
      expect(calls.length).toBeGreaterThanOrEqual(3)
    }).pipe(Effect.provide(layer))
  })

  it.effect("nothing cached and the IdP down → IDPCommunicationError", () => {
    const { state, layer } = switchable()
    state.mode = "down"
    return Effect.gen(function*() {
      expect((yield* Effect.flip((yield* JwksCache).keys(IDP)))._tag).toBe("IDPCommunicationError")
    }).pipe(Effect.provide(layer))
  })

  it.effect("a hanging IdP times out after 3 s", () => {
    const { state, layer } = switchable()
    state.mode = "hang"
    return Effect.gen(function*() {
      const fiber = yield* Effect.fork(Effect.flip((yield* JwksCache).keys(IDP)))
      yield* TestClock.adjust("2999 millis")
      expect(Option.isNone(yield* Fiber.poll(fiber))).toBe(true)
      yield* TestClock.adjust("2 millis")
      const error = yield* Fiber.join(fiber)
      expect(error._tag).toBe("IDPCommunicationError")
      expect(error.reason).toMatch(/in time|Timeout/)
    }).pipe(Effect.provide(layer))
  })

  it.effect("no request waits on another's renewal: the stale copy serves while one request renews", () => {
    const { state, calls, layer } = switchable()
    return Effect.gen(function*() {
      const cache = yield* JwksCache
      yield* cache.keys(IDP)
      yield* TestClock.adjust("2 hours")
      state.mode = "hang"
      const renewer = yield* Effect.fork(cache.keys(IDP))
      yield* Effect.yieldNow()
      const before = calls.length
      // Another request meanwhile: answered at once from the stale copy, without a fetch of its own.
      expect(kids(yield* cache.keys(IDP))).toStrictEqual(["rsa-1"])
      expect(calls.length).toBe(before)
      yield* TestClock.adjust("3 seconds") // the renewer times out and serves the stale copy too
      expect(kids(yield* Fiber.join(renewer))).toStrictEqual(["rsa-1"])
    }).pipe(Effect.provide(layer))
  })

  it.effect("cold: concurrent requests each fetch for themselves (no shared promise)", () => {
    const { calls, layer } = switchable()
    return Effect.gen(function*() {
      const cache = yield* JwksCache
      yield* Effect.all([cache.keys(IDP), cache.keys(IDP)], { concurrency: 2 })
      expect(calls.filter((c) => c.url.endsWith("/keys"))).toHaveLength(2)
    }).pipe(Effect.provide(layer))
  })

  it.effect("unknown kid: a refetch, at most once a minute per issuer", () => {
    const { state, calls, layer } = switchable()
    return Effect.gen(function*() {
      const cache = yield* JwksCache
      yield* cache.keys(IDP)
      state.mode = "rotated"
      const fresh = yield* cache.refresh(IDP)
      expect(Option.map(fresh, kids)).toStrictEqual(Option.some(["rsa-1", "ec-1"]))
      expect(kids(yield* cache.keys(IDP))).toStrictEqual(["rsa-1", "ec-1"]) // stored for everyone
      const count = calls.length
      for (let i = 0; i < 20; i++) expect(yield* cache.refresh(IDP)).toStrictEqual(Option.none())
      expect(calls.length).toBe(count)
      yield* TestClock.adjust("61 seconds")
      expect(Option.isSome(yield* cache.refresh(IDP))).toBe(true)
      expect(calls.length).toBe(count + 2)
    }).pipe(Effect.provide(layer))
  })

  it.effect("a document over 256 KB is refused, and reading stops at the cap", () => {
    let pulled = 0
    const endless = () =>
      new ReadableStream<Uint8Array>({
        pull: (controller) => {
          pulled += 16384
          controller.enqueue(new Uint8Array(16384).fill(32))
        }
      })
    const upstream = stubUpstream((request) =>
      request.url.endsWith("openid-configuration") ? json({ jwks_uri: `${IDP}/keys` }) : new Response(endless(), { status: 200 }))
    return Effect.gen(function*() {
      const error = yield* Effect.flip((yield* JwksCache).keys(IDP))
      expect(error._tag).toBe("IDPCommunicationError")
      expect(error.reason).toMatch(/larger than/)
      expect(pulled).toBeLessThan(JWKS_MAX_BYTES + 3 * 16384)
    }).pipe(Effect.provide(JwksCacheLive.pipe(Layer.provide(Layer.mergeAll(upstream.layer, FixedOidcProvider)))))
  })

  it.effect("a jwks_uri that is not https (off loopback) or not a key set is refused", () => {
    const upstream = stubUpstream((request) =>
      request.url.startsWith("https://plain.test") ? json({ jwks_uri: "http://plain.test/keys" }) : json({ jwks_uri: `${IDP}/k` }))
    return Effect.gen(function*() {
      const cache = yield* JwksCache
      expect((yield* Effect.flip(cache.keys("https://plain.test"))).reason).toMatch(/jwks_uri/)
      expect((yield* Effect.flip(cache.keys(IDP))).reason).toMatch(/not a JWK set/)
    }).pipe(Effect.provide(JwksCacheLive.pipe(Layer.provide(Layer.mergeAll(upstream.layer, FixedOidcProvider)))))
  })

  it.effect("a registered jwks_uri: keys from there without discovery, cached apart from the issuer's discovered keys", () => {
    const pinned = "https://keys.elsewhere.test/jwks"
    const discovered = idpServer({ [IDP]: [rsaKey.jwk] })
    const upstream = stubUpstream((request) => (request.url === pinned ? json({ keys: [ecKey.jwk] }) : discovered(request)))
    return Effect.gen(function*() {
      const cache = yield* JwksCache
      expect(kids(yield* cache.keys(IDP, pinned))).toStrictEqual(["ec-1"])
      expect(upstream.calls.map((c) => c.url)).toStrictEqual([pinned])
      // The same issuer through discovery is another source: it never gets the registered keys, nor they its.
      expect(kids(yield* cache.keys(IDP))).toStrictEqual(["rsa-1"])
      expect(kids(yield* cache.keys(IDP, pinned))).toStrictEqual(["ec-1"])
      expect(upstream.calls.map((c) => c.url)).toStrictEqual([pinned, `${IDP}/.well-known/openid-configuration`, `${IDP}/keys`])
      // The unknown-kid refetch is rate-limited per source.
      expect(Option.isSome(yield* cache.refresh(IDP, pinned))).toBe(true)
      expect(Option.isSome(yield* cache.refresh(IDP))).toBe(true)
      expect(yield* cache.refresh(IDP, pinned)).toStrictEqual(Option.none())
    }).pipe(Effect.provide(JwksCacheLive.pipe(Layer.provide(Layer.mergeAll(upstream.layer, FixedOidcProvider)))))
  })

  it.effect("a registered jwks_uri that is not https (off loopback) is refused without a request", () => {
    const upstream = stubUpstream(() => json({ keys: [rsaKey.jwk] }))
    return Effect.gen(function*() {
      const error = yield* Effect.flip((yield* JwksCache).keys(IDP, "http://keys.example.com/jwks"))
      expect(error._tag).toBe("IDPCommunicationError")
      expect(error.reason).toMatch(/jwks_uri is not https/)
      expect(upstream.calls).toHaveLength(0)
    }).pipe(Effect.provide(JwksCacheLive.pipe(Layer.provide(Layer.mergeAll(upstream.layer, FixedOidcProvider)))))
  })

  it.effect("the proxy's own issuer is answered in-process, with no HTTP", () => {
    const upstream = stubUpstream(() => new Response("unexpected", { status: 500 }))
    return Effect.gen(function*() {
      expect(yield* (yield* JwksCache).keys("https://proxy.test")).toStrictEqual({ keys: [] })
      expect(upstream.calls).toHaveLength(0)
    }).pipe(Effect.provide(JwksCacheLive.pipe(Layer.provide(Layer.mergeAll(upstream.layer, FixedOidcProvider)))))
  })

  it("issuers: https anywhere, http only on loopback", () => {
    for (const ok of ["https://idp.test", "http://127.0.0.1:8080", "http://127.1.2.3", "http://localhost:1", "http://[::1]:9"]) {
      expect(isAllowedIssuerUrl(ok), ok).toBe(true)
    }
    for (const bad of ["http://idp.test", "http://10.0.0.1", "http://localhost.evil.com", "ftp://x", "not a url", "https://u:p@idp.test"]) {
      expect(isAllowedIssuerUrl(bad), bad).toBe(false)
    }
  })
})
