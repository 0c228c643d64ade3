import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, FastCheck as fc, Layer, Logger, LogLevel, Option, TestClock } from "effect"
import type { ObjectRead, ObjectStore, ReadError } from "../../src/core/backends/ObjectStore.js"
import { Storage } from "../../src/core/backends/ObjectStore.js"
import { storageOf } from "../../src/core/backends/Storage.js"
import type { Reply } from "../../src/core/http/Reply.js"
import { executeRead } from "../../src/core/operations/read.js"
import { handle } from "../../src/core/pipeline.js"
import { NoSuchKey } from "../../src/core/s3/errors.js"
import { resolveRange } from "../../src/core/s3/range.js"
import { AppConfig } from "../../src/core/services/AppConfig.js"
import { type CatalogDocument, LocalCatalog } from "../../src/layers/LocalCatalog.js"
import { MemoryEdgeCache } from "../../src/layers/MemoryEdgeCache.js"
import { WebCryptoHmac } from "../../src/layers/WebCryptoHmac.js"
import { sessionIdentity } from "../fixtures/identities.js"
import { answerRead } from "../fixtures/memoryStore.js"
import { s3Request } from "../fixtures/requests.js"
import { FixedOidcProvider, NoSts } from "../fixtures/services.js"
import { settings } from "../fixtures/stubUpstream.js"

/** Small chunks, so a few dozen bytes span several. */
const CHUNK = 16

const document: CatalogDocument = {
  accounts: ["demo"],
  products: [
    { account_id: "demo", product_id: "open", visibility: "public", disabled: false, metadata: { primary_mirror: "m", mirrors: { m: { connection_id: "c", prefix: "open/" } } } },
    { account_id: "demo", product_id: "closed", visibility: "restricted", disabled: false, metadata: { primary_mirror: "m", mirrors: { m: { connection_id: "c", prefix: "closed/" } } } }
  ],
  data_connections: [{ data_connection_id: "c", read_only: true, details: { provider: "counted", bucket: "b" } }]
}

interface Seen {
  readonly method: string
  readonly range: string | null
  readonly ifMatch: string | null
}

const bytesOf = (size: number, seed: number) => Uint8Array.from({ length: size }, (_, i) => (i * 7 + seed * 13) & 0xff)

/**
 * A backend as S3 answers: HEAD and GET with range and preconditions, bodies streamed in 5-byte pieces. Every
 * request is recorded; `put` replaces an object (a new ETag), as another writer would.
 */
const countedStore = () => {
  const objects = new Map<string, { readonly bytes: Uint8Array; readonly etag: string }>()
  const seen: Array<Seen> = []
  let version = 0
  const put = (key: string, bytes: Uint8Array) => objects.set(key, { bytes, etag: `"v${++version}"` })
  const lastModified = new Date("2025-01-01T00:00:00Z")
  const headers = { "content-type": "image/tiff", "x-amz-meta-origin": "counted", "x-amz-request-id": "backend-request" }
  // Recorded when the read runs, not when it is built.
  const read = (request: ObjectRead): Effect.Effect<Reply, ReadError> => Effect.suspend(() => {
    seen.push({ method: request.method, range: request.headers.get("range"), ifMatch: request.headers.get("if-match") })
    const found = objects.get(request.key)
    if (found === undefined) return Effect.fail(new NoSuchKey({ key: request.key }))
    return answerRead(request, { size: found.bytes.length, etag: found.etag, lastModified, headers }, (start, end) => {
      const part = found.bytes.slice(start, end)
      let at = 0
      return new ReadableStream<Uint8Array>({
        pull: (controller) => {
          if (at >= part.length) return controller.close()
          controller.enqueue(part.slice(at, at + 5))
          at += 5
        }
      })
    })
  })
  const store: ObjectStore = { read, list: () => Effect.die("unused") }
  return { put, seen, store }
}

