import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Encoding, Layer, TestClock } from "effect"
import { AZURE_API_VERSION, AzureProvider, clientRange } from "../../src/core/backends/azure/AzureStore.js"
import { parseEnumerationResults } from "../../src/core/backends/azure/listXml.js"
import type { BackendAuth, DataConnection } from "../../src/core/backends/connection.js"
import type { S3Error } from "../../src/core/s3/errors.js"
import { statusOf } from "../../src/core/s3/renderError.js"
import { AppConfig } from "../../src/core/services/AppConfig.js"
import { UpstreamFailure, type UpstreamRequest } from "../../src/core/services/Upstream.js"
import { NodeCryptoHmac } from "../../src/platform/bun/NodeCryptoHmac.js"
import { listRequest } from "../fixtures/listing.js"
import { type Answer, endlessBody, settings, stubUpstream, TestConfig } from "../fixtures/stubUpstream.js"

const KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

const connection = (
  details: Partial<DataConnection["details"]> = {},
  authentication: BackendAuth = { type: "unsigned" }
): DataConnection => ({
  data_connection_id: "conn-az",
  read_only: true,
  details: { provider: "az", account_name: "acct", container_name: "cont", ...details },
  authentication
})

const open = (conn: DataConnection, answer: (request: UpstreamRequest) => Answer = () => new Response("ok")) => {
  const stub = stubUpstream(answer)
  const store = Effect.flatMap(AzureProvider, (make) => make(conn)).pipe(
    Effect.provide(Layer.mergeAll(stub.layer, TestConfig, NodeCryptoHmac))
  )
  return { calls: stub.calls, store }
}

const GET = (key: string, headers: Record<string, string> = {}) => ({ key, method: "GET" as const, headers: new Headers(headers) })
const HEAD = (key: string, headers: Record<string, string> = {}) => ({ key, method: "HEAD" as const, headers: new Headers(headers) })

const blobHeaders = (extra: Record<string, string> = {}) => ({
  "content-length": "5000",
  "content-type": "application/x-test",
  etag: "\"0x8DC2323E4CAFF28\"",
  "last-modified": "Thu, 01 Feb 2024 12:47:04 GMT",
  ...extra
})

const enumeration = (body: string, nextMarker = "") =>
  new Response(
    `<?xml version="1.0" encoding="utf-8"?><EnumerationResults ServiceEndpoint="https://acct.blob.core.windows.net/" ContainerName="cont"><Blobs>${body}</Blobs><NextMarker>${nextMarker}</NextMarker></EnumerationResults>`,
    { status: 200, headers: { "content-type": "application/xml" } }
  )
const blob = (name: string, size = 1) =>
  `<Blob><Name>${name}</Name><Properties><Last-Modified>Thu, 01 Feb 2024 12:47:04 GMT</Last-Modified><Etag>0x8D${size}</Etag><Content-Length>${size}</Content-Length><BlobType>BlockBlob</BlobType></Properties></Blob>`
const prefix = (name: string) => `<BlobPrefix><Name>${name}</Name></BlobPrefix>`

