/**
 * The Worker bundle in real workerd (Miniflare): the core answers, streams from an S3 backend, caches
 * Source API lookups in the isolate and the Cache API, and fails closed without configuration.
 */
import { createHash, randomBytes } from "node:crypto"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { S3Client } from "@aws-sdk/client-s3"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningMoto, startMoto } from "../e2e/harness/moto.js"
import { motoClient, seedBucket } from "../e2e/harness/s3.js"
import { type RunningSourceApi, startSourceApi } from "../e2e/harness/sourceApi.js"
import { motoConnection, publicProduct } from "./fixtures.js"
import { type RunningWorkerd, startWorkerdProxy, timings } from "./harness.js"

const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }

const BUCKET = "sdp-workerd"
const BIG_SIZE = 8 * 1024 * 1024
const big = randomBytes(BIG_SIZE)
const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex")

const productPath = (account: string, product: string) => `/api/v1/products/${account}/${product}`
const connectionPath = (id: string) => `/api/v1/data-connections/${id}`

let api: RunningSourceApi
let moto: RunningMoto
let s3: S3Client | undefined
const fileStarted = performance.now()

beforeAll(async () => {
  ;[api, moto] = await Promise.all([startSourceApi(), startMoto()])
  s3 = motoClient(moto.endpoint)
  // A private bucket: the Worker reads it with the connection's keys.
  await seedBucket(s3, BUCKET, {
    "acct/prod/hello.txt": "hello from moto\n",
    "acct/prod/big.bin": big,
    "acct/cached/a.txt": "cached product\n",
    "acct/flaky/a.txt": "flaky product\n",
    "acct/shared/a.txt": "shared product\n"
  }, false)
  api.set(connectionPath("moto"), { status: 200, body: motoConnection("moto", moto.endpoint, BUCKET) })
  for (const product of ["prod", "cached", "flaky", "shared"]) {
    const answer = { status: 200, body: publicProduct("acct", product, "moto", `acct/${product}/`) }
    // "flaky": the Source API fails once, then recovers.
    api.set(productPath("acct", product), product === "flaky" ? (call) => (call === 1 ? { status: 500 } : answer) : answer)
  }
})

afterAll(async () => {
  s3?.destroy()
  await Promise.all([moto?.stop(), api?.stop()])
  console.log(
    `[workerd timings] bundle build ${timings.buildMs.toFixed(0)} ms (0 = bundle was fresh), `
      + `workerd starts ${timings.startsMs.map((ms) => `${ms.toFixed(0)} ms`).join(", ")}, `
      + `whole file ${(performance.now() - fileStarted).toFixed(0)} ms`
  )
})