const setup = (maxChunks = 4) => {
  const backend = countedStore()
  const layer = Layer.mergeAll(
    LocalCatalog(document),
    Layer.succeed(Storage, storageOf({ counted: () => Effect.succeed(backend.store) })),
    Layer.succeed(AppConfig, {
      ...settings,
      chunkCache: Option.some({ chunkSize: CHUNK, ttl: Duration.days(1), metaTtl: Duration.seconds(60), maxChunks })
    }),
    MemoryEdgeCache(1000),
    FixedOidcProvider,
    NoSts,
    WebCryptoHmac
  )
  return { backend, layer }
}

interface Answer {
  readonly status: number
  readonly headers: Headers
  readonly bytes: Uint8Array
}

const get = (path: string, headers: Record<string, string> = {}) =>
  Effect.gen(function*() {
    const reply = yield* handle(s3Request("GET", path, { headers })).pipe(Logger.withMinimumLogLevel(LogLevel.None))
    const bytes = yield* Effect.promise(() => new Response(reply.body).bytes())
    // Chunks are stored as a body passes through, in forked fibers: let them land.
    yield* Effect.yieldNow()
    return { status: reply.status, headers: reply.headers, bytes } satisfies Answer
  })

const contentRange = (answer: Answer) => answer.headers.get("content-range")

