import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Layer, TestClock } from "effect"
import { Catalog } from "../../src/core/catalog/Catalog.js"
import { UpstreamFailure, type UpstreamRequest } from "../../src/core/services/Upstream.js"
import { MemoryEdgeCache } from "../../src/layers/MemoryEdgeCache.js"
import { SourceApiCatalog } from "../../src/layers/SourceApiCatalog.js"
import { sourceApiOf } from "../fixtures/sourceApi.js"
import { type Answer, endlessBody, json, settings, stubUpstream, TestConfig } from "../fixtures/stubUpstream.js"
import { contractDocument } from "./catalog.contract.js"
import { FixedOidcProvider } from "../fixtures/services.js"

/** A fresh SourceApiCatalog (own cache, own call log) over a stub Source API. */
const sourceApi = (answer: (request: UpstreamRequest) => Answer = sourceApiOf(contractDocument)) => {
  const stub = stubUpstream(answer)
  const layer = SourceApiCatalog.pipe(Layer.provide(Layer.mergeAll(stub.layer, MemoryEdgeCache(100), TestConfig, FixedOidcProvider)))
  return { calls: stub.calls, provide: Effect.provide(layer) }
}

const status = (code: number) => () => new Response(`status ${code}`, { status: code })

describe("SourceApiCatalog", () => {
  it.effect("asks GET {SOURCE_API_URL}/api/v1/… with the configured timeout", () => {
    const api = sourceApi()
    return Effect.gen(function*() {
      const catalog = yield* Catalog
      yield* catalog.product("demo", "sample")
      yield* catalog.products("demo")
      yield* catalog.dataConnection("mem")
      expect(api.calls.map((c) => `${c.method} ${c.url}`)).toStrictEqual([
        "GET http://api.test/api/v1/products/demo/sample",
        "GET http://api.test/api/v1/products/demo",
        "GET http://api.test/api/v1/data-connections/mem"
      ])
      expect(api.calls.every((c) => Duration.equals(Duration.decode(c.timeout), settings.sourceApiTimeout))).toBe(true)
    }).pipe(api.provide)
  })

  it.effect("path segments are percent-encoded, so `?`, `#`, `/` and spaces cannot change the URL", () => {
    const api = sourceApi(() => json({ code: "NotFound" }, 404))
    return Effect.gen(function*() {
      const catalog = yield* Catalog
      yield* Effect.flip(catalog.product("a?b#c/d e", "p!'()*+&=%"))
      yield* Effect.flip(catalog.products("../admin?x=1"))
      yield* Effect.flip(catalog.dataConnection("id/../../x#y"))
      expect(api.calls.map((c) => c.url)).toStrictEqual([
        "http://api.test/api/v1/products/a%3Fb%23c%2Fd%20e/p%21%27%28%29%2A%2B%26%3D%25",
        "http://api.test/api/v1/products/..%2Fadmin%3Fx%3D1",
        "http://api.test/api/v1/data-connections/id%2F..%2F..%2Fx%23y"
      ])
      for (const call of api.calls) {
        const url = new URL(call.url)
        expect(url.search).toBe("")
        expect(url.hash).toBe("")
      }
    }).pipe(api.provide)
  })

  const statuses: ReadonlyArray<readonly [number, string]> = [
    [404, "NoSuchBucket"],
    [401, "AccessDenied"],
    [403, "AccessDenied"],
    [500, "CatalogFailure"],
    [502, "CatalogFailure"],
    [429, "CatalogFailure"],
    [302, "CatalogFailure"]
  ]
  for (const [code, tag] of statuses) {
    it.effect(`API ${code} → ${tag}, for products, lists and connections, never cached`, () => {
      const api = sourceApi(status(code))
      return Effect.gen(function*() {
        const catalog = yield* Catalog
        expect((yield* Effect.flip(catalog.product("demo", "sample")))._tag).toBe(tag)
        expect((yield* Effect.flip(catalog.product("demo", "sample")))._tag).toBe(tag)
        expect((yield* Effect.flip(catalog.products("demo")))._tag).toBe(tag)
        expect((yield* Effect.flip(catalog.dataConnection("mem")))._tag).toBe(tag)
        expect(api.calls).toHaveLength(4)
      }).pipe(api.provide)
    })
  }

  it.effect("an account's IdP: GET /api/v1/accounts/{account}/idps/{name}; 404 → NoSuchIdp and other errors, never cached", () => {
    let answer: (request: UpstreamRequest) => Answer = status(404)
    const api = sourceApi((request) => answer(request))
    return Effect.gen(function*() {
      const catalog = yield* Catalog
      expect(yield* Effect.flip(catalog.idp("de mo", "c/i"))).toMatchObject({ _tag: "NoSuchIdp", account: "de mo", idp: "c/i" })
      expect(api.calls.map((c) => c.url)).toStrictEqual(["http://api.test/api/v1/accounts/de%20mo/idps/c%2Fi"])
      answer = status(503)
      expect((yield* Effect.flip(catalog.idp("demo", "ci")))._tag).toBe("CatalogFailure")
      answer = () => json({ name: "ci" })
      expect((yield* Effect.flip(catalog.idp("demo", "ci")))._tag).toBe("CatalogFailure") // no issuer
      answer = sourceApiOf(contractDocument)
      expect((yield* catalog.idp("demo", "ci")).issuer).toBe("https://ci.demo.test")
      expect(api.calls).toHaveLength(4)
    }).pipe(api.provide)
  })

  it.effect("404 names the account as the bucket", () => {
    const api = sourceApi(status(404))
    return Effect.gen(function*() {
      const error = yield* Effect.flip((yield* Catalog).product("demo", "sample"))
      expect(error).toMatchObject({ _tag: "NoSuchBucket", bucket: "demo" })
    }).pipe(api.provide)
  })

  for (const [name, body] of [["bad JSON", "{not json"], ["JSON of the wrong shape", "{\"products\": 3}"], ["an empty body", ""]] as const) {
    it.effect(`200 with ${name} → CatalogFailure, and not cached`, () => {
      const api = sourceApi(() => new Response(body, { status: 200 }))
      return Effect.gen(function*() {
        const catalog = yield* Catalog
        expect((yield* Effect.flip(catalog.product("demo", "sample")))._tag).toBe("CatalogFailure")
        expect((yield* Effect.flip(catalog.product("demo", "sample")))._tag).toBe("CatalogFailure")
        expect((yield* Effect.flip(catalog.products("demo")))._tag).toBe("CatalogFailure")
        expect(api.calls).toHaveLength(3)
      }).pipe(api.provide)
    })
  }

  it.effect("a bad answer is not cached: the next good one is served and cached", () => {
    let broken = true
    const good = sourceApiOf(contractDocument)
    const api = sourceApi((request) => (broken ? new Response("{", { status: 200 }) : good(request)))
    return Effect.gen(function*() {
      const catalog = yield* Catalog
      expect((yield* Effect.flip(catalog.product("demo", "sample")))._tag).toBe("CatalogFailure")
      broken = false
      expect((yield* catalog.product("demo", "sample")).product_id).toBe("sample")
      expect((yield* catalog.product("demo", "sample")).product_id).toBe("sample")
      expect(api.calls).toHaveLength(2)
    }).pipe(api.provide)
  })

  const ttls = [
    ["a product", (c: Catalog["Type"]) => c.product("demo", "sample"), "5 minutes"],
    ["a product list", (c: Catalog["Type"]) => c.products("demo"), "1 minute"],
    ["a data connection", (c: Catalog["Type"]) => c.dataConnection("mem"), "5 minutes"],
    ["an account's IdP", (c: Catalog["Type"]) => c.idp("demo", "ci"), "5 minutes"]
  ] as const
  for (const [name, lookup, ttl] of ttls) {
    it.effect(`${name} is cached for ${ttl}: one upstream call for two lookups, a new one after the TTL`, () => {
      const api = sourceApi()
      return Effect.gen(function*() {
        const catalog = yield* Catalog
        const first = yield* lookup(catalog)
        expect(yield* lookup(catalog)).toStrictEqual(first)
        expect(api.calls).toHaveLength(1)
        yield* TestClock.adjust(Duration.subtract(Duration.decode(ttl), Duration.seconds(1)))
        yield* lookup(catalog)
        expect(api.calls).toHaveLength(1)
        yield* TestClock.adjust("1 second")
        expect(yield* lookup(catalog)).toStrictEqual(first)
        expect(api.calls).toHaveLength(2)
      }).pipe(api.provide)
    })
  }

  it.effect("a data connection is one value while cached (the Storage opens it once); a changed answer after the TTL is a new value", () => {
    let bucket = "first"
    const good = sourceApiOf(contractDocument)
    const api = sourceApi((request) =>
      request.url.endsWith("/data-connections/keys")
        ? json({
          data_connection_id: "keys",
          read_only: false,
          details: { provider: "s3", bucket, region: "eu-west-1" },
          authentication: { type: "s3_access_key", access_key_id: "AKID", secret_access_key: "secret" }
        })
        : good(request)
    )
    return Effect.gen(function*() {
      const catalog = yield* Catalog
      const first = yield* catalog.dataConnection("keys")
      bucket = "second"
      expect(yield* catalog.dataConnection("keys")).toBe(first)
      yield* TestClock.adjust("5 minutes")
      const next = yield* catalog.dataConnection("keys")
      expect(next).not.toBe(first)
      expect([first.details.bucket, next.details.bucket]).toStrictEqual(["first", "second"])
      expect(next.authentication).toStrictEqual({ type: "s3_access_key", access_key_id: "AKID", secret_access_key: "secret" })
    }).pipe(api.provide)
  })

  it.effect("cache entries are per URL: another product is another call", () => {
    const api = sourceApi()
    return Effect.gen(function*() {
      const catalog = yield* Catalog
      yield* catalog.product("demo", "sample")
      yield* catalog.product("demo", "zeta")
      yield* catalog.product("demo", "sample")
      expect(api.calls).toHaveLength(2)
    }).pipe(api.provide)
  })

  for (const reason of ["Timeout", "Transport"] as const) {
    it.effect(`an Upstream ${reason} failure → CatalogUnavailable, not cached`, () => {
      const api = sourceApi((request) => Effect.fail(new UpstreamFailure({ reason, url: request.url, detail: "boom" })))
      return Effect.gen(function*() {
        const catalog = yield* Catalog
        expect((yield* Effect.flip(catalog.product("demo", "sample")))._tag).toBe("CatalogUnavailable")
        expect((yield* Effect.flip(catalog.products("demo")))._tag).toBe("CatalogUnavailable")
        expect((yield* Effect.flip(catalog.dataConnection("mem")))._tag).toBe("CatalogUnavailable")
        expect((yield* Effect.flip(catalog.product("demo", "sample")))._tag).toBe("CatalogUnavailable")
        expect(api.calls).toHaveLength(4)
      }).pipe(api.provide)
    })
  }

  it.effect("an answer larger than 1 MiB → BackendInvalidResponse (502), not cached; reading stops at the bound", () => {
    const answers: Array<ReturnType<typeof endlessBody>> = []
    const api = sourceApi(() => {
      const endless = endlessBody("{\"product_id\": \"")
      answers.push(endless)
      return new Response(endless.body, { status: 200, headers: { "content-type": "application/json" } })
    })
    return Effect.gen(function*() {
      const catalog = yield* Catalog
      expect((yield* Effect.flip(catalog.product("demo", "sample")))._tag).toBe("BackendInvalidResponse")
      expect((yield* Effect.flip(catalog.product("demo", "sample")))._tag).toBe("BackendInvalidResponse")
      expect(api.calls).toHaveLength(2)
      for (const { state } of answers) {
        expect(state.cancelled).toBe(true)
        expect(state.pulled).toBeLessThanOrEqual(1024 * 1024 + 128 * 1024)
      }
    }).pipe(api.provide)
  })

  it.effect("a body that never ends → CatalogUnavailable once the timeout passes on the clock", () => {
    const api = sourceApi(() => new Response(new ReadableStream({ start: () => {} }), { status: 200 }))
    return Effect.gen(function*() {
      const fiber = yield* Effect.fork(Effect.flip((yield* Catalog).product("demo", "sample")))
      yield* TestClock.adjust(settings.sourceApiTimeout)
      const error = yield* Fiber.join(fiber)
      expect(error._tag).toBe("CatalogUnavailable")
    }).pipe(api.provide)
  })
})
