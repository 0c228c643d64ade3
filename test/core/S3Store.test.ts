import { WebCryptoHmac } from "../../src/layers/WebCryptoHmac.js"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Layer, TestClock } from "effect"
import { DOCUMENT_MAX_BYTES, ERROR_DOCUMENT_MAX_BYTES } from "../../src/core/backends/answer.js"
import { GcsProvider, S3Provider, SIGNING_KEYS_MAX, signingKeys } from "../../src/core/backends/s3/S3Store.js"
import type { BackendAuth, DataConnection } from "../../src/core/backends/connection.js"
import type { S3Error } from "../../src/core/s3/errors.js"
import { codeOf, statusOf } from "../../src/core/s3/renderError.js"
import { AppConfig } from "../../src/core/services/AppConfig.js"
import { UpstreamFailure, type UpstreamRequest } from "../../src/core/services/Upstream.js"
import { listRequest } from "../fixtures/listing.js"
import { type Answer, endlessBody, settings, stubUpstream, TestConfig } from "../fixtures/stubUpstream.js"
import { NoFederation } from "../fixtures/services.js"
import { Federation } from "../../src/core/backends/s3/Federation.js"

const connection = (
  details: Partial<DataConnection["details"]> = {},
  authentication: BackendAuth = { type: "unsigned" }
): DataConnection => ({
  data_connection_id: "conn-1",
  read_only: true,
  details: { provider: "s3", bucket: "my-bucket", region: "eu-west-1", ...details },
  authentication
})

/** Opens a store over `connection` whose Upstream answers with `answer`; `calls` records what was sent. */
const open = (conn: DataConnection, answer: (request: UpstreamRequest) => Answer = () => new Response("ok")) => {
  const stub = stubUpstream(answer)
  const store = Effect.flatMap(S3Provider, (make) => make(conn)).pipe(Effect.provide(Layer.mergeAll(stub.layer, TestConfig, NoFederation, WebCryptoHmac)))
  return { calls: stub.calls, store }
}

const GET = (key: string, headers: Record<string, string> = {}) => ({ key, method: "GET" as const, headers: new Headers(headers) })
const HEAD = (key: string, headers: Record<string, string> = {}) => ({ key, method: "HEAD" as const, headers: new Headers(headers) })

