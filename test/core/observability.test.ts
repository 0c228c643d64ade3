import { createHmac } from "node:crypto"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, FastCheck as fc, Layer, Logger } from "effect"
import { Storage } from "../../src/core/backends/ObjectStore.js"
import { Catalog } from "../../src/core/catalog/Catalog.js"
import { storageOf } from "../../src/core/backends/Storage.js"
import { dataPointOf, type Exchange, locationOf, truncateUtf8 } from "../../src/core/observability/dataPoint.js"
import { observe } from "../../src/core/observability/observe.js"
import { readable } from "../../src/core/authz/enforce.js"
import { Analytics, type DataPoint, type Location } from "../../src/core/services/Analytics.js"
import { AUDIT_EVENT, handleSts } from "../../src/core/sts/handleSts.js"
import { JsonLinesLogger } from "../../src/layers/jsonLogger.js"
import { LocalCatalog } from "../../src/layers/LocalCatalog.js"
import { minimumLogLevel } from "../../src/layers/logLevel.js"
import { NodeCryptoHmac } from "../../src/platform/bun/NodeCryptoHmac.js"
import { catalogDocument } from "../fixtures/catalog.js"
import { memoryProvider } from "../fixtures/memoryStore.js"
import { s3Request } from "../fixtures/requests.js"
import { stsConfig, stsLayer } from "../fixtures/sts.js"
import { sessionIdentity } from "../fixtures/identities.js"

type Entry = { readonly level: string; readonly message: unknown; readonly fields: unknown }

/** Every entry that reaches the logger (after the LOG_LEVEL filter), with its level. */
const capture = () => {
  const entries: Array<Entry> = []
  const logger = Logger.replace(
    Logger.defaultLogger,
    Logger.make(({ logLevel, message }) =>
      entries.push({ level: logLevel.label, message: Array.isArray(message) ? message[0] : message, fields: Array.isArray(message) ? message[1] : undefined }))
  )
  return { entries, logger }
}

const eventsOf = (entries: ReadonlyArray<Entry>, name: string) =>
  entries.filter((e) => typeof e.message === "object" && e.message !== null && (e.message as Record<string, unknown>)["event"] === name)

const session = sessionIdentity({ permissions: [{ actions: ["read"], resources: ["*"] }] })

describe("events: the STS audit and the access log are records, not debug output", () => {
  it.effect("at LOG_LEVEL=warn an exchange still writes its audit event, and other info lines are dropped", () => {
    const { entries, logger } = capture()
    return Effect.gen(function*() {
      const { layer } = stsLayer(yield* Effect.promise(() => stsConfig()))
      const request = s3Request("POST", "/.sts", {
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=sc::demo::role/_default&WebIdentityToken=not-a-jwt"
      })
      const reply = yield* handleSts(request).pipe(Effect.provide(layer))
      yield* Effect.logInfo("an info line")
      expect(reply.status).toBe(400)
      expect(eventsOf(entries, AUDIT_EVENT)).toHaveLength(1)
      expect(eventsOf(entries, AUDIT_EVENT)[0]!.message).toMatchObject({ outcome: "failure", requestId: "req-1" })
      expect(entries.filter((e) => e.message === "an info line")).toHaveLength(0)
    }).pipe(Effect.provide(Layer.merge(logger, minimumLogLevel("warn"))))
  })

  it.effect("at LOG_LEVEL=warn (and off) a session's authorization decision still writes its access event", () => {
    const { entries, logger } = capture()
    const storage = Layer.succeed(Storage, storageOf({ memory: memoryProvider({}).open }))
    const decide = readable(session, { account: "demo", product: "sample", key: "places.geojson" }).pipe(
      Effect.provide(Layer.merge(LocalCatalog(catalogDocument), storage))
    )
    return Effect.gen(function*() {
      yield* decide.pipe(Effect.provide(minimumLogLevel("warn")))
      yield* decide.pipe(Effect.provide(minimumLogLevel("off")))
      const events = eventsOf(entries, "access")
      expect(events.map((e) => e.message)).toMatchObject([
        { decision: "allow", action: "read", resource: "sc::demo::product/sample/places.geojson", jti: "j" },
        { decision: "allow", action: "read" }
      ])
    }).pipe(Effect.provide(logger))
  })
})

