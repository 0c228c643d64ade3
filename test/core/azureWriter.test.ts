import { describe, expect, it } from "@effect/vitest"
import { BlobSASPermissions, generateBlobSASQueryParameters, SASProtocol, StorageSharedKeyCredential } from "@azure/storage-blob"
import { Effect, Encoding, Layer } from "effect"
import { AzureProvider } from "../../src/core/backends/azure/AzureStore.js"
import {
  blockId,
  decodeUploadId,
  encodeUploadId,
  partTag,
  readBlockId,
  recordBlockIds,
  recordedUploads,
  tombstoneTag
} from "../../src/core/backends/azure/blockIds.js"
import { parseUncommitted, parseUncommittedBlocks } from "../../src/core/backends/azure/blockList.js"
import { azureMetadataName, s3MetadataName } from "../../src/core/backends/azure/metadata.js"
import { blobReadSas, decodeAccountKey } from "../../src/core/backends/azure/sharedKey.js"
import type { ObjectWrite, ObjectWriter } from "../../src/core/backends/ObjectStore.js"
import type { BackendAuth, DataConnection } from "../../src/core/backends/connection.js"
import { Hmac } from "../../src/core/services/Hmac.js"
import { UpstreamFailure, type UpstreamRequest } from "../../src/core/services/Upstream.js"
import { NodeCryptoHmac } from "../../src/platform/bun/NodeCryptoHmac.js"
import { type Answer, endlessBody, stubUpstream, TestConfig } from "../fixtures/stubUpstream.js"

const KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
const SHARED_KEY: BackendAuth = { type: "az_shared_key", account_key: KEY }
const SAS: BackendAuth = { type: "az_sas", sas_token: "?sv=2021-12-02&sp=racwdl&sig=abc%2B" }
const BLOB = "https://acct.blob.core.windows.net/cont"

const connection = (authentication: BackendAuth): DataConnection => ({
  data_connection_id: "conn-az",
  read_only: false,
  details: { provider: "az", account_name: "acct", container_name: "cont" },
  authentication
})

const open = (auth: BackendAuth, answer: (request: UpstreamRequest) => Answer) => {
  const stub = stubUpstream(answer)
  const writer = Effect.flatMap(AzureProvider, (make) => make(connection(auth))).pipe(
    Effect.map((store) => store.writer),
    Effect.provide(Layer.mergeAll(stub.layer, TestConfig, NodeCryptoHmac))
  )
  const need = Effect.flatMap(writer, (w) => (w === undefined ? Effect.die("no writer") : Effect.succeed<ObjectWriter>(w)))
  return { calls: stub.calls, writer, need }
}

const bodyOf = (text: string) => new ReadableStream<Uint8Array>({
  start: (c) => {
    c.enqueue(new TextEncoder().encode(text))
    c.close()
  }
})

const write = (key: string, text: string, headers: Record<string, string> = {}, length: number | undefined = text.length): ObjectWrite => ({
  key,
  body: bodyOf(text),
  contentLength: length,
  headers: new Headers(headers),
  trailers: () => new Map()
})

const created = (extra: Record<string, string> = {}) =>
  new Response(null, { status: 201, headers: { etag: "\"0x8DC0FFEE\"", "last-modified": "Thu, 01 Feb 2024 12:47:04 GMT", ...extra } })
const azureError = (status: number, code: string) => new Response("<Error/>", { status, headers: { "x-ms-error-code": code } })
/** A Get Block List answer: the names, each with its size (5 bytes unless `sizes` says otherwise). */
const blockList = (names: ReadonlyArray<string>, sizes: ReadonlyMap<string, number> = new Map()) =>
  new Response(
    `<?xml version="1.0" encoding="utf-8"?><BlockList><CommittedBlocks /><UncommittedBlocks>${
      names.map((n) => `<Block><Name>${n}</Name><Size>${sizes.get(n) ?? 5}</Size></Block>`).join("")
    }</UncommittedBlocks></BlockList>`,
    { status: 200 }
  )

describe("Azure writer: which connections write", () => {
  it.effect("anonymous: no writer; SharedKey and SAS: a writer", () =>
    Effect.gen(function*() {
      expect(yield* open({ type: "unsigned" }, () => created()).writer).toBeUndefined()
      expect(yield* open(SHARED_KEY, () => created()).writer).toBeDefined()
      expect(yield* open(SAS, () => created()).writer).toBeDefined()
    }))
})

