/**
 * Telemetry of the Worker bundle in workerd: one Analytics Engine data point per response in the Rust
 * worker's layout (plus the cache status), the location broadcast to PUBLIC_LOG_STREAM, and logs as JSON
 * lines. Miniflare's own Analytics Engine keeps nothing, so the data points are read from a stand-in dataset
 * (a wrapped binding in the Worker's isolate, test/workerd/serve.ts) that prints them; one run binds
 * Miniflare's real dataset to show the Worker writes to it without failing.
 */
import { createHmac } from "node:crypto"
import type { S3Client } from "@aws-sdk/client-s3"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningMoto, startMoto } from "../e2e/harness/moto.js"
import { motoClient, seedBucket } from "../e2e/harness/s3.js"
import { type RunningSourceApi, startSourceApi } from "../e2e/harness/sourceApi.js"
import { motoConnection, publicProduct } from "./fixtures.js"
import { type RunningWorkerd, startWorkerdProxy } from "./harness.js"

const BUCKET = "sdp-workerd-telemetry"
const SALT = "test-salt"

let api: RunningSourceApi
let moto: RunningMoto
let s3: S3Client | undefined

beforeAll(async () => {
  ;[api, moto] = await Promise.all([startSourceApi(), startMoto()])
  s3 = motoClient(moto.endpoint)
  await seedBucket(s3, BUCKET, { "acct/prod/dir/hello.txt": "hello from moto\n" }, false)
  api.set("/api/v1/data-connections/moto", { status: 200, body: motoConnection("moto", moto.endpoint, BUCKET) })
  api.set("/api/v1/products/acct/prod", { status: 200, body: publicProduct("acct", "prod", "moto", "acct/prod/") })
})

afterAll(async () => {
  s3?.destroy()
  await Promise.all([moto?.stop(), api?.stop()])
})

/** The lines starting with `prefix` the Worker printed so far, each parsed after the prefix. */
const printed = (proxy: RunningWorkerd, prefix: string): Array<string> =>
  proxy.logs().split("\n").filter((line) => line.startsWith(`${prefix} `)).map((line) => line.slice(prefix.length + 1))