describe("S3 store: requests", () => {
  const urls: ReadonlyArray<readonly [string, Partial<DataConnection["details"]>, string]> = [
    ["a custom endpoint (trailing slash trimmed)", { endpoint: "http://minio.local:9000/" }, "http://minio.local:9000/my-bucket/k.txt"],
    ["a custom endpoint wins over the region", { endpoint: "https://r2.example", region: "auto" }, "https://r2.example/my-bucket/k.txt"],
    ["a region", { region: "eu-west-1" }, "https://s3.eu-west-1.amazonaws.com/my-bucket/k.txt"],
    ["neither", { region: undefined }, "https://s3.amazonaws.com/my-bucket/k.txt"],
    ["an empty region", { region: "" }, "https://s3.amazonaws.com/my-bucket/k.txt"]
  ]
  for (const [name, details, url] of urls) {
    it.effect(`URL for ${name}: ${url}`, () => {
      const { calls, store } = open(connection(details))
      return Effect.gen(function*() {
        yield* (yield* store).read(GET("k.txt"))
        expect(calls[0]?.url).toBe(url)
        expect(calls[0]?.method).toBe("GET")
      })
    })
  }

  it.effect("the key is S3-URI-encoded in the URL, slashes kept", () => {
    const { calls, store } = open(connection())
    return Effect.gen(function*() {
      yield* (yield* store).read(GET("base/dir/a b+c=ü*(1)~!.bin"))
      expect(calls[0]?.url).toBe("https://s3.eu-west-1.amazonaws.com/my-bucket/base/dir/a%20b%2Bc%3D%C3%BC%2A%281%29~%21.bin")
    })
  })

  it.effect("only range and the if-* preconditions are forwarded", () => {
    const { calls, store } = open(connection())
    return Effect.gen(function*() {
      yield* (yield* store).read(GET("k", {
        range: "bytes=0-9",
        "if-match": "\"a\"",
        "if-none-match": "\"b\"",
        "if-modified-since": "Tue, 02 Jan 2024 03:04:05 GMT",
        "if-unmodified-since": "Wed, 03 Jan 2024 03:04:05 GMT",
        authorization: "AWS4-HMAC-SHA256 Credential=client/20240102/us-east-1/s3/aws4_request",
        cookie: "session=1",
        "x-amz-security-token": "client-token",
        "accept-encoding": "gzip",
        "x-forwarded-for": "1.2.3.4",
        origin: "https://example.com"
      }))
      expect(Object.fromEntries(calls[0]!.headers)).toStrictEqual({
        range: "bytes=0-9",
        "if-match": "\"a\"",
        "if-none-match": "\"b\"",
        "if-modified-since": "Tue, 02 Jan 2024 03:04:05 GMT",
        "if-unmodified-since": "Wed, 03 Jan 2024 03:04:05 GMT"
      })
    })
  })

  it.effect("HEAD and ranged reads keep the runtime cache out; a plain GET may use it", () => {
    const { calls, store } = open(connection())
    return Effect.gen(function*() {
      const s3 = yield* store
      yield* s3.read(GET("k"))
      yield* s3.read(GET("k", { range: "bytes=0-1" }))
      yield* s3.read(HEAD("k"))
      expect(calls.map((c) => [c.method, c.noStore])).toStrictEqual([["GET", false], ["GET", true], ["HEAD", true]])
    })
  })

  it.effect("the backend timeout bounds every call", () => {
    const { calls, store } = open(connection())
    return Effect.gen(function*() {
      yield* (yield* store).read(GET("k"))
      expect(Duration.equals(Duration.decode(calls[0]!.timeout), settings.backendTimeout)).toBe(true)
    })
  })

  it.effect("unsigned: no Authorization, no x-amz-date", () => {
    const { calls, store } = open(connection())
    return Effect.gen(function*() {
      yield* (yield* store).read(GET("k"))
      expect(calls[0]!.headers.has("authorization")).toBe(false)
      expect(calls[0]!.headers.has("x-amz-date")).toBe(false)
    })
  })

  it.effect("s3_access_key: signed with SigV4 at the clock's time, in the connection's region", () => {
    const { calls, store } = open(
      connection({}, { type: "s3_access_key", access_key_id: "AKID", secret_access_key: "secret" })
    )
    return Effect.gen(function*() {
      yield* TestClock.setTime(Date.parse("2024-01-02T03:04:05Z"))
      yield* (yield* store).read(GET("dir/a b.txt", { range: "bytes=0-1" }))
      const headers = calls[0]!.headers
      const authorization = headers.get("authorization") ?? ""
      expect(authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKID\/20240102\/eu-west-1\/s3\/aws4_request, SignedHeaders=[^,]*x-amz-content-sha256;x-amz-date, Signature=[0-9a-f]{64}$/)
      expect(headers.get("range")).toBe("bytes=0-1")
      expect(headers.get("x-amz-date")).toBe("20240102T030405Z")
      expect(headers.get("x-amz-content-sha256")).toBe("UNSIGNED-PAYLOAD")
      expect(calls[0]!.url).toBe("https://s3.eu-west-1.amazonaws.com/my-bucket/dir/a%20b.txt")
    })
  })

  it.effect("s3_access_key without region signs for us-east-1", () => {
    const { calls, store } = open(
      connection({ region: undefined, endpoint: "http://minio:9000" }, { type: "s3_access_key", access_key_id: "AKID", secret_access_key: "s" })
    )
    return Effect.gen(function*() {
      yield* (yield* store).read(GET("k"))
      expect(calls[0]!.headers.get("authorization")).toContain("Credential=AKID/19700101/us-east-1/s3/aws4_request")
    })
  })

  it.effect("s3_web_identity_role signs with the federated credentials for scv1:conn:{id}", () => {
    const asked: Array<unknown> = []
    const federation = Layer.succeed(Federation, Federation.of({
      credentials: (request) => {
        asked.push(request)
        return Effect.succeed({ accessKeyId: "ASIATEMP", secretAccessKey: "tmp", sessionToken: "session-token" })
      }
    }))
    const stub = stubUpstream(() => new Response("ok"))
    const conn = connection({}, { type: "s3_web_identity_role", role_arn: "arn:aws:iam::1:role/r" })
    const store = Effect.flatMap(S3Provider, (make) => make(conn)).pipe(
      Effect.provide(Layer.mergeAll(stub.layer, TestConfig, federation, WebCryptoHmac))
    )
    return Effect.gen(function*() {
      yield* (yield* store).read(GET("k"))
      expect(asked).toEqual([{ _tag: "Federated", roleArn: "arn:aws:iam::1:role/r", subject: "scv1:conn:conn-1", audience: "sts.amazonaws.com" }])
      const headers = stub.calls[0]!.headers
      expect(headers.get("authorization")).toContain("Credential=ASIATEMP/")
      expect(headers.get("x-amz-security-token")).toBe("session-token")
    })
  })

  const refused: ReadonlyArray<readonly [BackendAuth, string]> = [
    [{ type: "unsupported" }, "UnsupportedAuthType"],
    [{ type: "az_sas", sas_token: "sv" }, "ProviderMismatch"],
    [{ type: "az_shared_key", account_key: "k" }, "ProviderMismatch"],
    [{ type: "gcs_hmac", access_key_id: "g", secret: "s" }, "ProviderMismatch"]
  ]
  for (const [auth, code] of refused) {
    it.effect(`${auth.type} → BackendAuthenticationFailed (${code}), never an unsigned request`, () => {
      const { calls, store } = open(connection({}, auth))
      return Effect.gen(function*() {
        const error = yield* Effect.flip(store)
        expect(error).toMatchObject({ _tag: "BackendAuthenticationFailed", code })
        expect(calls).toHaveLength(0)
      })
    })
  }

  it.effect("a connection without bucket is a CatalogFailure", () => {
    const { store } = open(connection({ bucket: undefined }))
    return Effect.gen(function*() {
      expect((yield* Effect.flip(store))._tag).toBe("CatalogFailure")
    })
  })
})