describe("Azure store: requests", () => {
  const urls: ReadonlyArray<readonly [string, Partial<DataConnection["details"]>, string]> = [
    ["the account's public host", {}, "https://acct.blob.core.windows.net/cont/k.txt"],
    ["an emulator endpoint (trailing slash trimmed)", { endpoint: "http://127.0.0.1:10000/devstoreaccount1/" }, "http://127.0.0.1:10000/devstoreaccount1/cont/k.txt"],
    ["an empty endpoint", { endpoint: "" }, "https://acct.blob.core.windows.net/cont/k.txt"]
  ]
  for (const [name, details, url] of urls) {
    it.effect(`URL for ${name}: ${url}`, () => {
      const { calls, store } = open(connection(details))
      return Effect.gen(function*() {
        yield* (yield* store).read(GET("k.txt"))
        expect(calls[0]?.url).toBe(url)
      })
    })
  }

  it.effect("keys are URI-encoded as S3 does, slashes kept", () => {
    const { calls, store } = open(connection())
    return Effect.gen(function*() {
      yield* (yield* store).read(GET("base/dir/a b+c=ü*(1)~!.bin"))
      expect(calls[0]?.url).toBe("https://acct.blob.core.windows.net/cont/base/dir/a%20b%2Bc%3D%C3%BC%2A%281%29~%21.bin")
    })
  })

  it.effect("anonymous: x-ms-version, no Authorization, no x-ms-date; only range and if-* forwarded", () => {
    const { calls, store } = open(connection())
    return Effect.gen(function*() {
      yield* (yield* store).read(GET("k", {
        range: "bytes=0-9",
        "if-match": "\"a\"",
        "if-none-match": "\"b\"",
        "if-modified-since": "Tue, 02 Jan 2024 03:04:05 GMT",
        "if-unmodified-since": "Wed, 03 Jan 2024 03:04:05 GMT",
        authorization: "AWS4-HMAC-SHA256 Credential=client/20240102/us-east-1/s3/aws4_request",
        cookie: "c=1",
        "x-amz-security-token": "t"
      }))
      expect(Object.fromEntries(calls[0]!.headers)).toStrictEqual({
        range: "bytes=0-9",
        "if-match": "\"a\"",
        "if-none-match": "\"b\"",
        "if-modified-since": "Tue, 02 Jan 2024 03:04:05 GMT",
        "if-unmodified-since": "Wed, 03 Jan 2024 03:04:05 GMT",
        "x-ms-version": AZURE_API_VERSION
      })
    })
  })

  it.effect("az_shared_key: SharedKey authorization at the clock's time", () => {
    const { calls, store } = open(connection({}, { type: "az_shared_key", account_key: KEY }))
    return Effect.gen(function*() {
      yield* TestClock.setTime(Date.parse("2024-01-02T03:04:05Z"))
      yield* (yield* store).read(GET("dir/a b.txt", { range: "bytes=0-1" }))
      const headers = calls[0]!.headers
      expect(headers.get("x-ms-date")).toBe("Tue, 02 Jan 2024 03:04:05 GMT")
      expect(headers.get("x-ms-version")).toBe(AZURE_API_VERSION)
      expect(headers.get("authorization")).toMatch(/^SharedKey acct:[A-Za-z0-9+/]{43}=$/)
    })
  })

  it.effect("az_sas: the token's query is appended (leading ? dropped), nothing signed", () => {
    const sas = "?sv=2021-12-02&sr=c&sp=rl&se=2030-01-01T00%3A00%3A00Z&sig=abc%2Bdef%3D"
    const { calls, store } = open(connection({}, { type: "az_sas", sas_token: sas }), () => enumeration(""))
    return Effect.gen(function*() {
      const az = yield* store
      yield* az.read(GET("k"))
      yield* az.list(listRequest({ prefix: "p/" }))
      expect(calls[0]!.url).toBe(`https://acct.blob.core.windows.net/cont/k${sas}`)
      expect(calls[0]!.headers.has("authorization")).toBe(false)
      expect(calls[1]!.url).toBe(
        `https://acct.blob.core.windows.net/cont?restype=container&comp=list&prefix=p%2F&maxresults=1000&${sas.slice(1)}`
      )
    })
  })

  it.effect("HEAD and ranged reads keep the runtime cache out; the backend timeout bounds every call", () => {
    const { calls, store } = open(connection())
    return Effect.gen(function*() {
      const az = yield* store
      yield* az.read(GET("k"))
      yield* az.read(GET("k", { range: "bytes=0-1" }))
      yield* az.read(HEAD("k"))
      expect(calls.map((c) => [c.method, c.noStore])).toStrictEqual([["GET", false], ["GET", true], ["HEAD", true]])
      for (const call of calls) expect(Duration.equals(Duration.decode(call.timeout), settings.backendTimeout)).toBe(true)
    })
  })

  const refusals: ReadonlyArray<readonly [BackendAuth, string]> = [
    [{ type: "s3_access_key", access_key_id: "AKID", secret_access_key: "s" }, "ProviderMismatch"],
    [{ type: "s3_web_identity_role", role_arn: "arn:aws:iam::1:role/r" }, "ProviderMismatch"],
    [{ type: "gcs_hmac", access_key_id: "GOOG", secret: "s" }, "ProviderMismatch"],
    [{ type: "unsupported" }, "UnsupportedAuthType"],
    [{ type: "az_shared_key", account_key: "not base64!" }, "InvalidAccountKey"],
    [{ type: "az_sas", sas_token: "sv=2021-12-02&sp=r" }, "InvalidSasToken"]
  ]
  for (const [auth, code] of refusals) {
    it.effect(`${auth.type} ${code}: BackendAuthenticationFailed, nothing sent`, () => {
      const { calls, store } = open(connection({}, auth))
      return Effect.gen(function*() {
        const error = yield* Effect.flip(store)
        expect(error).toMatchObject({ _tag: "BackendAuthenticationFailed", code })
        expect(calls).toStrictEqual([])
      })
    })
  }

  it.effect("no account or container: CatalogFailure", () =>
    Effect.gen(function*() {
      expect(yield* Effect.flip(open(connection({ container_name: undefined })).store)).toMatchObject({ _tag: "CatalogFailure" })
      expect(yield* Effect.flip(open(connection({ account_name: "" })).store)).toMatchObject({ _tag: "CatalogFailure" })
    }))
})

