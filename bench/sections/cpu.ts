/**
 * Per-request CPU time of the core, in-process and without HTTP: `handle` from src/core/pipeline.ts run by
 * one ManagedRuntime built from the real layers (SourceApiCatalog + MemoryEdgeCache + RemoteStorage/S3Provider)
 * over a stub Upstream that answers instantly from memory. After the first request the catalog lookups are
 * cache hits, so what is measured is the proxy's own work per request (plus the stub's `new Response`).
 * The signed cases read the same object with a session issued by `SessionKeys.issue` and signed by aws4fetch
 * (header auth, presigned URL): SigV4 verification, the ES256 session token and the jti deny-list are added.
 */
import { Duration, Effect, Layer, Logger, ManagedRuntime, Option } from "effect"
import type { S3Request } from "../../src/core/http/S3Request.js"
import { handle } from "../../src/core/pipeline.js"
import { AppConfig } from "../../src/core/services/AppConfig.js"
import { SessionKeys } from "../../src/core/session/SessionKeys.js"
import { Upstream, type UpstreamRequest } from "../../src/core/services/Upstream.js"
import { jsonLine } from "../../src/layers/jsonLogger.js"
import { minimumLogLevel } from "../../src/layers/logLevel.js"
import { MemoryEdgeCache } from "../../src/layers/MemoryEdgeCache.js"
import { BunServices } from "../../src/platform/bun/live.js"
import { NodeCryptoHmac } from "../../src/platform/bun/NodeCryptoHmac.js"
import { DEV_KEYS_FILE, ensureDevKeys } from "../../src/platform/bun/devKeys.js"
import { randomRequestId, serve } from "../../src/platform/web.js"
import {
  ACCOUNT,
  BUCKET,
  CONNECTION,
  connectionJson,
  listBucketResult,
  OBJECT_KEY,
  PRODUCT,
  productJson,
  WRITE_CONNECTION,
  WRITE_PRODUCT,
  writeConnectionJson,
  writeProductJson
} from "../fixture.js"
import { amzDate, benchGrant, signedS3Request } from "./auth.js"
import { log } from "../settings.js"
import { median } from "../stats.js"

const API = "http://source-api.invalid"
const BACKEND = "http://backend.invalid"
const PROXY = "http://proxy.invalid"

const productText = JSON.stringify(productJson)
const productsText = JSON.stringify({ products: [productJson] })
const connectionText = JSON.stringify(connectionJson(BACKEND))
// The same bucket behind stored keys: every read is signed on its way to the backend.
const signedProductText = JSON.stringify(writeProductJson)
const signedConnectionText = JSON.stringify(writeConnectionJson(BACKEND))
const listingText = listBucketResult(100, "k/", 1234)
const bigListingText = listBucketResult(1000, "big/", 1234)
const objectBody = "0123456789abcdef"
const objectHeaders = {
  "content-type": "application/octet-stream",
  "content-length": String(objectBody.length),
  etag: "\"e0\"",
  "last-modified": "Wed, 01 Jan 2025 00:00:00 GMT",
  "x-amz-request-id": "backend-id"
}

/** Counts calls so the report can show that the catalog really is served from the cache. */
export const stubCalls = { api: 0, backend: 0 }

const answer = (request: UpstreamRequest): Response => {
  const url = request.url
  if (url.startsWith(API)) {
    stubCalls.api++
    const path = url.slice(API.length)
    if (path === `/api/v1/products/${ACCOUNT}/${PRODUCT}`) return new Response(productText, { status: 200 })
    if (path === `/api/v1/products/${ACCOUNT}`) return new Response(productsText, { status: 200 })
    if (path === `/api/v1/data-connections/${CONNECTION}`) return new Response(connectionText, { status: 200 })
    if (path === `/api/v1/products/${ACCOUNT}/${WRITE_PRODUCT}`) return new Response(signedProductText, { status: 200 })
    if (path === `/api/v1/data-connections/${WRITE_CONNECTION}`) return new Response(signedConnectionText, { status: 200 })
    return new Response("{\"error\":\"not found\"}", { status: 404 })
  }
  stubCalls.backend++
  if (url.startsWith(`${BACKEND}/${BUCKET}?`)) {
    return new Response(url.includes("prefix=big%2F") ? bigListingText : listingText, { status: 200, headers: { "content-type": "application/xml" } })
  }
  if (url.startsWith(`${BACKEND}/${BUCKET}/`)) {
    return new Response(request.method === "HEAD" ? null : objectBody, { status: 200, headers: objectHeaders })
  }
  return new Response("<Error><Code>NoSuchBucket</Code></Error>", { status: 404 })
}

