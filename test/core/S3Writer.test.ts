import { WebCryptoHmac } from "../../src/layers/WebCryptoHmac.js"
import { createHash } from "node:crypto"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import type { ObjectStore, ObjectWriter } from "../../src/core/backends/ObjectStore.js"
import { GcsProvider, S3Provider } from "../../src/core/backends/s3/S3Store.js"
import type { BackendAuth, DataConnection } from "../../src/core/backends/connection.js"
import type { UpstreamRequest } from "../../src/core/services/Upstream.js"
import { NoFederation } from "../fixtures/services.js"
import { type Answer, stubUpstream, TestConfig } from "../fixtures/stubUpstream.js"

const KEYS: BackendAuth = { type: "s3_access_key", access_key_id: "AKIDEXAMPLE", secret_access_key: "secret" }

const connection = (authentication: BackendAuth, provider = "s3"): DataConnection => ({
  data_connection_id: "conn-w",
  read_only: false,
  details: { provider, bucket: "my bucket", region: "eu-west-1", endpoint: "https://s3.example" },
  authentication
})

const open = (answer: (request: UpstreamRequest) => Answer, provider: "s3" | "gcs" = "s3", auth: BackendAuth = KEYS) => {
  const stub = stubUpstream(answer)
  const make = provider === "s3" ? S3Provider : GcsProvider
  const gcsAuth: BackendAuth = { type: "gcs_hmac", access_key_id: "GOOG1", secret: "s" }
  const store: Effect.Effect<ObjectStore, unknown> = Effect.flatMap(make, (m) => m(connection(provider === "gcs" && auth === KEYS ? gcsAuth : auth, provider)))
    .pipe(Effect.provide(Layer.mergeAll(stub.layer, TestConfig, NoFederation, WebCryptoHmac)))
  const writer = Effect.flatMap(store, (s) => (s.writer === undefined ? Effect.die("no writer") : Effect.succeed<ObjectWriter>(s.writer)))
  return { calls: stub.calls, writer }
}

const body = (text: string) => new Blob([text]).stream()
const xml = (text: string, status = 200) => new Response(text, { status, headers: { "content-type": "application/xml" } })
const error = (code: string, status: number) => xml(`<?xml version="1.0"?><Error><Code>${code}</Code><Message>m</Message></Error>`, status)

describe("S3 writer: who writes", () => {
  it.effect("an unsigned connection has no writer; stored keys do", () =>
    Effect.gen(function*() {
      const unsigned = yield* Effect.flatMap(S3Provider, (m) => m(connection({ type: "unsigned" })))
        .pipe(Effect.provide(Layer.mergeAll(stubUpstream(() => new Response("")).layer, TestConfig, NoFederation, WebCryptoHmac)))
      expect(unsigned.writer).toBeUndefined()
    }))
})

