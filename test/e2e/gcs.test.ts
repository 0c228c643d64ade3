import { createHash } from "node:crypto"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { runAws, runBoto3 } from "./harness/clients.js"
import { type RunningGcs, startGcs } from "../fakes/gcs/server.js"
import { type RunningProxy, startBunProxy } from "./harness/proxy.js"
import { byteOrder, encodeKey } from "./harness/s3.js"
import { type RunningSourceApi, startSourceApi } from "./harness/sourceApi.js"
import { parseError, parseList } from "./harness/xml.js"

/**
 * The GCS provider end to end: a faithful in-test GCS XML API (test/fakes/gcs/) behind the Bun
 * proxy, real S3 clients in front. The proxy speaks S3 (V2 and V1 listings) to clients and GCS's V1
 * listing (`marker`) and HMAC SigV4 (region `auto`) to the backend.
 */

const ACCOUNT = "gcs-org"
const PUBLIC_BUCKET = "gcs-public"
/** Same data, but V1 pages carry NextMarker only with a delimiter (S3's rule): the proxy must continue from the last key. */
const NO_MARKER_BUCKET = "gcs-nomarker"
const PRIVATE_BUCKET = "gcs-private"
const HMAC_ID = "GOOG1EE2ETESTHMACKEYEXAMPLE0000000000000000000000000000000"
const HMAC_SECRET = "e2e/gcs+hmac/Secret0123456789abcdefABCDEF"

const BLOB = Uint8Array.from({ length: 5000 }, (_, i) => (i * 13 + (i >> 7)) & 255)
const UNICODE_KEY = "dir/na me+ü=1.txt"
const UNICODE_BODY = "ünïcödé GCS body with spaces + plus = equals\n"
const ODD_KEY = "odd/100% ?#&<x>'.txt"
const ODD_BODY = "odd key on GCS\n"
const META_BODY = "with user metadata\n"

const PUB_OBJECTS: Record<string, Uint8Array | string> = {
  "blob.bin": BLOB,
  "hello.txt": "hello from gcs\n",
  [UNICODE_KEY]: UNICODE_BODY,
  [ODD_KEY]: ODD_BODY,
  "meta.txt": META_BODY,
  "sub/a.txt": "a\n",
  "sub/b.txt": "b\n",
  "sub/deeper/c.txt": "c\n"
}
const PUB_KEYS = Object.keys(PUB_OBJECTS).map((k) => `gpub/${k}`).sort(byteOrder)

const MANY_COUNT = 1205
const MANY_RELATIVE = Array.from(
  { length: MANY_COUNT },
  (_, i) => `${["b", "A", "c_d", "ä", "0", "sp ace", "eq=ual"][i % 7]}/${String(i).padStart(5, "0")}.txt`
)
const manyKeys = (product: string) => MANY_RELATIVE.map((k) => `${product}/${k}`).sort(byteOrder)

const BIG_COUNT = 10_000
const KEYED_BODY = "read from a private GCS bucket with an HMAC key\n"

const md5 = (data: Uint8Array | string) => createHash("md5").update(data).digest("hex")
const sha256 = (data: Uint8Array | string) => createHash("sha256").update(data).digest("hex")

const product = (productId: string, connectionId: string, prefix: string) => ({
  product_id: productId,
  account_id: ACCOUNT,
  title: `gcs ${productId}`,
  visibility: "public",
  disabled: false,
  data_mode: "open",
  metadata: { primary_mirror: "main", mirrors: { main: { connection_id: connectionId, prefix, storage_type: "gcs" } } }
})

const connection = (id: string, details: object, authentication?: object) => ({
  data_connection_id: id,
  read_only: true,
  name: id,
  details: { provider: "gcs", base_prefix: "", ...details },
  ...(authentication === undefined ? {} : { authentication })
})