describe("JSON lines: one object per line", () => {
  it.effect("message, fields, annotations and a multi-line cause in one parseable line", () => {
    const lines: Array<string> = []
    const original = console.warn
    return Effect.gen(function*() {
      console.warn = (line: string) => lines.push(line)
      yield* Effect.logWarning("server error response", { status: 502, error: new Error("first\nsecond") }).pipe(
        Effect.annotateLogs("requestId", "8f00-ray")
      )
      console.warn = original
      expect(lines).toHaveLength(1)
      expect(lines[0]).not.toContain("\n")
      const record = JSON.parse(lines[0]!) as Record<string, unknown>
      expect(record).toMatchObject({
        level: "warn",
        message: "server error response",
        status: 502,
        requestId: "8f00-ray",
        error: { message: "first\nsecond" }
      })
      expect(Object.keys(record).slice(0, 3)).toStrictEqual(["time", "level", "message"])
    }).pipe(Effect.provide(JsonLinesLogger), Effect.ensuring(Effect.sync(() => (console.warn = original))))
  })

  it.effect("cycles and bigints do not break a line", () => {
    const lines: Array<string> = []
    const original = console.log
    const cyclic: Record<string, unknown> = { n: 1n }
    cyclic["self"] = cyclic
    return Effect.gen(function*() {
      console.log = (line: string) => lines.push(line)
      yield* Effect.logInfo("m", { cyclic })
      console.log = original
      expect(lines.map((line) => JSON.parse(line) as unknown)).toMatchObject([{ message: "m", cyclic: { n: "1", self: "[Circular]" } }])
    }).pipe(Effect.provide(JsonLinesLogger), Effect.ensuring(Effect.sync(() => (console.log = original))))
  })
})

const exchange = (overrides: Partial<Exchange> = {}): Exchange => ({
  method: "GET",
  url: new URL("https://data.source.coop/demo/sample/dir/caf%C3%A9.tif"),
  requestHeaders: new Headers({
    range: "bytes=0-1023",
    "x-source-user-id": "user-7",
    "cf-ipcountry": "NZ",
    "cf-connecting-ip": "203.0.113.9"
  }),
  status: 206,
  responseHeaders: new Headers({ "content-type": "image/tiff", "content-length": "1024" }),
  durationMs: 12.5,
  cf: { latitude: "-41.28", longitude: 174.77, city: "Wellington", colo: "AKL" },
  ...overrides
})

describe("analytics data points: the Rust worker's layout plus the cache status", () => {
  it("index, ten blobs, three doubles", () => {
    expect(dataPointOf(exchange(), "iphash")).toStrictEqual({
      indexes: ["demo/sample"],
      blobs: ["demo", "sample", "dir/café.tif", "GET", "user-7", "NZ", "image/tiff", "iphash", "0-1023", "BYPASS"],
      doubles: [1024, 206, 12.5]
    })
  })

  it("blob10 is the chunk cache's x-cache, BYPASS for an answer without one", () => {
    for (const status of ["HIT", "MISS", "PARTIAL", "BYPASS"]) {
      const point = dataPointOf(exchange({ responseHeaders: new Headers({ "x-cache": status }) }), "")
      expect(point.blobs[9]).toBe(status)
    }
  })

  it("`/` and an account listing: empty parts; no content-length counts 0; other Range units are kept", () => {
    const root = dataPointOf(exchange({ url: new URL("https://x/"), responseHeaders: new Headers(), requestHeaders: new Headers() }), "")
    expect([root.indexes, root.blobs.slice(0, 3), root.doubles[0]]).toStrictEqual([["/"], ["", "", ""], 0])
    const account = dataPointOf(exchange({ url: new URL("https://x/demo?list-type=2"), requestHeaders: new Headers({ range: "items=0-9" }) }), "")
    expect([account.indexes, account.blobs.slice(0, 3), account.blobs[8]]).toStrictEqual([["demo/"], ["demo", "", ""], "items=0-9"])
  })

  it.prop("the key blob is at most 256 bytes of UTF-8, cut at a character boundary", [fc.string({ unit: "binary", maxLength: 400 })], ([key]) => {
    const cut = truncateUtf8(key, 256)
    const bytes = (s: string) => new TextEncoder().encode(s).length
    expect(bytes(cut)).toBeLessThanOrEqual(256)
    expect(key.startsWith(cut)).toBe(true)
    if (cut !== key) expect(bytes(key.slice(0, cut.length + ([...key.slice(cut.length)][0]?.length ?? 0)))).toBeGreaterThan(256)
  })

  it("the location for a live map: only successful GETs of a product path with a known place", () => {
    expect(locationOf(exchange())).toStrictEqual({
      account_id: "demo", product_id: "sample", path: "dir/café.tif", lat: -41.28, lon: 174.77,
      city: "Wellington", colo: "AKL", country: "NZ"
    })
    expect(locationOf(exchange({ method: "HEAD" }))).toBeUndefined()
    expect(locationOf(exchange({ status: 404 }))).toBeUndefined()
    expect(locationOf(exchange({ url: new URL("https://x/demo") }))).toBeUndefined()
    expect(locationOf(exchange({ cf: { latitude: "north", longitude: "1" } }))).toBeUndefined()
    expect(locationOf(exchange({ cf: undefined }))).toBeUndefined()
  })
})