const StubUpstream = Layer.succeed(Upstream, Upstream.of({ fetch: (request) => Effect.sync(() => answer(request)) }))

const Settings = Layer.succeed(AppConfig, AppConfig.of({
  sourceApiUrl: Option.some(API),
  sourceApiTimeout: Duration.seconds(5),
  backendTimeout: Duration.seconds(15),
  awsStsEndpoint: "http://127.0.0.1:1",
  federationTimeout: Duration.seconds(10),
  allowPrivateEndpoints: false,
  // Every read goes to the (stub) backend: these are the uncached path's costs (section 9 measures the cache).
  chunkCache: Option.none()
}))

/** Log lines the cases wrote (the access log of signed reads): formatted as the shells format them, then dropped. */
export const logSink = { lines: 0, bytes: 0 }

/** The shells' JSON-lines logger minus the console write, so the bench's stdout stays a report. */
const CountingJsonLogger = Logger.replace(
  Logger.defaultLogger,
  Logger.make((options) => {
    logSink.lines++
    logSink.bytes += jsonLine(options).length
  })
)

const Platform = Layer.mergeAll(Settings, StubUpstream, MemoryEdgeCache(10_000), NodeCryptoHmac, CountingJsonLogger)

/** The same composition as src/platform/bun/main.ts with the Source API, minus the real fetch. */
const Live = BunServices(undefined, ":memory:", Platform).pipe(Layer.provide(minimumLogLevel("error")))

const s3Request = (method: string, path: string): S3Request => ({
  method,
  url: new URL(`${PROXY}${path}`),
  headers: new Headers(),
  body: null,
  requestId: "bench-request-id"
})

/** The rows `authCpuOf` compares: authenticated GET / anonymous GET. */
export const CPU_CASES = {
  anonymousGet: "GET object",
  headerAuthGet: "GET object, signed (session, header auth)",
  presignedGet: "GET object, signed (session, presigned URL)"
} as const

export interface CpuRow {
  readonly name: string
  readonly status: number
  readonly iterations: number
  /** CPU (user + system, all threads of this process) per request, median over the chunks. */
  readonly cpuUsPerRequest: number
  readonly cpuUsMin: number
  readonly wallUsPerRequest: number
  /** Source API calls the stub answered during the measured loop (0 when every lookup is a cache hit). */
  readonly apiCalls: number
}

export interface CpuOptions {
  readonly iterations: number
  readonly warmup: number
  readonly chunks: number
  /** Upper bound for one case's measured loop. */
  readonly maxMillis: number
}

const cpuMicros = (usage: NodeJS.CpuUsage) => usage.user + usage.system