describe("Worker bundle in workerd", () => {
  let proxy: RunningWorkerd

  beforeAll(async () => {
    proxy = await startWorkerdProxy({ SOURCE_API_URL: api.url, LOG_LEVEL: "warn" })
  })

  afterAll(async () => {
    await proxy?.stop()
  })

  it("GET / answers the service name and version as JSON", async () => {
    const response = await fetch(`${proxy.url}/`)
    expect(response.status).toBe(200)
    expect(response.headers.get("content-type")).toContain("application/json")
    expect(await response.json()).toEqual({ name: "Source Data Proxy", version: pkg.version })
  })

  it("reads a public product's object from the S3 backend over loopback", async () => {
    const response = await fetch(`${proxy.url}/acct/prod/hello.txt`)
    expect(response.status).toBe(200)
    expect(await response.text()).toBe("hello from moto\n")
    expect(response.headers.get("etag")).toMatch(/^"[0-9a-f]{32}"$/)
    expect(response.headers.get("access-control-allow-origin")).toBe("*")
  })

  it("streams an 8 MiB object byte-exact", async () => {
    const response = await fetch(`${proxy.url}/acct/prod/big.bin`)
    expect(response.status).toBe(200)
    expect(response.headers.get("content-length")).toBe(String(BIG_SIZE))
    const body = new Uint8Array(await response.arrayBuffer())
    expect(body.byteLength).toBe(BIG_SIZE)
    expect(sha256(body)).toBe(sha256(big))
  })

  it("answers a Range read with 206 and Content-Range", async () => {
    const response = await fetch(`${proxy.url}/acct/prod/big.bin`, { headers: { range: "bytes=1000000-1999999" } })
    expect(response.status).toBe(206)
    expect(response.headers.get("content-range")).toBe(`bytes 1000000-1999999/${BIG_SIZE}`)
    expect(response.headers.get("content-length")).toBe("1000000")
    const body = new Uint8Array(await response.arrayBuffer())
    expect(sha256(body)).toBe(sha256(big.subarray(1_000_000, 2_000_000)))
  })

  it("HEAD answers the object's headers without a body", async () => {
    const response = await fetch(`${proxy.url}/acct/prod/big.bin`, { method: "HEAD" })
    expect(response.status).toBe(200)
    expect(response.headers.get("content-length")).toBe(String(BIG_SIZE))
    expect(await response.text()).toBe("")
  })

  it("caches product and connection lookups across requests", async () => {
    for (let i = 0; i < 4; i++) {
      const response = await fetch(`${proxy.url}/acct/cached/a.txt`)
      expect(response.status).toBe(200)
      expect(await response.text()).toBe("cached product\n")
    }
    expect(api.hits(productPath("acct", "cached"))).toBe(1)
    expect(api.hits(connectionPath("moto"))).toBe(1)
  })

  it("does not cache a Source API failure", async () => {
    const first = await fetch(`${proxy.url}/acct/flaky/a.txt`)
    expect(first.status).toBe(500)
    expect(await first.text()).toContain("<Code>InternalError</Code>")
    expect(api.hits(productPath("acct", "flaky"))).toBe(1)

    const second = await fetch(`${proxy.url}/acct/flaky/a.txt`)
    expect(second.status).toBe(200)
    expect(await second.text()).toBe("flaky product\n")
    expect(api.hits(productPath("acct", "flaky"))).toBe(2)

    // The success is cached, as usual.
    const third = await fetch(`${proxy.url}/acct/flaky/a.txt`)
    expect(third.status).toBe(200)
    await third.arrayBuffer()
    expect(api.hits(productPath("acct", "flaky"))).toBe(2)
  })

  it("answers a missing object with NoSuchKey", async () => {
    const response = await fetch(`${proxy.url}/acct/prod/missing.txt`)
    expect(response.status).toBe(404)
    expect(await response.text()).toContain("<Code>NoSuchKey</Code>")
  })

  // The CORS preflight is in the shared read suite (test/e2e/readSuite.ts), which runs against workerd too.
})

// Production refuses to serve without its configuration (docs/runtimes.md#configuration): every request answers
// 500 XML and the log says why.
describe.each([
  { missing: "SOURCE_API_URL", env: { LOG_LEVEL: "warn" }, logged: "SOURCE_API_URL is not set" },
  {
    missing: "OIDC_PROVIDER_KEY",
    env: { LOG_LEVEL: "warn", SOURCE_API_URL: "http://127.0.0.1:9", OIDC_PROVIDER_KEY: "" },
    logged: "OIDC_PROVIDER_KEY is empty"
  },
  {
    missing: "SESSION_SIGNING_KEY",
    env: { LOG_LEVEL: "warn", SOURCE_API_URL: "http://127.0.0.1:9", SESSION_SIGNING_KEY: "" },
    logged: "SESSION_SIGNING_KEY is empty"
  },
  {
    missing: "SESSION_TOKEN_KEY",
    env: { LOG_LEVEL: "warn", SOURCE_API_URL: "http://127.0.0.1:9", SESSION_TOKEN_KEY: "" },
    logged: "SESSION_TOKEN_KEY must be the base64 of 32 bytes"
  }
])("Worker bundle in workerd without $missing", ({ env, logged }) => {
  let proxy: RunningWorkerd

  beforeAll(async () => {
    proxy = await startWorkerdProxy(env)
  })

  afterAll(async () => {
    await proxy?.stop()
  })

  it("answers 500 InternalError as XML, without a stack trace, and keeps answering", async () => {
    for (const path of ["/acct/prod/hello.txt", "/acct/prod/hello.txt", "/"]) {
      const response = await fetch(`${proxy.url}${path}`)
      expect(response.status).toBe(500)
      expect(response.headers.get("content-type")).toBe("application/xml")
      const body = await response.text()
      expect(body).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<Error><Code>InternalError<\/Code>/)
      expect(body).not.toMatch(/SOURCE_API_URL|OIDC_PROVIDER|SESSION_|\bat .*:\d+|Error:|\.ts\b|\.js\b/)
    }
    // The reason goes to the log, not to the client.
    const deadline = Date.now() + 5_000
    while (!proxy.logs().includes(logged) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    expect(proxy.logs()).toContain(logged)
    // As one JSON line, like every log entry, the stack inside it.
    const line = proxy.logs().split("\n").find((l) => l.includes("request failed outside the pipeline"))
    expect(line).toBeDefined()
    const entry = JSON.parse(line!.slice(line!.indexOf("{"))) as Record<string, unknown>
    expect(entry).toMatchObject({ level: "error", message: "request failed outside the pipeline (runtime could not be built?)" })
    expect(String(entry["cause"])).toContain(logged)
  })
})