describe("observe: what happens after a response", () => {
  const SALT = "pepper"
  const run = (e: Exchange) => {
    const points: Array<DataPoint> = []
    const locations: Array<Location> = []
    const sink = Layer.succeed(Analytics, {
      ipHashKey: new TextEncoder().encode(SALT),
      write: (point) => Effect.sync(() => points.push(point)),
      broadcastLocation: (location) => Effect.sync(() => locations.push(location))
    })
    return Effect.as(
      observe(e).pipe(Effect.provide(Layer.mergeAll(sink, LocalCatalog(catalogDocument), NodeCryptoHmac))),
      { points, locations }
    )
  }

  it.effect("one data point per product response, the client IP as HMAC-SHA256(IP_HASH_SALT) hex; a broadcast for a public product", () =>
    Effect.gen(function*() {
      const { points, locations } = yield* run(exchange())
      expect(points).toHaveLength(1)
      expect(points[0]!.blobs[7]).toBe(createHmac("sha256", SALT).update("203.0.113.9").digest("hex"))
      expect(locations.map((l) => [l.account_id, l.product_id, l.path])).toStrictEqual([["demo", "sample", "dir/café.tif"]])
    }))

  it.effect("a restricted product: a data point, no broadcast; /.sts, /.well-known and preflights: neither", () =>
    Effect.gen(function*() {
      const restricted = yield* run(exchange({ url: new URL("https://x/demo/private/secret.txt") }))
      expect([restricted.points.length, restricted.locations.length]).toStrictEqual([1, 0])
      for (const e of [exchange({ url: new URL("https://x/.sts") }), exchange({ url: new URL("https://x/.well-known/jwks.json") }), exchange({ method: "OPTIONS" })]) {
        const { points, locations } = yield* run(e)
        expect([points.length, locations.length]).toStrictEqual([0, 0])
      }
    }))

  it.effect("only what a destination exists for is built: without a log stream the catalog is not asked, without either nothing is", () =>
    Effect.gen(function*() {
      let lookups = 0
      const catalog = Layer.map(LocalCatalog(catalogDocument), (context) => {
        const inner = Context.get(context, Catalog)
        return Context.add(context, Catalog, {
          ...inner,
          product: (account, product) => Effect.suspend(() => (lookups++, inner.product(account, product)))
        })
      })
      const points: Array<DataPoint> = []
      const writeOnly = Layer.succeed(Analytics, { ipHashKey: undefined, write: (point) => Effect.sync(() => points.push(point)), broadcastLocation: undefined })
      yield* observe(exchange()).pipe(Effect.provide(Layer.mergeAll(writeOnly, catalog, NodeCryptoHmac)))
      expect([points.length, lookups]).toStrictEqual([1, 0])
      // The default sink (Bun, the tests): the response line only.
      yield* observe(exchange()).pipe(Effect.provide(Layer.mergeAll(catalog, NodeCryptoHmac)))
      expect([points.length, lookups]).toStrictEqual([1, 0])
      const locations: Array<Location> = []
      const both = Layer.succeed(Analytics, { ipHashKey: undefined, write: () => Effect.void, broadcastLocation: (l) => Effect.sync(() => locations.push(l)) })
      yield* observe(exchange()).pipe(Effect.provide(Layer.mergeAll(both, catalog, NodeCryptoHmac)))
      expect([locations.length, lookups]).toStrictEqual([1, 1])
    }))

  it.effect("a 5xx is logged as a warning with the backend's identity headers; other responses at info", () => {
    const { entries, logger } = capture()
    return Effect.gen(function*() {
      yield* run(exchange({ status: 503, responseHeaders: new Headers({ server: "AmazonS3", "x-amz-id-2": "id2" }) }))
      yield* run(exchange())
      expect(entries.map((e) => [e.level, e.message])).toStrictEqual([["WARN", "response"], ["INFO", "response"]])
      expect(entries[0]!.fields).toMatchObject({ status: 503, method: "GET", backend: { server: "AmazonS3", "x-amz-id-2": "id2", "cf-ray": "" } })
    }).pipe(Effect.provide(logger))
  })

  it.effect("the response line names the cache status", () => {
    const { entries, logger } = capture()
    return Effect.gen(function*() {
      yield* run(exchange({ responseHeaders: new Headers({ "x-cache": "HIT" }) }))
      yield* run(exchange())
      expect(entries.map((e) => (e.fields as Record<string, unknown>)["cache"])).toStrictEqual(["HIT", "BYPASS"])
    }).pipe(Effect.provide(logger))
  })
})
