import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { type ObjectStore, type ObjectWriter, Storage } from "../../src/core/backends/ObjectStore.js"
import { storageOf } from "../../src/core/backends/Storage.js"
import type { Reply } from "../../src/core/http/Reply.js"
import type { WriteOperation } from "../../src/core/operations/Operation.js"
import { BackendUnavailable, NoSuchKey } from "../../src/core/s3/errors.js"
import { executeWrite } from "../../src/core/operations/write.js"
import { LocalCatalog, type CatalogDocument } from "../../src/layers/LocalCatalog.js"
import { s3Request } from "../fixtures/requests.js"
import { sessionIdentity } from "../fixtures/identities.js"
import { MemoryEdgeCache } from "../../src/layers/MemoryEdgeCache.js"

/*
 * The pipeline side of ListParts, ListMultipartUploads and UploadPartCopy (multipartAdmin.ts) over a fake
 * writer that records what it was asked: key mapping between the client's namespace (`{product}/{key}`,
 * bucket = account) and the backend's, the account-level form, and 501 for a writer without the member.
 */

const session = sessionIdentity({ sub: "sc::acme::role/writer", account_id: "acme", role_name: "writer" })

const mirror = (product_id: string, connection_id: string, prefix: string) => ({
  account_id: "acme",
  product_id,
  visibility: "public" as const,
  disabled: false,
  metadata: { primary_mirror: "main", mirrors: { main: { connection_id, prefix } } }
})

const document: CatalogDocument = {
  accounts: ["acme"],
  products: [mirror("rw", "full", "rw-data/"), mirror("twin", "full", "twin-data/"), mirror("far", "other", ""), mirror("bare", "bare", "b/")],
  data_connections: [
    { data_connection_id: "full", read_only: false, details: { provider: "fake", bucket: "full" } },
    { data_connection_id: "other", read_only: false, details: { provider: "fake", bucket: "other" } },
    { data_connection_id: "bare", read_only: false, details: { provider: "fake", bucket: "bare" } }
  ]
}

const asked: Array<{ readonly op: string; readonly request: unknown }> = []
const unused = () => Effect.fail(new BackendUnavailable({ reason: "not in this test" }))
const basics: ObjectWriter = {
  put: unused,
  delete: unused,
  deleteMany: unused,
  copy: unused,
  createMultipart: unused,
  uploadPart: unused,
  completeMultipart: unused,
  abortMultipart: unused
}
const full: ObjectWriter = {
  ...basics,
  listParts: (request) => {
    asked.push({ op: "listParts", request })
    return Effect.succeed({
      parts: [{ partNumber: 3, etag: "\"e3\"", size: 7, lastModified: new Date("2026-01-02T03:04:05.000Z") }],
      isTruncated: true,
      nextPartNumberMarker: 3
    })
  },
  listUploads: (request) => {
    asked.push({ op: "listUploads", request })
    return Effect.succeed({
      uploads: [
        { key: "rw-data/dir/a b.bin", uploadId: "U1", initiated: new Date("2026-01-01T00:00:00.000Z") },
        { key: "elsewhere/x", uploadId: "U2", initiated: new Date("2026-01-01T00:00:00.000Z") }
      ],
      isTruncated: true,
      nextKeyMarker: "rw-data/dir/a b.bin",
      nextUploadIdMarker: "U1"
    })
  },
  uploadPartCopy: (request) => {
    asked.push({ op: "uploadPartCopy", request })
    return request.sourceKey.endsWith("missing")
      ? Effect.fail(new NoSuchKey({ key: request.sourceKey }))
      : Effect.succeed({ etag: "\"c1\"", lastModified: new Date("2026-01-02T00:00:00.000Z") })
  }
}
const store = (writer: ObjectWriter): ObjectStore => ({ read: unused, list: unused, writer })
const Live = Layer.mergeAll(
  LocalCatalog(document),
  Layer.succeed(Storage, storageOf({ fake: (connection) => Effect.succeed(store(connection.data_connection_id === "bare" ? basics : full)) })),
  MemoryEdgeCache(100)
)

const run = (method: string, path: string, op: WriteOperation, headers: Record<string, string> = {}) =>
  executeWrite(s3Request(method, path, { headers }), op, session, { body: null, contentLength: 0, trailers: () => new Map() })

const text = (reply: Reply) => (typeof reply.body === "string" ? reply.body : "")