describe("S3 store: read answers", () => {
  const failures: ReadonlyArray<readonly [number, string]> = [
    [404, "NoSuchKey"],
    [412, "PreconditionFailed"],
    [416, "InvalidRange"],
    [401, "AccessDenied"],
    [403, "AccessDenied"],
    [400, "BackendUnavailable"],
    [500, "BackendUnavailable"],
    [503, "BackendUnavailable"]
  ]
  for (const [status, tag] of failures) {
    it.effect(`backend ${status} → ${tag}, and its body is discarded`, () => {
      let cancelled = false
      const body = new ReadableStream({ cancel: () => {
        cancelled = true
      } })
      const { store } = open(connection(), () => new Response(body, { status, headers: { "content-range": "bytes */1234" } }))
      return Effect.gen(function*() {
        const error = yield* Effect.flip((yield* store).read(GET("base/k")))
        expect(error._tag).toBe(tag)
        if (error._tag === "NoSuchKey") expect(error.key).toBe("base/k")
        if (error._tag === "InvalidRange") expect(error.size).toBe(1234)
        expect(cancelled).toBe(true)
      })
    })
  }

  for (const reason of ["Timeout", "Transport"] as const) {
    it.effect(`Upstream ${reason} → BackendUnavailable`, () => {
      const { store } = open(connection(), (r) => Effect.fail(new UpstreamFailure({ reason, url: r.url, detail: "x" })))
      return Effect.gen(function*() {
        expect((yield* Effect.flip((yield* store).read(GET("k"))))._tag).toBe("BackendUnavailable")
      })
    })
  }

  it.effect("200: the body is the backend's very stream, denylisted headers stripped, accept-ranges added", () => {
    const body = new ReadableStream<Uint8Array>()
    const response = new Response(body, {
      status: 200,
      headers: {
        etag: "\"abc\"",
        "content-type": "application/x-parquet",
        "content-length": "10",
        "last-modified": "Tue, 02 Jan 2024 03:04:05 GMT",
        "x-amz-meta-author": "me",
        "x-amz-version-id": "v1",
        "set-cookie": "tracking=1",
        "x-amz-request-id": "BACKEND-ID",
        "x-amz-id-2": "backend-host-id",
        "www-authenticate": "Basic",
        "x-amz-server-side-encryption-customer-key-md5": "md5",
        via: "1.1 varnish",
        "x-forwarded-for": "10.0.0.1"
      }
    })
    const { store } = open(connection(), () => response)
    return Effect.gen(function*() {
      const reply = yield* (yield* store).read(GET("k"))
      expect(reply.status).toBe(200)
      expect(reply.body).toBe(body)
      expect(Object.fromEntries(reply.headers)).toStrictEqual({
        "accept-ranges": "bytes",
        etag: "\"abc\"",
        "content-type": "application/x-parquet",
        "content-length": "10",
        "last-modified": "Tue, 02 Jan 2024 03:04:05 GMT",
        "x-amz-meta-author": "me",
        "x-amz-version-id": "v1"
      })
    })
  })

  it.effect("206 passes content-range through with the stream", () => {
    const body = new ReadableStream<Uint8Array>()
    const { store } = open(connection(), () =>
      new Response(body, { status: 206, headers: { "content-range": "bytes 0-9/100", "accept-ranges": "bytes" } }))
    return Effect.gen(function*() {
      const reply = yield* (yield* store).read(GET("k", { range: "bytes=0-9" }))
      expect(reply.status).toBe(206)
      expect(reply.body).toBe(body)
      expect(reply.headers.get("content-range")).toBe("bytes 0-9/100")
    })
  })

  it.effect("304 and HEAD answers have no body", () => {
    let status = 304
    const { store } = open(connection(), () => new Response(status === 304 ? null : "x", { status, headers: { etag: "\"e\"" } }))
    return Effect.gen(function*() {
      const s3 = yield* store
      const notModified = yield* s3.read(GET("k", { "if-none-match": "\"e\"" }))
      expect(notModified.status).toBe(304)
      expect(notModified.body).toBeNull()
      status = 200
      const head = yield* s3.read(HEAD("k"))
      expect(head.status).toBe(200)
      expect(head.body).toBeNull()
      expect(head.headers.get("etag")).toBe("\"e\"")
    })
  })
})