describe("Azure writer: put", () => {
  it.effect("Put Blob: streamed body with its length, content headers, escaped metadata, preconditions, signed", () => {
    const { calls, need } = open(SHARED_KEY, () => created())
    return Effect.gen(function*() {
      const request = write("dir/a b+c.txt", "hello", {
        "content-type": "text/x-test",
        "cache-control": "max-age=60",
        "content-disposition": "attachment",
        "content-encoding": "gzip",
        "content-language": "en",
        expires: "Thu, 01 Jan 2099 00:00:00 GMT",
        "x-amz-meta-colour": "blue",
        "x-amz-meta-two-words": "a b",
        "x-amz-checksum-crc32": "AAAAAA==",
        "content-md5": "XUFAKrxLKna5cZ2REBfFkg==",
        "if-none-match": "*"
      })
      const written = yield* (yield* need).put(request)
      expect(written.etag).toBe("\"0x8DC0FFEE\"")
      const call = calls[0]!
      expect(call.method).toBe("PUT")
      expect(call.url).toBe(`${BLOB}/dir/a%20b%2Bc.txt`)
      expect(call.body).toBe(request.body) // the client's stream itself: never read into memory
      const h = call.headers
      expect(h.get("content-length")).toBe("5")
      expect(h.get("x-ms-blob-type")).toBe("BlockBlob")
      expect(h.get("x-ms-blob-content-type")).toBe("text/x-test")
      expect(h.get("x-ms-blob-cache-control")).toBe("max-age=60")
      expect(h.get("x-ms-blob-content-disposition")).toBe("attachment")
      expect(h.get("x-ms-blob-content-encoding")).toBe("gzip")
      expect(h.get("x-ms-blob-content-language")).toBe("en")
      expect(h.get("x-ms-meta-colour")).toBe("blue")
      expect(h.get("x-ms-meta-two_x2dwords")).toBe("a b")
      expect(h.get("content-md5")).toBe("XUFAKrxLKna5cZ2REBfFkg==")
      expect(h.get("if-none-match")).toBe("*")
      expect(h.get("content-type")).toBeNull()
      expect(h.get("authorization")).toMatch(/^SharedKey acct:/)
      expect(h.get("x-ms-version")).toBe("2021-12-02")
      const names = [...h.keys()]
      expect(names.filter((n) => n.includes("checksum") || n === "expires")).toStrictEqual([])
    })
  })

  it.effect("SAS: the token is appended to the URL, no Authorization", () => {
    const { calls, need } = open(SAS, () => created())
    return Effect.gen(function*() {
      yield* (yield* need).put(write("k", "x"))
      expect(calls[0]!.url).toBe(`${BLOB}/k?sv=2021-12-02&sp=racwdl&sig=abc%2B`)
      expect(calls[0]!.headers.has("authorization")).toBe(false)
    })
  })

  it.effect("an empty body: Content-Length 0, no body sent", () => {
    const { calls, need } = open(SHARED_KEY, () => created())
    return Effect.gen(function*() {
      yield* (yield* need).put(write("k", "", {}, 0))
      expect(calls[0]!.headers.get("content-length")).toBe("0")
      expect(calls[0]!.body).toBeNull()
    })
  })

  it.effect("a body of unknown length: InvalidRequest, nothing sent", () => {
    const { calls, need } = open(SHARED_KEY, () => created())
    return Effect.gen(function*() {
      const error = yield* Effect.flip((yield* need).put({ ...write("k", "abc"), contentLength: undefined }))
      expect(error._tag).toBe("InvalidRequest")
      expect(calls).toHaveLength(0)
    })
  })

  const failures: ReadonlyArray<readonly [string, Answer, string]> = [
    ["409 BlobAlreadyExists", azureError(409, "BlobAlreadyExists"), "PreconditionFailed"],
    ["412 ConditionNotMet", azureError(412, "ConditionNotMet"), "PreconditionFailed"],
    ["403 AuthorizationPermissionMismatch", azureError(403, "AuthorizationPermissionMismatch"), "AccessDenied"],
    ["400 Md5Mismatch", azureError(400, "Md5Mismatch"), "InvalidRequest"],
    ["500", azureError(500, "InternalError"), "BackendUnavailable"],
    ["a timeout", Effect.fail(new UpstreamFailure({ reason: "Timeout", url: "u", detail: "slow" })), "BackendUnavailable"],
    ["a transport failure", Effect.fail(new UpstreamFailure({ reason: "Transport", url: "u", detail: "reset" })), "BackendUnavailable"]
  ]
  for (const [name, answer, tag] of failures) {
    it.effect(`${name} → ${tag}`, () => {
      const { need } = open(SHARED_KEY, () => answer)
      return Effect.gen(function*() {
        expect((yield* Effect.flip((yield* need).put(write("k", "x"))))._tag).toBe(tag)
      })
    })
  }
})

describe("Azure writer: delete", () => {
  it.effect("Delete Blob with snapshots; 404 is success", () => {
    const { calls, need } = open(SHARED_KEY, () => azureError(404, "BlobNotFound"))
    return Effect.gen(function*() {
      yield* (yield* need).delete("a/b c")
      expect(calls[0]!.method).toBe("DELETE")
      expect(calls[0]!.url).toBe(`${BLOB}/a/b%20c`)
      expect(calls[0]!.headers.get("x-ms-delete-snapshots")).toBe("include")
    })
  })

  /** What Azure answers a Blob Batch: one subresponse per subrequest, `status(path)` each, in reverse order. */
  const batchAnswer = (status: (path: string) => number) => (request: UpstreamRequest) => {
    const subrequests = [...String(request.body).matchAll(/Content-ID: (\d+)\r\n\r\nDELETE (\S+) HTTP\/1\.1/g)]
    const parts = subrequests.reverse().map(([, id, path]) =>
      `--batchresponse_1\r\nContent-Type: application/http\r\nContent-ID: ${id}\r\n\r\n`
      + `HTTP/1.1 ${status(path!)} Whatever\r\nx-ms-error-code: Code\r\nx-ms-request-id: r\r\n\r\n`)
    return new Response(`${parts.join("")}--batchresponse_1--\r\n`, {
      status: 202,
      headers: { "content-type": "multipart/mixed; boundary=batchresponse_1" }
    })
  }

  it.effect("deleteMany: one Blob Batch per 256 keys, each key a Delete Blob signed on its own; outcomes in key order", () => {
    const { calls, need } = open(SHARED_KEY, batchAnswer((path) =>
      path.endsWith("/denied-3") ? 403 : path.endsWith("/leased-9") ? 409 : path.endsWith("/gone-5") ? 404 : 202))
    return Effect.gen(function*() {
      const keys = Array.from({ length: 600 }, (_, i) => (i === 3 ? "denied-3" : i === 5 ? "gone-5" : i === 9 ? "leased-9" : `dir/k ${i}`))
      const outcomes = yield* (yield* need).deleteMany(keys)
      expect(outcomes.map((o) => o.key)).toStrictEqual(keys)
      expect(outcomes.map((o) => o.error?.code)).toStrictEqual(keys.map((k) =>
        k === "denied-3" ? "AccessDenied" : k === "leased-9" ? "InternalError" : undefined))
      expect(calls.map((c) => [c.method, c.url])).toStrictEqual(Array.from({ length: 3 }, () => ["POST", `${BLOB}?restype=container&comp=batch`]))
      const counts = calls.map((c) => String(c.body).match(/^DELETE /gm)?.length)
      expect(counts).toStrictEqual([256, 256, 88])
      const first = calls[0]!
      expect(first.headers.get("content-type")).toMatch(/^multipart\/mixed; boundary=batch_[0-9a-f]+$/)
      expect(first.headers.get("content-length")).toBe(String(new TextEncoder().encode(String(first.body)).length))
      expect(first.headers.get("authorization")).toMatch(/^SharedKey acct:/)
      expect(first.headers.get("x-ms-version")).toBe("2021-12-02")
      // A subrequest: the blob's path, its own date and signature, snapshots included, no x-ms-version.
      const sub = /Content-ID: 1\r\n\r\n(DELETE [^\r]+)\r\n((?:[^\r]+\r\n)*)\r\n/.exec(String(first.body))!
      expect(sub[1]).toBe("DELETE /cont/dir/k%201 HTTP/1.1")
      const headers = sub[2]!.trim().split("\r\n").map((line) => line.split(": ")[0])
      expect(headers.sort()).toStrictEqual(["authorization", "content-length", "x-ms-date", "x-ms-delete-snapshots"])
      expect(sub[2]).toMatch(/authorization: SharedKey acct:\S+=\r\n/)
    })
  })

  it.effect("deleteMany with a SAS: the SAS on every subrequest; a batch refused as a whole is an error for each of its keys", () => {
    const { calls, need } = open(SAS, () => azureError(403, "AuthorizationPermissionMismatch"))
    return Effect.gen(function*() {
      const outcomes = yield* (yield* need).deleteMany(["a", "b"])
      expect(outcomes).toStrictEqual(["a", "b"].map((key) => ({ key, error: { code: "AccessDenied", message: "Access Denied" } })))
      expect(calls).toHaveLength(1)
      expect(calls[0]!.url).toBe(`${BLOB}?restype=container&comp=batch&sv=2021-12-02&sp=racwdl&sig=abc%2B`)
      expect(String(calls[0]!.body)).toContain("DELETE /cont/a?sv=2021-12-02&sp=racwdl&sig=abc%2B HTTP/1.1\r\n")
    })
  })

  it.effect("deleteMany: a subresponse missing from Azure's answer is an InternalError for its key, not a success", () => {
    const { need } = open(SHARED_KEY, () =>
      new Response(
        "--b\r\nContent-Type: application/http\r\nContent-ID: 0\r\n\r\nHTTP/1.1 202 Accepted\r\n\r\n--b--\r\n",
        { status: 202, headers: { "content-type": "multipart/mixed; boundary=b" } }
      ))
    return Effect.gen(function*() {
      const outcomes = yield* (yield* need).deleteMany(["one", "two"])
      expect(outcomes.map((o) => o.error?.code)).toStrictEqual([undefined, "InternalError"])
    })
  })
})

