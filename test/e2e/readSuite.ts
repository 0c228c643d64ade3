import { createHash } from "node:crypto"
import { get as httpGet, type IncomingHttpHeaders } from "node:http"
import { gzipSync } from "node:zlib"
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { runAws, runBoto3 } from "./harness/clients.js"
import { startMoto } from "./harness/moto.js"
import { freePort } from "../fakes/processes.js"
import type { RunningProxy, StartProxy } from "./harness/proxy.js"
import { anonymousClient, byteOrder, encodeKey, motoClient, readFromMoto, seedBucket } from "./harness/s3.js"
import { startRecordingForwarder, startSilentServer } from "./harness/servers.js"
import { type RunningSourceApi, startSourceApi } from "./harness/sourceApi.js"
import { parseError, parseList } from "./harness/xml.js"
import { AwsV4Signer } from "aws4fetch"

// ---------------------------------------------------------------------------------------------------
// Fixtures: what the backend (moto) holds and what the Source API says about it.
// ---------------------------------------------------------------------------------------------------

const ACCOUNT = "e2e-org"
const DATA_BUCKET = "e2e-data"
const KEYED_BUCKET = "e2e-keyed"
const KEYED_ACCESS_KEY = "AKIAE2EKEYEDEXAMPLE"

/** 5000 bytes that are not all the same, so a wrong offset shows. */
const BLOB = Uint8Array.from({ length: 5000 }, (_, i) => (i * 7 + (i >> 8)) & 255)
const UNICODE_KEY = "dir/na me+ü=1.txt"
const UNICODE_BODY = "ünïcödé body with spaces + plus = equals\n"
/** Characters that must be escaped in URLs (`%`, `?`, `#`) and in XML (`&`, `<`). */
const ODD_KEY = "odd/100% ?#&<x>.txt"
const ODD_BODY = "odd key body\n"
const PUT_TARGET_BODY = "original content, must survive anonymous writes\n"

/** Product `pub` (mirror prefix `public-data/`): client key → body. */
const PUB_OBJECTS: Record<string, Uint8Array | string> = {
  "blob.bin": BLOB,
  "hello.txt": "hello, world\n",
  [UNICODE_KEY]: UNICODE_BODY,
  [ODD_KEY]: ODD_BODY,
  "sub/a.txt": "a\n",
  "sub/b.txt": "b\n",
  "sub/deeper/c.txt": "c\n",
  "put-target.txt": PUT_TARGET_BODY
}
const PUB_KEYS = Object.keys(PUB_OBJECTS).map((k) => `pub/${k}`).sort(byteOrder)

/** Product `many` (mirror prefix `bulk/objects/`): more keys than one page, in an order unlike insertion. */
const MANY_COUNT = 1205
const MANY_RELATIVE = Array.from(
  { length: MANY_COUNT },
  (_, i) => `${["b", "A", "c_d", "ä", "0"][i % 5]}/${String(i).padStart(5, "0")}.txt`
)
const MANY_KEYS = MANY_RELATIVE.map((k) => `many/${k}`).sort(byteOrder)

const BASED_BODY = "id,name\n1,based\n"

/** Product `gzip` (mirror prefix `gzip-data/`): an object stored gzip-compressed, with `Content-Encoding: gzip`. */
const GZIP_KEY = "notes.txt"
const GZIP_TEXT = Array.from({ length: 200 }, (_, i) => `line ${i}: the proxy must not inflate this body\n`).join("")
const GZIP_BYTES = new Uint8Array(gzipSync(GZIP_TEXT))
const KEYED_BODY = "read with stored access keys\n"

const md5 = (data: Uint8Array | string) => createHash("md5").update(data).digest("hex")
const sha256 = (data: Uint8Array | string) => createHash("sha256").update(data).digest("hex")

const product = (productId: string, connectionId: string | undefined, prefix: string, extra: object = {}) => ({
  product_id: productId,
  account_id: ACCOUNT,
  title: `e2e ${productId}`,
  visibility: "public",
  disabled: false,
  data_mode: "open",
  metadata: {
    primary_mirror: "main",
    mirrors: connectionId === undefined ? {} : { main: { connection_id: connectionId, prefix, storage_type: "s3" } }
  },
  ...extra
})

const connection = (id: string, details: object, authentication?: object) => ({
  data_connection_id: id,
  read_only: true,
  name: id,
  details: { provider: "s3", region: "us-east-1", base_prefix: "", ...details },
  ...(authentication === undefined ? {} : { authentication })
})

interface Env {
  readonly motoEndpoint: string
  readonly keyedEndpoint: string
  readonly closedEndpoint: string
  readonly silentEndpoint: string
  readonly slowBodyEndpoint: string
  /** moto behind a recording forwarder: what the chunk cache asks the backend. */
  readonly chunkedEndpoint: string
}

const fixtures = (env: Env) => {
  const products = [
    product("pub", "conn-public", "public-data/"),
    product("many", "conn-public", "bulk/objects/"),
    product("based", "conn-based", "nested/prod/"),
    product("keyed", "conn-keyed", "keyed-data/"),
    product("secret", "conn-public", "public-data/", { visibility: "restricted" }),
    product("gone", "conn-public", "public-data/", { disabled: true }),
    product("gcp", "conn-gcp", "public-data/"),
    product("down", "conn-down", "public-data/"),
    product("hang", "conn-hang", "public-data/"),
    product("cached", "conn-cached", "public-data/"),
    product("chunked", "conn-chunked", "chunk-data/"),
    product("gzip", "conn-public", "gzip-data/"),
    product("slowbody", "conn-slowbody", "public-data/"),
    product("nomirror", undefined, ""),
    product("orphan", "conn-does-not-exist", "public-data/")
  ]
  const routes: Record<string, { status?: number; body?: unknown; delayMs?: number }> = {
    [`/api/v1/products/${ACCOUNT}`]: { body: { products } },
    [`/api/v1/products/${ACCOUNT}/err500`]: { status: 500, body: {} },
    [`/api/v1/products/${ACCOUNT}/badjson`]: { status: 200, body: "{this is not json" },
    [`/api/v1/products/${ACCOUNT}/err401`]: { status: 401, body: { error: "unauthorized" } },
    [`/api/v1/products/${ACCOUNT}/err403`]: { status: 403, body: { error: "forbidden" } },
    [`/api/v1/products/${ACCOUNT}/slowapi`]: { body: product("slowapi", "conn-public", "public-data/"), delayMs: 6_000 },
    "/api/v1/data-connections/conn-public": { body: connection("conn-public", { bucket: DATA_BUCKET, endpoint: env.motoEndpoint }) },
    "/api/v1/data-connections/conn-based": {
      body: connection("conn-based", { bucket: DATA_BUCKET, endpoint: env.motoEndpoint, base_prefix: "base/" })
    },
    "/api/v1/data-connections/conn-keyed": {
      body: connection("conn-keyed", { bucket: KEYED_BUCKET, endpoint: env.keyedEndpoint }, {
        type: "s3_access_key",
        access_key_id: KEYED_ACCESS_KEY,
        secret_access_key: "e2e-keyed-secret"
      })
    },
    "/api/v1/data-connections/conn-gcp": {
      body: connection("conn-gcp", { bucket: DATA_BUCKET, endpoint: env.motoEndpoint }, { type: "gcp_workload_identity" })
    },
    "/api/v1/data-connections/conn-down": { body: connection("conn-down", { bucket: DATA_BUCKET, endpoint: env.closedEndpoint }) },
    "/api/v1/data-connections/conn-hang": { body: connection("conn-hang", { bucket: DATA_BUCKET, endpoint: env.silentEndpoint }) },
    "/api/v1/data-connections/conn-slowbody": {
      body: connection("conn-slowbody", { bucket: DATA_BUCKET, endpoint: env.slowBodyEndpoint })
    },
    "/api/v1/data-connections/conn-chunked": {
      body: connection("conn-chunked", { bucket: DATA_BUCKET, endpoint: env.chunkedEndpoint })
    },
    "/api/v1/data-connections/conn-cached": {
      body: connection("conn-cached", { bucket: DATA_BUCKET, endpoint: env.motoEndpoint }, { type: "unsigned" })
    }
  }
  for (const p of products) routes[`/api/v1/products/${ACCOUNT}/${p.product_id}`] = { body: p }
  return routes
}