describe("Cache API across isolates", () => {
  const cacheDir = mkdtempSync(join(tmpdir(), "sdp-workerd-cache-"))

  afterAll(() => rmSync(cacheDir, { recursive: true, force: true }))

  it("a fresh isolate finds the Source API answers in the colo's Cache API", async () => {
    const read = async (proxy: RunningWorkerd) => {
      const response = await fetch(`${proxy.url}/acct/shared/a.txt`)
      expect(response.status).toBe(200)
      expect(await response.text()).toBe("shared product\n")
    }
    const env = { SOURCE_API_URL: api.url, LOG_LEVEL: "warn" }
    const first = await startWorkerdProxy(env, { cachePersist: cacheDir })
    try {
      await read(first)
    } finally {
      await first.stop()
    }
    const before = api.hits(productPath("acct", "shared"))
    expect(before).toBe(1)

    const second = await startWorkerdProxy(env, { cachePersist: cacheDir })
    try {
      await read(second)
      await read(second)
    } finally {
      await second.stop()
    }
    expect(api.hits(productPath("acct", "shared"))).toBe(before)
  })

  it("a fresh isolate answers ranged reads from the chunks in the colo's Cache API: HIT, the exact bytes and headers", async () => {
    const env = { SOURCE_API_URL: api.url, LOG_LEVEL: "warn", CHUNK_CACHE_CHUNK_BYTES: "65536" }
    // Inside one chunk, and across the boundary of chunks 2 and 3.
    const ranges: ReadonlyArray<readonly [number, number]> = [[1000, 1000 + 16383], [3 * 65536 - 100, 3 * 65536 + 99]]
    const read = (proxy: RunningWorkerd, [start, end]: readonly [number, number]) =>
      fetch(`${proxy.url}/acct/prod/big.bin`, { headers: { range: `bytes=${start}-${end}` } })
    const first = await startWorkerdProxy(env, { cachePersist: cacheDir })
    try {
      for (const range of ranges) {
        // The chunks are stored once the rest of them has arrived, after the answer: read until the isolate has them.
        for (let attempt = 0; ; attempt++) {
          const response = await read(first, range)
          await response.arrayBuffer()
          if (response.headers.get("x-cache") === "HIT") break
          expect(attempt).toBeLessThan(50)
          await new Promise((resolve) => setTimeout(resolve, 50))
        }
      }
      // The colo's copies are written in waitUntil, after the answers.
      await new Promise((resolve) => setTimeout(resolve, 300))
    } finally {
      await first.stop()
    }

    const second = await startWorkerdProxy(env, { cachePersist: cacheDir })
    try {
      for (const [start, end] of ranges) {
        const response = await read(second, [start, end])
        const body = new Uint8Array(await response.arrayBuffer())
        expect(response.status).toBe(206)
        expect(response.headers.get("x-cache")).toBe("HIT")
        expect(response.headers.get("content-length")).toBe(String(end - start + 1))
        expect(response.headers.get("content-range")).toBe(`bytes ${start}-${end}/${BIG_SIZE}`)
        expect(sha256(body)).toBe(sha256(big.subarray(start, end + 1)))
      }
    } finally {
      await second.stop()
    }
  })
})