const LIST_XML = `<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>my-bucket</Name><Prefix>base/</Prefix><KeyCount>4</KeyCount><MaxKeys>3</MaxKeys><Delimiter>/</Delimiter><IsTruncated>true</IsTruncated><NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken><Contents><Key>base/0012</Key><LastModified>2024-01-02T03:04:05.000Z</LastModified><ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag><Size>12</Size><StorageClass>STANDARD</StorageClass></Contents><Contents><Key>base/ leading space</Key><LastModified>2024-01-03T00:00:00.000Z</LastModified><ETag>"plain"</ETag><Size>0</Size><StorageClass>STANDARD</StorageClass></Contents><Contents><Key>base/a &amp; b &lt;c&gt;.txt</Key><LastModified>2024-01-04T00:00:00.000Z</LastModified><Size>7</Size><StorageClass>STANDARD</StorageClass></Contents><CommonPrefixes><Prefix>base/dir/</Prefix></CommonPrefixes><CommonPrefixes><Prefix>base/true/</Prefix></CommonPrefixes></ListBucketResult>`

describe("S3 store: listings", () => {
  it.effect("asks ListObjectsV2 with every parameter, spaces as %20", () => {
    const { calls, store } = open(connection(), () => new Response(LIST_XML))
    return Effect.gen(function*() {
      yield* (yield* store).list(listRequest({
        prefix: "base/a b+c/",
        delimiter: "/",
        maxKeys: 3,
        continuationToken: "tok/+=",
        startAfter: "base/a b+c/x"
      }))
      const url = new URL(calls[0]!.url)
      expect(`${url.origin}${url.pathname}`).toBe("https://s3.eu-west-1.amazonaws.com/my-bucket")
      expect(calls[0]!.url).not.toContain("+")
      expect(Object.fromEntries(url.searchParams)).toStrictEqual({
        "list-type": "2",
        "max-keys": "3",
        prefix: "base/a b+c/",
        delimiter: "/",
        "continuation-token": "tok/+=",
        "start-after": "base/a b+c/x"
      })
      expect(calls[0]!.noStore).toBe(true)
    })
  })

  it.effect("no delimiter, token or start-after when there are none", () => {
    const { calls, store } = open(connection(), () => new Response(LIST_XML))
    return Effect.gen(function*() {
      yield* (yield* store).list(listRequest({ prefix: "p/" }))
      expect(Object.fromEntries(new URL(calls[0]!.url).searchParams)).toStrictEqual({ "list-type": "2", "max-keys": "1000", prefix: "p/" })
    })
  })

  it.effect("parses a ListBucketResult: string keys, spaces kept, entities decoded, missing ETag as \"\"", () => {
    const { store } = open(connection(), () => new Response(LIST_XML))
    return Effect.gen(function*() {
      const page = yield* (yield* store).list(listRequest({ prefix: "base/", delimiter: "/", maxKeys: 3 }))
      expect(page).toStrictEqual({
        objects: [
          { key: "base/0012", size: 12, lastModified: new Date("2024-01-02T03:04:05.000Z"), etag: "\"9b2cf535f27731c974343645a3985328\"" },
          { key: "base/ leading space", size: 0, lastModified: new Date("2024-01-03T00:00:00.000Z"), etag: "\"plain\"" },
          { key: "base/a & b <c>.txt", size: 7, lastModified: new Date("2024-01-04T00:00:00.000Z"), etag: "\"\"" }
        ],
        commonPrefixes: ["base/dir/", "base/true/"],
        nextContinuationToken: "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM="
      })
    })
  })

  it.effect("a final page has no token, one Contents is still a list, no Contents is empty", () => {
    const one = `<ListBucketResult><IsTruncated>false</IsTruncated><NextContinuationToken>ignored</NextContinuationToken><Contents><Key>true</Key><LastModified>2024-01-02T03:04:05.000Z</LastModified><ETag>"e"</ETag><Size>1</Size></Contents></ListBucketResult>`
    const none = `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix>zzz</Prefix><KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated></ListBucketResult>`
    let body = one
    const { store } = open(connection(), () => new Response(body))
    return Effect.gen(function*() {
      const s3 = yield* store
      const page = yield* s3.list(listRequest())
      expect(page.objects.map((o) => o.key)).toStrictEqual(["true"])
      expect(page.nextContinuationToken).toBeUndefined()
      body = none
      expect(yield* s3.list(listRequest())).toStrictEqual({ objects: [], commonPrefixes: [], nextContinuationToken: undefined })
    })
  })

  it.effect("pretty-printed XML (indentation between elements) parses the same", () => {
    const pretty = `<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <IsTruncated>false</IsTruncated>
  <Contents>
    <Key>a.txt</Key>
    <LastModified>2024-01-02T03:04:05.000Z</LastModified>
    <ETag>"e"</ETag>
    <Size>5</Size>
  </Contents>
  <CommonPrefixes>
    <Prefix>d/</Prefix>
  </CommonPrefixes>
</ListBucketResult>`
    const { store } = open(connection(), () => new Response(pretty))
    return Effect.gen(function*() {
      const page = yield* (yield* store).list(listRequest())
      expect(page.objects.map((o) => [o.key, o.size, o.etag])).toStrictEqual([["a.txt", 5, "\"e\""]])
      expect(page.commonPrefixes).toStrictEqual(["d/"])
    })
  })

  const listFailures: ReadonlyArray<readonly [string, () => Answer, string]> = [
    ["403", () => new Response("<Error/>", { status: 403 }), "AccessDenied"],
    ["404", () => new Response("<Error/>", { status: 404 }), "BackendUnavailable"],
    ["500", () => new Response("<Error/>", { status: 500 }), "BackendUnavailable"],
    // S3's answer to a continuation token it did not issue: the client's error, not the backend's.
    ["400 InvalidArgument", () => new Response("<Error><Code>InvalidArgument</Code><Message>The continuation token provided is incorrect</Message></Error>", { status: 400 }), "InvalidArgument"],
    ["400 of another code", () => new Response("<Error><Code>InvalidRequest</Code></Error>", { status: 400 }), "BackendUnavailable"],
    ["unparseable XML", () => new Response("<ListBucketResult><Contents>"), "BackendUnavailable"],
    ["XML of another shape", () => new Response("<Error><Code>x</Code></Error>"), "BackendUnavailable"],
    ["a non-numeric Size", () => new Response("<ListBucketResult><Contents><Key>k</Key><LastModified>x</LastModified><Size>big</Size></Contents></ListBucketResult>"), "BackendUnavailable"],
    ["a transport failure", () => Effect.fail(new UpstreamFailure({ reason: "Transport", url: "u", detail: "reset" })), "BackendUnavailable"]
  ]
  for (const [name, answer, tag] of listFailures) {
    it.effect(`a listing answered with ${name} → ${tag}`, () => {
      const { store } = open(connection(), answer)
      return Effect.gen(function*() {
        expect((yield* Effect.flip((yield* store).list(listRequest())))._tag).toBe(tag)
      })
    })
  }
})