describe("Azure store: ranges", () => {
  it("client ranges as S3 reads them", () => {
    expect(clientRange(null)).toStrictEqual({ _tag: "None" })
    expect(clientRange("bytes=0-1023")).toStrictEqual({ _tag: "Forward", header: "bytes=0-1023" })
    expect(clientRange("bytes = 1000-")).toStrictEqual({ _tag: "Forward", header: "bytes=1000-" })
    expect(clientRange("bytes=-500")).toStrictEqual({ _tag: "Suffix", header: "bytes=-500" })
    expect(clientRange("bytes=10-5")).toStrictEqual({ _tag: "None" })
    expect(clientRange("bytes=0-1,5-6")).toStrictEqual({ _tag: "None" })
    expect(clientRange("items=0-1")).toStrictEqual({ _tag: "None" })
  })

  it("client ranges use the shared linear parser: a million spaces are no cost, and digits are kept as written", () => {
    expect(clientRange(`bytes=1-${" ".repeat(1_000_000)}x`)).toStrictEqual({ _tag: "None" })
    expect(clientRange(` BYTES = 007 - ${" ".repeat(1_000_000)}`)).toStrictEqual({ _tag: "Forward", header: "bytes=007-" })
  })

  it.effect("a range S3 ignores is not forwarded", () => {
    const { calls, store } = open(connection())
    return Effect.gen(function*() {
      yield* (yield* store).read(GET("k", { range: "bytes=0-1,5-6" }))
      expect(calls[0]!.headers.has("range")).toBe(false)
      expect(calls[0]!.noStore).toBe(false)
    })
  })

  it.effect("a suffix range: HEAD for the size (with the client's preconditions), then the range pinned to the ETag", () => {
    const { calls, store } = open(connection(), (request) =>
      request.method === "HEAD"
        ? new Response(null, { status: 200, headers: blobHeaders() })
        : new Response("x".repeat(500), {
          status: 206,
          headers: blobHeaders({ "content-length": "500", "content-range": "bytes 4500-4999/5000" })
        }))
    return Effect.gen(function*() {
      const reply = yield* (yield* store).read(GET("k", { range: "bytes=-500", "if-none-match": "\"other\"" }))
      expect(reply.status).toBe(206)
      expect(reply.headers.get("content-range")).toBe("bytes 4500-4999/5000")
      expect(calls.map((c) => c.method)).toStrictEqual(["HEAD", "GET"])
      expect(calls[0]!.headers.get("if-none-match")).toBe("\"other\"")
      expect(calls[0]!.headers.has("range")).toBe(false)
      expect(calls[1]!.headers.get("range")).toBe("bytes=4500-4999")
      expect(calls[1]!.headers.get("if-match")).toBe("\"0x8DC2323E4CAFF28\"")
      expect(calls[1]!.noStore).toBe(true)
    })
  })

  it.effect("a suffix range larger than the blob is the whole blob as 206; a suffix of 0 is InvalidRange", () => {
    const { calls, store } = open(connection(), (request) =>
      request.method === "HEAD"
        ? new Response(null, { status: 200, headers: blobHeaders() })
        : new Response("", { status: 206, headers: blobHeaders({ "content-range": "bytes 0-4999/5000" }) }))
    return Effect.gen(function*() {
      const az = yield* store
      yield* az.read(GET("k", { range: "bytes=-99999" }))
      expect(calls[1]!.headers.get("range")).toBe("bytes=0-4999")
      expect(yield* Effect.flip(az.read(GET("k", { range: "bytes=-0" })))).toMatchObject({ _tag: "InvalidRange", size: 5000 })
    })
  })

  it.effect("a suffix read whose blob changes in between is tried again, then given up", () => {
    const { calls, store } = open(connection(), (request) =>
      request.method === "HEAD"
        ? new Response(null, { status: 200, headers: blobHeaders() })
        : new Response("", { status: 412 }))
    return Effect.gen(function*() {
      const error = yield* Effect.flip((yield* store).read(GET("k", { range: "bytes=-5" })))
      expect(error._tag).toBe("BackendUnavailable")
      expect(calls.map((c) => c.method)).toStrictEqual(["HEAD", "GET", "HEAD", "GET"])
    })
  })

  it.effect("HEAD with a range: Azure's properties (no range sent), answered 206 from the size", () => {
    const { calls, store } = open(connection(), () => new Response(null, { status: 200, headers: blobHeaders({ "content-md5": "abc==" }) }))
    return Effect.gen(function*() {
      const az = yield* store
      const reply = yield* az.read(HEAD("k", { range: "bytes=100-199" }))
      expect(calls[0]!.headers.has("range")).toBe(false)
      expect(reply.status).toBe(206)
      expect(reply.headers.get("content-range")).toBe("bytes 100-199/5000")
      expect(reply.headers.get("content-length")).toBe("100")
      expect(reply.headers.has("content-md5")).toBe(false)
      expect(yield* Effect.flip(az.read(HEAD("k", { range: "bytes=5000-" })))).toMatchObject({ _tag: "InvalidRange", size: 5000 })
      expect((yield* az.read(HEAD("k", { range: "bytes=9-1" }))).status).toBe(200)
    })
  })

  it.effect("Azurite's 206 `bytes N-(N-1)/N` for a range at the end is InvalidRange, as Azure's 416", () => {
    const { store } = open(connection(), () =>
      new Response("", { status: 206, headers: blobHeaders({ "content-length": "0", "content-range": "bytes 5000-4999/5000" }) }))
    return Effect.gen(function*() {
      expect(yield* Effect.flip((yield* store).read(GET("k", { range: "bytes=5000-" })))).toMatchObject({ _tag: "InvalidRange", size: 5000 })
    })
  })
})