describe("chunk cache (ADR-009): public GETs through aligned chunks", () => {
  it.effect("a miss fetches the aligned chunk once; the same range again is a HIT with no backend request", () => {
    const { backend, layer } = setup()
    const object = bytesOf(100, 1)
    backend.put("open/a.tif", object)
    return Effect.gen(function*() {
      const first = yield* get("/demo/open/a.tif", { range: "bytes=20-25" })
      expect([first.status, first.headers.get("x-cache"), contentRange(first)]).toStrictEqual([206, "MISS", "bytes 20-25/100"])
      expect(first.bytes).toStrictEqual(object.slice(20, 26))
      expect(first.headers.get("content-length")).toBe("6")
      expect(first.headers.get("etag")).toBe(`"v1"`)
      expect(first.headers.get("x-amz-meta-origin")).toBe("counted")
      // The backend's own request id names another exchange: the client gets the proxy's.
      expect(first.headers.get("x-amz-request-id")).toBe("req-1")
      expect(backend.seen).toStrictEqual([
        { method: "HEAD", range: null, ifMatch: null },
        { method: "GET", range: "bytes=16-31", ifMatch: `"v1"` }
      ])
      const second = yield* get("/demo/open/a.tif", { range: "bytes=17-30" })
      expect([second.status, second.headers.get("x-cache"), contentRange(second)]).toStrictEqual([206, "HIT", "bytes 17-30/100"])
      expect(second.bytes).toStrictEqual(object.slice(17, 31))
      expect(backend.seen).toHaveLength(2)
    }).pipe(Effect.provide(layer))
  })

  it.effect("a range over cached and missing chunks is PARTIAL: one request per run of missing chunks", () => {
    const { backend, layer } = setup()
    const object = bytesOf(100, 2)
    backend.put("open/a.tif", object)
    return Effect.gen(function*() {
      yield* get("/demo/open/a.tif", { range: "bytes=40-41" }) // chunk 2
      const partial = yield* get("/demo/open/a.tif", { range: "bytes=5-60" }) // chunks 0..3
      expect([partial.status, partial.headers.get("x-cache"), contentRange(partial)]).toStrictEqual([206, "PARTIAL", "bytes 5-60/100"])
      expect(partial.bytes).toStrictEqual(object.slice(5, 61))
      expect(backend.seen.slice(2).map((s) => s.range)).toStrictEqual(["bytes=0-31", "bytes=48-63"])
    }).pipe(Effect.provide(layer))
  })

  it.effect("a whole small object is cached whole; a larger one, and a range over too many chunks, stream past the cache", () => {
    const { backend, layer } = setup(2)
    const small = bytesOf(12, 3)
    const large = bytesOf(100, 4)
    backend.put("open/small.json", small)
    backend.put("open/large.bin", large)
    return Effect.gen(function*() {
      const miss = yield* get("/demo/open/small.json")
      const hit = yield* get("/demo/open/small.json")
      expect([miss.status, miss.headers.get("x-cache"), hit.headers.get("x-cache")]).toStrictEqual([200, "MISS", "HIT"])
      expect([hit.bytes, hit.headers.get("content-length"), contentRange(hit)]).toStrictEqual([small, "12", null])
      const whole = yield* get("/demo/open/large.bin")
      expect([whole.status, whole.headers.get("x-cache")]).toStrictEqual([200, "BYPASS"])
      expect(whole.bytes).toStrictEqual(large)
      const wide = yield* get("/demo/open/large.bin", { range: "bytes=0-47" })
      expect([wide.status, wide.headers.get("x-cache"), wide.bytes]).toStrictEqual([206, "BYPASS", large.slice(0, 48)])
      // The bypassed reads went to the backend with the client's own Range.
      expect(backend.seen.filter((s) => s.method === "GET" && s.ifMatch === null).map((s) => s.range)).toStrictEqual([null, "bytes=0-47"])
    }).pipe(Effect.provide(layer))
  })

  it.effect("conditionals are answered from the cached metadata, in S3's order; an unsatisfiable range is 416", () => {
    const { backend, layer } = setup()
    backend.put("open/a.tif", bytesOf(40, 5))
    return Effect.gen(function*() {
      yield* get("/demo/open/a.tif", { range: "bytes=0-0" })
      const before = backend.seen.length
      const notModified = yield* get("/demo/open/a.tif", { "if-none-match": `"v1"`, range: "bytes=0-3" })
      expect([notModified.status, notModified.headers.get("x-cache"), notModified.headers.get("etag")]).toStrictEqual([304, "HIT", `"v1"`])
      const since = yield* get("/demo/open/a.tif", { "if-modified-since": "Wed, 01 Jan 2025 00:00:00 GMT" })
      expect(since.status).toBe(304)
      const failed = yield* get("/demo/open/a.tif", { "if-match": `"other"`, "if-none-match": `"v1"` })
      expect(failed.status).toBe(412)
      const unsatisfiable = yield* get("/demo/open/a.tif", { range: "bytes=40-50" })
      expect([unsatisfiable.status, new TextDecoder().decode(unsatisfiable.bytes)]).toSatisfy(([status, body]) =>
        status === 416 && String(body).includes("<Code>InvalidRange</Code>"))
      expect(backend.seen.length).toBe(before)
    }).pipe(Effect.provide(layer))
  })

  it.effect("an object changed under cached metadata: the chunk's If-Match fails and the read is fresh, never stale bytes", () => {
    const { backend, layer } = setup()
    backend.put("open/a.tif", bytesOf(64, 6))
    return Effect.gen(function*() {
      yield* get("/demo/open/a.tif", { range: "bytes=0-3" })
      const replaced = bytesOf(64, 7)
      backend.put("open/a.tif", replaced) // ETag "v2"; the cache still holds "v1"'s metadata
      const changed = yield* get("/demo/open/a.tif", { range: "bytes=40-43" })
      expect([changed.status, changed.headers.get("x-cache"), changed.headers.get("etag")]).toStrictEqual([206, "BYPASS", `"v2"`])
      expect(changed.bytes).toStrictEqual(replaced.slice(40, 44))
      // The metadata was dropped: the next read asks the backend again and caches the new version.
      const next = yield* get("/demo/open/a.tif", { range: "bytes=0-3" })
      expect([next.headers.get("x-cache"), next.headers.get("etag"), next.bytes]).toStrictEqual(["MISS", `"v2"`, replaced.slice(0, 4)])
    }).pipe(Effect.provide(layer))
  })

  it.effect("a fully cached range of a changed object is served until the metadata's TTL, then read fresh", () => {
    const { backend, layer } = setup()
    const original = bytesOf(32, 8)
    backend.put("open/a.tif", original)
    return Effect.gen(function*() {
      yield* get("/demo/open/a.tif", { range: "bytes=0-3" })
      const replaced = bytesOf(32, 9)
      backend.put("open/a.tif", replaced)
      const within = yield* get("/demo/open/a.tif", { range: "bytes=0-3" })
      expect([within.headers.get("x-cache"), within.bytes]).toStrictEqual(["HIT", original.slice(0, 4)])
      yield* TestClock.adjust("61 seconds")
      const after = yield* get("/demo/open/a.tif", { range: "bytes=0-3" })
      expect([after.headers.get("x-cache"), after.headers.get("etag"), after.bytes]).toStrictEqual(["MISS", `"v2"`, replaced.slice(0, 4)])
    }).pipe(Effect.provide(layer))
  })

  it.effect("a restricted product is never cached: its reads go to the backend as sent, x-cache BYPASS", () => {
    const { backend, layer } = setup()
    backend.put("closed/a.tif", bytesOf(40, 10))
    const session = sessionIdentity({ account_id: "demo", assumed_by: "demo" })
    return Effect.gen(function*() {
      for (let i = 0; i < 2; i++) {
        const reply = yield* executeRead(s3Request("GET", "/demo/closed/a.tif", { headers: { range: "bytes=1-2" } }),
          { _tag: "GetObject", target: { account: "demo", product: "closed", key: "a.tif" } }, session)
        expect([reply.status, reply.headers.get("x-cache")]).toStrictEqual([206, "BYPASS"])
        yield* Effect.promise(() => new Response(reply.body).bytes())
      }
      expect(backend.seen).toStrictEqual([
        { method: "GET", range: "bytes=1-2", ifMatch: null },
        { method: "GET", range: "bytes=1-2", ifMatch: null }
      ])
    }).pipe(Effect.provide(layer))
  })

  it.effect("concurrent misses each fetch for themselves: no request waits on another", () => {
    const { backend, layer } = setup()
    const object = bytesOf(64, 11)
    backend.put("open/a.tif", object)
    return Effect.gen(function*() {
      const answers = yield* Effect.all([get("/demo/open/a.tif", { range: "bytes=1-2" }), get("/demo/open/a.tif", { range: "bytes=3-4" })],
        { concurrency: 2 })
      expect(answers.map((a) => a.bytes)).toStrictEqual([object.slice(1, 3), object.slice(3, 5)])
      expect(backend.seen.filter((s) => s.ifMatch !== null)).toHaveLength(2)
    }).pipe(Effect.provide(layer))
  })

  it.effect.prop("every range of a random object, read in any order, is the object's bytes with S3's headers", [
    fc.integer({ min: 1, max: 90 }).chain((size) =>
      fc.tuple(
        fc.constant(size),
        fc.array(fc.oneof(
          fc.tuple(fc.nat(size - 1), fc.nat(size - 1)).map(([a, b]) => `bytes=${Math.min(a, b)}-${Math.max(a, b)}`),
          fc.nat(size - 1).map((a) => `bytes=${a}-`),
          fc.integer({ min: 1, max: size + 5 }).map((n) => `bytes=-${n}`)
        ), { minLength: 1, maxLength: 8 })
      ))
  ], ([[size, ranges]]) => {
    const { backend, layer } = setup(16)
    const object = bytesOf(size, size)
    backend.put("open/r.bin", object)
    return Effect.gen(function*() {
      for (const header of ranges) {
        const answer = yield* get("/demo/open/r.bin", { range: header })
        const range = resolveRange(header, size)
        const [start, end] = range._tag === "Partial" ? [range.start, range.end] : [0, size - 1]
        expect(answer.bytes).toStrictEqual(object.slice(start, end + 1))
        expect(answer.headers.get("content-length")).toBe(String(end - start + 1))
        expect(contentRange(answer)).toBe(range._tag === "Partial" ? `bytes ${start}-${end}/${size}` : null)
        expect(["HIT", "MISS", "PARTIAL"]).toContain(answer.headers.get("x-cache"))
      }
    }).pipe(Effect.provide(layer))
  }, { fastCheck: { numRuns: 40 } })
})
