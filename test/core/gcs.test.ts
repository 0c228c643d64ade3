import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, TestClock } from "effect"
import { gcsReplyHeaders } from "../../src/core/backends/gcs/headers.js"
import { GcsProvider, GoogleCloudStorage } from "../../src/core/backends/s3/S3Store.js"
import type { BackendAuth, DataConnection } from "../../src/core/backends/connection.js"
import type { UpstreamRequest } from "../../src/core/services/Upstream.js"
import { RemoteProviders } from "../../src/layers/RemoteStorage.js"
import { WebCryptoHmac } from "../../src/layers/WebCryptoHmac.js"
import { listRequest } from "../fixtures/listing.js"
import { NoFederation } from "../fixtures/services.js"
import { type Answer, stubUpstream, TestConfig } from "../fixtures/stubUpstream.js"

const HMAC: BackendAuth = { type: "gcs_hmac", access_key_id: "GOOG1EXAMPLE", secret: "gcs-secret" }

const connection = (
  details: Partial<DataConnection["details"]> = {},
  authentication: BackendAuth = { type: "unsigned" }
): DataConnection => ({
  data_connection_id: "conn-gcs",
  read_only: true,
  details: { provider: "gcs", bucket: "my-bucket", ...details },
  authentication
})

const layers = (answer: (request: UpstreamRequest) => Answer) => {
  const stub = stubUpstream(answer)
  return { calls: stub.calls, layer: Layer.mergeAll(stub.layer, TestConfig, NoFederation, WebCryptoHmac) }
}

const open = (conn: DataConnection, answer: (request: UpstreamRequest) => Answer = () => new Response("ok")) => {
  const { calls, layer } = layers(answer)
  return { calls, store: Effect.flatMap(GcsProvider, (make) => make(conn)).pipe(Effect.provide(layer)) }
}

const GET = (key: string, headers: Record<string, string> = {}) => ({ key, method: "GET" as const, headers: new Headers(headers) })

/** A V1 page exactly as GCS's XML API writes it. */
const gcsList = (body: string) =>
  `<?xml version='1.0' encoding='UTF-8'?><ListBucketResult xmlns='http://doc.s3.amazonaws.com/2006-03-01'><Name>my-bucket</Name>${body}</ListBucketResult>`
const entry = (key: string, size = 3) =>
  `<Contents><Key>${key}</Key><Generation>1704164645123456</Generation><MetaGeneration>1</MetaGeneration><LastModified>2024-01-02T03:04:05.123Z</LastModified><ETag>"0cc175b9c0f1b6a831c399e269772661"</ETag><Size>${size}</Size></Contents>`