describe("Azure writer: copy", () => {
  it.effect("Copy Blob: source URL (SharedKey: none of the key in it), source and destination preconditions", () => {
    const { calls, need } = open(SHARED_KEY, () => new Response(null, { status: 202, headers: { etag: "\"0x1\"", "last-modified": "Thu, 01 Feb 2024 12:47:04 GMT", "x-ms-copy-status": "success" } }))
    return Effect.gen(function*() {
      const result = yield* (yield* need).copy({
        sourceKey: "src/a b.txt",
        key: "dst.txt",
        headers: new Headers({ "x-amz-copy-source-if-match": "\"0x0\"", "if-none-match": "*", "x-amz-meta-k": "ignored" })
      })
      expect(result.etag).toBe("\"0x1\"")
      expect(result.lastModified.toISOString()).toBe("2024-02-01T12:47:04.000Z")
      expect(calls).toHaveLength(1)
      const h = calls[0]!.headers
      expect(calls[0]!.url).toBe(`${BLOB}/dst.txt`)
      expect(h.get("x-ms-copy-source")).toBe(`${BLOB}/src/a%20b.txt`)
      expect(h.get("x-ms-source-if-match")).toBe("\"0x0\"")
      expect(h.get("if-none-match")).toBe("*")
      expect(h.get("x-ms-meta-k")).toBeNull() // COPY keeps the source's metadata
    })
  })

  it.effect("SAS: the source URL carries the SAS", () => {
    const { calls, need } = open(SAS, () => new Response(null, { status: 202, headers: { etag: "\"0x1\"", "x-ms-copy-status": "success" } }))
    return Effect.gen(function*() {
      yield* (yield* need).copy({ sourceKey: "s", key: "d", headers: new Headers() })
      expect(calls[0]!.headers.get("x-ms-copy-source")).toBe(`${BLOB}/s?sv=2021-12-02&sp=racwdl&sig=abc%2B`)
    })
  })

  it.effect("REPLACE: metadata on the copy, then Set Blob Metadata and Set Blob Properties; the last ETag", () => {
    let n = 0
    const { calls, need } = open(SHARED_KEY, () => new Response(null, { status: n++ === 0 ? 202 : 200, headers: { etag: `"0x${n}"`, "x-ms-copy-status": "success" } }))
    return Effect.gen(function*() {
      const result = yield* (yield* need).copy({
        sourceKey: "s",
        key: "d",
        headers: new Headers({ "x-amz-metadata-directive": "REPLACE", "content-type": "text/x-two", "x-amz-meta-k": "v2" })
      })
      expect(calls.map((c) => c.url)).toStrictEqual([`${BLOB}/d`, `${BLOB}/d?comp=metadata`, `${BLOB}/d?comp=properties`])
      expect(calls[1]!.headers.get("x-ms-meta-k")).toBe("v2")
      expect(calls[2]!.headers.get("x-ms-blob-content-type")).toBe("text/x-two")
      expect(result.etag).toBe("\"0x3\"")
    })
  })

  it.effect("a missing source → NoSuchKey", () => {
    const { need } = open(SHARED_KEY, () => azureError(404, "CannotVerifyCopySource"))
    return Effect.gen(function*() {
      expect(yield* Effect.flip((yield* need).copy({ sourceKey: "s", key: "d", headers: new Headers() })))
        .toMatchObject({ _tag: "NoSuchKey", key: "s" })
    })
  })

  it.live("a pending copy is polled until it succeeds", () => {
    let n = 0
    const { calls, need } = open(SHARED_KEY, () =>
      n++ === 0
        ? new Response(null, { status: 202, headers: { etag: "\"0x1\"", "x-ms-copy-status": "pending" } })
        : new Response(null, { status: 200, headers: { etag: "\"0x2\"", "last-modified": "Thu, 01 Feb 2024 12:47:04 GMT", "x-ms-copy-status": "success" } }))
    return Effect.gen(function*() {
      const result = yield* (yield* need).copy({ sourceKey: "s", key: "d", headers: new Headers() })
      expect(calls.map((c) => c.method)).toStrictEqual(["PUT", "HEAD"])
      expect(result.etag).toBe("\"0x2\"")
    })
  })
})