/** The products an anonymous account listing must show: public and not disabled. */
const LISTED_PRODUCTS = [
  "based/", "cached/", "chunked/", "down/", "gcp/", "gzip/", "hang/", "keyed/", "many/", "nomirror/", "orphan/", "pub/", "slowbody/"
]

// ---------------------------------------------------------------------------------------------------

/** The proxy's chunk size in this suite (the smallest it takes), so a few hundred KiB span several chunks. */
const CHUNK_BYTES = 65_536
/** Five chunks and a bit, not all the same bytes. */
const CHUNKED = Uint8Array.from({ length: 5 * CHUNK_BYTES + 1000 }, (_, i) => (i * 31 + (i >> 10)) & 255)

const BACKEND_TIMEOUT_MS = 1_500
const SOURCE_API_TIMEOUT_MS = 1_500
/** Generous: the point is "bounded by the timeout setting", not a tight wall-clock. */
const TIMEOUT_BOUND_MS = 10_000

/**
 * The read-path suite: real proxy, real S3 (moto) behind it, a scripted Source API, real clients in front.
 * Shared by every runtime shell (Bun here, workerd in test/workerd).
 */
/** What the runtime under test can do on the wire, where runtimes differ. */
export interface RuntimeTraits {
  /**
   * Whether the runtime's HTTP server re-encodes bodies to the client's Accept-Encoding. workerd does (as
   * Cloudflare's edge does): a client asking for `identity` gets an object stored with `Content-Encoding:
   * gzip` inflated, whatever the Worker sets (`encodeResponseBody`/`encodeBody: "manual"` do not change it).
   */
  readonly negotiatesContentEncoding: boolean
  /**
   * Whether `cf-ray` names the request (`x-amz-request-id`, `<RequestId>`). On Workers Cloudflare's edge sets
   * it (workerd here stands in for the edge); under Bun any client could choose it, so the id is random.
   */
  readonly requestIdFromCfRay: boolean
}

