import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Encoding, Layer } from "effect"
import { AzureProvider } from "../../src/core/backends/azure/AzureStore.js"
import {
  blockId,
  decodeUploadId,
  parseUncommitted,
  partTag,
  tombstoneTag
} from "../../src/core/backends/azure/AzureWriter.js"
import { azureMetadataName, s3MetadataName } from "../../src/core/backends/azure/metadata.js"
import type { ObjectWrite, ObjectWriter } from "../../src/core/backends/ObjectStore.js"
import type { BackendAuth, DataConnection } from "../../src/core/catalog/schema.js"
import { UpstreamFailure, type UpstreamRequest } from "../../src/core/services/Upstream.js"
import { NodeCryptoHmac } from "../../src/platform/bun/NodeCryptoHmac.js"
import { type Answer, stubUpstream, TestConfig } from "../fixtures/stubUpstream.js"

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
const blockList = (names: ReadonlyArray<string>) =>
  new Response(
    `<?xml version="1.0" encoding="utf-8"?><BlockList><CommittedBlocks /><UncommittedBlocks>${
      names.map((n) => `<Block><Name>${n}</Name><Size>5</Size></Block>`).join("")
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

  it.live("deleteMany: outcomes in key order, at most 6 requests at once", () => {
    let inFlight = 0
    let most = 0
    const { calls, need } = open(SHARED_KEY, (request) =>
      Effect.gen(function*() {
        inFlight++
        most = Math.max(most, inFlight)
        yield* Effect.sleep(Duration.millis((request.url.length * 7) % 13))
        inFlight--
        return request.url.endsWith("/denied-3") ? azureError(403, "AuthorizationFailure") : new Response(null, { status: 202 })
      }))
    return Effect.gen(function*() {
      const keys = Array.from({ length: 20 }, (_, i) => (i === 3 ? "denied-3" : `k${i}`))
      const outcomes = yield* (yield* need).deleteMany(keys)
      expect(outcomes.map((o) => o.key)).toStrictEqual(keys)
      expect(outcomes.map((o) => o.error?.code)).toStrictEqual(keys.map((k) => (k === "denied-3" ? "AccessDenied" : undefined)))
      expect(calls).toHaveLength(20)
      expect(most).toBeLessThanOrEqual(6)
      expect(most).toBeGreaterThan(1)
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
    const staged = new Set<string>()
    return {
      staged,
      answer: (request: UpstreamRequest): Answer => {
        const url = new URL(request.url)
        const comp = url.searchParams.get("comp")
        if (request.method === "PUT" && comp === "block") {
          staged.add(url.searchParams.get("blockid")!)
          return created()
        }
        if (request.method === "GET" && comp === "blocklist") return blockList([...staged])
        if (request.method === "PUT" && comp === "blocklist") {
          staged.clear()
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
      expect(calls).toHaveLength(0) // nothing sent to Azure at creation

      const etags: Array<string> = []
      for (const [partNumber, text] of [[2, "second"], [1, "first"], [10000, "last"]] as const) {
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
      const one = (yield* writer.uploadPart({ ...write("k", "aaaaa"), uploadId, partNumber: 1 })).etag
      const two = (yield* writer.uploadPart({ ...write("k", "bbbbb"), uploadId, partNumber: 2 })).etag
      const complete = (parts: ReadonlyArray<{ partNumber: number; etag: string }>) =>
        Effect.flip(writer.completeMultipart({ key: "k", uploadId, parts, headers: new Headers() }))
      expect(yield* complete([{ partNumber: 2, etag: two }, { partNumber: 1, etag: one }])).toMatchObject({ _tag: "InvalidPart" })
      expect(yield* complete([{ partNumber: 1, etag: one }, { partNumber: 1, etag: one }])).toMatchObject({ _tag: "InvalidPart" })
      expect(yield* complete([{ partNumber: 2, etag: one }])).toMatchObject({ _tag: "InvalidPart" })
      expect(yield* complete([{ partNumber: 1, etag: "\"0123456789abcdef0123456789abcdef\"" }])).toMatchObject({ _tag: "InvalidPart" })
      const nonce = decodeUploadId(uploadId)!.n
      expect(yield* complete([{ partNumber: 3, etag: partTag(nonce, 3, "abcdefabcdef") }])).toMatchObject({ _tag: "InvalidPart" })
      expect(fake.staged.size).toBe(2) // nothing committed
    })
  })

  it.effect("abort stages the tombstone; then part, complete and a second abort → NoSuchUpload", () => {
    const fake = azure()
    const { calls, need } = open(SHARED_KEY, fake.answer)
    return Effect.gen(function*() {
      const writer = yield* need
      const uploadId = yield* writer.createMultipart({ key: "k", headers: new Headers() })
      const one = (yield* writer.uploadPart({ ...write("k", "aaaaa"), uploadId, partNumber: 1 })).etag
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
      const one = (yield* writer.uploadPart({ ...write("k", "aaaaa"), uploadId, partNumber: 1 })).etag
      const empty = (yield* writer.uploadPart({ ...write("k", "", {}, 0), uploadId, partNumber: 2 })).etag
      expect(calls.filter((c) => c.method === "PUT")).toHaveLength(1)
      yield* writer.completeMultipart({ key: "k", uploadId, parts: [{ partNumber: 1, etag: one }, { partNumber: 2, etag: empty }], headers: new Headers() })
      expect(calls.at(-1)!.body).toBe(
        `<?xml version="1.0" encoding="utf-8"?><BlockList><Uncommitted>${blockId(one.replace(/"/g, ""))}</Uncommitted></BlockList>`
      )
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

  it("Get Block List: uncommitted names; a cut document is refused", () => {
    const xml = "<?xml version=\"1.0\"?><BlockList><CommittedBlocks><Block><Name>Yw==</Name><Size>1</Size></Block></CommittedBlocks><UncommittedBlocks><Block><Name>QQ==</Name><Size>5</Size></Block><Block><Name>Qg==</Name><Size>5</Size></Block></UncommittedBlocks></BlockList>"
    expect([...parseUncommitted(xml)!]).toStrictEqual(["QQ==", "Qg=="])
    expect([...parseUncommitted("<BlockList><UncommittedBlocks /></BlockList>")!]).toStrictEqual([])
    expect(parseUncommitted("<BlockList><UncommittedBlocks><Block><Name>QQ==")).toBeUndefined()
    expect(parseUncommitted("<Error/>")).toBeUndefined()
  })
})