describe("Azure store: answers", () => {
  it.effect("200: headers as S3 sends them (x-ms-meta-* → x-amz-meta-*, other x-ms-* dropped), the body untouched", () => {
    const body = new ReadableStream<Uint8Array>()
    const { store } = open(connection(), () =>
      new Response(body, {
        status: 200,
        headers: blobHeaders({
          "cache-control": "max-age=60",
          "content-encoding": "gzip",
          "x-ms-meta-author": "Ada",
          "x-ms-request-id": "r-1",
          "x-ms-version": "2021-12-02",
          "x-ms-blob-type": "BlockBlob",
          "x-ms-lease-state": "available",
          "set-cookie": "a=b"
        })
      }))
    return Effect.gen(function*() {
      const reply = yield* (yield* store).read(GET("k"))
      expect(reply.status).toBe(200)
      expect(reply.body).toBe(body)
      expect(Object.fromEntries(reply.headers)).toStrictEqual({
        "accept-ranges": "bytes",
        "cache-control": "max-age=60",
        "content-encoding": "gzip",
        "content-length": "5000",
        "content-type": "application/x-test",
        etag: "\"0x8DC2323E4CAFF28\"",
        "last-modified": "Thu, 01 Feb 2024 12:47:04 GMT",
        "x-amz-meta-author": "Ada"
      })
    })
  })

  it.effect("304 has no body", () => {
    const { store } = open(connection(), () => new Response(null, { status: 304, headers: { etag: "\"e\"" } }))
    return Effect.gen(function*() {
      const reply = yield* (yield* store).read(GET("k", { "if-none-match": "\"e\"" }))
      expect([reply.status, reply.body, reply.headers.get("etag")]).toStrictEqual([304, null, "\"e\""])
    })
  })

  const statuses: ReadonlyArray<readonly [number, Record<string, string>, object]> = [
    [404, {}, { _tag: "NoSuchKey", key: "k" }],
    [412, {}, { _tag: "PreconditionFailed" }],
    [416, { "content-range": "bytes */5000" }, { _tag: "InvalidRange", size: 5000 }],
    [401, {}, { _tag: "AccessDenied" }],
    [403, {}, { _tag: "AccessDenied" }],
    [409, {}, { _tag: "BackendUnavailable" }],
    [500, {}, { _tag: "BackendUnavailable" }],
    [503, {}, { _tag: "BackendUnavailable" }]
  ]
  for (const [status, headers, error] of statuses) {
    it.effect(`${status} → ${JSON.stringify(error)}`, () => {
      const { store } = open(connection(), () => new Response(status === 416 ? "<Error/>" : "", { status, headers }))
      return Effect.gen(function*() {
        expect(yield* Effect.flip((yield* store).read(GET("k")))).toMatchObject(error)
      })
    })
  }

  for (const reason of ["Transport", "Timeout"] as const) {
    it.effect(`${reason} failure → BackendUnavailable`, () => {
      const { store } = open(connection(), (request) => Effect.fail(new UpstreamFailure({ reason, url: request.url, detail: "x" })))
      return Effect.gen(function*() {
        const az = yield* store
        expect(yield* Effect.flip(az.read(GET("k")))).toMatchObject({ _tag: "BackendUnavailable" })
        expect(yield* Effect.flip(az.list(listRequest()))).toMatchObject({ _tag: "BackendUnavailable" })
      })
    })
  }
})