describe("S3 writer: requests", () => {
  it.effect("put: strict key encoding, UNSIGNED-PAYLOAD signed, headers forwarded, body streamed with its length", () => {
    const { calls, writer } = open(() => new Response(null, { status: 200, headers: { etag: "\"abc\"", "x-amz-version-id": "v1", "x-amz-request-id": "r" } }))
    return Effect.gen(function*() {
      const stream = body("hello")
      const written = yield* (yield* writer).put({
        key: "dir/a=b+c d ü(1).txt",
        body: stream,
        contentLength: 5,
        headers: new Headers({ "content-type": "text/plain", "x-amz-meta-a": "1", "if-none-match": "*", "x-amz-checksum-crc32": "AAAAAA==" }),
        trailers: () => new Map([["x-amz-checksum-crc32c", "x"]])
      })
      expect(written.etag).toBe("\"abc\"")
      expect([...written.headers]).toStrictEqual([["x-amz-version-id", "v1"]])
      const call = calls[0]!
      expect(call.method).toBe("PUT")
      expect(call.url).toBe("https://s3.example/my%20bucket/dir/a%3Db%2Bc%20d%20%C3%BC%281%29.txt")
      expect(call.body).toBe(stream)
      expect(call.headers.get("content-length")).toBe("5")
      expect(call.headers.get("x-amz-content-sha256")).toBe("UNSIGNED-PAYLOAD")
      const auth = call.headers.get("authorization") ?? ""
      expect(auth).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/s3\/aws4_request/)
      // aws4fetch leaves content-type (and content-length) out of the signature, as the AWS SDKs may.
      for (const h of ["if-none-match", "x-amz-checksum-crc32", "x-amz-content-sha256", "x-amz-meta-a"]) {
        expect(auth, h).toContain(h)
      }
      expect(call.headers.has("x-amz-checksum-crc32c")).toBe(false)
    })
  })

  it.effect("put: 412 and 409 → PreconditionFailed, 403 → AccessDenied, 500 → BackendUnavailable, 411 → InvalidRequest", () =>
    Effect.gen(function*() {
      for (const [status, tag] of [[412, "PreconditionFailed"], [409, "PreconditionFailed"], [403, "AccessDenied"], [500, "BackendUnavailable"], [411, "InvalidRequest"]] as const) {
        const { writer } = open(() => new Response("", { status }))
        const e = yield* Effect.flip((yield* writer).put({ key: "k", body: null, contentLength: 0, headers: new Headers(), trailers: () => new Map() }))
        expect(e._tag, String(status)).toBe(tag)
      }
    }))

  it.effect("multipart: uploadId strictly encoded in the query; NoSuchUpload and InvalidPart mapped", () => {
    const { calls, writer } = open((r) =>
      r.url.includes("?uploads") ? xml("<InitiateMultipartUploadResult><UploadId>a+b/c=</UploadId></InitiateMultipartUploadResult>")
        : r.method === "PUT" ? error("NoSuchUpload", 404)
        : error("InvalidPart", 400)
    )
    return Effect.gen(function*() {
      const w = yield* writer
      const id = yield* w.createMultipart({ key: "k", headers: new Headers({ "content-type": "x/y", "if-match": "\"z\"" }) })
      expect(id).toBe("a+b/c=")
      expect(calls[0]!.url).toBe("https://s3.example/my%20bucket/k?uploads")
      expect(calls[0]!.headers.get("content-type")).toBe("x/y")
      expect(calls[0]!.headers.has("if-match")).toBe(false)
      const part = yield* Effect.flip(w.uploadPart({ key: "k", uploadId: id, partNumber: 3, body: body("x"), contentLength: 1, headers: new Headers(), trailers: () => new Map() }))
      expect(part._tag).toBe("NoSuchUpload")
      expect(calls[1]!.url).toBe("https://s3.example/my%20bucket/k?partNumber=3&uploadId=a%2Bb%2Fc%3D")
      const complete = yield* Effect.flip(w.completeMultipart({ key: "k", uploadId: id, parts: [{ partNumber: 1, etag: "e1" }, { partNumber: 2, etag: "\"e2\"" }], headers: new Headers() }))
      expect(complete._tag).toBe("InvalidPart")
      expect(calls[2]!.body).toBe(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">" +
          "<Part><PartNumber>1</PartNumber><ETag>&quot;e1&quot;</ETag></Part><Part><PartNumber>2</PartNumber><ETag>&quot;e2&quot;</ETag></Part>" +
          "</CompleteMultipartUpload>"
      )
    })
  })

  it.effect("complete: a 200 carrying an <Error> is a failure, not a success", () => {
    const { writer } = open(() => xml("\n\n<Error><Code>InternalError</Code><Message>x</Message></Error>"))
    return Effect.gen(function*() {
      const e = yield* Effect.flip((yield* writer).completeMultipart({ key: "k", uploadId: "u", parts: [{ partNumber: 1, etag: "e" }], headers: new Headers() }))
      expect(e._tag).toBe("BackendUnavailable")
    })
  })

  it.effect("deleteMany: one POST ?delete with Content-MD5, escaped keys, outcomes in key order", () => {
    const { calls, writer } = open(() =>
      xml("<DeleteResult><Error><Key>b&amp;c</Key><Code>AccessDenied</Code><Message>no</Message></Error><Deleted><Key>a</Key></Deleted></DeleteResult>")
    )
    return Effect.gen(function*() {
      const outcomes = yield* (yield* writer).deleteMany(["a", "b&c"])
      expect(outcomes).toStrictEqual([{ key: "a", error: undefined }, { key: "b&c", error: { code: "AccessDenied", message: "no" } }])
      const call = calls[0]!
      expect(call.url).toBe("https://s3.example/my%20bucket?delete")
      expect(call.body).toContain("<Quiet>false</Quiet><Object><Key>a</Key></Object><Object><Key>b&amp;c</Key></Object>")
      expect(call.headers.get("content-md5")).toBe(createHash("md5").update(String(call.body)).digest("base64"))
    })
  })

  it.effect("copy: x-amz-copy-source names the bucket and the encoded key; a 200 <Error> → BackendUnavailable; 404 → NoSuchKey", () => {
    let answer: Response = xml("<CopyObjectResult><ETag>\"e\"</ETag><LastModified>2024-05-01T00:00:00.000Z</LastModified></CopyObjectResult>")
    const { calls, writer } = open(() => answer)
    return Effect.gen(function*() {
      const w = yield* writer
      const copied = yield* w.copy({ sourceKey: "src/a b+=.txt", key: "dst", headers: new Headers({ "x-amz-copy-source-if-match": "\"e\"", "x-amz-meta-x": "dropped without REPLACE" }) })
      expect(copied).toStrictEqual({ etag: "\"e\"", lastModified: new Date("2024-05-01T00:00:00.000Z") })
      expect(calls[0]!.headers.get("x-amz-copy-source")).toBe("/my%20bucket/src/a%20b%2B%3D.txt")
      expect(calls[0]!.headers.get("x-amz-copy-source-if-match")).toBe("\"e\"")
      expect(calls[0]!.headers.has("x-amz-meta-x")).toBe(false)
      answer = xml("<Error><Code>InternalError</Code></Error>")
      expect((yield* Effect.flip(w.copy({ sourceKey: "s", key: "d", headers: new Headers() })))._tag).toBe("BackendUnavailable")
      answer = error("NoSuchKey", 404)
      expect((yield* Effect.flip(w.copy({ sourceKey: "s", key: "d", headers: new Headers() })))._tag).toBe("NoSuchKey")
    })
  })
})

describe("GCS writer (XML API)", () => {
  it.effect("create-only becomes x-goog-if-generation-match: 0; deleteMany is one DELETE per key", () => {
    const { calls, writer } = open((r) => new Response(null, { status: r.method === "DELETE" ? 204 : 200, headers: { etag: "\"g\"" } }), "gcs")
    return Effect.gen(function*() {
      const w = yield* writer
      yield* w.put({ key: "k", body: null, contentLength: 0, headers: new Headers({ "if-none-match": "*" }), trailers: () => new Map() })
      expect(calls[0]!.headers.get("x-goog-if-generation-match")).toBe("0")
      expect(calls[0]!.headers.has("if-none-match")).toBe(false)
      const outcomes = yield* w.deleteMany(["a", "b"])
      expect(outcomes).toStrictEqual([{ key: "a", error: undefined }, { key: "b", error: undefined }])
      expect(calls.slice(1).map((c) => `${c.method} ${c.url}`).sort()).toStrictEqual([
        "DELETE https://s3.example/my%20bucket/a",
        "DELETE https://s3.example/my%20bucket/b"
      ])
    })
  })
})