describe("GCS provider through the Bun proxy", () => {
  const stops: Array<() => Promise<void>> = []
  let gcs: RunningGcs
  let api: RunningSourceApi
  let proxy: RunningProxy

  beforeAll(async () => {
    try {
      gcs = await startGcs()
      stops.push(gcs.stop)
      gcs.createBucket(PUBLIC_BUCKET, { public: true })
      gcs.createBucket(NO_MARKER_BUCKET, { public: true, nextMarker: "with-delimiter" })
      gcs.createBucket(PRIVATE_BUCKET, { hmacKeys: { [HMAC_ID]: HMAC_SECRET }, location: "US" })
      gcs.put(PUBLIC_BUCKET, "decoy-data/not-in-gpub.txt", "decoy\n")
      for (const [key, body] of Object.entries(PUB_OBJECTS)) {
        gcs.put(PUBLIC_BUCKET, `data/${key}`, body, {
          contentType: key.endsWith(".txt") ? "text/plain" : "application/octet-stream",
          ...(key === "meta.txt" ? { metadata: { author: "Ada Lovelace", "x-run": "e2e" } } : {})
        })
      }
      MANY_RELATIVE.forEach((key, i) => {
        gcs.put(PUBLIC_BUCKET, `many/${key}`, `object ${i}\n`)
        gcs.put(NO_MARKER_BUCKET, `many/${key}`, `object ${i}\n`)
      })
      for (let i = 0; i < BIG_COUNT; i++) gcs.put(PUBLIC_BUCKET, `big/${String(i).padStart(6, "0")}.bin`, "x")
      gcs.put(PRIVATE_BUCKET, "keyed/file.txt", KEYED_BODY, { contentType: "text/plain" })
      gcs.put(PRIVATE_BUCKET, "keyed/sub dir/ü=1.txt", "second\n")

      const products = [
        product("gpub", "conn-gcs-public", "data/"),
        product("gmany", "conn-gcs-public", "many/"),
        product("gmanynm", "conn-gcs-nomarker", "many/"),
        product("gbig", "conn-gcs-public", "big/"),
        product("galias", "conn-gs-alias", "data/"),
        product("gkeyed", "conn-gcs-hmac", "keyed/"),
        product("gbadkey", "conn-gcs-badsecret", "keyed/"),
        product("gunknownkey", "conn-gcs-unknownkey", "keyed/"),
        product("ganon", "conn-gcs-private-unsigned", "keyed/"),
        product("gmismatch", "conn-gcs-mismatch", "data/")
      ]
      const routes: Record<string, { status?: number; body?: unknown }> = {
        [`/api/v1/products/${ACCOUNT}`]: { body: { products } },
        "/api/v1/data-connections/conn-gcs-public": {
          body: connection("conn-gcs-public", { bucket: PUBLIC_BUCKET, endpoint: gcs.url })
        },
        "/api/v1/data-connections/conn-gcs-nomarker": {
          body: connection("conn-gcs-nomarker", { bucket: NO_MARKER_BUCKET, endpoint: gcs.url }, { type: "unsigned" })
        },
        "/api/v1/data-connections/conn-gs-alias": {
          body: connection("conn-gs-alias", { provider: "gs", bucket: PUBLIC_BUCKET, endpoint: `${gcs.url}/` })
        },
        "/api/v1/data-connections/conn-gcs-hmac": {
          body: connection("conn-gcs-hmac", { bucket: PRIVATE_BUCKET, endpoint: gcs.url }, {
            type: "gcs_hmac",
            access_key_id: HMAC_ID,
            secret: HMAC_SECRET
          })
        },
        "/api/v1/data-connections/conn-gcs-badsecret": {
          body: connection("conn-gcs-badsecret", { bucket: PRIVATE_BUCKET, endpoint: gcs.url }, {
            type: "gcs_hmac",
            access_key_id: HMAC_ID,
            secret: "not-the-secret"
          })
        },
        "/api/v1/data-connections/conn-gcs-unknownkey": {
          body: connection("conn-gcs-unknownkey", { bucket: PRIVATE_BUCKET, endpoint: gcs.url }, {
            type: "gcs_hmac",
            access_key_id: "GOOG1NOSUCHKEY",
            secret: HMAC_SECRET
          })
        },
        "/api/v1/data-connections/conn-gcs-private-unsigned": {
          body: connection("conn-gcs-private-unsigned", { bucket: PRIVATE_BUCKET, endpoint: gcs.url })
        },
        "/api/v1/data-connections/conn-gcs-mismatch": {
          body: connection("conn-gcs-mismatch", { bucket: PUBLIC_BUCKET, endpoint: gcs.url }, {
            type: "s3_access_key",
            access_key_id: "AKIA",
            secret_access_key: "s"
          })
        }
      }
      for (const p of products) routes[`/api/v1/products/${ACCOUNT}/${p.product_id}`] = { body: p }
      api = await startSourceApi(routes)
      stops.push(api.stop)
      proxy = await startBunProxy({ SOURCE_API_URL: api.url, BACKEND_TIMEOUT_MS: "5000", LOG_LEVEL: "error" })
      stops.push(proxy.stop)
    } catch (error) {
      await Promise.allSettled(stops.splice(0).reverse().map((stop) => stop()))
      throw error
    }
  })

  afterAll(async () => {
    const results = await Promise.allSettled(stops.splice(0).reverse().map((stop) => stop()))
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected")
    if (failed !== undefined) throw failed.reason
  })

  const get = (path: string, init: RequestInit = {}) => fetch(`${proxy.url}${path}`, { redirect: "manual", ...init })
  const bytes = async (response: Response) => new Uint8Array(await response.arrayBuffer())
  const expectS3Error = async (response: Response, status: number, code: string) => {
    const text = await response.text()
    expect({ status: response.status, text }).toMatchObject({ status })
    expect(response.headers.get("content-type")).toContain("xml")
    const error = parseError(text)
    expect(error.Code).toBe(code)
    return error
  }
  const backendRequests = (bucket: string, predicate: (url: string) => boolean = () => true) =>
    gcs.requests.filter((r) => r.bucket === bucket && predicate(r.rawUrl))

  describe("the in-test GCS server answers as GCS does", () => {
    it("V1 listing document: GCS namespace, Generation/MetaGeneration, NextMarker on truncation", async () => {
      const response = await fetch(`${gcs.url}/${PUBLIC_BUCKET}?prefix=data/sub/&max-keys=2`)
      const text = await response.text()
      expect(response.status).toBe(200)
      expect(text).toMatch(/^<\?xml version='1\.0' encoding='UTF-8'\?><ListBucketResult xmlns='http:\/\/doc\.s3\.amazonaws\.com\/2006-03-01'>/)
      expect(text).toContain("<Generation>")
      expect(text).toContain("<MetaGeneration>1</MetaGeneration>")
      expect(text).toContain("<NextMarker>data/sub/b.txt</NextMarker>")
      expect(text).not.toContain("KeyCount")
      const page = parseList(text)
      expect(page.IsTruncated).toBe("true")
      expect(page.Contents.map((c) => c.Key)).toEqual(["data/sub/a.txt", "data/sub/b.txt"])
      const next = parseList(await (await fetch(`${gcs.url}/${PUBLIC_BUCKET}?prefix=data/sub/&marker=data/sub/b.txt`)).text())
      expect(next.Contents.map((c) => c.Key)).toEqual(["data/sub/deeper/c.txt"])
      expect(next.IsTruncated).toBe("false")
    })

    it("object headers, NoSuchKey and anonymous AccessDenied XML", async () => {
      const response = await fetch(`${gcs.url}/${PUBLIC_BUCKET}/data/meta.txt`)
      expect(await response.text()).toBe(META_BODY)
      expect(response.headers.get("etag")).toBe(`"${md5(META_BODY)}"`)
      expect(response.headers.get("x-goog-meta-author")).toBe("Ada Lovelace")
      expect(response.headers.get("x-goog-hash")).toMatch(/^crc32c=[A-Za-z0-9+/=]{8}, md5=/)
      expect(response.headers.get("x-goog-stored-content-length")).toBe(String(META_BODY.length))
      expect(response.headers.get("x-guploader-uploadid")).toMatch(/\S/)
      const missing = await fetch(`${gcs.url}/${PUBLIC_BUCKET}/data/nope`)
      expect(missing.status).toBe(404)
      expect(parseError(await missing.text()).Code).toBe("NoSuchKey")
      const denied = await fetch(`${gcs.url}/${PRIVATE_BUCKET}/keyed/file.txt`)
      expect(denied.status).toBe(403)
      expect(parseError(await denied.text()).Code).toBe("AccessDenied")
    })
  })

  describe("reads over HTTP", () => {
    it("full GET: exact bytes, GCS's ETag and Last-Modified, Accept-Ranges", async () => {
      const response = await get(`/${ACCOUNT}/gpub/blob.bin`)
      expect(response.status).toBe(200)
      expect(await bytes(response)).toEqual(BLOB)
      const object = gcs.get(PUBLIC_BUCKET, "data/blob.bin")!
      expect(response.headers.get("etag")).toBe(`"${md5(BLOB)}"`)
      expect(response.headers.get("last-modified")).toBe(object.updated.toUTCString())
      expect(response.headers.get("content-type")).toBe("application/octet-stream")
      expect(response.headers.get("accept-ranges")).toBe("bytes")
      // The chunk cache asked GCS for the object's metadata, then for its one chunk, pinned to that ETag.
      const sent = backendRequests(PUBLIC_BUCKET, (u) => u === "/gcs-public/data/blob.bin").slice(-2)
      expect(sent).toMatchObject([
        { method: "HEAD", status: 200, auth: "anonymous" },
        { method: "GET", status: 206, auth: "anonymous", headers: { range: "bytes=0-4999", "if-match": `"${md5(BLOB)}"` } }
      ])
      expect(sent.map((r) => r.headers.authorization)).toStrictEqual([undefined, undefined])
    })

    it.each([
      ["bytes=0-1023", 0, 1024],
      ["bytes=1000-1999", 1000, 2000],
      ["bytes=4990-9999", 4990, 5000],
      ["bytes=1000-", 1000, 5000],
      ["bytes=-500", 4500, 5000],
      ["bytes=-9000", 0, 5000]
    ])("Range %s → 206, the exact slice and Content-Range", async (range, start, end) => {
      const response = await get(`/${ACCOUNT}/gpub/blob.bin`, { headers: { range } })
      expect(response.status).toBe(206)
      expect(await bytes(response)).toEqual(BLOB.slice(start, end))
      expect(response.headers.get("content-range")).toBe(`bytes ${start}-${end - 1}/${BLOB.length}`)
    })

    it("an unsatisfiable Range → 416 InvalidRange", async () => {
      await expectS3Error(await get(`/${ACCOUNT}/gpub/blob.bin`, { headers: { range: "bytes=5000-6000" } }), 416, "InvalidRange")
    })

    it("HEAD → 200 with length and ETag, no body; HEAD with Range → 206", async () => {
      const head = await get(`/${ACCOUNT}/gpub/blob.bin`, { method: "HEAD" })
      expect(head.status).toBe(200)
      expect(head.headers.get("content-length")).toBe(String(BLOB.length))
      expect(head.headers.get("etag")).toBe(`"${md5(BLOB)}"`)
      expect((await head.arrayBuffer()).byteLength).toBe(0)
      const ranged = await get(`/${ACCOUNT}/gpub/blob.bin`, { method: "HEAD", headers: { range: "bytes=0-99" } })
      expect(ranged.status).toBe(206)
      expect(ranged.headers.get("content-length")).toBe("100")
      expect(ranged.headers.get("content-range")).toBe(`bytes 0-99/${BLOB.length}`)
    })

    it("conditional reads: If-None-Match 304, If-Match 412, If-Modified-Since 304, If-Unmodified-Since 412, and the passing forms 200", async () => {
      const etag = `"${md5(BLOB)}"`
      const path = `/${ACCOUNT}/gpub/blob.bin`
      const notModified = await get(path, { headers: { "if-none-match": etag } })
      expect(notModified.status).toBe(304)
      expect((await notModified.arrayBuffer()).byteLength).toBe(0)
      await expectS3Error(await get(path, { headers: { "if-match": "\"0123\"" } }), 412, "PreconditionFailed")
      const future = new Date(Date.now() + 86_400_000).toUTCString()
      const ims = await get(path, { headers: { "if-modified-since": future } })
      expect(ims.status).toBe(304)
      await ims.arrayBuffer()
      await expectS3Error(await get(path, { headers: { "if-unmodified-since": "Sat, 01 Jan 2000 00:00:00 GMT" } }), 412, "PreconditionFailed")
      for (const headers of [{ "if-match": etag }, { "if-none-match": "\"0123\"" }, { "if-modified-since": "Sat, 01 Jan 2000 00:00:00 GMT" }]) {
        const ok = await get(path, { headers })
        expect(ok.status).toBe(200)
        expect(await bytes(ok)).toEqual(BLOB)
      }
      const conditionalRange = await get(path, { headers: { "if-match": etag, range: "bytes=10-19" } })
      expect(conditionalRange.status).toBe(206)
      expect(await bytes(conditionalRange)).toEqual(BLOB.slice(10, 20))
    })

    it("keys with space, +, =, ü, %, ?, #, &, <, ' read byte-exact", async () => {
      const unicode = await get(`/${ACCOUNT}/gpub/${encodeKey(UNICODE_KEY)}`)
      expect(unicode.status).toBe(200)
      expect(await unicode.text()).toBe(UNICODE_BODY)
      const odd = await get(`/${ACCOUNT}/gpub/${encodeKey(ODD_KEY)}`)
      expect(odd.status).toBe(200)
      expect(await odd.text()).toBe(ODD_BODY)
      expect(gcs.requests.some((r) => r.key === `data/${UNICODE_KEY}` && r.status === 200)).toBe(true)
    })

    it("a missing object → 404 NoSuchKey (GET) and 404 (HEAD)", async () => {
      await expectS3Error(await get(`/${ACCOUNT}/gpub/no/such.txt`), 404, "NoSuchKey")
      const head = await get(`/${ACCOUNT}/gpub/no/such.txt`, { method: "HEAD" })
      expect(head.status).toBe(404)
      await head.arrayBuffer()
    })

    it("provider `gs` is the same provider (endpoint with a trailing slash)", async () => {
      const response = await get(`/${ACCOUNT}/galias/hello.txt`)
      expect(response.status).toBe(200)
      expect(await response.text()).toBe("hello from gcs\n")
    })

    it("gcs with s3_access_key → 502 BackendAuthenticationFailed, and nothing reaches GCS unsigned", async () => {
      const before = gcs.requests.length
      await expectS3Error(await get(`/${ACCOUNT}/gmismatch/hello.txt`), 502, "BackendAuthenticationFailed")
      expect(gcs.requests.length).toBe(before)
    })

    // GCS-specific header mapping (src/core/backends/gcs/headers.ts, not yet wired into S3Store): S3 clients
    // should see user metadata as x-amz-meta-*, and none of GCS's internals.
    it("S3-shaped response headers: x-goog-meta-* → x-amz-meta-*, no x-goog-*/x-guploader-*/alt-svc", async () => {
      const response = await get(`/${ACCOUNT}/gpub/meta.txt`)
      expect(await response.text()).toBe(META_BODY)
      const names = [...response.headers.keys()]
      expect(response.headers.get("x-amz-meta-author")).toBe("Ada Lovelace")
      expect(response.headers.get("x-amz-meta-x-run")).toBe("e2e")
      expect(names.filter((n) => n.startsWith("x-goog-") || n.startsWith("x-guploader-") || n === "alt-svc")).toEqual([])
    })
  })

  describe("listings over HTTP (proxy V2/V1 in front, GCS V1 behind)", () => {
    const list = async (path: string) => {
      const response = await get(path)
      const text = await response.text()
      expect({ status: response.status, text }).toMatchObject({ status: 200 })
      return parseList(text)
    }

    it("a product listing: every key, prefix mapped, nothing outside the mirror prefix; the backend saw V1 with no list-type", async () => {
      gcs.clearLog()
      const result = await list(`/${ACCOUNT}/gpub?list-type=2`)
      expect(result.Contents.map((c) => c.Key)).toEqual(PUB_KEYS)
      const blob = result.Contents.find((c) => c.Key === "gpub/blob.bin")
      expect(blob).toMatchObject({ Size: String(BLOB.length), ETag: `"${md5(BLOB)}"` })
      const sent = backendRequests(PUBLIC_BUCKET, (u) => !u.startsWith("/gcs-public/"))
      expect(sent).toHaveLength(1)
      expect(sent[0]!.query).toEqual({ "max-keys": "1000", prefix: "data/" })
      expect(sent[0]!.rawUrl).not.toContain("list-type")
    })

    it("a delimiter listing rolls up CommonPrefixes", async () => {
      const result = await list(`/${ACCOUNT}?list-type=2&prefix=gpub/&delimiter=/`)
      expect(result.Contents.map((c) => c.Key)).toEqual(["gpub/blob.bin", "gpub/hello.txt", "gpub/meta.txt"])
      expect(result.CommonPrefixes.map((p) => p.Prefix)).toEqual(["gpub/dir/", "gpub/odd/", "gpub/sub/"])
    })

    it.each(["gmany", "gmanynm"])("V2 pages over %s continue with the backend's marker (max-keys=500)", async (productId) => {
      gcs.clearLog()
      const keys: Array<string> = []
      let token: string | undefined
      let pages = 0
      do {
        const result = await list(
          `/${ACCOUNT}?list-type=2&prefix=${productId}/&max-keys=500${token === undefined ? "" : `&continuation-token=${encodeURIComponent(token)}`}`
        )
        keys.push(...result.Contents.map((c) => c.Key))
        token = result.IsTruncated === "true" ? result.NextContinuationToken : undefined
        pages++
      } while (token !== undefined && pages < 10)
      expect(keys).toEqual(manyKeys(productId))
      expect(pages).toBe(3)
      const markers = gcs.requests.filter((r) => r.key === undefined).map((r) => r.query.marker)
      expect(markers).toHaveLength(3)
      expect(markers[0]).toBeUndefined()
      expect(markers[1]).toBe(`many/${MANY_RELATIVE.slice().sort(byteOrder)[499]}`)
      for (const r of gcs.requests.filter((x) => x.key === undefined)) expect(r.query["list-type"]).toBeUndefined()
    })
  })

  describe("boto3 (unsigned, path style)", () => {
    it("get/head/ranged/suffix/conditional reads of awkward keys are byte-exact", async () => {
      const out = await runBoto3<Record<string, unknown>>(
        `
        b = inp["bucket"]
        body = s3.get_object(Bucket=b, Key=inp["key"])["Body"].read()
        head = s3.head_object(Bucket=b, Key=inp["key"])
        odd = s3.get_object(Bucket=b, Key=inp["odd"])["Body"].read()
        ranged = s3.get_object(Bucket=b, Key="gpub/blob.bin", Range="bytes=1000-1999")
        suffix = s3.get_object(Bucket=b, Key="gpub/blob.bin", Range="bytes=-500")
        etag = s3.head_object(Bucket=b, Key="gpub/blob.bin")["ETag"]
        try:
            s3.get_object(Bucket=b, Key="gpub/blob.bin", IfNoneMatch=etag)
            nm = "no error"
        except ClientError as e:
            nm = error_of(e)
        try:
            s3.get_object(Bucket=b, Key="gpub/blob.bin", IfMatch='"0123"')
            m = "no error"
        except ClientError as e:
            m = error_of(e)
        out = {
            "body": digest(body),
            "length": head["ContentLength"],
            "etag": head["ETag"],
            "odd": digest(odd),
            "ranged": digest(ranged["Body"].read()),
            "contentRange": ranged["ContentRange"],
            "suffix": digest(suffix["Body"].read()),
            "ifNoneMatch": nm,
            "ifMatch": m,
        }
        `,
        { endpoint: proxy.url, bucket: ACCOUNT, key: `gpub/${UNICODE_KEY}`, odd: `gpub/${ODD_KEY}` }
      )
      expect(out).toEqual({
        body: { sha256: sha256(UNICODE_BODY), length: Buffer.byteLength(UNICODE_BODY) },
        length: Buffer.byteLength(UNICODE_BODY),
        etag: `"${md5(UNICODE_BODY)}"`,
        odd: { sha256: sha256(ODD_BODY), length: ODD_BODY.length },
        ranged: { sha256: sha256(BLOB.slice(1000, 2000)), length: 1000 },
        contentRange: `bytes 1000-1999/${BLOB.length}`,
        suffix: { sha256: sha256(BLOB.slice(4500)), length: 500 },
        ifNoneMatch: { code: "304", status: 304 },
        ifMatch: { code: "PreconditionFailed", status: 412 }
      })
    })

    it("errors: NoSuchKey (missing), AccessDenied (wrong HMAC secret, unknown HMAC key, private bucket unsigned)", async () => {
      const out = await runBoto3<Record<string, unknown>>(
        `
        out = {}
        for name, key in [("missing", "gpub/nope.txt"), ("badsecret", "gbadkey/file.txt"), ("unknownkey", "gunknownkey/file.txt"), ("unsigned", "ganon/file.txt")]:
            try:
                s3.get_object(Bucket=inp["bucket"], Key=key)
                out[name] = "no error"
            except ClientError as e:
                out[name] = error_of(e)
        `,
        { endpoint: proxy.url, bucket: ACCOUNT }
      )
      expect(out).toEqual({
        missing: { code: "NoSuchKey", status: 404 },
        badsecret: { code: "AccessDenied", status: 403 },
        unknownkey: { code: "AccessDenied", status: 403 },
        unsigned: { code: "AccessDenied", status: 403 }
      })
      const refused = gcs.requests.filter((r) => r.bucket === PRIVATE_BUCKET && r.status === 403).map((r) => r.auth)
      expect(refused).toEqual(expect.arrayContaining(["SignatureDoesNotMatch", "InvalidAccessKeyId", "anonymous"]))
    })

    it.each(["gmany", "gmanynm"])(`list_objects_v2 and list_objects paginators over %s: all ${MANY_COUNT} keys once, in byte order`, async (productId) => {
      const out = await runBoto3<{ v2: Array<string>; v2Pages: number; v1: Array<string>; v1Pages: number }>(
        `
        out = {"v2": [], "v2Pages": 0, "v1": [], "v1Pages": 0}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=inp["bucket"], Prefix=inp["prefix"]):
            out["v2Pages"] += 1
            out["v2"] += [o["Key"] for o in page.get("Contents", [])]
        for page in s3.get_paginator("list_objects").paginate(Bucket=inp["bucket"], Prefix=inp["prefix"]):
            out["v1Pages"] += 1
            out["v1"] += [o["Key"] for o in page.get("Contents", [])]
        `,
        { endpoint: proxy.url, bucket: ACCOUNT, prefix: `${productId}/` },
        90_000
      )
      expect(out.v2).toEqual(manyKeys(productId))
      expect(out.v1).toEqual(manyKeys(productId))
      expect(out.v2Pages).toBe(2)
      expect(out.v1Pages).toBe(2)
    })

    it("a delimiter paginator (max 2 a page) gives every CommonPrefix and key once", async () => {
      const out = await runBoto3<{ v2: [Array<string>, Array<string>]; v1: [Array<string>, Array<string>] }>(
        `
        out = {}
        for name, op in [("v2", "list_objects_v2"), ("v1", "list_objects")]:
            keys, prefixes = [], []
            for page in s3.get_paginator(op).paginate(Bucket=inp["bucket"], Prefix="gpub/", Delimiter="/", PaginationConfig={"PageSize": 2}):
                keys += [o["Key"] for o in page.get("Contents", [])]
                prefixes += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
            out[name] = [keys, prefixes]
        `,
        { endpoint: proxy.url, bucket: ACCOUNT }
      )
      const expected = [["gpub/blob.bin", "gpub/hello.txt", "gpub/meta.txt"], ["gpub/dir/", "gpub/odd/", "gpub/sub/"]]
      expect(out.v2).toEqual(expected)
      expect(out.v1).toEqual(expected)
    })

    it("user metadata reaches boto3 as Metadata (needs the GCS header mapping)", async () => {
      const out = await runBoto3<Record<string, string>>(
        `out = s3.head_object(Bucket=inp["bucket"], Key="gpub/meta.txt")["Metadata"]`,
        { endpoint: proxy.url, bucket: ACCOUNT }
      )
      expect(out).toEqual({ author: "Ada Lovelace", "x-run": "e2e" })
    })
  })

  describe("HMAC bucket", () => {
    it("reads, HEAD, ranges and listings are signed with SigV4 (region auto) and GCS verified every signature", async () => {
      gcs.clearLog()
      const full = await get(`/${ACCOUNT}/gkeyed/file.txt`)
      expect(full.status).toBe(200)
      expect(await full.text()).toBe(KEYED_BODY)
      const ranged = await get(`/${ACCOUNT}/gkeyed/file.txt`, { headers: { range: "bytes=5-8" } })
      expect(ranged.status).toBe(206)
      expect(await ranged.text()).toBe(KEYED_BODY.slice(5, 9))
      const head = await get(`/${ACCOUNT}/gkeyed/file.txt`, { method: "HEAD" })
      expect(head.status).toBe(200)
      const odd = await get(`/${ACCOUNT}/gkeyed/${encodeKey("sub dir/ü=1.txt")}`)
      expect(await odd.text()).toBe("second\n")
      const listing = parseList(await (await get(`/${ACCOUNT}?list-type=2&prefix=gkeyed/sub%20dir/&delimiter=/`)).text())
      expect(listing.Contents.map((c) => c.Key)).toEqual(["gkeyed/sub dir/ü=1.txt"])
      const page = parseList(await (await get(`/${ACCOUNT}?list-type=2&prefix=gkeyed/&max-keys=1`)).text())
      const next = parseList(
        await (await get(`/${ACCOUNT}?list-type=2&prefix=gkeyed/&max-keys=1&continuation-token=${encodeURIComponent(page.NextContinuationToken ?? "")}`)).text()
      )
      expect([...page.Contents, ...next.Contents].map((c) => c.Key)).toEqual(["gkeyed/file.txt", "gkeyed/sub dir/ü=1.txt"])

      // Each object read: a HEAD and its one chunk (the chunk cache), the range served from that chunk; the HEAD;
      // three listing pages.
      const sent = backendRequests(PRIVATE_BUCKET)
      expect(sent.length).toBe(8)
      for (const r of sent) {
        expect(r.auth).toBe(`hmac:${HMAC_ID}`)
        expect(String(r.headers.authorization)).toMatch(
          new RegExp(`^AWS4-HMAC-SHA256 Credential=${HMAC_ID}/\\d{8}/auto/s3/aws4_request, SignedHeaders=[a-z0-9;-]*host[a-z0-9;-]*, Signature=[0-9a-f]{64}$`)
        )
      }
      expect(sent.some((r) => r.query.marker === "keyed/file.txt")).toBe(true)
    })

    it("a wrong secret → 403 AccessDenied from the proxy, GCS answered SignatureDoesNotMatch", async () => {
      gcs.clearLog()
      await expectS3Error(await get(`/${ACCOUNT}/gbadkey/file.txt`), 403, "AccessDenied")
      await expectS3Error(await get(`/${ACCOUNT}?list-type=2&prefix=gbadkey/`), 403, "AccessDenied")
      expect(backendRequests(PRIVATE_BUCKET).map((r) => [r.status, r.auth])).toEqual([
        [403, "SignatureDoesNotMatch"],
        [403, "SignatureDoesNotMatch"]
      ])
    })
  })

  describe("aws-cli --no-sign-request", () => {
    it("aws s3 cp of a key with space, +, = and ü to stdout is byte-exact; of a private HMAC object too", async () => {
      const result = await runAws(["s3", "cp", "--no-sign-request", "--endpoint-url", proxy.url, `s3://${ACCOUNT}/gpub/${UNICODE_KEY}`, "-"])
      expect(result.stderr).toBe("")
      expect(result.status).toBe(0)
      expect(result.stdout.toString()).toBe(UNICODE_BODY)
      const keyed = await runAws(["s3", "cp", "--no-sign-request", "--endpoint-url", proxy.url, `s3://${ACCOUNT}/gkeyed/file.txt`, "-"])
      expect(keyed.status, keyed.stderr).toBe(0)
      expect(keyed.stdout.toString()).toBe(KEYED_BODY)
    })

    it("aws s3 ls --recursive lists every key once, with sizes", async () => {
      const result = await runAws(["s3", "ls", "--no-sign-request", "--endpoint-url", proxy.url, "--recursive", `s3://${ACCOUNT}/gpub/`])
      expect(result.status, result.stderr).toBe(0)
      const keys = result.stdout.toString().trim().split("\n").map((line) => line.split(/\s+/).slice(3).join(" "))
      expect(keys).toEqual(PUB_KEYS)
      expect(result.stdout.toString()).toMatch(new RegExp(`\\s${BLOB.length}\\s+gpub/blob\\.bin`))
    })

    it(`aws s3 ls --recursive over ${MANY_COUNT} keys (GCS without NextMarker) lists each once`, async () => {
      const result = await runAws(["s3", "ls", "--no-sign-request", "--endpoint-url", proxy.url, "--recursive", `s3://${ACCOUNT}/gmanynm/`], 90_000)
      expect(result.status, result.stderr).toBe(0)
      const keys = result.stdout.toString().trim().split("\n").map((line) => line.split(/\s+/).slice(3).join(" "))
      expect(keys).toEqual(manyKeys("gmanynm"))
    })
  })

  describe("measurement (reported, not asserted)", () => {
    it(`lists ${BIG_COUNT} keys through the proxy and straight from GCS`, async () => {
      // Time to the last byte of every page; no XML parser on the client side (keys are counted, tokens cut out).
      const keyCount = (text: string) => text.split("<Key>").length - 1
      const viaProxy = async () => {
        let token: string | undefined
        let count = 0
        do {
          const text = await (await get(`/${ACCOUNT}?list-type=2&prefix=gbig/${token === undefined ? "" : `&continuation-token=${encodeURIComponent(token)}`}`)).text()
          count += keyCount(text)
          token = text.includes("<IsTruncated>true</IsTruncated>") ? /<NextContinuationToken>([^<]*)</.exec(text)?.[1] : undefined
        } while (token !== undefined)
        return count
      }
      const direct = async () => {
        let marker: string | undefined
        let count = 0
        do {
          const text = await (await fetch(`${gcs.url}/${PUBLIC_BUCKET}?prefix=big/${marker === undefined ? "" : `&marker=${encodeURIComponent(marker)}`}`)).text()
          count += keyCount(text)
          marker = text.includes("<IsTruncated>true</IsTruncated>") ? /<NextMarker>([^<]*)</.exec(text)?.[1] : undefined
        } while (marker !== undefined)
        return count
      }
      const time = async (run: () => Promise<number>) => {
        const started = performance.now()
        const count = await run()
        return { ms: performance.now() - started, count }
      }
      await time(viaProxy) // warm-up: catalog lookups, connections
      await time(direct)
      const proxyRuns: Array<number> = []
      const directRuns: Array<number> = []
      for (let i = 0; i < 5; i++) {
        const p = await time(viaProxy)
        const d = await time(direct)
        expect(p.count).toBe(BIG_COUNT)
        expect(d.count).toBe(BIG_COUNT)
        proxyRuns.push(p.ms)
        directRuns.push(d.ms)
      }
      const median = (xs: Array<number>) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
      console.log(
        `[gcs measurement] list ${BIG_COUNT} keys (10 pages of 1000): proxy median ${median(proxyRuns).toFixed(1)} ms ` +
          `(runs ${proxyRuns.map((x) => x.toFixed(0)).join("/")}), GCS direct median ${median(directRuns).toFixed(1)} ms ` +
          `(runs ${directRuns.map((x) => x.toFixed(0)).join("/")}), overhead ×${(median(proxyRuns) / median(directRuns)).toFixed(2)}`
      )
    })
  })
})