export const runCpuBench = async (options: CpuOptions): Promise<ReadonlyArray<CpuRow>> => {
  log("core CPU per request (in-process)…")
  await ensureDevKeys(process.env, PROXY, DEV_KEYS_FILE)
  const runtime = ManagedRuntime.make(Live)
  try {
    await runtime.runtime()
    const objectPath = `/${ACCOUNT}/${PRODUCT}/${OBJECT_KEY}`
    const session = await runtime.runPromise(Effect.flatMap(SessionKeys, (keys) => keys.issue(benchGrant)))
    const signedGet = (presign: boolean) =>
      signedS3Request({
        method: "GET",
        url: `${PROXY}${objectPath}`,
        headers: {},
        accessKeyId: session.accessKeyId,
        secretAccessKey: session.secretAccessKey,
        sessionToken: session.sessionToken,
        presign,
        datetime: amzDate(Date.now())
      })
    const headerSigned = await signedGet(false)
    const presigned = await signedGet(true)
    interface Case {
      readonly name: string
      readonly expect: number
      readonly once: () => Promise<number>
      /** Scales warm-up and iterations down for the expensive cases. */
      readonly weight?: number
      readonly verify?: (() => Promise<void>) | undefined
    }
    const cases: ReadonlyArray<Case> = [
      { name: "floor: runPromise(Effect.void)", expect: 0, once: () => runtime.runPromise(Effect.as(Effect.void, 0)) },
      {
        name: "floor: stub Upstream answer",
        expect: 200,
        once: () =>
          runtime.runPromise(Effect.sync(() =>
            answer({ method: "GET", url: `${BACKEND}/${BUCKET}/${OBJECT_KEY}`, headers: new Headers(), timeout: 1000 })
              .status
          ))
      },
      ...([
        [CPU_CASES.anonymousGet, s3Request("GET", objectPath), 200, 1],
        ["GET object, backend signed (stored keys)", s3Request("GET", `/${ACCOUNT}/${WRITE_PRODUCT}/${OBJECT_KEY}`), 200, 1],
        // As many as the anonymous GET they are compared with: fewer left them measured while JSC still compiled.
        [CPU_CASES.headerAuthGet, headerSigned, 200, 1],
        [CPU_CASES.presignedGet, presigned, 200, 1],
        ["HEAD object", s3Request("HEAD", objectPath), 200, 1],
        ["GET object, Range header", { ...s3Request("GET", objectPath), headers: new Headers({ range: "bytes=0-15" }) }, 200, 1],
        ["LIST product (100 keys)", s3Request("GET", `/${ACCOUNT}/${PRODUCT}?list-type=2`), 200, 0.1, 100],
        ["LIST product (1000 keys)", s3Request("GET", `/${ACCOUNT}/${PRODUCT}?list-type=2&prefix=big%2F`), 200, 0.01, 1000],
        ["LIST account (1 product)", s3Request("GET", `/${ACCOUNT}?list-type=2&delimiter=%2F`), 200, 1],
        ["error: NoSuchBucket", s3Request("GET", `/${ACCOUNT}/missing/${OBJECT_KEY}`), 404, 1]
      ] as const).map(([name, request, expect, weight, keys]) => ({
        name,
        expect,
        weight,
        once: () => runtime.runPromise(handle(request)).then((reply) => reply.status),
        // A listing must really carry its keys, or the case measures something else.
        verify: keys === undefined ? undefined : () =>
          runtime.runPromise(handle(request)).then((reply) => {
            const found = typeof reply.body === "string" ? reply.body.split("<Contents>").length - 1 : -1
            if (found !== keys) throw new Error(`${name}: ${found} keys in the reply, expected ${keys}`)
          })
      })),
      {
        name: "GET object via web.ts serve()",
        expect: 200,
        // The shell too: Request → URL, requestId (randomUUID), Reply → Response.
        once: () => serve(runtime, new Request(`${PROXY}${objectPath}`), randomRequestId).then((response) => response.status)
      }
    ]

    // `BENCH_CPU_CASES=LIST,signed` runs only the cases whose names contain one of the words (for a profiler).
    const only = (process.env.BENCH_CPU_CASES ?? "").split(",").map((w) => w.trim()).filter((w) => w !== "")
    const rows: Array<CpuRow> = []
    for (const c of cases.filter((c) => only.length === 0 || only.some((w) => c.name.includes(w)))) {
      const weight = c.weight ?? 1
      await c.verify?.()
      for (let i = 0; i < Math.max(10, Math.round(options.warmup * weight)); i++) {
        const status = await c.once()
        if (status !== c.expect) throw new Error(`${c.name}: status ${status}, expected ${c.expect}`)
      }
      Bun.gc(true)
      const perChunk = Math.max(1, Math.floor((options.iterations * weight) / options.chunks))
      const cpu: Array<number> = []
      const wall: Array<number> = []
      const apiBefore = stubCalls.api
      const started = performance.now()
      let done = 0
      for (let k = 0; k < options.chunks && performance.now() - started < options.maxMillis; k++) {
        const c0 = process.cpuUsage()
        const t0 = performance.now()
        let n = 0
        while (n < perChunk && performance.now() - started < options.maxMillis) {
          await c.once()
          n++
        }
        cpu.push(cpuMicros(process.cpuUsage(c0)) / n)
        wall.push(((performance.now() - t0) * 1000) / n)
        done += n
      }
      rows.push({
        name: c.name,
        status: c.expect,
        iterations: done,
        cpuUsPerRequest: median(cpu),
        cpuUsMin: Math.min(...cpu),
        wallUsPerRequest: median(wall),
        apiCalls: stubCalls.api - apiBefore
      })
    }
    return rows
  } finally {
    await runtime.dispose()
  }
}

export interface AuthCpu {
  readonly anonymousUs: number
  readonly headerAuthUs: number
  readonly presignedUs: number
  readonly headerOverAnonymous: number
  readonly presignedOverAnonymous: number
}

/** Signed / anonymous GET, from the rows of `CPU_CASES`. */
export const authCpuOf = (rows: ReadonlyArray<CpuRow>): AuthCpu => {
  const us = (name: string) => rows.find((r) => r.name === name)?.cpuUsPerRequest ?? Number.NaN
  const anonymousUs = us(CPU_CASES.anonymousGet)
  const headerAuthUs = us(CPU_CASES.headerAuthGet)
  const presignedUs = us(CPU_CASES.presignedGet)
  return {
    anonymousUs,
    headerAuthUs,
    presignedUs,
    headerOverAnonymous: headerAuthUs / anonymousUs,
    presignedOverAnonymous: presignedUs / anonymousUs
  }
}