describe("ListParts", () => {
  it.effect("maps the key to the backend, passes max-parts and the marker, answers in the client's namespace", () =>
    Effect.gen(function*() {
      asked.length = 0
      const target = { account: "acme", product: "rw", key: "dir/a b.bin" }
      const reply = yield* run("GET", "/acme/rw/dir/a%20b.bin?uploadId=U%2B1&max-parts=2&part-number-marker=2", {
        _tag: "ListParts", target, uploadId: "U+1"
      })
      expect(asked).toStrictEqual([{ op: "listParts", request: { key: "rw-data/dir/a b.bin", uploadId: "U+1", maxParts: 2, partNumberMarker: 2 } }])
      const body = text(reply)
      expect(body).toContain("<ListPartsResult")
      expect(body).toContain("<Bucket>acme</Bucket><Key>rw/dir/a b.bin</Key><UploadId>U+1</UploadId>")
      expect(body).toContain("<PartNumberMarker>2</PartNumberMarker><NextPartNumberMarker>3</NextPartNumberMarker>")
      expect(body).toContain("<MaxParts>2</MaxParts><IsTruncated>true</IsTruncated>")
      expect(body).toContain("<Part><PartNumber>3</PartNumber><LastModified>2026-01-02T03:04:05.000Z</LastModified><ETag>&quot;e3&quot;</ETag><Size>7</Size></Part>")
    }).pipe(Effect.provide(Live)))

  it.effect("a malformed max-parts → InvalidArgument; a writer without listParts → NotImplemented", () =>
    Effect.gen(function*() {
      const bad = yield* Effect.flip(run("GET", "/acme/rw/k?uploadId=U&max-parts=x", {
        _tag: "ListParts", target: { account: "acme", product: "rw", key: "k" }, uploadId: "U"
      }))
      expect(bad._tag).toBe("InvalidArgument")
      const lacking = yield* Effect.flip(run("GET", "/acme/bare/k?uploadId=U", {
        _tag: "ListParts", target: { account: "acme", product: "bare", key: "k" }, uploadId: "U"
      }))
      expect(lacking._tag).toBe("NotImplemented")
    }).pipe(Effect.provide(Live)))
})

describe("ListMultipartUploads", () => {
  it.effect("account level: the product from the prefix, markers and keys mapped both ways, others' keys dropped", () =>
    Effect.gen(function*() {
      asked.length = 0
      const reply = yield* run("GET", "/acme?uploads&prefix=rw%2Fdir%2F&key-marker=rw%2Fdir%2F0&upload-id-marker=U0&max-uploads=5", {
        _tag: "ListMultipartUploads", account: "acme", product: undefined
      })
      expect(asked).toStrictEqual([{
        op: "listUploads",
        request: { prefix: "rw-data/dir/", keyMarker: "rw-data/dir/0", uploadIdMarker: "U0", maxUploads: 5 }
      }])
      const body = text(reply)
      expect(body).toContain("<Bucket>acme</Bucket><KeyMarker>rw/dir/0</KeyMarker><UploadIdMarker>U0</UploadIdMarker>")
      expect(body).toContain("<NextKeyMarker>rw/dir/a b.bin</NextKeyMarker><NextUploadIdMarker>U1</NextUploadIdMarker>")
      expect(body).toContain("<Prefix>rw/dir/</Prefix><MaxUploads>5</MaxUploads><IsTruncated>true</IsTruncated>")
      expect([...body.matchAll(/<Upload><Key>([^<]*)<\/Key><UploadId>([^<]*)<\/UploadId>/g)].map((m) => [m[1], m[2]]))
        .toStrictEqual([["rw/dir/a b.bin", "U1"]])
    }).pipe(Effect.provide(Live)))

  it.effect("account level: a bare product name is the whole product; an empty prefix is an empty answer, no backend call", () =>
    Effect.gen(function*() {
      asked.length = 0
      yield* run("GET", "/acme?uploads&prefix=rw", { _tag: "ListMultipartUploads", account: "acme", product: undefined })
      expect(asked.map((a) => a.request)).toStrictEqual([{ prefix: "rw-data/", keyMarker: undefined, uploadIdMarker: undefined, maxUploads: 1000 }])
      asked.length = 0
      const empty = yield* run("GET", "/acme?uploads", { _tag: "ListMultipartUploads", account: "acme", product: undefined })
      expect(asked).toStrictEqual([])
      expect(text(empty)).toContain("<Prefix/><MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated></ListMultipartUploadsResult>")
    }).pipe(Effect.provide(Live)))

  it.effect("product level: the prefix is within the product; a marker past the product is an empty answer", () =>
    Effect.gen(function*() {
      asked.length = 0
      const reply = yield* run("GET", "/acme/rw?uploads&prefix=dir%2F&encoding-type=url", {
        _tag: "ListMultipartUploads", account: "acme", product: "rw"
      })
      expect(asked.map((a) => a.request)).toStrictEqual([{ prefix: "rw-data/dir/", keyMarker: undefined, uploadIdMarker: undefined, maxUploads: 1000 }])
      expect(text(reply)).toContain("<EncodingType>url</EncodingType><Prefix>rw/dir/</Prefix>")
      expect(text(reply)).toContain("<Key>rw/dir/a%20b.bin</Key>")
      asked.length = 0
      yield* run("GET", "/acme/rw?uploads&key-marker=zzz", { _tag: "ListMultipartUploads", account: "acme", product: "rw" })
      expect(asked).toStrictEqual([])
    }).pipe(Effect.provide(Live)))

  it.effect("a delimiter → NotImplemented; a writer without listUploads → NotImplemented", () =>
    Effect.gen(function*() {
      const delimited = yield* Effect.flip(run("GET", "/acme?uploads&prefix=rw%2F&delimiter=%2F", {
        _tag: "ListMultipartUploads", account: "acme", product: undefined
      }))
      expect(delimited._tag).toBe("NotImplemented")
      const lacking = yield* Effect.flip(run("GET", "/acme?uploads&prefix=bare%2F", {
        _tag: "ListMultipartUploads", account: "acme", product: undefined
      }))
      expect(lacking._tag).toBe("NotImplemented")
    }).pipe(Effect.provide(Live)))
})