describe("Azure store: listings", () => {
  it.effect("the List Blobs URL: restype, comp, prefix, delimiter, maxresults, marker from the token", () => {
    const { calls, store } = open(connection(), () => enumeration(blob("a b/x.txt"), "MARKER+1"))
    return Effect.gen(function*() {
      const az = yield* store
      const page = yield* az.list(listRequest({ prefix: "a b/", delimiter: "/", maxKeys: 1 }))
      expect(calls[0]!.url).toBe("https://acct.blob.core.windows.net/cont?restype=container&comp=list&prefix=a%20b%2F&delimiter=%2F&maxresults=1")
      expect(calls[0]!.method).toBe("GET")
      expect(calls[0]!.noStore).toBe(true)
      yield* az.list(listRequest({ prefix: "a b/", delimiter: "/", maxKeys: 1, continuationToken: page.nextContinuationToken }))
      expect(calls[1]!.url).toContain("&marker=MARKER%2B1")
    })
  })

  it.effect("a page: objects with quoted ETags, prefixes, and a token only when Azure has more", () => {
    const { store } = open(connection(), () => enumeration(blob("d/a.txt", 3) + prefix("d/sub/")))
    return Effect.gen(function*() {
      const page = yield* (yield* store).list(listRequest({ prefix: "d/", delimiter: "/" }))
      expect(page).toStrictEqual({
        objects: [{ key: "d/a.txt", size: 3, lastModified: new Date("2024-02-01T12:47:04Z"), etag: "\"0x8D3\"" }],
        commonPrefixes: ["d/sub/"],
        nextContinuationToken: undefined
      })
    })
  })

  it.effect("a prefix Azure repeats at the top of the next page is listed once", () => {
    const pages = [enumeration(blob("a.txt") + prefix("d/"), "m1"), enumeration(prefix("d/") + blob("e.txt"))]
    const { store } = open(connection(), () => pages.shift()!)
    return Effect.gen(function*() {
      const az = yield* store
      const first = yield* az.list(listRequest({ delimiter: "/", maxKeys: 2 }))
      const second = yield* az.list(listRequest({ delimiter: "/", maxKeys: 2, continuationToken: first.nextContinuationToken }))
      expect([first.commonPrefixes, second.commonPrefixes]).toStrictEqual([["d/"], []])
      expect(second.objects.map((o) => o.key)).toStrictEqual(["e.txt"])
    })
  })

  it.effect("start-after: whole pages are skipped, the page it ends in is resumed past the last name returned", () => {
    const names = Array.from({ length: 10 }, (_, i) => `k${i}`)
    const { calls, store } = open(connection(), (request) => {
      const resumed = request.url.includes("marker=") // never: one Azure page holds all ten
      return resumed ? enumeration("") : enumeration(names.map((n) => blob(n)).join(""))
    })
    return Effect.gen(function*() {
      const az = yield* store
      const first = yield* az.list(listRequest({ startAfter: "k3", maxKeys: 4 }))
      expect(first.objects.map((o) => o.key)).toStrictEqual(["k4", "k5", "k6", "k7"])
      expect(calls[0]!.url).toContain("maxresults=5000")
      const second = yield* az.list(listRequest({ maxKeys: 4, continuationToken: first.nextContinuationToken }))
      expect(second.objects.map((o) => o.key)).toStrictEqual(["k8", "k9"])
      expect(second.nextContinuationToken).toBeUndefined()
      // The resumed page is asked for up to where the answer ends: the 8 names consumed plus 4.
      expect(calls[1]!.url).toContain("maxresults=12")
    })
  })

  it.effect("a token this store did not issue is refused", () => {
    const { calls, store } = open(connection(), () => enumeration(""))
    return Effect.gen(function*() {
      const error = yield* Effect.flip((yield* store).list(listRequest({ continuationToken: Encoding.encodeBase64Url("junk") })))
      expect(error._tag).toBe("BackendUnavailable")
      expect(calls).toStrictEqual([])
    })
  })

  const refusals: ReadonlyArray<readonly [number, string]> = [[401, "AccessDenied"], [403, "AccessDenied"], [404, "BackendUnavailable"], [500, "BackendUnavailable"]]
  for (const [status, tag] of refusals) {
    it.effect(`a listing answered ${status} → ${tag}`, () => {
      const { store } = open(connection(), () => new Response("<Error/>", { status }))
      return Effect.gen(function*() {
        expect((yield* Effect.flip((yield* store).list(listRequest())))._tag).toBe(tag)
      })
    })
  }
})