export const describeReadSuite = (name: string, startProxy: StartProxy, traits: RuntimeTraits) =>
  describe(`${name}: anonymous reads through the proxy`, () => {
    const stops: Array<() => Promise<void>> = []
    let proxy: RunningProxy
    let api: RunningSourceApi
    let motoEndpoint = ""
    let keyedRequests: ReadonlyArray<{ method: string; url: string; headers: Record<string, unknown> }> = []
    let chunkedRequests: ReadonlyArray<{ method: string; url: string; headers: Record<string, unknown> }> = []
    let silentConnections: () => number = () => 0
    let blobEtag = ""
    let blobLastModified = ""

    const stopAll = async () => {
      const results = await Promise.allSettled(stops.splice(0).reverse().map((stop) => stop()))
      const failed = results.filter((r): r is PromiseRejectedResult => r.status === "rejected")
      if (failed.length > 0) throw failed[0]!.reason
    }

    beforeAll(async () => {
      try {
        const moto = await startMoto()
        stops.push(moto.stop)
        motoEndpoint = moto.endpoint
        const s3 = motoClient(moto.endpoint)
        stops.push(async () => s3.destroy())
        const data: Record<string, Uint8Array | string> = { "public-data-decoy/not-in-pub.txt": "decoy\n" }
        for (const [key, body] of Object.entries(PUB_OBJECTS)) data[`public-data/${key}`] = body
        MANY_RELATIVE.forEach((key, i) => (data[`bulk/objects/${key}`] = `object ${i}\n`))
        data["base/nested/prod/data.csv"] = BASED_BODY
        data["nested/prod/data.csv"] = "wrong: base_prefix was ignored\n"
        await seedBucket(s3, DATA_BUCKET, data, true)
        await seedBucket(s3, KEYED_BUCKET, { "keyed-data/file.txt": KEYED_BODY }, false) // private: unsigned reads fail
        await s3.send(new PutObjectCommand({
          Bucket: DATA_BUCKET,
          Key: `gzip-data/${GZIP_KEY}`,
          Body: GZIP_BYTES,
          ContentEncoding: "gzip",
          ContentType: "text/plain",
          ACL: "public-read"
        }))

        const keyed = await startRecordingForwarder(moto.endpoint)
        stops.push(keyed.stop)
        keyedRequests = keyed.requests
        await seedBucket(s3, DATA_BUCKET, { "chunk-data/big.bin": CHUNKED, "chunk-data/changing.bin": CHUNKED }, true)
        const chunked = await startRecordingForwarder(moto.endpoint)
        stops.push(chunked.stop)
        chunkedRequests = chunked.requests
        const slowBody = await startRecordingForwarder(moto.endpoint, { bodyDelayMs: 200 })
        stops.push(slowBody.stop)
        const silent = await startSilentServer()
        stops.push(silent.stop)
        silentConnections = silent.connections
        const closedPort = await freePort() // nothing listens there

        api = await startSourceApi(
          fixtures({
            motoEndpoint: moto.endpoint,
            keyedEndpoint: keyed.url,
            closedEndpoint: `http://127.0.0.1:${closedPort}`,
            silentEndpoint: silent.url,
            slowBodyEndpoint: slowBody.url,
            chunkedEndpoint: chunked.url
          })
        )
        stops.push(api.stop)

        proxy = await startProxy({
          SOURCE_API_URL: api.url,
          SOURCE_API_TIMEOUT_MS: String(SOURCE_API_TIMEOUT_MS),
          BACKEND_TIMEOUT_MS: String(BACKEND_TIMEOUT_MS),
          CHUNK_CACHE_CHUNK_BYTES: String(CHUNK_BYTES),
          LOG_LEVEL: "error"
        })
        stops.push(proxy.stop)

        const head = await fetch(`${moto.endpoint}/${DATA_BUCKET}/public-data/blob.bin`, { method: "HEAD" })
        blobEtag = head.headers.get("etag") ?? ""
        blobLastModified = head.headers.get("last-modified") ?? ""
      } catch (error) {
        await stopAll().catch(() => {})
        throw error
      }
    })

    afterAll(stopAll)

    const url = (path: string) => `${proxy.url}${path}`
    const get = (path: string, init: RequestInit = {}) => fetch(url(path), { redirect: "manual", ...init })
    const bytes = async (response: Response) => new Uint8Array(await response.arrayBuffer())
    /** A GET with node:http, which (unlike fetch) hands over the body exactly as sent, never decompressed. */
    const rawGet = (path: string, headers: Record<string, string> = {}) =>
      new Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
        const request = httpGet(url(path), { headers, signal: AbortSignal.timeout(30_000) }, (response) => {
          const chunks: Array<Buffer> = []
          response.on("data", (chunk: Buffer) => chunks.push(chunk))
          response.once("error", reject)
          response.once("end", () =>
            resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }))
        })
        request.once("error", reject)
      })
    const expectCommonHeaders = (response: Response) => {
      expect(response.headers.get("access-control-allow-origin")).toBe("*")
      expect(response.headers.get("x-amz-request-id")).toMatch(/\S/)
    }
    /** An S3 XML error: status, Code, CORS, and a RequestId that matches the header. */
    const expectS3Error = async (response: Response, status: number, code: string) => {
      const text = await response.text()
      expect({ status: response.status, text }).toMatchObject({ status })
      expect(response.headers.get("content-type")).toContain("xml")
      expectCommonHeaders(response)
      const error = parseError(text)
      expect(error.Code).toBe(code)
      expect(error.RequestId).toBe(response.headers.get("x-amz-request-id"))
      return error
    }

    describe("service", () => {
      it("a client's cf-ray becomes the request id only where the edge sets it", async () => {
        const claimed = "attacker<x>"
        const response = await get(`/${ACCOUNT}/pub/no-such-key.txt`, { headers: { "cf-ray": claimed } })
        const error = await expectS3Error(response, 404, "NoSuchKey")
        if (traits.requestIdFromCfRay) {
          expect(error.RequestId).toBe(claimed)
        } else {
          expect(error.RequestId).not.toContain("attacker")
          const other = await get(`/${ACCOUNT}/pub/no-such-key.txt`, { headers: { "cf-ray": claimed } })
          await other.arrayBuffer()
          expect(other.headers.get("x-amz-request-id")).not.toBe(response.headers.get("x-amz-request-id"))
        }
      })

      it("GET / answers JSON with name and version", async () => {
        const response = await get("/")
        expect(response.status).toBe(200)
        expect(response.headers.get("content-type")).toContain("application/json")
        expectCommonHeaders(response)
        const body = (await response.json()) as { name: string; version: string }
        expect(body.name).toMatch(/\S/)
        expect(body.version).toMatch(/^\d+\.\d+\.\d+/)
      })

      it.each([
        ["GET", "authorization,x-amz-date,range", [/GET/, /HEAD/]],
        ["PUT", "authorization,x-amz-content-sha256", [/PUT/]]
      ])("OPTIONS preflight for %s answers 204 and echoes Access-Control-Request-Headers", async (method, requested, allowed) => {
        const response = await get(`/${ACCOUNT}/pub/hello.txt`, {
          method: "OPTIONS",
          headers: {
            origin: "https://example.com",
            "access-control-request-method": method,
            "access-control-request-headers": requested
          }
        })
        expect(response.status).toBe(204)
        expect(response.headers.get("access-control-allow-origin")).toBe("*")
        for (const pattern of allowed) expect(response.headers.get("access-control-allow-methods")).toMatch(pattern)
        expect(response.headers.get("access-control-allow-headers")).toBe(requested)
        expect((await response.arrayBuffer()).byteLength).toBe(0)
      })
    })

    describe("GET and HEAD over HTTP", () => {
      it("full GET returns the exact bytes with ETag, Last-Modified, Accept-Ranges, CORS", async () => {
        const response = await get(`/${ACCOUNT}/pub/blob.bin`)
        expect(response.status).toBe(200)
        expect(await bytes(response)).toEqual(BLOB)
        expect(response.headers.get("etag")).toBe(`"${md5(BLOB)}"`)
        expect(response.headers.get("etag")).toBe(blobEtag)
        expect(response.headers.get("last-modified")).toBe(blobLastModified)
        expect(Number.isNaN(Date.parse(response.headers.get("last-modified") ?? ""))).toBe(false)
        expect(response.headers.get("accept-ranges")).toBe("bytes")
        expectCommonHeaders(response)
      })

      it.each([
        ["bytes=0-1023", 0, 1024],
        ["bytes=1000-1999", 1000, 2000],
        ["bytes=1000-", 1000, 5000],
        ["bytes=-500", 4500, 5000]
      ])("Range %s → 206 with the right slice and Content-Range", async (range, start, end) => {
        const response = await get(`/${ACCOUNT}/pub/blob.bin`, { headers: { range } })
        expect(response.status).toBe(206)
        expect(await bytes(response)).toEqual(BLOB.slice(start, end))
        expect(response.headers.get("content-range")).toBe(`bytes ${start}-${end - 1}/${BLOB.length}`)
        expect(response.headers.get("etag")).toBe(blobEtag)
        expect(response.headers.get("accept-ranges")).toBe("bytes")
        expectCommonHeaders(response)
      })

      // The backend's body arrives after its headers (as from any real object store), so the proxy
      // streams it, and Content-Length is still the backend's (SDKs read it as ContentLength).
      it.each([
        ["none", 200, BLOB.length, undefined],
        ["bytes=0-1023", 206, 1024, `bytes 0-1023/${BLOB.length}`],
        ["bytes=-500", 206, 500, `bytes 4500-4999/${BLOB.length}`]
      ])("a streamed GET (Range: %s) keeps the backend's Content-Length, equal to the bytes received", async (range, status, length, contentRange) => {
        const response = await get(`/${ACCOUNT}/slowbody/blob.bin`, range === "none" ? {} : { headers: { range } })
        const body = await bytes(response)
        expect(response.status).toBe(status)
        expect(body.length).toBe(length)
        expect(response.headers.get("content-range") ?? undefined).toBe(contentRange)
        expect({
          "content-length": response.headers.get("content-length"),
          "transfer-encoding": response.headers.get("transfer-encoding")
        }).toEqual({ "content-length": String(length), "transfer-encoding": null })
      })

      it("an unsatisfiable Range → 416 InvalidRange", async () => {
        const response = await get(`/${ACCOUNT}/pub/blob.bin`, { headers: { range: "bytes=6000-7000" } })
        await expectS3Error(response, 416, "InvalidRange")
      })

      it("HEAD → 200 with the object's headers and no body", async () => {
        const response = await get(`/${ACCOUNT}/pub/blob.bin`, { method: "HEAD" })
        expect(response.status).toBe(200)
        expect(response.headers.get("content-length")).toBe(String(BLOB.length))
        expect(response.headers.get("etag")).toBe(blobEtag)
        expect(response.headers.get("last-modified")).toBe(blobLastModified)
        expect(response.headers.get("accept-ranges")).toBe("bytes")
        expectCommonHeaders(response)
        expect((await response.arrayBuffer()).byteLength).toBe(0)
      })

      it("HEAD with Range bytes=0-1023 → 206, Content-Length 1024", async () => {
        const response = await get(`/${ACCOUNT}/pub/blob.bin`, { method: "HEAD", headers: { range: "bytes=0-1023" } })
        expect(response.status).toBe(206)
        expect(response.headers.get("content-length")).toBe("1024")
        expect(response.headers.get("content-range")).toBe(`bytes 0-1023/${BLOB.length}`)
        expectCommonHeaders(response)
      })

      it("If-None-Match with the current ETag → 304, with another ETag → 200", async () => {
        const notModified = await get(`/${ACCOUNT}/pub/blob.bin`, { headers: { "if-none-match": blobEtag } })
        expect(notModified.status).toBe(304)
        expect((await notModified.arrayBuffer()).byteLength).toBe(0)
        expectCommonHeaders(notModified)
        const modified = await get(`/${ACCOUNT}/pub/blob.bin`, { headers: { "if-none-match": "\"0123\"" } })
        expect(modified.status).toBe(200)
        expect(await bytes(modified)).toEqual(BLOB)
      })

      it("If-Match with another ETag → 412 PreconditionFailed, with the current one → 200", async () => {
        const failed = await get(`/${ACCOUNT}/pub/blob.bin`, { headers: { "if-match": "\"0123\"" } })
        await expectS3Error(failed, 412, "PreconditionFailed")
        const ok = await get(`/${ACCOUNT}/pub/blob.bin`, { headers: { "if-match": blobEtag } })
        expect(ok.status).toBe(200)
        expect(await bytes(ok)).toEqual(BLOB)
      })

      it("If-Modified-Since in the future → 304", async () => {
        const future = new Date(Date.now() + 365 * 24 * 3600 * 1000).toUTCString()
        const response = await get(`/${ACCOUNT}/pub/blob.bin`, { headers: { "if-modified-since": future } })
        expect(response.status).toBe(304)
        await response.arrayBuffer()
      })

      it("If-Unmodified-Since in the past → 412 PreconditionFailed", async () => {
        const response = await get(`/${ACCOUNT}/pub/blob.bin`, {
          headers: { "if-unmodified-since": "Sat, 01 Jan 2000 00:00:00 GMT" }
        })
        await expectS3Error(response, 412, "PreconditionFailed")
      })

      it("keys with space, +, =, ü, %, ?, #, & and < read byte-exact over plain HTTP", async () => {
        const response = await get(`/${ACCOUNT}/pub/${encodeKey(UNICODE_KEY)}`)
        expect(response.status).toBe(200)
        expect(await response.text()).toBe(UNICODE_BODY)
        const odd = await get(`/${ACCOUNT}/pub/${encodeKey(ODD_KEY)}`)
        expect(odd.status).toBe(200)
        expect(await odd.text()).toBe(ODD_BODY)
      })

      it("base_prefix + mirror prefix locate the object", async () => {
        const response = await get(`/${ACCOUNT}/based/data.csv`)
        expect(response.status).toBe(200)
        expect(await response.text()).toBe(BASED_BODY)
      })

      it("a connection with s3_access_key signs its backend requests with those keys", async () => {
        const response = await get(`/${ACCOUNT}/keyed/file.txt`)
        expect(response.status).toBe(200)
        expect(await response.text()).toBe(KEYED_BODY)
        // The bucket is private: without the connection's keys the same read is refused.
        const unsigned = await fetch(`${motoEndpoint}/${KEYED_BUCKET}/keyed-data/file.txt`)
        expect(unsigned.status).toBe(403)
        await unsigned.arrayBuffer()
        const sent = keyedRequests.filter((r) => r.url.startsWith(`/${KEYED_BUCKET}/keyed-data/file.txt`))
        expect(sent.length).toBeGreaterThan(0)
        for (const r of sent) {
          expect(String(r.headers.authorization)).toMatch(
            new RegExp(`^AWS4-HMAC-SHA256 Credential=${KEYED_ACCESS_KEY}/\\d{8}/us-east-1/s3/aws4_request`)
          )
        }
      })

      it("an object stored with Content-Encoding: gzip reaches a gzip-accepting client as stored", async () => {
        // node:http does not decompress (fetch would); S3 sends the stored bytes whatever the Accept-Encoding.
        const response = await rawGet(`/${ACCOUNT}/gzip/${GZIP_KEY}`, { "accept-encoding": "gzip" })
        expect({ status: response.status, contentEncoding: response.headers["content-encoding"] })
          .toEqual({ status: 200, contentEncoding: "gzip" })
        expect({ length: response.body.length, sha256: sha256(response.body) })
          .toEqual({ length: GZIP_BYTES.length, sha256: sha256(GZIP_BYTES) })
        if (response.headers["content-length"] !== undefined) {
          expect(response.headers["content-length"]).toBe(String(GZIP_BYTES.length))
        }
      })

      it(`a client that accepts only identity gets ${
        traits.negotiatesContentEncoding ? "the inflated content, labelled as such" : "the stored gzip bytes, as S3 sends them"
      }`, async () => {
        const response = await rawGet(`/${ACCOUNT}/gzip/${GZIP_KEY}`, { "accept-encoding": "identity" })
        expect(response.status).toBe(200)
        if (traits.negotiatesContentEncoding) {
          expect(response.headers["content-encoding"]).toBeUndefined()
          expect(new TextDecoder().decode(response.body)).toBe(GZIP_TEXT)
        } else {
          expect(response.headers["content-encoding"]).toBe("gzip")
          expect(sha256(response.body)).toBe(sha256(GZIP_BYTES))
        }
      })

      it("a missing object → 404 NoSuchKey XML (GET) and 404 without body (HEAD)", async () => {
        const error = await expectS3Error(await get(`/${ACCOUNT}/pub/no/such/key.txt`), 404, "NoSuchKey")
        expect(error.Key ?? "pub/no/such/key.txt").toBe("pub/no/such/key.txt")
        const head = await get(`/${ACCOUNT}/pub/no/such/key.txt`, { method: "HEAD" })
        expect(head.status).toBe(404)
        expectCommonHeaders(head)
      })
    })

    describe("errors", () => {
      it.each([
        ["secret", 403, "AccessDenied", "a restricted product"],
        ["gone", 403, "AccessDenied", "a disabled product"],
        ["nosuchproduct", 404, "NoSuchBucket", "an unknown product (API 404)"],
        ["nomirror", 404, "NoSuchBucket", "a product without mirrors"],
        ["orphan", 404, "NoSuchBucket", "a mirror whose connection the API does not know"],
        ["err500", 500, "InternalError", "API answers 500"],
        ["badjson", 500, "InternalError", "API answers broken JSON"],
        ["err401", 403, "AccessDenied", "API answers 401"],
        ["err403", 403, "AccessDenied", "API answers 403"],
        ["gcp", 502, "BackendAuthenticationFailed", "an unsupported backend authentication type"],
        ["down", 503, "ServiceUnavailable", "a backend that refuses connections"]
      ])("GET /%s/… → %i %s (%s)", async (productId, status, code) => {
        await expectS3Error(await get(`/${ACCOUNT}/${productId}/hello.txt`), status, code)
      })

      it("HEAD on a restricted product → 403 without a body", async () => {
        const response = await get(`/${ACCOUNT}/secret/hello.txt`, { method: "HEAD" })
        expect(response.status).toBe(403)
        expectCommonHeaders(response)
        expect((await response.arrayBuffer()).byteLength).toBe(0)
      })

      it("a backend that accepts but never answers → 503 ServiceUnavailable within BACKEND_TIMEOUT_MS", async () => {
        const started = Date.now()
        const response = await get(`/${ACCOUNT}/hang/hello.txt`, { signal: AbortSignal.timeout(30_000) })
        await expectS3Error(response, 503, "ServiceUnavailable")
        expect(Date.now() - started).toBeLessThan(TIMEOUT_BOUND_MS)
        expect(silentConnections()).toBeGreaterThan(0)
      })

      it("a Source API that answers too slowly → 503 ServiceUnavailable within SOURCE_API_TIMEOUT_MS", async () => {
        const started = Date.now()
        const response = await get(`/${ACCOUNT}/slowapi/hello.txt`, { signal: AbortSignal.timeout(30_000) })
        await expectS3Error(response, 503, "ServiceUnavailable")
        expect(Date.now() - started).toBeLessThan(TIMEOUT_BOUND_MS)
      })

      it("API errors are not cached: each request asks again", async () => {
        const path = `/api/v1/products/${ACCOUNT}/err500`
        const before = api.hits(path)
        await (await get(`/${ACCOUNT}/err500/a.txt`)).arrayBuffer()
        await (await get(`/${ACCOUNT}/err500/b.txt`)).arrayBuffer()
        expect(api.hits(path) - before).toBe(2)
      })

      it("an unknown account listing → 404 NoSuchBucket", async () => {
        await expectS3Error(await get(`/nobody-here?list-type=2&delimiter=/`), 404, "NoSuchBucket")
      })

      it("a request signed with keys the proxy never issued (header or presigned) → 403 InvalidAccessKeyId", async () => {
        const credentials = { accessKeyId: "AKIAE2ETESTEXAMPLE", secretAccessKey: "not-a-proxy-secret", service: "s3", region: "us-east-1" }
        const url = `${proxy.url}/${ACCOUNT}/pub/hello.txt`
        const header = await new AwsV4Signer({ url, method: "GET", ...credentials }).sign()
        await expectS3Error(await fetch(header.url, { headers: header.headers }), 403, "InvalidAccessKeyId")
        const presigned = await new AwsV4Signer({ url, method: "GET", signQuery: true, ...credentials }).sign()
        await expectS3Error(await fetch(presigned.url), 403, "InvalidAccessKeyId")
      })

      it("a malformed Authorization header → 400, never an anonymous read", async () => {
        const response = await get(`/${ACCOUNT}/pub/hello.txt`, {
          headers: { authorization: "AWS4-HMAC-SHA256 Credential=AKIAE2ETESTEXAMPLE/20260101/us-east-1/s3/aws4_request" }
        })
        expect(response.status).toBe(400)
        expect(await response.text()).toContain("<Code>AuthorizationHeaderMalformed</Code>")
      })

      it("a PUT with a body but no key → 400 InvalidRequest \"Missing object key\"", async () => {
        const error = await expectS3Error(
          await get(`/${ACCOUNT}/pub`, { method: "PUT", body: "some bytes" }),
          400,
          "InvalidRequest"
        )
        expect(error.Message).toContain("Missing object key")
        const del = await expectS3Error(await get(`/${ACCOUNT}/pub`, { method: "DELETE" }), 400, "InvalidRequest")
        expect(del.Message).toContain("Missing object key")
      })

      it("anonymous PUT and DELETE of an object → 403 AccessDenied, and the object in the backend is untouched", async () => {
        await expectS3Error(
          await get(`/${ACCOUNT}/pub/put-target.txt`, { method: "PUT", body: "overwritten!" }),
          403,
          "AccessDenied"
        )
        await expectS3Error(await get(`/${ACCOUNT}/pub/put-target.txt`, { method: "DELETE" }), 403, "AccessDenied")
        await expectS3Error(
          await get(`/${ACCOUNT}/pub/new-object.txt`, { method: "PUT", body: "new" }),
          403,
          "AccessDenied"
        )
        const s3 = motoClient(motoEndpoint)
        try {
          expect(Buffer.from(await readFromMoto(s3, DATA_BUCKET, "public-data/put-target.txt")).toString()).toBe(
            PUT_TARGET_BODY
          )
          await expect(readFromMoto(s3, DATA_BUCKET, "public-data/new-object.txt")).rejects.toThrow()
        } finally {
          s3.destroy()
        }
      })

      it("unsupported subresources (?acl, ?tagging) → 501 NotImplemented, never an object read or write", async () => {
        await expectS3Error(await get(`/${ACCOUNT}/pub/hello.txt?acl`), 501, "NotImplemented")
        await expectS3Error(
          await get(`/${ACCOUNT}/pub/hello.txt?tagging`, { method: "PUT", body: "<Tagging/>" }),
          501,
          "NotImplemented"
        )
      })
    })

    describe("listings over HTTP", () => {
      const list = async (path: string) => {
        const response = await get(path)
        const text = await response.text()
        expect({ status: response.status, text }).toMatchObject({ status: 200 })
        expect(response.headers.get("content-type")).toContain("xml")
        expectCommonHeaders(response)
        return { text, result: parseList(text) }
      }
      const keysOf = (result: ReturnType<typeof parseList>) => result.Contents.map((c) => c.Key)

      it("prefix-routed GET /{account}?list-type=2&prefix={product}/sub/ lists {product}/… keys under <Name>{account}</Name>", async () => {
        const { result } = await list(`/${ACCOUNT}?list-type=2&prefix=pub/sub/`)
        expect(result.Name).toBe(ACCOUNT)
        expect(result.Prefix).toBe("pub/sub/")
        expect(keysOf(result)).toEqual(["pub/sub/a.txt", "pub/sub/b.txt", "pub/sub/deeper/c.txt"])
        expect(result.IsTruncated).toBe("false")
      })

      it("path form GET /{account}/{product}?list-type=2 lists every key as {product}/…, nothing outside the prefix", async () => {
        const { result } = await list(`/${ACCOUNT}/pub?list-type=2`)
        expect(result.Name).toBe(ACCOUNT)
        expect(keysOf(result)).toEqual(PUB_KEYS)
        const blob = result.Contents.find((c) => c.Key === "pub/blob.bin")
        expect(blob?.Size).toBe(String(BLOB.length))
        expect(blob?.ETag).toBe(blobEtag)
      })

      it("a delimiter listing rolls sub-directories up into CommonPrefixes", async () => {
        const { result } = await list(`/${ACCOUNT}?list-type=2&prefix=pub/&delimiter=/`)
        expect(result.Delimiter).toBe("/")
        expect(keysOf(result)).toEqual(["pub/blob.bin", "pub/hello.txt", "pub/put-target.txt"])
        expect(result.CommonPrefixes.map((p) => p.Prefix)).toEqual(["pub/dir/", "pub/odd/", "pub/sub/"])
      })

      it("encoding-type=url percent-encodes keys with space, +, = and ü in the raw XML", async () => {
        const { text, result } = await list(`/${ACCOUNT}?list-type=2&prefix=pub/dir/&encoding-type=url`)
        expect(result.EncodingType).toBe("url")
        expect(text).toContain("<Key>pub/dir/na%20me%2B%C3%BC%3D1.txt</Key>")
        const plain = await list(`/${ACCOUNT}?list-type=2&prefix=pub/dir/`)
        expect(keysOf(plain.result)).toEqual([`pub/${UNICODE_KEY}`])
      })

      it("base_prefix is removed from listed keys", async () => {
        const { result } = await list(`/${ACCOUNT}/based?list-type=2`)
        expect(keysOf(result)).toEqual(["based/data.csv"])
      })

      it("the account listing shows public products as CommonPrefixes, not restricted or disabled ones", async () => {
        const { result } = await list(`/${ACCOUNT}?list-type=2&delimiter=/`)
        expect(result.Name).toBe(ACCOUNT)
        expect(result.Contents).toEqual([])
        expect(result.CommonPrefixes.map((p) => p.Prefix)).toEqual(LISTED_PRODUCTS)
        expect(result.IsTruncated).toBe("false")
      })

      it("max-keys=0 answers an empty page with IsTruncated false (product and account listings)", async () => {
        const productList = await list(`/${ACCOUNT}/pub?list-type=2&max-keys=0`)
        expect(productList.result.IsTruncated).toBe("false")
        expect(productList.result.Contents).toEqual([])
        const accountList = await list(`/${ACCOUNT}?list-type=2&delimiter=/&max-keys=0`)
        expect(accountList.result.IsTruncated).toBe("false")
        expect(accountList.result.CommonPrefixes).toEqual([])
      })

      it("listing a restricted product → 403 AccessDenied", async () => {
        await expectS3Error(await get(`/${ACCOUNT}?list-type=2&prefix=secret/`), 403, "AccessDenied")
      })
    })

    describe("boto3", () => {
      it("get_object / head_object / ranged get / listing of keys with space, +, =, ü, %, ?, #, & are exact", async () => {
        const out = await runBoto3<Record<string, unknown>>(
          `
          key = inp["key"]
          body = s3.get_object(Bucket=inp["bucket"], Key=key)["Body"].read()
          head = s3.head_object(Bucket=inp["bucket"], Key=key)
          ranged = s3.get_object(Bucket=inp["bucket"], Key="pub/blob.bin", Range="bytes=1000-1999")
          odd = s3.get_object(Bucket=inp["bucket"], Key=inp["odd"])["Body"].read()
          listed = [o["Key"] for o in s3.list_objects_v2(Bucket=inp["bucket"], Prefix="pub/odd/").get("Contents", [])]
          out = {
              "odd": digest(odd),
              "oddListed": listed,
              "body": digest(body),
              "length": head["ContentLength"],
              "etag": head["ETag"],
              "ranged": digest(ranged["Body"].read()),
              "contentRange": ranged["ContentRange"],
          }
          `,
          { endpoint: proxy.url, bucket: ACCOUNT, key: `pub/${UNICODE_KEY}`, odd: `pub/${ODD_KEY}` }
        )
        expect(out).toEqual({
          odd: { sha256: sha256(ODD_BODY), length: ODD_BODY.length },
          oddListed: [`pub/${ODD_KEY}`],
          body: { sha256: sha256(UNICODE_BODY), length: Buffer.byteLength(UNICODE_BODY) },
          length: Buffer.byteLength(UNICODE_BODY),
          etag: `"${md5(UNICODE_BODY)}"`,
          ranged: { sha256: sha256(BLOB.slice(1000, 2000)), length: 1000 },
          contentRange: `bytes 1000-1999/${BLOB.length}`
        })
      })

      it("errors surface as S3 error codes: NoSuchKey, AccessDenied, NoSuchBucket, InvalidAccessKeyId (signed)", async () => {
        const out = await runBoto3<Record<string, unknown>>(
          `
          out = {}
          for name, bucket, key, signed in [
              ("missing", inp["bucket"], "pub/no-such-key.txt", False),
              ("restricted", inp["bucket"], "secret/hello.txt", False),
              ("unknown", inp["bucket"], "nosuchproduct/hello.txt", False),
              ("signed", inp["bucket"], "pub/hello.txt", True),
          ]:
              try:
                  client(signed=signed).get_object(Bucket=bucket, Key=key)
                  out[name] = "no error"
              except ClientError as e:
                  out[name] = error_of(e)
          `,
          { endpoint: proxy.url, bucket: ACCOUNT }
        )
        expect(out).toEqual({
          missing: { code: "NoSuchKey", status: 404 },
          restricted: { code: "AccessDenied", status: 403 },
          unknown: { code: "NoSuchBucket", status: 404 },
          signed: { code: "InvalidAccessKeyId", status: 403 }
        })
      })

      it(`list_objects_v2 and list_objects (V1) paginators return all ${MANY_COUNT} keys exactly once, in order`, async () => {
        const out = await runBoto3<{ v2: Array<string>; v2Pages: number; v1: Array<string>; v1Pages: number }>(
          `
          out = {"v2": [], "v2Pages": 0, "v1": [], "v1Pages": 0}
          for page in s3.get_paginator("list_objects_v2").paginate(Bucket=inp["bucket"], Prefix="many/"):
              out["v2Pages"] += 1
              out["v2"] += [o["Key"] for o in page.get("Contents", [])]
          for page in s3.get_paginator("list_objects").paginate(Bucket=inp["bucket"], Prefix="many/"):
              out["v1Pages"] += 1
              out["v1"] += [o["Key"] for o in page.get("Contents", [])]
          `,
          { endpoint: proxy.url, bucket: ACCOUNT },
          90_000
        )
        expect(out.v2).toHaveLength(MANY_COUNT)
        expect(out.v2).toEqual(MANY_KEYS)
        expect(out.v2Pages).toBe(2)
        expect(out.v1).toEqual(MANY_KEYS)
        expect(out.v1Pages).toBe(2)
      })

      it("a delimiter listing with the paginator gives CommonPrefixes and keys (encoding-type=url decoded)", async () => {
        const out = await runBoto3<{ keys: Array<string>; prefixes: Array<string>; dir: Array<string> }>(
          `
          out = {"keys": [], "prefixes": [], "dir": []}
          for page in s3.get_paginator("list_objects_v2").paginate(Bucket=inp["bucket"], Prefix="pub/", Delimiter="/"):
              out["keys"] += [o["Key"] for o in page.get("Contents", [])]
              out["prefixes"] += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
          out["dir"] = [o["Key"] for o in s3.list_objects_v2(Bucket=inp["bucket"], Prefix="pub/dir/").get("Contents", [])]
          `,
          { endpoint: proxy.url, bucket: ACCOUNT }
        )
        expect(out).toEqual({
          keys: ["pub/blob.bin", "pub/hello.txt", "pub/put-target.txt"],
          prefixes: ["pub/dir/", "pub/odd/", "pub/sub/"],
          dir: [`pub/${UNICODE_KEY}`]
        })
      })
    })

    describe("aws-cli", () => {
      it("aws s3 cp --no-sign-request of a key with space, +, = and ü to stdout is byte-exact", async () => {
        const result = await runAws([
          "s3",
          "cp",
          "--no-sign-request",
          "--endpoint-url",
          proxy.url,
          `s3://${ACCOUNT}/pub/${UNICODE_KEY}`,
          "-"
        ])
        expect(result.stderr).toBe("")
        expect(result.status).toBe(0)
        expect(result.stdout.toString()).toBe(UNICODE_BODY)
      })

      it("aws s3 ls --recursive of a product lists every key once", async () => {
        const result = await runAws([
          "s3",
          "ls",
          "--no-sign-request",
          "--endpoint-url",
          proxy.url,
          "--recursive",
          `s3://${ACCOUNT}/pub/`
        ])
        expect(result.status, result.stderr).toBe(0)
        const keys = result.stdout.toString().trim().split("\n").map((line) => line.split(/\s+/).slice(3).join(" "))
        expect(keys).toEqual(PUB_KEYS)
        expect(result.stdout.toString()).toMatch(new RegExp(`\\s${BLOB.length}\\s+pub/blob\\.bin`))
      })

      it("aws s3 ls of the account shows its public products as PRE lines", async () => {
        const result = await runAws(["s3", "ls", "--no-sign-request", "--endpoint-url", proxy.url, `s3://${ACCOUNT}/`])
        expect(result.status, result.stderr).toBe(0)
        const prefixes = result.stdout.toString().trim().split("\n").map((line) => line.trim().replace(/^PRE\s+/, ""))
        expect(prefixes).toEqual(LISTED_PRODUCTS)
      })
    })

    describe("JS SDK (@aws-sdk/client-s3, unsigned)", () => {
      it("GetObject reports ContentLength for whole and ranged reads of a streamed object", async () => {
        const client = anonymousClient(proxy.url)
        try {
          for (const [range, expected] of [[undefined, BLOB], ["bytes=100-1099", BLOB.slice(100, 1100)], ["bytes=-7", BLOB.slice(-7)]] as const) {
            const object = await client.send(new GetObjectCommand({ Bucket: ACCOUNT, Key: "slowbody/blob.bin", Range: range }))
            const body = await object.Body!.transformToByteArray()
            expect(body).toEqual(expected)
            expect(object.ContentLength).toBe(expected.length)
          }
        } finally {
          client.destroy()
        }
      })

      it("GetObject, HeadObject and ListObjectsV2 with a key with space, +, = and ü", async () => {
        const client = anonymousClient(proxy.url)
        try {
          const key = `pub/${UNICODE_KEY}`
          const object = await client.send(new GetObjectCommand({ Bucket: ACCOUNT, Key: key }))
          expect(Buffer.from(await object.Body!.transformToByteArray()).toString()).toBe(UNICODE_BODY)
          expect(object.ETag).toBe(`"${md5(UNICODE_BODY)}"`)
          const head = await client.send(new HeadObjectCommand({ Bucket: ACCOUNT, Key: key }))
          expect(head.ContentLength).toBe(Buffer.byteLength(UNICODE_BODY))
          const ranged = await client.send(new GetObjectCommand({ Bucket: ACCOUNT, Key: "pub/blob.bin", Range: "bytes=-500" }))
          expect(await ranged.Body!.transformToByteArray()).toEqual(BLOB.slice(4500))
          const listing = await client.send(new ListObjectsV2Command({ Bucket: ACCOUNT, Prefix: "pub/dir/" }))
          expect(listing.Contents?.map((c) => c.Key)).toEqual([key])
          await expect(client.send(new GetObjectCommand({ Bucket: ACCOUNT, Key: "secret/hello.txt" }))).rejects
            .toMatchObject({ name: "AccessDenied", $metadata: { httpStatusCode: 403 } })
        } finally {
          client.destroy()
        }
      })
    })

    describe("chunk cache (public GETs, docs/caching.md#the-chunk-cache)", () => {
      /** What the backend was asked for big.bin / changing.bin since `from`: method, Range, If-Match. */
      const asked = (key: string, from = 0) =>
        chunkedRequests.slice(from).filter((r) => r.url.startsWith(`/${DATA_BUCKET}/chunk-data/${key}`))
          .map((r) => [r.method, r.headers["range"] ?? null, r.headers["if-match"] ?? null])

      it("a range: MISS fetches its aligned chunk once; again HIT from the cache; a wider one PARTIAL, fetching only the rest", async () => {
        const etag = (await fetch(`${motoEndpoint}/${DATA_BUCKET}/chunk-data/big.bin`, { method: "HEAD" })).headers.get("etag")
        const read = async (range: string) => {
          const response = await get(`/${ACCOUNT}/chunked/big.bin`, { headers: { range } })
          return { status: response.status, cache: response.headers.get("x-cache"), contentRange: response.headers.get("content-range"),
            length: response.headers.get("content-length"), etag: response.headers.get("etag"), body: await bytes(response) }
        }
        const miss = await read("bytes=70000-70099")
        expect(miss).toStrictEqual({ status: 206, cache: "MISS", contentRange: `bytes 70000-70099/${CHUNKED.length}`, length: "100",
          etag, body: CHUNKED.slice(70000, 70100) })
        expect(asked("big.bin")).toStrictEqual([["HEAD", null, null], ["GET", "bytes=65536-131071", etag]])
        const hit = await read("bytes=65536-70000")
        expect([hit.status, hit.cache, hit.body]).toStrictEqual([206, "HIT", CHUNKED.slice(65536, 70001)])
        expect(asked("big.bin")).toHaveLength(2)
        const partial = await read("bytes=1000-140000")
        expect([partial.status, partial.cache, partial.contentRange, partial.body])
          .toStrictEqual([206, "PARTIAL", `bytes 1000-140000/${CHUNKED.length}`, CHUNKED.slice(1000, 140001)])
        expect(asked("big.bin", 0).slice(2)).toStrictEqual([["GET", "bytes=0-65535", etag], ["GET", "bytes=131072-196607", etag]])
        const notModified = await get(`/${ACCOUNT}/chunked/big.bin`, { headers: { "if-none-match": etag ?? "" } })
        expect([notModified.status, notModified.headers.get("x-cache")]).toStrictEqual([304, "HIT"])
        expect(asked("big.bin")).toHaveLength(4)
      })

      it("an object replaced in the backend: a chunk pinned to the old ETag is refused and the read is fresh, never mixed", async () => {
        const first = await get(`/${ACCOUNT}/chunked/changing.bin`, { headers: { range: "bytes=0-9" } })
        expect([first.headers.get("x-cache"), await bytes(first)]).toStrictEqual(["MISS", CHUNKED.slice(0, 10)])
        const replaced = CHUNKED.map((b) => b ^ 0xff)
        const s3 = motoClient(motoEndpoint)
        await s3.send(new PutObjectCommand({ Bucket: DATA_BUCKET, Key: "chunk-data/changing.bin", Body: replaced, ACL: "public-read" }))
        s3.destroy()
        const from = chunkedRequests.length
        // Chunk 0 (cached) and chunk 1 (missing, fetched with If-Match: the old ETag, which moto refuses with 412).
        const changed = await get(`/${ACCOUNT}/chunked/changing.bin`, { headers: { range: "bytes=65530-65545" } })
        expect([changed.status, changed.headers.get("x-cache"), await bytes(changed)]).toStrictEqual([206, "BYPASS", replaced.slice(65530, 65546)])
        expect(asked("changing.bin", from).map(([method, range]) => [method, range])).toStrictEqual([
          ["GET", "bytes=65536-131071"],
          ["GET", "bytes=65530-65545"]
        ])
        const after = await get(`/${ACCOUNT}/chunked/changing.bin`, { headers: { range: "bytes=0-9" } })
        expect([after.headers.get("x-cache"), await bytes(after)]).toStrictEqual(["MISS", replaced.slice(0, 10)])
      })

      it("HEAD, a listing and an error carry no x-cache of their own; a whole object larger than a chunk streams past (BYPASS)", async () => {
        const whole = await get(`/${ACCOUNT}/chunked/big.bin`)
        expect([whole.status, whole.headers.get("x-cache"), whole.headers.get("content-length")]).toStrictEqual([200, "BYPASS", String(CHUNKED.length)])
        expect(await bytes(whole)).toStrictEqual(CHUNKED)
        const head = await get(`/${ACCOUNT}/chunked/big.bin`, { method: "HEAD" })
        expect([head.status, head.headers.get("x-cache")]).toStrictEqual([200, null])
        const missing = await get(`/${ACCOUNT}/chunked/none.bin`)
        expect([missing.status, missing.headers.get("x-cache")]).toStrictEqual([404, null])
        await missing.arrayBuffer()
      })
    })

    describe("caching and resilience", () => {
      it("repeated reads of one product ask the Source API once (product and data connection)", async () => {
        const productPath = `/api/v1/products/${ACCOUNT}/cached`
        const connectionPath = "/api/v1/data-connections/conn-cached"
        expect(api.hits(productPath)).toBe(0)
        for (let i = 0; i < 3; i++) {
          const response = await get(`/${ACCOUNT}/cached/hello.txt`)
          expect(response.status).toBe(200)
          expect(await response.text()).toBe("hello, world\n")
        }
        const head = await get(`/${ACCOUNT}/cached/blob.bin`, { method: "HEAD" })
        expect(head.status).toBe(200)
        const listing = await get(`/${ACCOUNT}/cached?list-type=2&max-keys=1`)
        expect(listing.status).toBe(200)
        await listing.arrayBuffer()
        expect(api.hits(productPath)).toBe(1)
        expect(api.hits(connectionPath)).toBe(1)
      })

      it("keeps serving after errors, also with concurrent good and bad requests", async () => {
        const paths = [
          `/${ACCOUNT}/pub/hello.txt`,
          `/${ACCOUNT}/err500/x`,
          `/${ACCOUNT}/pub/blob.bin`,
          `/${ACCOUNT}/down/x`,
          `/${ACCOUNT}/secret/x`,
          `/${ACCOUNT}/gcp/x`,
          `/${ACCOUNT}/pub/no-such.txt`,
          `/${ACCOUNT}/badjson/x`,
          `/${ACCOUNT}/pub?list-type=2`
        ]
        const statuses = await Promise.all(
          paths.map(async (path) => {
            const response = await get(path)
            await response.arrayBuffer()
            return response.status
          })
        )
        expect(statuses).toEqual([200, 500, 200, 503, 403, 502, 404, 500, 200])
        const after = await get(`/${ACCOUNT}/pub/blob.bin`)
        expect(after.status).toBe(200)
        expect(await bytes(after)).toEqual(BLOB)
      })
    })
  })
