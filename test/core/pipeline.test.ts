import { describe, expect, layer } from "@effect/vitest"
import { Effect, Layer, Logger, LogLevel } from "effect"
import { type ObjectStore, Storage } from "../../src/core/backends/ObjectStore.js"
import { S3Provider } from "../../src/core/backends/s3/S3Store.js"
import { storageOf } from "../../src/core/backends/Storage.js"
import type { Reply } from "../../src/core/http/Reply.js"
import { handle } from "../../src/core/pipeline.js"
import { NAME, VERSION } from "../../src/core/version.js"
import { type CatalogDocument, LocalCatalog } from "../../src/layers/LocalCatalog.js"
import { catalogDocument } from "../fixtures/catalog.js"
import { childText, expatParse } from "../fixtures/expat.js"
import { memoryProvider } from "../fixtures/memoryStore.js"
import { s3Request } from "../fixtures/requests.js"
import { stubUpstream, TestConfig } from "../fixtures/stubUpstream.js"
import { FixedOidcProvider, NoFederation, NoSts } from "../fixtures/services.js"
import { WebCryptoHmac } from "../../src/layers/WebCryptoHmac.js"
import { MemoryEdgeCache } from "../../src/layers/MemoryEdgeCache.js"

const mirror = (connection_id: string) => ({ primary_mirror: "m", mirrors: { m: { connection_id, prefix: "" } } })

/** The shared catalog, plus products whose store dies, whose S3 backend is down, whose connection is gone. */
const document: CatalogDocument = {
  ...catalogDocument,
  products: [
    ...catalogDocument.products,
    { account_id: "demo", product_id: "exploding", visibility: "public", disabled: false, metadata: mirror("exploding") },
    { account_id: "demo", product_id: "s3down", visibility: "public", disabled: false, metadata: mirror("s3down") },
    { account_id: "demo", product_id: "orphan", visibility: "public", disabled: false, metadata: mirror("no-such-connection") }
  ],
  data_connections: [
    ...catalogDocument.data_connections,
    { data_connection_id: "exploding", read_only: true, details: { provider: "exploding" } },
    { data_connection_id: "s3down", read_only: true, details: { provider: "s3", bucket: "down", region: "us-east-1" } }
  ]
}

const provider = memoryProvider({
  data: [
    { key: "base/demo/sample/a.txt", body: "hello, world!", etag: "\"v1\"", lastModified: new Date("2024-01-02T03:04:05Z") },
    { key: "base/demo/sample/a b.txt", body: "spaced" },
    { key: "base/demo/sample/dir/c.txt", body: "c" },
    { key: "base/demo/sample/dir/", body: "" },
    { key: "base/demo/private/secret.txt", body: "secret" }
  ]
})

const SECRET = "secret detail of the defect"
const exploding: ObjectStore = {
  read: () => Effect.die(new Error(SECRET)),
  list: () => Effect.die(new Error(SECRET))
}

const backend = stubUpstream(() => new Response("<Error><Code>SlowDown</Code></Error>", { status: 503 }))

const Live = Layer.mergeAll(
  LocalCatalog(document),
  Layer.effect(
    Storage,
    Effect.map(S3Provider, (s3) => storageOf({ s3, memory: provider.open, exploding: () => Effect.succeed(exploding) }))
  ).pipe(Layer.provide(Layer.mergeAll(backend.layer, TestConfig, NoFederation, WebCryptoHmac))),
  FixedOidcProvider,
  NoSts,
  WebCryptoHmac,
  TestConfig,
  MemoryEdgeCache(1000)
)

const send = (method: string, path: string, options: Parameters<typeof s3Request>[2] = {}) =>
  handle(s3Request(method, path, { requestId: "req-42", ...options })).pipe(Logger.withMinimumLogLevel(LogLevel.None))

const bodyText = (reply: Reply) => (typeof reply.body === "string" ? reply.body : "")

const codeOf = (reply: Reply) => /<Code>([^<]*)<\/Code>/.exec(bodyText(reply))?.[1]