describe("EnumerationResults parsing", () => {
  it.effect("entities, Encoded names, empty elements, prefixes and NextMarker", () =>
    Effect.gen(function*() {
      const page = yield* parseEnumerationResults(
        `<?xml version="1.0" encoding="utf-8"?><EnumerationResults ServiceEndpoint="x" ContainerName="c"><Prefix/><Marker/><MaxResults>3</MaxResults><Delimiter>/</Delimiter><Blobs>` +
          `<Blob><Name>a &amp; b &lt;c&gt; &#233;.txt</Name><Properties><Creation-Time>Wed, 31 Jan 2024 00:00:00 GMT</Creation-Time><Last-Modified>Thu, 01 Feb 2024 12:47:04 GMT</Last-Modified><Etag>0x8DC</Etag><Content-Length>12</Content-Length></Properties></Blob>` +
          `<Blob><Name Encoded="true">bad%EF%BF%BEname</Name><Properties><Last-Modified>Thu, 01 Feb 2024 12:47:04 GMT</Last-Modified><Etag>"0x1"</Etag><Content-Length>0</Content-Length></Properties></Blob>` +
          `<BlobPrefix><Name>dir/</Name></BlobPrefix></Blobs><NextMarker>2!92!MDAwMDM2IWE-</NextMarker></EnumerationResults>`
      )
      expect(page).toStrictEqual({
        objects: [
          { key: "a & b <c> é.txt", size: 12, lastModified: new Date("2024-02-01T12:47:04Z"), etag: "\"0x8DC\"" },
          { key: "bad\uFFFEname", size: 0, lastModified: new Date("2024-02-01T12:47:04Z"), etag: "\"0x1\"" }
        ],
        prefixes: ["dir/"],
        nextMarker: "2!92!MDAwMDM2IWE-"
      })
    }))

  it.effect("an empty container: no objects, no marker", () =>
    Effect.gen(function*() {
      expect(yield* parseEnumerationResults(`<EnumerationResults><Blobs/><NextMarker/></EnumerationResults>`)).toStrictEqual({
        objects: [],
        prefixes: [],
        nextMarker: undefined
      })
    }))

  const broken: ReadonlyArray<readonly [string, string]> = [
    ["a body cut short", `<EnumerationResults><Blobs><Blob><Name>a</Name>`],
    ["not a listing", `<Error><Code>AuthorizationFailure</Code></Error>`],
    ["a size that is not a number", `<EnumerationResults><Blobs>${blob("a").replace("<Content-Length>1<", "<Content-Length>x<")}</Blobs></EnumerationResults>`],
    ["a date that is not one", `<EnumerationResults><Blobs>${blob("a").replace("Thu, 01 Feb 2024 12:47:04 GMT", "yesterday")}</Blobs></EnumerationResults>`],
    ["a blob without a name", `<EnumerationResults><Blobs><Blob><Properties><Last-Modified>Thu, 01 Feb 2024 12:47:04 GMT</Last-Modified><Content-Length>1</Content-Length></Properties></Blob></Blobs></EnumerationResults>`]
  ]
  for (const [name, xml] of broken) {
    it.effect(`${name} fails`, () =>
      Effect.gen(function*() {
        expect(typeof (yield* Effect.flip(parseEnumerationResults(xml)))).toBe("string")
      }))
  }
})