describe("GCS dialect", () => {
  it("defaults: storage.googleapis.com whatever the region, SigV4 region auto, V1 listings", () => {
    expect(GoogleCloudStorage.defaultEndpoint(undefined)).toBe("https://storage.googleapis.com")
    expect(GoogleCloudStorage.defaultEndpoint("europe-west1")).toBe("https://storage.googleapis.com")
    expect(GoogleCloudStorage.signingRegion("us-central1")).toBe("auto")
    expect(GoogleCloudStorage.signingRegion(undefined)).toBe("auto")
    expect(GoogleCloudStorage.listVersion).toBe(1)
  })

  const urls: ReadonlyArray<readonly [string, Partial<DataConnection["details"]>, string]> = [
    ["no endpoint", {}, "https://storage.googleapis.com/my-bucket/dir/a%20b%2Bc%3D%C3%BC.txt"],
    ["a region (ignored)", { region: "europe-west1" }, "https://storage.googleapis.com/my-bucket/dir/a%20b%2Bc%3D%C3%BC.txt"],
    ["details.endpoint (trailing slash trimmed)", { endpoint: "http://127.0.0.1:4443/" }, "http://127.0.0.1:4443/my-bucket/dir/a%20b%2Bc%3D%C3%BC.txt"]
  ]
  for (const [name, details, url] of urls) {
    it.effect(`object URL with ${name}`, () => {
      const { calls, store } = open(connection(details))
      return Effect.gen(function*() {
        yield* (yield* store).read(GET("dir/a b+c=ü.txt"))
        expect(calls[0]?.url).toBe(url)
        expect(calls[0]!.headers.has("authorization")).toBe(false)
      })
    })
  }

  it.effect("gcs_hmac: SigV4 with the HMAC key, Credential scope …/auto/s3/aws4_request, even with a region set", () => {
    const { calls, store } = open(
      connection({ region: "us-central1" }, HMAC),
      (r) => new Response(r.url.includes("?") ? gcsList("<Prefix>p/</Prefix><Marker></Marker><IsTruncated>false</IsTruncated>") : "ok")
    )
    return Effect.gen(function*() {
      yield* TestClock.setTime(Date.parse("2024-01-02T03:04:05Z"))
      const s = yield* store
      yield* s.read(GET("k.txt", { range: "bytes=0-1" }))
      yield* s.list(listRequest({ prefix: "p/" }))
      for (const call of calls) {
        expect(call.headers.get("authorization")).toMatch(
          /^AWS4-HMAC-SHA256 Credential=GOOG1EXAMPLE\/20240102\/auto\/s3\/aws4_request, SignedHeaders=[^,]*host[^,]*x-amz-date, Signature=[0-9a-f]{64}$/
        )
        expect(call.headers.get("x-amz-date")).toBe("20240102T030405Z")
      }
      expect(calls[0]!.headers.get("range")).toBe("bytes=0-1")
    })
  })

  const refusals: ReadonlyArray<readonly [BackendAuth, string]> = [
    [{ type: "s3_access_key", access_key_id: "AKID", secret_access_key: "s" }, "ProviderMismatch"],
    [{ type: "s3_web_identity_role", role_arn: "arn:aws:iam::1:role/r" }, "ProviderMismatch"],
    [{ type: "az_shared_key", account_key: "k" }, "ProviderMismatch"],
    [{ type: "az_sas", sas_token: "sv=1" }, "ProviderMismatch"],
    [{ type: "unsupported" }, "UnsupportedAuthType"]
  ]
  for (const [auth, code] of refusals) {
    it.effect(`${auth.type} on gcs → BackendAuthenticationFailed (${code}), nothing sent`, () => {
      const { calls, store } = open(connection({}, auth))
      return Effect.gen(function*() {
        expect(yield* Effect.flip(store)).toMatchObject({ _tag: "BackendAuthenticationFailed", code })
        expect(calls).toHaveLength(0)
      })
    })
  }

  it.effect("GCS error statuses map to S3 errors (404 NoSuchKey, 403 AccessDenied, 412, 416 with the size)", () => {
    let status = 404
    const { store } = open(connection(), () =>
      new Response(`<?xml version='1.0' encoding='UTF-8'?><Error><Code>X</Code><Message>m</Message></Error>`, {
        status,
        headers: { "content-type": "application/xml; charset=UTF-8", "content-range": "bytes */5000" }
      }))
    return Effect.gen(function*() {
      const s = yield* store
      const seen: Array<unknown> = []
      for (const code of [404, 403, 412, 416]) {
        status = code
        const e = yield* Effect.flip(s.read(GET("k")))
        seen.push(e._tag === "InvalidRange" ? [e._tag, e.size] : e._tag)
      }
      expect(seen).toStrictEqual(["NoSuchKey", "AccessDenied", "PreconditionFailed", ["InvalidRange", 5000]])
    })
  })

  it.effect("`gcs` and `gs` are both this provider", () => {
    const { calls, layer } = layers(() => new Response("ok"))
    return Effect.gen(function*() {
      const providers = yield* RemoteProviders
      for (const name of ["gcs", "gs"]) {
        const store = yield* providers[name]!(connection({ provider: name }))
        yield* store.read(GET("k"))
      }
      expect(calls.map((c) => c.url)).toStrictEqual([
        "https://storage.googleapis.com/my-bucket/k",
        "https://storage.googleapis.com/my-bucket/k"
      ])
    }).pipe(Effect.provide(layer))
  })
})