describe("Azure writer: multipart", () => {
  /** A fake blob's uncommitted block list, kept by Put Block / Get Block List / Put Block List. */
  const azure = () => {
    /** Staged block ids with the sizes their Put Block declared. */
    const sizes = new Map<string, number>()
    const staged = { has: (id: string) => sizes.has(id), get size() { return sizes.size } }
    return {
      staged,
      answer: (request: UpstreamRequest): Answer => {
        const url = new URL(request.url)
        const comp = url.searchParams.get("comp")
        if (request.method === "PUT" && comp === "block") {
          sizes.set(url.searchParams.get("blockid")!, Number(request.headers.get("content-length")))
          return created()
        }
        if (request.method === "GET" && comp === "blocklist") return blockList([...sizes.keys()], sizes)
        if (request.method === "PUT" && comp === "blocklist") {
          sizes.clear()
          return created({ etag: "\"0x8DCOMMIT\"" })
        }
        return azureError(400, "Unexpected")
      }
    }
  }

  it.effect("create → upload id with key and headers; parts → equal-length base64 block ids; complete → block list in order", () => {
    const fake = azure()
    const { calls, need } = open(SHARED_KEY, fake.answer)
    return Effect.gen(function*() {
      const writer = yield* need
      const uploadId = yield* writer.createMultipart({
        key: "m/big.bin",
        headers: new Headers({ "content-type": "application/x-parts", "x-amz-meta-a-b": "1" })
      })
      expect(uploadId).toMatch(/^[A-Za-z0-9_-]+$/)
      const upload = decodeUploadId(uploadId)!
      expect(upload.k).toBe("m/big.bin")
      expect(upload.h).toStrictEqual([["x-ms-blob-content-type", "application/x-parts"], ["x-ms-meta-a_x2db", "1"]])
      // Creation stages the upload's record: 1-byte blocks carrying the headers, 16 bytes of JSON each.
      const records = recordBlockIds(upload.n, upload.h)
      expect(records).toHaveLength(Math.ceil(JSON.stringify(upload.h).length / 16))
      expect(calls.map((c) => `${c.method} ${c.url}`).sort()).toStrictEqual(
        records.map((id) => `PUT ${BLOB}/m/big.bin?comp=block&blockid=${encodeURIComponent(id)}`).sort()
      )
      for (const c of calls) expect([c.headers.get("content-length"), c.body]).toStrictEqual(["1", "x"])
      expect(records.every((id) => id.length === 48)).toBe(true)
      calls.length = 0

      const etags: Array<string> = []
      // Every part but the last is at least 5 MiB (S3's rule, kept on Azure).
      const big = (word: string) => word.padEnd(5 * 1024 * 1024, ".")
      for (const [partNumber, text] of [[2, big("second")], [1, big("first")], [10000, "last"]] as const) {
        const request = write("m/big.bin", text)
        etags[partNumber] = (yield* writer.uploadPart({ ...request, uploadId, partNumber })).etag
        const put = calls.filter((c) => c.method === "PUT").at(-1)!
        expect(put.body).toBe(request.body)
        expect(put.headers.get("content-length")).toBe(String(text.length))
      }
      const ids = calls.filter((c) => c.method === "PUT").map((c) => new URL(c.url).searchParams.get("blockid")!)
      expect(ids.map((id) => id.length)).toStrictEqual([48, 48, 48])
      for (const id of ids) expect(Encoding.decodeBase64String(id)).toMatchObject({ _tag: "Right", right: expect.stringMatching(/^sdp1[0-9a-f]{32}$/) })
      expect(etags[1]).toMatch(/^"[0-9a-f]{32}"$/)

      calls.length = 0
      const done = yield* writer.completeMultipart({
        key: "m/big.bin",
        uploadId,
        parts: [{ partNumber: 1, etag: etags[1]! }, { partNumber: 2, etag: etags[2]!.replace(/"/g, "") }, { partNumber: 10000, etag: etags[10000]! }],
        headers: new Headers({ "if-none-match": "*" })
      })
      expect(done.etag).toBe("\"0x8DCOMMIT\"")
      const [list, commit] = calls
      expect(list!.url).toBe(`${BLOB}/m/big.bin?comp=blocklist&blocklisttype=uncommitted`)
      expect(commit!.url).toBe(`${BLOB}/m/big.bin?comp=blocklist`)
      const tags = [etags[1]!, etags[2]!, etags[10000]!].map((e) => blockId(e.replace(/"/g, "")))
      expect(commit!.body).toBe(
        `<?xml version="1.0" encoding="utf-8"?><BlockList>${tags.map((t) => `<Uncommitted>${t}</Uncommitted>`).join("")}</BlockList>`
      )
      expect(commit!.headers.get("content-length")).toBe(String((commit!.body as string).length))
      expect(commit!.headers.get("x-ms-blob-content-type")).toBe("application/x-parts")
      expect(commit!.headers.get("x-ms-meta-a_x2db")).toBe("1")
      expect(commit!.headers.get("if-none-match")).toBe("*")
      expect(commit!.headers.get("authorization")).toMatch(/^SharedKey acct:/)

      // Completed: the blocks are committed, the upload id is spent.
      expect((yield* Effect.flip(writer.completeMultipart({ key: "m/big.bin", uploadId, parts: [{ partNumber: 1, etag: etags[1]! }], headers: new Headers() })))._tag)
        .toBe("NoSuchUpload")
    })
  })

  it.effect("complete: parts out of order, an ETag of another part or upload, a part not staged → InvalidPart", () => {
    const fake = azure()
    const { need } = open(SHARED_KEY, fake.answer)
    return Effect.gen(function*() {
      const writer = yield* need
      const uploadId = yield* writer.createMultipart({ key: "k", headers: new Headers() })
      const one = (yield* writer.uploadPart({ ...write("k", "a".repeat(5 * 1024 * 1024)), uploadId, partNumber: 1 })).etag
      const two = (yield* writer.uploadPart({ ...write("k", "bbbbb"), uploadId, partNumber: 2 })).etag
      const complete = (parts: ReadonlyArray<{ partNumber: number; etag: string }>) =>
        Effect.flip(writer.completeMultipart({ key: "k", uploadId, parts, headers: new Headers() }))
      expect(yield* complete([{ partNumber: 2, etag: two }, { partNumber: 1, etag: one }])).toMatchObject({ _tag: "InvalidPart" })
      expect(yield* complete([{ partNumber: 1, etag: one }, { partNumber: 1, etag: one }])).toMatchObject({ _tag: "InvalidPart" })
      expect(yield* complete([{ partNumber: 2, etag: one }])).toMatchObject({ _tag: "InvalidPart" })
      expect(yield* complete([{ partNumber: 1, etag: "\"0123456789abcdef0123456789abcdef\"" }])).toMatchObject({ _tag: "InvalidPart" })
      const nonce = decodeUploadId(uploadId)!.n
      expect(yield* complete([{ partNumber: 3, etag: partTag(nonce, 3, "abcdefabcdef") }])).toMatchObject({ _tag: "InvalidPart" })
      expect(fake.staged.size).toBe(3) // nothing committed: the record and two parts
    })
  })

  it.effect("abort stages the tombstone; then part, complete and a second abort → NoSuchUpload", () => {
    const fake = azure()
    const { calls, need } = open(SHARED_KEY, fake.answer)
    return Effect.gen(function*() {
      const writer = yield* need
      const uploadId = yield* writer.createMultipart({ key: "k", headers: new Headers() })
      const one = (yield* writer.uploadPart({ ...write("k", "a".repeat(5 * 1024 * 1024)), uploadId, partNumber: 1 })).etag
      calls.length = 0
      yield* writer.abortMultipart({ key: "k", uploadId })
      const tombstone = blockId(tombstoneTag(decodeUploadId(uploadId)!.n))
      expect(calls.map((c) => `${c.method} ${c.url}`)).toStrictEqual([
        `GET ${BLOB}/k?comp=blocklist&blocklisttype=uncommitted`,
        `PUT ${BLOB}/k?comp=block&blockid=${encodeURIComponent(tombstone)}`
      ])
      expect(calls[1]!.headers.get("content-length")).toBe("1")
      expect(calls[1]!.headers.get("content-type")).toBe("application/octet-stream")
      expect(fake.staged.has(tombstone)).toBe(true)
      expect((yield* Effect.flip(writer.uploadPart({ ...write("k", "bbbbb"), uploadId, partNumber: 2 })))._tag).toBe("NoSuchUpload")
      expect((yield* Effect.flip(writer.completeMultipart({ key: "k", uploadId, parts: [{ partNumber: 1, etag: one }], headers: new Headers() })))._tag)
        .toBe("NoSuchUpload")
      expect((yield* Effect.flip(writer.abortMultipart({ key: "k", uploadId })))._tag).toBe("NoSuchUpload")
    })
  })

  it.effect("upload ids that do not decode, or name another key → NoSuchUpload, nothing sent", () => {
    const { calls, need } = open(SHARED_KEY, () => created())
    return Effect.gen(function*() {
      const writer = yield* need
      const other = yield* writer.createMultipart({ key: "other", headers: new Headers() })
      calls.length = 0
      for (const uploadId of ["bm90LWFuLXVwbG9hZA+/==", "", other]) {
        expect((yield* Effect.flip(writer.uploadPart({ ...write("k", "x"), uploadId, partNumber: 1 })))._tag).toBe("NoSuchUpload")
        expect((yield* Effect.flip(writer.abortMultipart({ key: "k", uploadId })))._tag).toBe("NoSuchUpload")
        expect((yield* Effect.flip(writer.completeMultipart({ key: "k", uploadId, parts: [], headers: new Headers() })))._tag).toBe("NoSuchUpload")
      }
      expect(calls).toHaveLength(0)
    })
  })

  it.effect("an empty part stages no block (Azure refuses empty blocks) and is left out of the block list", () => {
    const fake = azure()
    const { calls, need } = open(SHARED_KEY, fake.answer)
    return Effect.gen(function*() {
      const writer = yield* need
      const uploadId = yield* writer.createMultipart({ key: "k", headers: new Headers() })
      calls.length = 0
      const one = (yield* writer.uploadPart({ ...write("k", "a".repeat(5 * 1024 * 1024)), uploadId, partNumber: 1 })).etag
      const empty = (yield* writer.uploadPart({ ...write("k", "", {}, 0), uploadId, partNumber: 2 })).etag
      expect(calls.filter((c) => c.method === "PUT")).toHaveLength(1)
      yield* writer.completeMultipart({ key: "k", uploadId, parts: [{ partNumber: 1, etag: one }, { partNumber: 2, etag: empty }], headers: new Headers() })
      expect(calls.at(-1)!.body).toBe(
        `<?xml version="1.0" encoding="utf-8"?><BlockList><Uncommitted>${blockId(one.replace(/"/g, ""))}</Uncommitted></BlockList>`
      )
    })
  })

  it.effect("a part under 5 MiB before the last → EntityTooSmall, and no Put Block List is sent", () => {
    const fake = azure()
    const { calls, need } = open(SHARED_KEY, fake.answer)
    return Effect.gen(function*() {
      const writer = yield* need
      const uploadId = yield* writer.createMultipart({ key: "k", headers: new Headers() })
      const one = (yield* writer.uploadPart({ ...write("k", "a".repeat(5 * 1024 * 1024 - 1)), uploadId, partNumber: 1 })).etag
      const two = (yield* writer.uploadPart({ ...write("k", "b"), uploadId, partNumber: 2 })).etag
      const error = yield* Effect.flip(writer.completeMultipart({
        key: "k",
        uploadId,
        parts: [{ partNumber: 1, etag: one }, { partNumber: 2, etag: two }],
        headers: new Headers()
      }))
      expect(error._tag).toBe("EntityTooSmall")
      expect(calls.some((c) => c.url.includes("comp=blocklist") && c.method === "PUT")).toBe(false)
    })
  })

  it.effect("part numbers outside 1…10000 → InvalidRequest", () => {
    const { need } = open(SHARED_KEY, () => created())
    return Effect.gen(function*() {
      const writer = yield* need
      const uploadId = yield* writer.createMultipart({ key: "k", headers: new Headers() })
      for (const partNumber of [0, 10001, 1.5]) {
        expect((yield* Effect.flip(writer.uploadPart({ ...write("k", "x"), uploadId, partNumber })))._tag).toBe("InvalidRequest")
      }
    })
  })
})

describe("Azure writer: multipart bookkeeping (listParts, listUploads, uploadPartCopy)", () => {
  /** Fake blobs: each key's uncommitted blocks (id and size), kept by Put Block; List Blobs lists every key. */
  const azure = (extra: (request: UpstreamRequest) => Answer | undefined = () => undefined) => {
    const blobs = new Map<string, Array<{ name: string; size: number }>>()
    const keyOf = (url: URL) => decodeURIComponent(url.pathname.slice("/cont/".length))
    return {
      blobs,
      answer: (request: UpstreamRequest): Answer => {
        const special = extra(request)
        if (special !== undefined) return special
        const url = new URL(request.url)
        const comp = url.searchParams.get("comp")
        if (request.method === "GET" && comp === "list") {
          const prefix = url.searchParams.get("prefix") ?? ""
          const names = [...blobs.keys()].filter((k) => k.startsWith(prefix)).sort()
          return new Response(
            `<?xml version="1.0" encoding="utf-8"?><EnumerationResults><Blobs>${
              names.map((n) =>
                `<Blob><Name>${n}</Name><Properties><Last-Modified>Thu, 01 Feb 2024 12:47:04 GMT</Last-Modified><Content-Length>0</Content-Length></Properties></Blob>`
              ).join("")
            }</Blobs><NextMarker /></EnumerationResults>`,
            { status: 200 }
          )
        }
        if (request.method === "PUT" && comp === "block") {
          const staged = blobs.get(keyOf(url)) ?? []
          staged.push({ name: url.searchParams.get("blockid")!, size: Number(request.headers.get("content-length")) })
          blobs.set(keyOf(url), staged)
          return created()
        }
        if (request.method === "GET" && comp === "blocklist") {
          const staged = blobs.get(keyOf(url))
          if (staged === undefined) return azureError(404, "BlobNotFound")
          return new Response(
            `<?xml version="1.0" encoding="utf-8"?><BlockList><CommittedBlocks /><UncommittedBlocks>${
              staged.map((b) => `<Block><Name>${b.name}</Name><Size>${b.size}</Size></Block>`).join("")
            }</UncommittedBlocks></BlockList>`,
            { status: 200, headers: { date: "Fri, 02 Feb 2024 10:00:00 GMT" } }
          )
        }
        return azureError(400, "Unexpected")
      }
    }
  }

  it.effect("listParts: Get Block List; this upload's parts by number with ETags and sizes, paged; others' blocks left out", () => {
    const fake = azure()
    const { calls, need } = open(SHARED_KEY, fake.answer)
    return Effect.gen(function*() {
      const writer = yield* need
      const uploadId = yield* writer.createMultipart({ key: "k", headers: new Headers({ "content-type": "text/x-a" }) })
      const other = yield* writer.createMultipart({ key: "k", headers: new Headers() })
      const three = (yield* writer.uploadPart({ ...write("k", "333"), uploadId, partNumber: 3 })).etag
      yield* writer.uploadPart({ ...write("k", "other upload"), uploadId: other, partNumber: 1 })
      const one = (yield* writer.uploadPart({ ...write("k", "1"), uploadId, partNumber: 1 })).etag
      const two = (yield* writer.uploadPart({ ...write("k", "22"), uploadId, partNumber: 2 })).etag
      calls.length = 0
      const listParts = writer.listParts!
      const all = yield* listParts({ key: "k", uploadId, maxParts: 1000, partNumberMarker: 0 })
      expect(calls.map((c) => `${c.method} ${c.url}`)).toStrictEqual([`GET ${BLOB}/k?comp=blocklist&blocklisttype=uncommitted`])
      expect(all.parts.map((p) => [p.partNumber, p.etag, p.size])).toStrictEqual([[1, one, 1], [2, two, 2], [3, three, 3]])
      expect(all.parts[0]!.lastModified).toStrictEqual(new Date("2024-02-02T10:00:00Z"))
      expect([all.isTruncated, all.nextPartNumberMarker]).toStrictEqual([false, undefined])
      const page1 = yield* listParts({ key: "k", uploadId, maxParts: 2, partNumberMarker: 0 })
      expect([page1.parts.map((p) => p.partNumber), page1.isTruncated, page1.nextPartNumberMarker]).toStrictEqual([[1, 2], true, 2])
      const page2 = yield* listParts({ key: "k", uploadId, maxParts: 2, partNumberMarker: 2 })
      expect([page2.parts.map((p) => p.partNumber), page2.isTruncated]).toStrictEqual([[3], false])

      // A part uploaded again: the attempt Azure lists last.
      const again = (yield* writer.uploadPart({ ...write("k", "1111"), uploadId, partNumber: 1 })).etag
      expect((yield* listParts({ key: "k", uploadId, maxParts: 1, partNumberMarker: 0 })).parts.map((p) => [p.etag, p.size]))
        .toStrictEqual([[again, 4]])
    })
  })

  it.effect("listParts: no parts yet → empty; aborted, never created, or another key → NoSuchUpload", () => {
    const fake = azure()
    const { calls, need } = open(SAS, fake.answer)
    return Effect.gen(function*() {
      const writer = yield* need
      const listParts = writer.listParts!
      const uploadId = yield* writer.createMultipart({ key: "k", headers: new Headers() })
      expect(yield* listParts({ key: "k", uploadId, maxParts: 1000, partNumberMarker: 0 }))
        .toStrictEqual({ parts: [], isTruncated: false, nextPartNumberMarker: undefined })
      const forged = encodeUploadId({ v: 1, k: "k", n: "0123456789ab", h: [] })
      expect((yield* Effect.flip(listParts({ key: "k", uploadId: forged, maxParts: 1000, partNumberMarker: 0 })))._tag).toBe("NoSuchUpload")
      expect((yield* Effect.flip(listParts({ key: "absent", uploadId: encodeUploadId({ v: 1, k: "absent", n: "0123456789ab", h: [] }), maxParts: 1000, partNumberMarker: 0 })))._tag)
        .toBe("NoSuchUpload")
      yield* writer.abortMultipart({ key: "k", uploadId })
      expect((yield* Effect.flip(listParts({ key: "k", uploadId, maxParts: 1000, partNumberMarker: 0 })))._tag).toBe("NoSuchUpload")
      calls.length = 0
      expect((yield* Effect.flip(listParts({ key: "other", uploadId, maxParts: 1000, partNumberMarker: 0 })))._tag).toBe("NoSuchUpload")
      expect(calls).toHaveLength(0)
    })
  })

  it.effect("listUploads: List Blobs with uncommitted blobs, a block list per blob; ids rebuilt exactly; aborted left out; paged", () => {
    const fake = azure()
    const { calls, need } = open(SHARED_KEY, fake.answer)
    return Effect.gen(function*() {
      const writer = yield* need
      const create = (key: string, headers: Record<string, string> = {}) =>
        Effect.map(writer.createMultipart({ key, headers: new Headers(headers) }), (uploadId) => ({ key, uploadId }))
      const a = yield* create("p/a", { "content-type": "application/x-long-content-type; charset=utf-8", "x-amz-meta-note": "ö \"q\"" })
      const b1 = yield* create("p/b")
      const b2 = yield* create("p/b", { "cache-control": "no-cache" })
      const gone = yield* create("p/c")
      yield* writer.abortMultipart(gone)
      yield* create("q/outside")
      calls.length = 0
      const listUploads = writer.listUploads!
      const all = yield* listUploads({ prefix: "p/", keyMarker: undefined, uploadIdMarker: undefined, maxUploads: 1000 })
      expect(calls[0]!.url).toBe(`${BLOB}?restype=container&comp=list&include=uncommittedblobs&prefix=p%2F&maxresults=1000`)
      expect(calls.slice(1).map((c) => c.url).sort()).toStrictEqual(
        ["p/a", "p/b", "p/c"].map((k) => `${BLOB}/${k}?comp=blocklist&blocklisttype=uncommitted`)
      )
      const bs = [b1, b2].sort((x, y) => (x.uploadId < y.uploadId ? -1 : 1))
      expect(all.uploads.map((u) => ({ key: u.key, uploadId: u.uploadId }))).toStrictEqual([a, ...bs])
      expect(all.uploads[0]!.initiated).toStrictEqual(new Date("2024-02-01T12:47:04Z"))
      expect([all.isTruncated, all.nextKeyMarker, all.nextUploadIdMarker]).toStrictEqual([false, undefined, undefined])

      const page1 = yield* listUploads({ prefix: "p/", keyMarker: undefined, uploadIdMarker: undefined, maxUploads: 2 })
      expect(page1.uploads.map((u) => u.uploadId)).toStrictEqual([a.uploadId, bs[0]!.uploadId])
      expect([page1.isTruncated, page1.nextKeyMarker, page1.nextUploadIdMarker]).toStrictEqual([true, "p/b", bs[0]!.uploadId])
      const page2 = yield* listUploads({ prefix: "p/", keyMarker: "p/b", uploadIdMarker: bs[0]!.uploadId, maxUploads: 2 })
      expect([page2.uploads.map((u) => u.uploadId), page2.isTruncated]).toStrictEqual([[bs[1]!.uploadId], false])
      // A key marker alone: uploads of later keys only.
      const later = yield* listUploads({ prefix: "p/", keyMarker: "p/a", uploadIdMarker: undefined, maxUploads: 10 })
      expect(later.uploads.map((u) => u.key)).toStrictEqual(["p/b", "p/b"])
    })
  })

  it("upload records: pieces of 16 bytes, read back in any order; a tombstone or a broken record hides the upload", () => {
    const headers: ReadonlyArray<readonly [string, string]> = [["x-ms-meta-k", "ü".repeat(20)], ["x-ms-blob-content-type", "a/b"]]
    const ids = recordBlockIds("00112233aabb", headers)
    expect(ids).toHaveLength(Math.ceil(new TextEncoder().encode(JSON.stringify(headers)).length / 16))
    expect(readBlockId(ids[1]!)).toMatchObject({ _tag: "Record", nonce: "00112233aabb", seq: 1 })
    expect(readBlockId(blockId(partTag("00112233aabb", 7, "abcdefabcdef")))).toStrictEqual({
      _tag: "Part", nonce: "00112233aabb", partNumber: 7, tag: partTag("00112233aabb", 7, "abcdefabcdef")
    })
    expect(readBlockId("QQ==")).toBeUndefined()
    const staged = [...ids].reverse().map((name) => ({ name, size: 1 }))
    expect([...recordedUploads(staged)]).toStrictEqual([["00112233aabb", headers]])
    expect(recordedUploads([...staged, { name: blockId(tombstoneTag("00112233aabb")), size: 1 }]).size).toBe(0)
    expect(recordedUploads(staged.slice(1)).size).toBe(0)
    expect(recordBlockIds("00112233aabb", [])).toHaveLength(1)
  })

  it.effect("uploadPartCopy (SAS): Put Block From URL, the SAS on the source, the range and source conditions forwarded", () => {
    const fake = azure()
    const { calls, need } = open(SAS, fake.answer)
    return Effect.gen(function*() {
      const writer = yield* need
      const uploadId = yield* writer.createMultipart({ key: "dst", headers: new Headers() })
      calls.length = 0
      const copied = yield* writer.uploadPartCopy!({
        sourceKey: "dir/src 1.bin",
        key: "dst",
        uploadId,
        partNumber: 2,
        range: "bytes=0-99",
        headers: new Headers({ "x-amz-copy-source-if-match": "\"0x8DA\"" })
      })
      expect(copied.etag).toMatch(/^"[0-9a-f]{32}"$/)
      expect(copied.lastModified).toStrictEqual(new Date("2024-02-01T12:47:04Z"))
      const put = calls.find((c) => c.method === "PUT")!
      const tag = copied.etag.replace(/"/g, "")
      expect(tag.slice(0, 20)).toBe(partTag(decodeUploadId(uploadId)!.n, 2, ""))
      expect(put.url).toBe(`${BLOB}/dst?comp=block&blockid=${encodeURIComponent(blockId(tag))}&sv=2021-12-02&sp=racwdl&sig=abc%2B`)
      expect(put.headers.get("x-ms-copy-source")).toBe(`${BLOB}/dir/src%201.bin?sv=2021-12-02&sp=racwdl&sig=abc%2B`)
      expect(put.headers.get("x-ms-source-range")).toBe("bytes=0-99")
      expect(put.headers.get("x-ms-source-if-match")).toBe("\"0x8DA\"")
      expect(put.headers.get("content-length")).toBe("0")
      expect(put.body ?? null).toBeNull()
      // The part lists, and completes, like an uploaded one.
      expect((yield* writer.listParts!({ key: "dst", uploadId, maxParts: 10, partNumberMarker: 0 })).parts.map((p) => p.etag)).toStrictEqual([copied.etag])
    })
  })

  it.effect("uploadPartCopy (SharedKey): the source URL carries a read-only blob SAS", () => {
    const fake = azure()
    const { calls, need } = open(SHARED_KEY, fake.answer)
    return Effect.gen(function*() {
      const writer = yield* need
      const uploadId = yield* writer.createMultipart({ key: "dst", headers: new Headers() })
      calls.length = 0
      yield* writer.uploadPartCopy!({ sourceKey: "src", key: "dst", uploadId, partNumber: 1, range: undefined, headers: new Headers() })
      const put = calls.find((c) => c.method === "PUT")!
      const source = new URL(put.headers.get("x-ms-copy-source")!)
      expect(`${source.origin}${source.pathname}`).toBe(`${BLOB}/src`)
      expect([source.searchParams.get("sr"), source.searchParams.get("sp"), source.searchParams.get("sv")]).toStrictEqual(["b", "r", "2021-12-02"])
      expect(source.searchParams.get("sig")).toMatch(/^[A-Za-z0-9+/]+=*$/)
      expect(put.headers.has("x-ms-source-range")).toBe(false)
      expect(put.headers.get("authorization")).toMatch(/^SharedKey acct:/)
    })
  })

  it.effect("uploadPartCopy: missing source → NoSuchKey; a bad range or part number → InvalidRequest; after abort → NoSuchUpload", () => {
    const fake = azure((request) =>
      request.method === "PUT" && request.headers.get("x-ms-copy-source")?.includes("/missing") ? azureError(404, "CannotVerifyCopySource") : undefined
    )
    const { need } = open(SAS, fake.answer)
    return Effect.gen(function*() {
      const writer = yield* need
      const uploadId = yield* writer.createMultipart({ key: "dst", headers: new Headers() })
      const copy = (sourceKey: string, range: string | undefined, partNumber = 1) =>
        Effect.flip(writer.uploadPartCopy!({ sourceKey, key: "dst", uploadId, partNumber, range, headers: new Headers() }))
      expect((yield* copy("missing", undefined))._tag).toBe("NoSuchKey")
      expect((yield* copy("src", "bytes=5-"))._tag).toBe("InvalidRequest")
      expect((yield* copy("src", undefined, 0))._tag).toBe("InvalidRequest")
      yield* writer.abortMultipart({ key: "dst", uploadId })
      expect((yield* copy("src", undefined))._tag).toBe("NoSuchUpload")
    })
  })

  it.effect("uploadPartCopy where Put Block From URL answers 501 (Azurite): ranged Get Blob streamed into Put Block", () => {
    const source = new ReadableStream<Uint8Array>({
      start: (c) => {
        c.enqueue(new TextEncoder().encode("0123456789"))
        c.close()
      }
    })
    const fake = azure((request) => {
      if (request.method === "PUT" && request.headers.has("x-ms-copy-source")) return azureError(501, "APINotImplemented")
      if (request.method === "GET" && new URL(request.url).pathname === "/cont/src") {
        return new Response(source, { status: 206, headers: { "content-length": "10", "last-modified": "Sat, 03 Feb 2024 00:00:00 GMT" } })
      }
      return undefined
    })
    const { calls, need } = open(SHARED_KEY, fake.answer)
    return Effect.gen(function*() {
      const writer = yield* need
      const uploadId = yield* writer.createMultipart({ key: "dst", headers: new Headers() })
      calls.length = 0
      const copied = yield* writer.uploadPartCopy!({
        sourceKey: "src", key: "dst", uploadId, partNumber: 3, range: "bytes=10-19",
        headers: new Headers({ "x-amz-copy-source-if-none-match": "\"0x8DB\"" })
      })
      const get = calls.find((c) => c.method === "GET" && c.url === `${BLOB}/src`)!
      expect([get.headers.get("x-ms-range"), get.headers.get("if-none-match")]).toStrictEqual(["bytes=10-19", "\"0x8DB\""])
      const block = calls.filter((c) => c.method === "PUT").at(-1)!
      expect(block.url).toBe(`${BLOB}/dst?comp=block&blockid=${encodeURIComponent(blockId(copied.etag.replace(/"/g, "")))}`)
      expect(block.headers.get("content-length")).toBe("10")
      expect(block.body).toBeInstanceOf(ReadableStream)
      expect(copied.lastModified).toStrictEqual(new Date("2024-02-03T00:00:00Z"))
    })
  })
})

describe("Azure writer: pieces", () => {
  it("metadata names: plain ones kept, others escaped reversibly", () => {
    const cases: ReadonlyArray<readonly [string, string]> = [
      ["colour", "colour"],
      ["two-words", "two_x2dwords"],
      ["my_key", "my_x5fkey"],
      ["1st", "_x31st"],
      ["a.b~c", "a_x2eb_x7ec"]
    ]
    for (const [s3, azure] of cases) {
      expect(azureMetadataName(s3)).toBe(azure)
      expect(azure).toMatch(/^[A-Za-z_][A-Za-z0-9_]*$/)
      expect(s3MetadataName(azure)).toBe(s3)
    }
  })

  it("reads decode escaped metadata names", async () => {
    const { calls, ...rest } = { ...stubUpstream(() => new Response("x", { headers: { "x-ms-meta-two_x2dwords": "a b", "x-ms-meta-plain": "p" } })) }
    const reply = await Effect.runPromise(
      Effect.flatMap(AzureProvider, (make) => make(connection(SHARED_KEY))).pipe(
        Effect.flatMap((store) => store.read({ key: "k", method: "GET", headers: new Headers() })),
        Effect.provide(Layer.mergeAll(rest.layer, TestConfig, NodeCryptoHmac))
      )
    )
    expect(calls).toHaveLength(1)
    expect(reply.headers.get("x-amz-meta-two-words")).toBe("a b")
    expect(reply.headers.get("x-amz-meta-plain")).toBe("p")
  })

  it("Get Block List: sizes kept in Azure's order", () => {
    const xml = "<BlockList><UncommittedBlocks><Block><Name>QQ==</Name><Size>5</Size></Block><Block><Name>Qg==</Name><Size>12</Size></Block></UncommittedBlocks></BlockList>"
    expect(parseUncommittedBlocks(xml)).toStrictEqual([{ name: "QQ==", size: 5 }, { name: "Qg==", size: 12 }])
  })

  it("the SharedKey copy-source SAS signs as the Azure SDK does", async () => {
    const expiry = new Date("2030-01-02T03:04:05Z")
    const query = await Effect.runPromise(Effect.flatMap(Hmac, (hmac) =>
      blobReadSas(hmac, { account: "acct", key: decodeAccountKey(KEY)!, container: "cont", blob: "dir/ü x.bin", expiry, version: "2021-12-02" })
    ).pipe(Effect.provide(NodeCryptoHmac)))
    const sdk = generateBlobSASQueryParameters({
      containerName: "cont",
      blobName: "dir/ü x.bin",
      permissions: BlobSASPermissions.parse("r"),
      expiresOn: expiry,
      protocol: SASProtocol.HttpsAndHttp,
      version: "2021-12-02"
    }, new StorageSharedKeyCredential("acct", KEY))
    const ours = new URLSearchParams(query)
    expect(ours.get("sig")).toBe(sdk.signature)
    expect([ours.get("se"), ours.get("sp"), ours.get("sr"), ours.get("spr")]).toStrictEqual(["2030-01-02T03:04:05Z", "r", "b", "https,http"])
  })

  it("Get Block List: uncommitted names; a cut document is refused", () => {
    const xml = "<?xml version=\"1.0\"?><BlockList><CommittedBlocks><Block><Name>Yw==</Name><Size>1</Size></Block></CommittedBlocks><UncommittedBlocks><Block><Name>QQ==</Name><Size>5</Size></Block><Block><Name>Qg==</Name><Size>5</Size></Block></UncommittedBlocks></BlockList>"
    expect([...parseUncommitted(xml)!]).toStrictEqual(["QQ==", "Qg=="])
    expect([...parseUncommitted("<BlockList><UncommittedBlocks /></BlockList>")!]).toStrictEqual([])
    expect(parseUncommitted("<BlockList><UncommittedBlocks><Block><Name>QQ==")).toBeUndefined()
    expect(parseUncommitted("<Error/>")).toBeUndefined()
  })
})

describe("Azure writer: outbound hygiene", () => {
  it.effect("a block list larger than the bound → 502 (BackendInvalidResponse); reading stops at the bound", () => {
    const endless = endlessBody("<?xml version=\"1.0\"?><BlockList><UncommittedBlocks><Block><Name>")
    const { need } = open(SHARED_KEY, (request) =>
      request.method === "GET" ? new Response(endless.body, { status: 200 }) : created())
    return Effect.gen(function*() {
      const writer = yield* need
      const uploadId = yield* writer.createMultipart({ key: "k", headers: new Headers() })
      const error = yield* Effect.flip(writer.listParts!({ key: "k", uploadId, maxParts: 1000, partNumberMarker: 0 }))
      expect(error._tag).toBe("BackendInvalidResponse")
      expect(endless.state.cancelled).toBe(true)
    })
  })

  it.effect("a redirect answering a write is refused, not followed", () => {
    const { calls, need } = open(SHARED_KEY, () => new Response(null, { status: 308, headers: { location: "https://other.example/k" } }))
    return Effect.gen(function*() {
      const writer = yield* need
      expect((yield* Effect.flip(writer.put(write("k", "hello"))))._tag).toBe("BackendInvalidResponse")
      expect((yield* Effect.flip(writer.delete("k")))._tag).toBe("BackendInvalidResponse")
      expect(calls).toHaveLength(2)
    })
  })
})