describe("UploadPartCopy", () => {
  const op = (source: { product: string; key: string }, product = "rw"): WriteOperation => ({
    _tag: "UploadPartCopy",
    target: { account: "acme", product, key: "dst.bin" },
    source: { account: "acme", ...source },
    uploadId: "U",
    partNumber: 2
  })

  it.effect("source and target mapped to backend keys, the range and copy-source preconditions passed on", () =>
    Effect.gen(function*() {
      asked.length = 0
      const reply = yield* run("PUT", "/acme/rw/dst.bin?partNumber=2&uploadId=U", op({ product: "twin", key: "src.bin" }), {
        "x-amz-copy-source": "/acme/twin/src.bin",
        "x-amz-copy-source-range": "bytes=0-99",
        "x-amz-copy-source-if-match": "\"abc\"",
        "x-amz-meta-ignored": "yes"
      })
      expect(asked.length).toBe(1)
      const request = asked[0]!.request as { sourceKey: string; key: string; uploadId: string; partNumber: number; range: string; headers: Headers }
      expect([request.sourceKey, request.key, request.uploadId, request.partNumber, request.range])
        .toStrictEqual(["twin-data/src.bin", "rw-data/dst.bin", "U", 2, "bytes=0-99"])
      expect([...request.headers.entries()]).toStrictEqual([["x-amz-copy-source-if-match", "\"abc\""]])
      expect(text(reply)).toContain("<CopyPartResult")
      expect(text(reply)).toContain("<LastModified>2026-01-02T00:00:00.000Z</LastModified><ETag>&quot;c1&quot;</ETag>")
    }).pipe(Effect.provide(Live)))

  it.effect("a malformed range → InvalidArgument; another connection → NotImplemented; a missing source → NoSuchKey (client key)", () =>
    Effect.gen(function*() {
      const badRange = yield* Effect.flip(run("PUT", "/acme/rw/dst.bin?partNumber=2&uploadId=U", op({ product: "twin", key: "s" }), {
        "x-amz-copy-source-range": "bytes=5-"
      }))
      expect(badRange._tag).toBe("InvalidArgument")
      const far = yield* Effect.flip(run("PUT", "/acme/rw/dst.bin?partNumber=2&uploadId=U", op({ product: "far", key: "s" })))
      expect(far._tag).toBe("NotImplemented")
      const missing = yield* Effect.flip(run("PUT", "/acme/rw/dst.bin?partNumber=2&uploadId=U", op({ product: "rw", key: "missing" })))
      expect(missing).toMatchObject({ _tag: "NoSuchKey", key: "rw/missing" })
      const lacking = yield* Effect.flip(run("PUT", "/acme/bare/dst.bin?partNumber=2&uploadId=U", op({ product: "bare", key: "s" }, "bare")))
      expect(lacking._tag).toBe("NotImplemented")
    }).pipe(Effect.provide(Live)))
})