/** Every answer, success or error, carries CORS and the request id. */
const expectCommonHeaders = (reply: Reply) => {
  expect(reply.headers.get("access-control-allow-origin")).toBe("*")
  expect(reply.headers.get("access-control-expose-headers")).toContain("x-amz-request-id")
  expect(reply.headers.get("access-control-expose-headers")).toContain("ETag")
  expect(reply.headers.get("x-amz-request-id")).toBe("req-42")
}

layer(Live)("pipeline", (it) => {
  describe("successful answers", () => {
    it.effect("GET / is the index, as JSON", () =>
      Effect.gen(function*() {
        const reply = yield* send("GET", "/")
        expect(reply.status).toBe(200)
        expect(reply.headers.get("content-type")).toBe("application/json")
        expect(JSON.parse(bodyText(reply))).toStrictEqual({ name: NAME, version: VERSION })
        expectCommonHeaders(reply)
      }))

    it.effect("anonymous GET / from an S3 client is an empty ListAllMyBucketsResult, not JSON it would retry", () =>
      Effect.gen(function*() {
        const clients: ReadonlyArray<Record<string, string>> = [
          { "user-agent": "aws-cli/1.45.11 md/Botocore#1.43.11 ua/2.1 os/linux#6.1 md/arch#x86_64 lang/python#3.11.7" },
          { "user-agent": "aws-cli/2.27.0 md/awscrt#0.26.1 ua/2.1 os/linux" },
          { "user-agent": "Boto3/1.43.11 md/Botocore#1.43.11 ua/2.1 os/linux lang/python#3.11.7" },
          { "user-agent": "Botocore/1.43.11 ua/2.1 os/linux" },
          { "user-agent": "aws-sdk-js/3.1169.0 ua/2.1 os/linux#6.1 lang/js md/nodejs#22.0.0" },
          { "user-agent": "aws-sdk-go-v2/1.36.3 os/linux lang/go#1.24" },
          { "user-agent": "rclone/v1.60.1-DEV" },
          { "user-agent": "GDAL/3.6.2" },
          { "user-agent": "MinIO (linux; amd64) minio-go/v7.0.90" },
          { "user-agent": "s3cmd/2.3.0" },
          { "user-agent": "curl/8.5.0", "x-amz-content-sha256": "UNSIGNED-PAYLOAD" },
          { "user-agent": "Mozilla/5.0", "x-amz-user-agent": "aws-sdk-js/3.0.0" },
          { "amz-sdk-invocation-id": "0b7a1e2c", "amz-sdk-request": "attempt=1; max=3" }
        ]
        const replies = []
        for (const headers of clients) replies.push(yield* send("GET", "/", { headers }))
        const parsed = expatParse(replies.map(bodyText))
        replies.forEach((reply, i) => {
          const name = JSON.stringify(clients[i])
          expect([name, reply.status, reply.headers.get("content-type")]).toStrictEqual([name, 200, "application/xml"])
          expectCommonHeaders(reply)
          const result = parsed[i]!
          expect(result.ok, name).toBe(true)
          if (!result.ok) return
          // S3's order: Owner, then Buckets (here empty).
          expect([result.tree.tag, result.tree.children.map((c) => c.tag)]).toStrictEqual(["ListAllMyBucketsResult", ["Owner", "Buckets"]])
          expect(result.tree.children[1]!.children).toStrictEqual([])
        })
      }))

    it.effect("browsers and curl keep the JSON index", () =>
      Effect.gen(function*() {
        for (
          const agent of [
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/138.0 Safari/537.36",
            "curl/8.5.0",
            "Wget/1.21.3",
            "python-requests/2.32.3"
          ]
        ) {
          const reply = yield* send("GET", "/", { headers: { "user-agent": agent, accept: "*/*" } })
          expect([agent, reply.headers.get("content-type")]).toStrictEqual([agent, "application/json"])
          expect(JSON.parse(bodyText(reply))).toStrictEqual({ name: NAME, version: VERSION })
        }
      }))

    it.effect("OPTIONS on any path is the preflight, echoing the requested headers", () =>
      Effect.gen(function*() {
        for (const path of ["/", "/demo/sample/a.txt", "/demo/private/secret.txt", "/x/%zz", "/.sts"]) {
          const reply = yield* send("OPTIONS", path, {
            headers: { "access-control-request-headers": "authorization,x-amz-date", "access-control-request-method": "PUT" }
          })
          expect(reply.status, path).toBe(204)
          expect(reply.body).toBeNull()
          expect(reply.headers.get("access-control-allow-methods")).toBe("GET, HEAD, PUT, POST, DELETE")
          expect(reply.headers.get("access-control-allow-headers")).toBe("authorization,x-amz-date")
          expect(reply.headers.get("access-control-max-age")).toBe("86400")
          expectCommonHeaders(reply)
        }
        expect((yield* send("OPTIONS", "/")).headers.get("access-control-allow-headers")).toBe("*")
      }))

    it.effect("STS paths answer STS ErrorResponse XML, not S3 errors, with CORS and the request id", () =>
      Effect.gen(function*() {
        for (const path of ["/.sts", "/.sts/", "/.sts/assume-role-with-web-identity"]) {
          const reply = yield* send("POST", path)
          expect(reply.status, path).toBe(400)
          expect(bodyText(reply)).toContain("<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">")
          expect(bodyText(reply)).toContain("<Code>InvalidAction</Code>")
          expect(bodyText(reply)).toContain("</Error><RequestId>req-42</RequestId></ErrorResponse>")
          expectCommonHeaders(reply)
        }
      }))

    it.effect("GET an object streams it with the store's headers", () =>
      Effect.gen(function*() {
        const reply = yield* send("GET", "/demo/sample/a.txt")
        expect(reply.status).toBe(200)
        expect(reply.body).toBe("hello, world!")
        expect(reply.headers.get("etag")).toBe("\"v1\"")
        expectCommonHeaders(reply)
      }))

    it.effect("a percent-encoded key reaches the store decoded", () =>
      Effect.gen(function*() {
        expect((yield* send("GET", "/demo/sample/a%20b.txt")).body).toBe("spaced")
        expect((yield* send("GET", "/demo/sample/dir%2Fc.txt")).body).toBe("c")
      }))

    it.effect("HEAD an object: headers, no body", () =>
      Effect.gen(function*() {
        const reply = yield* send("HEAD", "/demo/sample/a.txt")
        expect(reply.status).toBe(200)
        expect(reply.body).toBeNull()
        expect(reply.headers.get("content-length")).toBe("13")
        expectCommonHeaders(reply)
      }))

    it.effect("a range is 206 with content-range", () =>
      Effect.gen(function*() {
        const reply = yield* send("GET", "/demo/sample/a.txt", { headers: { range: "bytes=7-11" } })
        expect(reply.status).toBe(206)
        expect(reply.body).toBe("world")
        expect(reply.headers.get("content-range")).toBe("bytes 7-11/13")
      }))

    it.effect("If-None-Match on the current ETag is 304 without body", () =>
      Effect.gen(function*() {
        const reply = yield* send("GET", "/demo/sample/a.txt", { headers: { "if-none-match": "\"v1\"" } })
        expect(reply.status).toBe(304)
        expect(reply.body).toBeNull()
        expectCommonHeaders(reply)
      }))

    it.effect("GET /{account}?list-type=2&delimiter=/ lists the public products", () =>
      Effect.gen(function*() {
        const reply = yield* send("GET", "/demo?list-type=2&delimiter=/&max-keys=2")
        expect(reply.status).toBe(200)
        expect(reply.headers.get("content-type")).toBe("application/xml")
        expect(bodyText(reply)).toContain(
          "<Name>demo</Name><Prefix/><Delimiter>/</Delimiter><MaxKeys>2</MaxKeys><IsTruncated>true</IsTruncated><KeyCount>2</KeyCount>"
        )
        expect(bodyText(reply)).toContain("<CommonPrefixes><Prefix>alpha/</Prefix></CommonPrefixes>")
        expectCommonHeaders(reply)
      }))

    it.effect("GET /{account}/{product} lists the product's keys as {product}/…", () =>
      Effect.gen(function*() {
        const reply = yield* send("GET", "/demo/sample?list-type=2&delimiter=/")
        expect(bodyText(reply)).toContain("<Prefix>sample/</Prefix>")
        expect(bodyText(reply)).toContain("<Key>sample/a b.txt</Key>")
        expect(bodyText(reply)).toContain("<Key>sample/a.txt</Key>")
        expect(bodyText(reply)).toContain("<CommonPrefixes><Prefix>sample/dir/</Prefix></CommonPrefixes>")
      }))

    it.effect("prefix-routed listing: /{account}?list-type=2&prefix={product}/", () =>
      Effect.gen(function*() {
        const reply = yield* send("GET", "/demo?list-type=2&prefix=sample/dir/&encoding-type=url")
        expect(bodyText(reply)).toContain("<Prefix>sample/dir/</Prefix>")
        expect(bodyText(reply)).toContain("<Key>sample/dir/c.txt</Key>")
      }))

    it.effect("GET ?location answers an empty LocationConstraint", () =>
      Effect.gen(function*() {
        const reply = yield* send("GET", "/demo?location")
        expect(reply.status).toBe(200)
        expect(bodyText(reply)).toBe(
          "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LocationConstraint xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"/>"
        )
      }))

    it.effect("HEAD on an account or a public product's root is 200", () =>
      Effect.gen(function*() {
        expect((yield* send("HEAD", "/demo")).status).toBe(200)
        expect((yield* send("HEAD", "/demo/sample/")).status).toBe(200)
      }))

    it.effect("a folder marker reads like any object", () =>
      Effect.gen(function*() {
        const reply = yield* send("GET", "/demo/sample/dir/")
        expect([reply.status, reply.body, reply.headers.get("etag")]).toStrictEqual([200, "", "\"etag-base/demo/sample/dir/\""])
      }))
  })

  interface ErrorCase {
    readonly name: string
    readonly method: string
    readonly path: string
    readonly headers?: Record<string, string>
    readonly body?: string
    readonly status: number
    readonly code: string
    readonly contains?: ReadonlyArray<string>
  }

  const errors: ReadonlyArray<ErrorCase> = [
    { name: "POST without subresource", method: "POST", path: "/demo/sample", status: 400, code: "InvalidRequest" },
    { name: "HEAD /", method: "HEAD", path: "/", status: 400, code: "InvalidRequest" },
    { name: "PATCH", method: "PATCH", path: "/demo/sample/a.txt", status: 400, code: "InvalidRequest" },
    {
      name: "PUT with a body on the product root",
      method: "PUT",
      path: "/demo/sample",
      body: "x",
      headers: { "content-length": "1" },
      status: 400,
      code: "InvalidRequest",
      contains: ["Missing object key: a PUT must address an object at /{account}/{product}/{key}, not the product root."]
    },
    { name: "DELETE on the product root", method: "DELETE", path: "/demo/sample", status: 400, code: "InvalidRequest" },
    {
      name: "a folder marker that is not there",
      method: "GET",
      path: "/demo/sample/nodir/",
      status: 404,
      code: "NoSuchKey",
      contains: ["<Key>sample/nodir/</Key>"]
    },
    {
      name: "the product without its slash is the object {product} of the account",
      method: "GET",
      path: "/demo/sample",
      status: 404,
      code: "NoSuchKey",
      contains: ["<Key>sample</Key><Resource>/demo/sample</Resource>"]
    },
    { name: "HEAD on the product without its slash", method: "HEAD", path: "/demo/sample", status: 404, code: "NoSuchKey" },
    {
      name: "max-keys that is not a number",
      method: "GET",
      path: "/demo/sample?list-type=2&max-keys=abc",
      status: 400,
      code: "InvalidArgument",
      contains: ["<Message>Provided max-keys not an integer or within integer range</Message>"]
    },
    { name: "a negative max-keys", method: "GET", path: "/demo?list-type=2&max-keys=-1", status: 400, code: "InvalidArgument" },
    {
      name: "a control character in the key",
      method: "GET",
      path: "/demo/sample/a%01b%0A",
      status: 400,
      code: "InvalidRequest",
      contains: ["<Resource>/demo/sample/a%01b%0A</Resource>", "invalid object key &quot;a%01b%0A&quot;"]
    },
    {
      name: "a presigned PUT that expired before it was signed (X-Amz-Expires=-1000, as ceph s3-tests send)",
      method: "PUT",
      path: `/demo/sample/new.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F19700101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=19700101T000000Z&X-Amz-Expires=-1000&X-Amz-SignedHeaders=host&X-Amz-Signature=${"0".repeat(64)}`,
      body: "foo",
      headers: { "content-length": "3" },
      status: 403,
      code: "AccessDenied",
      contains: ["<Message>Request has expired</Message>"]
    },
    {
      name: "a presigned GET valid for zero seconds",
      method: "GET",
      path: `/demo/sample/a.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F19700101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=19700101T000000Z&X-Amz-Expires=0&X-Amz-SignedHeaders=host&X-Amz-Signature=${"0".repeat(64)}`,
      status: 403,
      code: "AccessDenied",
      contains: ["<Message>Request has expired</Message>"]
    },
    {
      name: "a malformed escape",
      method: "GET",
      path: "/demo/sample/%zz",
      status: 400,
      code: "InvalidURI",
      contains: ["<Resource>/demo/sample/%zz</Resource>"]
    },
    { name: "?acl", method: "GET", path: "/demo/sample/a.txt?acl", status: 501, code: "NotImplemented" },
    { name: "?tagging on PUT", method: "PUT", path: "/demo/sample/a.txt?tagging", status: 501, code: "NotImplemented" },
    {
      name: "an unknown product",
      method: "GET",
      path: "/demo/nope/a.txt",
      status: 404,
      code: "NoSuchBucket",
      contains: ["<BucketName>demo</BucketName>"]
    },
    { name: "an unknown account's listing", method: "GET", path: "/nobody?list-type=2", status: 404, code: "NoSuchBucket" },
    { name: "a product without mirrors", method: "GET", path: "/demo/nomirror/a.txt", status: 404, code: "NoSuchBucket" },
    {
      name: "a product whose connection is gone (the internal id is not shown)",
      method: "GET",
      path: "/demo/orphan/a.txt",
      status: 404,
      code: "NoSuchBucket",
      contains: ["<BucketName>demo</BucketName>"]
    },
    { name: "HEAD on an unknown account", method: "HEAD", path: "/nobody", status: 404, code: "NoSuchBucket" },
    {
      name: "a missing key",
      method: "GET",
      path: "/demo/sample/missing%20file.txt",
      status: 404,
      code: "NoSuchKey",
      contains: ["<Key>sample/missing file.txt</Key><Resource>/demo/sample/missing file.txt</Resource><RequestId>req-42</RequestId>"]
    },
    {
      name: "a restricted product",
      method: "GET",
      path: "/demo/private/secret.txt",
      status: 403,
      code: "AccessDenied",
      contains: ["<Message>Access Denied</Message>"]
    },
    { name: "a restricted product's listing", method: "GET", path: "/demo/private?list-type=2", status: 403, code: "AccessDenied" },
    { name: "a disabled product", method: "GET", path: "/demo/disabled/a.txt", status: 403, code: "AccessDenied" },
    {
      name: "an anonymous PUT",
      method: "PUT",
      path: "/demo/sample/new.txt",
      body: "x",
      headers: { "content-length": "1" },
      status: 403,
      code: "AccessDenied"
    },
    { name: "an anonymous DELETE", method: "DELETE", path: "/demo/sample/a.txt", status: 403, code: "AccessDenied" },
    { name: "an anonymous multipart start", method: "POST", path: "/demo/sample/a.txt?uploads", status: 403, code: "AccessDenied" },
    { name: "an anonymous batch delete", method: "POST", path: "/demo/sample?delete", status: 403, code: "AccessDenied" },
    {
      // Well formed, at the test clock's time, but with a key no session was issued for.
      name: "a header-signed read with an unknown key",
      method: "GET",
      path: "/demo/sample/a.txt",
      headers: {
        authorization: `AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/19700101/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=${"0".repeat(64)}`,
        "x-amz-date": "19700101T000000Z",
        "x-amz-content-sha256": "UNSIGNED-PAYLOAD"
      },
      status: 403,
      code: "InvalidAccessKeyId"
    },
    {
      name: "a presigned read with an unknown key",
      method: "GET",
      path: `/demo/sample/a.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F19700101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=19700101T000000Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host&X-Amz-Signature=${"0".repeat(64)}`,
      status: 403,
      code: "InvalidAccessKeyId"
    },
    {
      name: "a signed listing whose Authorization lacks SignedHeaders and Signature",
      method: "GET",
      path: "/demo?list-type=2",
      headers: { authorization: "AWS4-HMAC-SHA256 Credential=AKID/20240102/us-east-1/s3/aws4_request" },
      status: 400,
      code: "AuthorizationHeaderMalformed"
    },
    {
      name: "If-Match on another ETag",
      method: "GET",
      path: "/demo/sample/a.txt",
      headers: { "if-match": "\"v0\"" },
      status: 412,
      code: "PreconditionFailed"
    },
    {
      name: "If-Unmodified-Since before the last change",
      method: "GET",
      path: "/demo/sample/a.txt",
      headers: { "if-unmodified-since": "Mon, 01 Jan 2024 00:00:00 GMT" },
      status: 412,
      code: "PreconditionFailed"
    },
    {
      name: "a range past the end",
      method: "GET",
      path: "/demo/sample/a.txt",
      headers: { range: "bytes=100-200" },
      status: 416,
      code: "InvalidRange",
      contains: ["<ActualObjectSize>13</ActualObjectSize>"]
    },
    {
      name: "an open range starting at the end",
      method: "GET",
      path: "/demo/sample/a.txt",
      headers: { range: "bytes=13-" },
      status: 416,
      code: "InvalidRange"
    },
    {
      name: "a connection the catalog describes badly (CatalogFailure)",
      method: "GET",
      path: "/demo/nobucket/a.txt",
      status: 500,
      code: "InternalError",
      contains: ["<Message>Internal server error</Message>"]
    },
    { name: "an unsupported provider", method: "GET", path: "/demo/gopher/a.txt", status: 500, code: "InternalError" },
    {
      name: "a backend that answers 503",
      method: "GET",
      path: "/demo/s3down/a.txt",
      status: 503,
      code: "ServiceUnavailable",
      contains: ["<Message>Service unavailable</Message>"]
    },
    { name: "a backend listing that answers 503", method: "GET", path: "/demo/s3down?list-type=2", status: 503, code: "ServiceUnavailable" },
    {
      name: "unusable backend credentials",
      method: "GET",
      path: "/demo/azure-key/a.txt",
      status: 502,
      code: "BackendAuthenticationFailed",
      contains: ["<Message>Failed to obtain backend credentials: ProviderMismatch</Message>"]
    }
  ]

  describe("every error a user can hit", () => {
    for (const c of errors) {
      it.effect(`${c.method} ${c.path}: ${c.name} → ${c.status} ${c.code}`, () =>
        Effect.gen(function*() {
          const reply = yield* send(c.method, c.path, {
            ...(c.headers === undefined ? {} : { headers: c.headers }),
            ...(c.body === undefined ? {} : { body: c.body })
          })
          expect(reply.status).toBe(c.status)
          expectCommonHeaders(reply)
          if (c.method === "HEAD") {
            expect(reply.body).toBeNull()
            return
          }
          expect(reply.headers.get("content-type")).toBe("application/xml")
          expect(codeOf(reply)).toBe(c.code)
          expect(bodyText(reply)).toContain("<RequestId>req-42</RequestId></Error>")
          for (const text of c.contains ?? []) expect(bodyText(reply)).toContain(text)
        }))
    }

    it.effect("every error body is well-formed XML that expat (a conforming parser) reads, with its code", () =>
      Effect.gen(function*() {
        const withBody = errors.filter((c) => c.method !== "HEAD")
        const replies = []
        for (const c of withBody) {
          replies.push(yield* send(c.method, c.path, {
            ...(c.headers === undefined ? {} : { headers: c.headers }),
            ...(c.body === undefined ? {} : { body: c.body })
          }))
        }
        const parsed = expatParse(replies.map(bodyText))
        parsed.forEach((result, i) => {
          const c = withBody[i]!
          expect(result.ok, c.name).toBe(true)
          if (result.ok) expect([c.name, result.tree.tag, childText(result.tree, "Code")]).toStrictEqual([c.name, "Error", c.code])
        })
      }))

    it.effect("HEAD errors keep status and headers, without body", () =>
      Effect.gen(function*() {
        for (const [path, status] of [["/demo/sample/missing", 404], ["/demo/private/secret.txt", 403], ["/demo/s3down/k", 503]] as const) {
          const reply = yield* send("HEAD", path)
          expect(reply.status, path).toBe(status)
          expect(reply.body).toBeNull()
          expectCommonHeaders(reply)
        }
      }))

    it.effect("InvalidRange tells the size in content-range", () =>
      Effect.gen(function*() {
        const reply = yield* send("GET", "/demo/sample/a.txt", { headers: { range: "bytes=100-200" } })
        expect(reply.status).toBe(416)
        expect(reply.headers.get("content-range")).toBe("bytes */13")
      }))

    it.effect("the resource is the decoded path", () =>
      Effect.gen(function*() {
        const reply = yield* send("GET", "/demo/nope/a%20b%26c.txt")
        expect(bodyText(reply)).toContain("<Resource>/demo/nope/a b&amp;c.txt</Resource>")
      }))

    it.effect("a defect in a store is a 500 InternalError without detail", () =>
      Effect.gen(function*() {
        for (const path of ["/demo/exploding/a.txt", "/demo/exploding?list-type=2"]) {
          const reply = yield* send("GET", path)
          expect(reply.status, path).toBe(500)
          expect(codeOf(reply)).toBe("InternalError")
          expect(bodyText(reply)).toContain("<Message>Internal server error</Message>")
          expect(bodyText(reply)).not.toContain(SECRET)
          expectCommonHeaders(reply)
        }
      }))

    it.effect("a restricted product and a missing key in it are indistinguishable from a denied product", () =>
      Effect.gen(function*() {
        const existing = yield* send("GET", "/demo/private/secret.txt")
        const missing = yield* send("GET", "/demo/private/missing.txt")
        expect([existing.status, codeOf(existing)]).toStrictEqual([403, "AccessDenied"])
        expect([missing.status, codeOf(missing)]).toStrictEqual([403, "AccessDenied"])
      }))
  })
})

layer(Live)("pipeline: the OIDC provider endpoints", (it) => {
  it.effect("discovery names the issuer and its JWKS, as docs/sts.md#the-proxy-as-an-oidc-issuer writes it", () =>
    Effect.gen(function*() {
      const reply = yield* send("GET", "/.well-known/openid-configuration")
      expect(reply.status).toBe(200)
      expect(reply.headers.get("content-type")).toBe("application/json")
      expect(bodyText(reply)).toBe(
        "{\"id_token_signing_alg_values_supported\":[\"RS256\"],\"issuer\":\"https://proxy.test\","
          + "\"jwks_uri\":\"https://proxy.test/.well-known/jwks.json\",\"response_types_supported\":[\"id_token\"],"
          + "\"subject_types_supported\":[\"public\"]}"
      )
      expectCommonHeaders(reply)
    }))

  it.effect("the JWKS is served as JSON", () =>
    Effect.gen(function*() {
      const reply = yield* send("GET", "/.well-known/jwks.json")
      expect(reply.status).toBe(200)
      expect(JSON.parse(bodyText(reply))).toEqual({ keys: [] })
    }))
})