/** Telemetry runs after the response (waitUntil): wait, within a bound, until `count` lines are there. */
const eventually = async (proxy: RunningWorkerd, prefix: string, count: number) => {
  const deadline = Date.now() + 10_000
  while (printed(proxy, prefix).length < count && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
  return printed(proxy, prefix)
}

interface DataPoint {
  readonly indexes: Array<string>
  readonly blobs: Array<string>
  readonly doubles: Array<number>
}

describe("Worker telemetry in workerd (a recording ANALYTICS dataset)", () => {
  let proxy: RunningWorkerd

  beforeAll(async () => {
    proxy = await startWorkerdProxy({ SOURCE_API_URL: api.url, LOG_LEVEL: "info", IP_HASH_SALT: SALT }, { telemetry: "record" })
  })

  afterAll(async () => {
    await proxy?.stop()
  })

  it("a ranged GET: one data point with the Rust layout and the cache status, and its place sent to the public log stream", async () => {
    const response = await fetch(`${proxy.url}/acct/prod/dir/hello.txt`, {
      headers: {
        range: "bytes=0-4",
        "cf-connecting-ip": "198.51.100.7",
        "cf-ipcountry": "NZ",
        "x-source-user-id": "user-42",
        // Miniflare's way to set request.cf.
        "MF-CF-Blob": JSON.stringify({ latitude: "-36.85", longitude: "174.76", city: "Auckland", colo: "AKL" })
      }
    })
    expect([response.status, await response.text()]).toStrictEqual([206, "hello"])

    const [point, ...more] = (await eventually(proxy, "ANALYTICS", 1)).map((line) => JSON.parse(line) as DataPoint)
    expect(more).toHaveLength(0)
    expect(point).toMatchObject({
      indexes: ["acct/prod"],
      blobs: [
        "acct",
        "prod",
        "dir/hello.txt",
        "GET",
        "user-42",
        "NZ",
        response.headers.get("content-type") ?? "",
        createHmac("sha256", SALT).update("198.51.100.7").digest("hex"),
        "0-4",
        "MISS"
      ]
    })
    expect(point!.doubles.slice(0, 2)).toStrictEqual([5, 206])
    expect(point!.doubles[2]).toBeGreaterThanOrEqual(0)

    const [broadcast] = await eventually(proxy, "PUBLIC_LOG_STREAM", 1)
    expect(broadcast).toMatch(/^POST https:\/\/public-log-stream\/location /)
    expect(JSON.parse(broadcast!.replace(/^POST \S+ /, ""))).toStrictEqual({
      account_id: "acct",
      product_id: "prod",
      path: "dir/hello.txt",
      lat: -36.85,
      lon: 174.76,
      city: "Auckland",
      colo: "AKL",
      country: "NZ"
    })
  })

  it("no data point for a preflight or the proxy's own endpoints; one for an error, without a broadcast", async () => {
    const before = printed(proxy, "ANALYTICS").length
    const broadcasts = printed(proxy, "PUBLIC_LOG_STREAM").length
    expect((await fetch(`${proxy.url}/acct/prod/dir/hello.txt`, { method: "OPTIONS" })).status).toBe(204)
    expect((await fetch(`${proxy.url}/.well-known/jwks.json`)).status).toBe(200)
    const missing = await fetch(`${proxy.url}/acct/prod/none.txt`, {
      headers: { "MF-CF-Blob": JSON.stringify({ latitude: "1", longitude: "2" }) }
    })
    expect(missing.status).toBe(404)
    const points = (await eventually(proxy, "ANALYTICS", before + 1)).slice(before).map((line) => JSON.parse(line) as DataPoint)
    expect(points.map((p) => [p.blobs[2], p.doubles[1]])).toStrictEqual([["none.txt", 404]])
    expect(printed(proxy, "PUBLIC_LOG_STREAM")).toHaveLength(broadcasts)
  })

  it("logs are one JSON object per line, each with the request's id (its cf-ray)", async () => {
    await fetch(`${proxy.url}/acct/prod/dir/hello.txt`, { headers: { "cf-ray": "8d1e2f3a4b5c6d7e-AKL" } })
    const deadline = Date.now() + 10_000
    const responseLine = () =>
      proxy.logs().split("\n").find((line) => line.includes("\"requestId\":\"8d1e2f3a4b5c6d7e-AKL\"") && line.includes("\"message\":\"response\""))
    while (responseLine() === undefined && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
    const line = responseLine()
    expect(line, proxy.logs().slice(-3_000)).toBeDefined()
    expect(JSON.parse(line!.slice(line!.indexOf("{")))).toMatchObject({
      level: "info",
      message: "response",
      status: 200,
      method: "GET",
      path: "/acct/prod/dir/hello.txt",
      requestId: "8d1e2f3a4b5c6d7e-AKL"
    })
  })
})

describe("Worker telemetry in workerd (Miniflare's Analytics Engine)", () => {
  let proxy: RunningWorkerd

  beforeAll(async () => {
    proxy = await startWorkerdProxy({ SOURCE_API_URL: api.url, LOG_LEVEL: "warn", IP_HASH_SALT: SALT }, { telemetry: "miniflare" })
  })

  afterAll(async () => {
    await proxy?.stop()
  })

  it("reads answer as usual and no data point fails to be written", async () => {
    for (let i = 0; i < 3; i++) {
      const response = await fetch(`${proxy.url}/acct/prod/dir/hello.txt`, { headers: { "cf-connecting-ip": "192.0.2.1" } })
      expect([response.status, await response.text()]).toStrictEqual([200, "hello from moto\n"])
    }
    await fetch(`${proxy.url}/`)
    expect(proxy.logs()).not.toMatch(/analytics data point not written|ANALYTICS binding is missing|telemetry failed/)
  })
})