describe("GCS listings (V1 with marker)", () => {
  it.effect("asks V1: max-keys, prefix, delimiter, marker = continuation token; no list-type, no V2 parameters", () => {
    const { calls, store } = open(connection(), () => new Response(gcsList("<IsTruncated>false</IsTruncated>")))
    return Effect.gen(function*() {
      const s = yield* store
      yield* s.list(listRequest({ prefix: "base/a b+c/", delimiter: "/", maxKeys: 3, continuationToken: "base/a b+c/x=1", startAfter: "base/zzz" }))
      yield* s.list(listRequest({ prefix: "p/", startAfter: "p/after" }))
      yield* s.list(listRequest({ prefix: "p/" }))
      const queries = calls.map((c) => Object.fromEntries(new URL(c.url).searchParams))
      expect(queries).toStrictEqual([
        { "max-keys": "3", prefix: "base/a b+c/", delimiter: "/", marker: "base/a b+c/x=1" },
        { "max-keys": "1000", prefix: "p/", marker: "p/after" },
        { "max-keys": "1000", prefix: "p/" }
      ])
      expect(`${new URL(calls[0]!.url).origin}${new URL(calls[0]!.url).pathname}`).toBe("https://storage.googleapis.com/my-bucket")
      for (const c of calls) {
        expect(c.url).not.toContain("+")
        expect(c.noStore).toBe(true)
      }
    })
  })

  const pages: ReadonlyArray<readonly [string, string, ReadonlyArray<string>, ReadonlyArray<string>, string | undefined]> = [
    [
      "truncated with NextMarker (GCS always sends it): the token is NextMarker",
      `<Prefix>p/</Prefix><Marker></Marker><NextMarker>p/b</NextMarker><IsTruncated>true</IsTruncated>${entry("p/a")}${entry("p/b")}`,
      ["p/a", "p/b"],
      [],
      "p/b"
    ],
    [
      "truncated without NextMarker: the token is the last key",
      `<Prefix>p/</Prefix><Marker>p/0</Marker><IsTruncated>true</IsTruncated>${entry("p/a")}${entry("p/b &amp; c")}`,
      ["p/a", "p/b & c"],
      [],
      "p/b & c"
    ],
    [
      "truncated without NextMarker, a CommonPrefix last: the token is the greater of last key and last prefix",
      `<Prefix>p/</Prefix><Marker></Marker><Delimiter>/</Delimiter><IsTruncated>true</IsTruncated>${entry("p/a")}<CommonPrefixes><Prefix>p/dir/</Prefix></CommonPrefixes>`,
      ["p/a"],
      ["p/dir/"],
      "p/dir/"
    ],
    [
      "the last page: Marker echoed, no token",
      `<Prefix>p/</Prefix><Marker>p/b</Marker><IsTruncated>false</IsTruncated>${entry("p/c", 0)}`,
      ["p/c"],
      [],
      undefined
    ],
    ["an empty bucket", "<Prefix></Prefix><Marker></Marker><IsTruncated>false</IsTruncated>", [], [], undefined]
  ]
  for (const [name, body, keys, prefixes, token] of pages) {
    it.effect(`parses GCS's V1 document: ${name}`, () => {
      const { store } = open(connection(), () => new Response(gcsList(body), { headers: { "content-type": "application/xml; charset=UTF-8" } }))
      return Effect.gen(function*() {
        const page = yield* (yield* store).list(listRequest({ prefix: "p/" }))
        expect(page.objects.map((o) => o.key)).toStrictEqual(keys)
        expect(page.commonPrefixes).toStrictEqual(prefixes)
        expect(page.nextContinuationToken).toBe(token)
      })
    })
  }

  it.effect("Generation/MetaGeneration are ignored; size, date and ETag are read", () => {
    const { store } = open(connection(), () => new Response(gcsList(`<Prefix/><Marker/><IsTruncated>false</IsTruncated>${entry("k", 42)}`)))
    return Effect.gen(function*() {
      const page = yield* (yield* store).list(listRequest())
      expect(page.objects).toStrictEqual([
        { key: "k", size: 42, lastModified: new Date("2024-01-02T03:04:05.123Z"), etag: "\"0cc175b9c0f1b6a831c399e269772661\"" }
      ])
    })
  })

  it.effect("a GCS error document or 403 on a listing is a typed failure", () => {
    let status = 403
    const { store } = open(connection(), () => new Response("<?xml version='1.0' encoding='UTF-8'?><Error><Code>AccessDenied</Code></Error>", { status }))
    return Effect.gen(function*() {
      const s = yield* store
      expect((yield* Effect.flip(s.list(listRequest())))._tag).toBe("AccessDenied")
      status = 200
      expect((yield* Effect.flip(s.list(listRequest())))._tag).toBe("BackendUnavailable")
    })
  })
})

describe("GCS reply headers → S3 shape", () => {
  const gcsObjectHeaders = () => {
    const h = new Headers({
      etag: "\"0cc175b9c0f1b6a831c399e269772661\"",
      "last-modified": "Tue, 02 Jan 2024 03:04:05 GMT",
      "content-type": "text/plain",
      "content-length": "1",
      "cache-control": "public, max-age=3600",
      "x-goog-generation": "1704164645123456",
      "x-goog-metageneration": "1",
      "x-goog-stored-content-length": "1",
      "x-goog-stored-content-encoding": "identity",
      "x-goog-storage-class": "STANDARD",
      "x-goog-meta-author": "Ada",
      "x-goog-meta-x-run": "e2e",
      "x-guploader-uploadid": "ABPtcPo",
      "alt-svc": "h3=\":443\"; ma=2592000"
    })
    h.append("x-goog-hash", "crc32c=n03x6A==")
    h.append("x-goog-hash", "md5=DMF1ucDxtqgxw5niaXcmYQ==")
    return h
  }
  const expected = {
    etag: "\"0cc175b9c0f1b6a831c399e269772661\"",
    "last-modified": "Tue, 02 Jan 2024 03:04:05 GMT",
    "content-type": "text/plain",
    "content-length": "1",
    "cache-control": "public, max-age=3600",
    "x-amz-meta-author": "Ada",
    "x-amz-meta-x-run": "e2e"
  }

  it("gcsReplyHeaders maps user metadata and drops GCS internals", () => {
    expect(Object.fromEntries(gcsReplyHeaders(gcsObjectHeaders()))).toStrictEqual(expected)
  })

  // Fails until S3Store applies the dialect's reply-header mapping (see the GCS report).
  it.effect("the GCS provider's replies carry the mapped headers", () => {
    const { store } = open(connection(), () => new Response("a", { status: 200, headers: gcsObjectHeaders() }))
    return Effect.gen(function*() {
      const reply = yield* (yield* store).read(GET("k"))
      expect(Object.fromEntries(reply.headers)).toStrictEqual({ ...expected, "accept-ranges": "bytes" })
    })
  })
})