describe("S3 store: outbound hygiene", () => {
  const openWith = (
    conn: DataConnection,
    answer: (request: UpstreamRequest) => Answer,
    allowPrivateEndpoints = true,
    provider = S3Provider
  ) => {
    const stub = stubUpstream(answer)
    const config = Layer.succeed(AppConfig, { ...settings, allowPrivateEndpoints })
    const store = Effect.flatMap(provider, (make) => make(conn)).pipe(Effect.provide(Layer.mergeAll(stub.layer, config, NoFederation, WebCryptoHmac)))
    return { calls: stub.calls, store }
  }
  const SIGNED: BackendAuth = { type: "s3_access_key", access_key_id: "AKID", secret_access_key: "secret" }
  const redirect = (status: number) => () => {
    const { body, state } = endlessBody("<html>elsewhere</html>")
    return { response: new Response(body, { status, headers: { location: "http://127.0.0.1:1/other-bucket/k" } }), state }
  }

  for (const status of [301, 302, 303, 307, 308]) {
    it.effect(`a ${status} from the backend is neither followed nor passed on: 502, its body discarded`, () => {
      const answer = redirect(status)
      let last: ReturnType<typeof answer> | undefined
      const { calls, store } = openWith(connection(), () => (last = answer()).response)
      return Effect.gen(function*() {
        const s3 = yield* store
        const reads: ReadonlyArray<Effect.Effect<unknown, S3Error>> = [s3.read(GET("k")), s3.read(HEAD("k")), s3.list(listRequest())]
        for (const read of reads) {
          const error = yield* Effect.flip(read)
          expect(error._tag).toBe("BackendInvalidResponse")
          expect([statusOf(error), codeOf(error)]).toStrictEqual([502, "BadGateway"])
          expect(last!.state.cancelled).toBe(true)
        }
        expect(calls).toHaveLength(3)
      })
    })
  }

  it.effect("a redirect answering a write is refused the same way", () => {
    const { store } = openWith(connection({}, SIGNED), () => redirect(307)().response)
    return Effect.gen(function*() {
      const writer = (yield* store).writer!
      const put = writer.put({ key: "k", body: null, contentLength: 0, headers: new Headers(), trailers: () => new Map() })
      expect((yield* Effect.flip(put))._tag).toBe("BackendInvalidResponse")
      expect((yield* Effect.flip(writer.delete("k")))._tag).toBe("BackendInvalidResponse")
    })
  })

  it.effect("GCS (the same store, its own dialect) refuses redirects too", () => {
    const { store } = openWith(connection({ provider: "gcs" }), () => new Response(null, { status: 302, headers: { location: "https://elsewhere" } }), true, GcsProvider)
    return Effect.gen(function*() {
      expect((yield* Effect.flip((yield* store).read(GET("k"))))._tag).toBe("BackendInvalidResponse")
    })
  })

  it.effect("a listing page larger than the bound → 502; reading stops at the bound", () => {
    const { body, state } = endlessBody("<?xml version=\"1.0\"?><ListBucketResult><Contents><Key>")
    const { store } = openWith(connection(), () => new Response(body))
    return Effect.gen(function*() {
      const error = yield* Effect.flip((yield* store).list(listRequest()))
      expect(error._tag).toBe("BackendInvalidResponse")
      expect(statusOf(error)).toBe(502)
      expect(state.cancelled).toBe(true)
      expect(state.pulled).toBeLessThanOrEqual(DOCUMENT_MAX_BYTES + 128 * 1024)
    })
  })

  it.effect("an endless error body of a failed write is read no further than the error bound", () => {
    const { body, state } = endlessBody("<Error><Code>InternalError</Code>")
    const { store } = openWith(connection({}, SIGNED), () => new Response(body, { status: 500 }))
    return Effect.gen(function*() {
      expect((yield* Effect.flip((yield* store).writer!.delete("k")))._tag).toBe("BackendUnavailable")
      expect(state.cancelled).toBe(true)
      expect(state.pulled).toBeLessThanOrEqual(ERROR_DOCUMENT_MAX_BYTES + 128 * 1024)
    })
  })

  const neverAllowed: ReadonlyArray<readonly [string, Partial<DataConnection["details"]>]> = [
    ["cloud metadata", { endpoint: "http://169.254.169.254/latest/meta-data/" }],
    ["cloud metadata, spelled as a number", { endpoint: "http://2852039166/" }],
    ["AWS metadata over IPv6", { endpoint: "http://[fd00:ec2::254]/" }],
    ["GCP metadata by name", { endpoint: "http://metadata.google.internal/computeMetadata/v1/" }],
    ["Alibaba metadata", { endpoint: "http://100.100.100.200/" }],
    ["link-local IPv6", { endpoint: "http://[fe80::1]/" }],
    ["the unspecified address", { endpoint: "http://0.0.0.0:9000/" }],
    ["a file URL", { endpoint: "file:///etc/passwd" }],
    ["a gopher URL", { endpoint: "gopher://example.com/" }],
    ["not a URL", { endpoint: "s3 bucket please" }],
    ["a host smuggled in through the region", { endpoint: undefined, region: "x@169.254.169.254/" }]
  ]
  for (const [name, details] of neverAllowed) {
    it.effect(`an endpoint at ${name} is refused (502 on reads), switch on or off, and nothing is sent`, () =>
      Effect.gen(function*() {
        for (const allow of [true, false]) {
          const { calls, store } = openWith(connection(details), () => new Response("secret"), allow)
          const error = yield* Effect.flip(store)
          expect(error).toMatchObject({ _tag: "BackendAuthenticationFailed", code: "EndpointNotAllowed" })
          expect(statusOf(error)).toBe(502)
          expect(calls).toHaveLength(0)
        }
      }))
  }

  for (const endpoint of ["http://127.0.0.1:9000/", "http://2130706433/", "http://[::ffff:127.0.0.1]/", "http://localhost:9000", "http://10.0.0.5/", "http://192.168.1.20:9000/"]) {
    it.effect(`${endpoint}: refused with ALLOW_PRIVATE_ENDPOINTS off, used with it on`, () =>
      Effect.gen(function*() {
        const off = openWith(connection({ endpoint }), () => new Response("ok"), false)
        expect(yield* Effect.flip(off.store)).toMatchObject({ _tag: "BackendAuthenticationFailed", code: "EndpointNotAllowed" })
        expect(off.calls).toHaveLength(0)
        const on = openWith(connection({ endpoint }), () => new Response("ok"), true)
        expect((yield* (yield* on.store).read(GET("k"))).status).toBe(200)
        expect(on.calls).toHaveLength(1)
      }))
  }

  it.effect("the signing-key cache stays bounded however many secrets sign", () =>
    Effect.gen(function*() {
      for (let i = 0; i < SIGNING_KEYS_MAX + 50; i++) {
        const auth: BackendAuth = { type: "s3_access_key", access_key_id: `ASIATEMP${i}`, secret_access_key: `federated-${i}` }
        const { store } = openWith(connection({}, auth), () => new Response("ok"))
        yield* (yield* store).read(GET("k"))
        expect(signingKeys.size).toBeLessThanOrEqual(SIGNING_KEYS_MAX)
      }
      expect(signingKeys.size).toBe(SIGNING_KEYS_MAX)
    }))
})