describe("Azure store: outbound hygiene", () => {
  const openWith = (conn: DataConnection, answer: (request: UpstreamRequest) => Answer, allowPrivateEndpoints: boolean) => {
    const stub = stubUpstream(answer)
    const config = Layer.succeed(AppConfig, { ...settings, allowPrivateEndpoints })
    const store = Effect.flatMap(AzureProvider, (make) => make(conn)).pipe(Effect.provide(Layer.mergeAll(stub.layer, config, NodeCryptoHmac)))
    return { calls: stub.calls, store }
  }
  const SHARED_KEY: BackendAuth = { type: "az_shared_key", account_key: KEY }

  const badNames = ["Acct", "ab", "a".repeat(25), "acct.evil.example", "169.254.169.254", "acct/..", "acct#x", "user@host", "acct:80", "acct-1", " acct"]
  for (const account_name of badNames) {
    it.effect(`account_name ${JSON.stringify(account_name)} is not an Azure account name: refused, nothing sent`, () =>
      Effect.gen(function*() {
        for (const details of [{ account_name }, { account_name, endpoint: "http://127.0.0.1:10000/devstoreaccount1" }]) {
          const { calls, store } = openWith(connection(details, SHARED_KEY), () => new Response("secret"), true)
          const error = yield* Effect.flip(store)
          expect(error).toMatchObject({ _tag: "BackendAuthenticationFailed", code: "InvalidAccountName" })
          expect(statusOf(error)).toBe(502)
          expect(calls).toHaveLength(0)
        }
      }))
  }

  it.effect("3 to 24 lowercase letters and digits make an account name", () =>
    Effect.gen(function*() {
      for (const account_name of ["abc", "a".repeat(24), "devstoreaccount1", "0acct9"]) {
        const { calls, store } = openWith(connection({ account_name }), () => new Response("ok"), false)
        yield* (yield* store).read(GET("k"))
        expect(calls[0]!.url).toBe(`https://${account_name}.blob.core.windows.net/cont/k`)
      }
    }))

  it.effect("an endpoint at cloud metadata is refused whatever the switch; loopback only with it on", () =>
    Effect.gen(function*() {
      for (const allow of [true, false]) {
        const metadata = openWith(connection({ endpoint: "http://169.254.169.254/metadata/instance" }), () => new Response("x"), allow)
        expect(yield* Effect.flip(metadata.store)).toMatchObject({ _tag: "BackendAuthenticationFailed", code: "EndpointNotAllowed" })
        expect(metadata.calls).toHaveLength(0)
      }
      const azurite = "http://127.0.0.1:10000/devstoreaccount1"
      const off = openWith(connection({ endpoint: azurite }), () => new Response("x"), false)
      expect(yield* Effect.flip(off.store)).toMatchObject({ _tag: "BackendAuthenticationFailed", code: "EndpointNotAllowed" })
      expect(off.calls).toHaveLength(0)
      const on = openWith(connection({ endpoint: azurite }), () => new Response("x"), true)
      expect((yield* (yield* on.store).read(GET("k"))).status).toBe(200)
    }))

  it.effect("a redirect from Azure is neither followed nor passed on: 502 for reads and listings", () => {
    const { calls, store } = openWith(connection(), () => new Response("moved", { status: 307, headers: { location: "https://other.example/k" } }), true)
    return Effect.gen(function*() {
      const az = yield* store
      const reads: ReadonlyArray<Effect.Effect<unknown, S3Error>> = [
        az.read(GET("k")),
        az.read(HEAD("k")),
        az.read(GET("k", { range: "bytes=-5" })),
        az.list(listRequest())
      ]
      for (const read of reads) {
        const error = yield* Effect.flip(read)
        expect(error._tag).toBe("BackendInvalidResponse")
        expect(statusOf(error)).toBe(502)
      }
      expect(calls).toHaveLength(4)
    })
  })

  it.effect("304 Not Modified is still an answer, not a redirect", () => {
    const { store } = openWith(connection(), () => new Response(null, { status: 304, headers: blobHeaders() }), true)
    return Effect.gen(function*() {
      expect((yield* (yield* store).read(GET("k", { "if-none-match": "\"x\"" }))).status).toBe(304)
    })
  })

  it.effect("a listing page larger than the bound → 502; reading stops at the bound", () => {
    const { body, state } = endlessBody("<?xml version=\"1.0\"?><EnumerationResults><Blobs><Blob><Name>")
    const { store } = openWith(connection(), () => new Response(body), true)
    return Effect.gen(function*() {
      const error = yield* Effect.flip((yield* store).list(listRequest()))
      expect(error._tag).toBe("BackendInvalidResponse")
      expect(state.cancelled).toBe(true)
    })
  })
})
