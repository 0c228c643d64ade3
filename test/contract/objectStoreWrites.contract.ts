import { Effect, Either } from "effect"
import { afterAll, beforeAll, describe, expect, it, type TestContext } from "vitest"
import type { ObjectStore, ObjectWrite, ObjectWriter, Written } from "../../src/core/backends/ObjectStore.js"
import type { Reply } from "../../src/core/http/Reply.js"

/**
 * ONE write conformance suite for any `ObjectWriter` (S3 over moto, the local directory, Azure over
 * Azurite, …): every backend must take writes as S3 does.
 *
 * Use, inside a vitest file:
 *
 *     objectStoreWritesContract("my backend", {
 *       open: async () => store,        // a store over a fresh, EMPTY bucket/container/directory, with a writer
 *       close: async () => { … },       // optional: release it
 *       knownGaps: [ … ]                // optional: exported gap names, run as `it.fails`
 *     })
 *
 * The suite writes through `store.writer` (it fails when there is none) and checks every write by reading
 * back through `store.read` / `store.list`, in the store's own key space (no prefix). Every test uses its
 * own keys, so the order of tests does not matter. Backend-neutral: ETags are only compared with what the
 * same store answers, never with an MD5 the suite computes.
 *
 * The multipart bookkeeping members (`listParts`, `listUploads`, `uploadPartCopy`) are optional in
 * `ObjectWriter`: their checks skip themselves at run time (reported as skipped, with the member's name)
 * when the writer under test lacks the member, since the writer exists only once `open` has run.
 */
export interface WritesContractTarget {
  readonly open: () => Promise<ObjectStore>
  readonly close?: () => Promise<void>
  readonly knownGaps?: ReadonlyArray<WriteGap>
}

/** The backend does not persist `x-amz-meta-*` / `content-type` so that a read echoes them. */
export const METADATA_ROUND_TRIP = "metadata round trip"
/** The backend does not evaluate `if-match` on a put (stores anyway). */
export const PUT_IF_MATCH = "put if-match"
/** The backend does not evaluate `if-none-match: *` on a put (overwrites anyway). */
export const PUT_IF_NONE_MATCH = "put if-none-match"
/** The backend accepts a complete that names a wrong part ETag. */
export const COMPLETE_WRONG_ETAG = "complete with a wrong part ETag"
/** The backend answers a part or a complete for an upload id it never issued with a server error, not NoSuchUpload (moto). */
export const UNKNOWN_UPLOAD_ID = "unknown upload id"
/** The backend ignores `max-uploads` and the key/upload-id markers of ListMultipartUploads, or does not order by key (moto). */
export const LIST_UPLOADS_PAGING = "list uploads paging"
export type WriteGap =
  | typeof METADATA_ROUND_TRIP
  | typeof PUT_IF_MATCH
  | typeof PUT_IF_NONE_MATCH
  | typeof COMPLETE_WRONG_ETAG
  | typeof UNKNOWN_UPLOAD_ID
  | typeof LIST_UPLOADS_PAGING

const MiB = 1024 * 1024
const utf8 = (text: string) => new TextEncoder().encode(text)

/** `size` bytes that are not all alike (seeded), so a wrong offset or a lost chunk shows. */
export const pattern = (size: number, seed = 0): Uint8Array =>
  Uint8Array.from({ length: size }, (_, i) => (i * 31 + (i >> 9) + seed * 7) & 255)

/** `bytes` as a stream of `chunk`-sized pieces, produced on demand (a real stream, not one blob). */
export const streamOf = (bytes: Uint8Array, chunk = 64 * 1024): ReadableStream<Uint8Array> => {
  let at = 0
  return new ReadableStream<Uint8Array>({
    pull: (controller) => {
      if (at >= bytes.length) return controller.close()
      controller.enqueue(bytes.slice(at, at + chunk))
      at += chunk
    }
  }, { highWaterMark: 0 })
}

/** Gives `before` bytes, then errors, as a client that goes away mid-upload. */
export const failingStream = (before: Uint8Array): ReadableStream<Uint8Array> => {
  let sent = false
  return new ReadableStream<Uint8Array>({
    pull: async (controller) => {
      if (!sent) {
        sent = true
        controller.enqueue(before)
        return
      }
      await new Promise((resolve) => setTimeout(resolve, 20))
      controller.error(new Error("client went away"))
    }
  }, { highWaterMark: 0 })
}

const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect)

/** The error of an effect that must fail (the suite reads its `_tag`). */
const failure = async <A, E>(effect: Effect.Effect<A, E>): Promise<E> => {
  const result = await run(Effect.either(effect))
  if (Either.isRight(result)) throw new Error(`expected a failure, got ${JSON.stringify(result.right)}`)
  return result.left
}

export const writeRequest = (
  key: string,
  body: Uint8Array | ReadableStream<Uint8Array> | null,
  headers: Record<string, string> = {},
  contentLength?: number
): ObjectWrite => ({
  key,
  body: body === null ? null : body instanceof Uint8Array ? streamOf(body) : body,
  contentLength: contentLength ?? (body instanceof Uint8Array ? body.length : body === null ? 0 : undefined),
  headers: new Headers(headers),
  trailers: () => new Map()
})

const bytesOf = async (body: Reply["body"]): Promise<Uint8Array> =>
  body === null ? new Uint8Array(0) : new Uint8Array(await new Response(body).arrayBuffer())

/** A GET that must succeed, with its body read; undefined for NoSuchKey. */
const getObject = async (store: ObjectStore, key: string) => {
  const result = await run(Effect.either(store.read({ key, method: "GET", headers: new Headers() })))
  if (Either.isLeft(result)) {
    if (result.left._tag === "NoSuchKey") return undefined
    throw new Error(`GET ${key} failed: ${JSON.stringify(result.left)}`)
  }
  return { ...result.right, bytes: await bytesOf(result.right.body) }
}

/** Byte equality with a short message, not a multi-MiB diff. */
const expectBytes = (actual: Uint8Array | undefined, expected: Uint8Array, label: string) => {
  if (actual === undefined) throw new Error(`${label}: no object`)
  expect(actual.length, `${label}: length`).toBe(expected.length)
  const first = actual.findIndex((b, i) => b !== expected[i])
  expect(first, `${label}: first differing byte`).toBe(-1)
}

export const objectStoreWritesContract = (name: string, target: WritesContractTarget) =>
  describe(`ObjectWriter contract: ${name}`, () => {
    const gaps = new Set<string>(target.knownGaps ?? [])
    const check = (gap: WriteGap) => (gaps.has(gap) ? it.fails : it)
    let store: ObjectStore
    let writer: ObjectWriter

    beforeAll(async () => {
      store = await target.open()
      if (store.writer === undefined) throw new Error(`${name}: the store has no writer`)
      writer = store.writer
    })
    afterAll(async () => {
      await target.close?.()
    })

    const put = (key: string, body: Uint8Array, headers: Record<string, string> = {}): Promise<Written> =>
      run(writer.put(writeRequest(key, body, headers)))

    describe("put", () => {
      const keys = ["w/plain.txt", "w/with space.txt", "w/a=b.txt", "w/a+b.txt", "w/ünïcödé 日本.txt", "w/x=1+y=2 z&w?.txt"]
      for (const key of keys) {
        it(`put then read back byte-exact: ${key}`, async () => {
          const body = utf8(`body of ${key}\n`)
          const written = await put(key, body)
          expect(written.etag).toMatch(/^"[^"]+"$/)
          const reply = await getObject(store, key)
          expectBytes(reply?.bytes, body, key)
          expect(reply?.headers.get("etag")).toBe(written.etag)
        })
      }

      it("an empty object", async () => {
        await put("w/empty.bin", new Uint8Array(0))
        const reply = await getObject(store, "w/empty.bin")
        expectBytes(reply?.bytes, new Uint8Array(0), "empty")
      })

      it("a 6 MiB body streamed in 64 KiB chunks, with its length", async () => {
        const body = pattern(6 * MiB + 123, 1)
        await put("w/big.bin", body)
        expectBytes((await getObject(store, "w/big.bin"))?.bytes, body, "big")
      })

      it("a body without a declared length: stored byte-exact, or refused (InvalidRequest) with no object", async () => {
        const body = pattern(200_000, 6)
        const result = await run(Effect.either(writer.put({ ...writeRequest("w/no-length.bin", body), contentLength: undefined })))
        if (Either.isLeft(result)) {
          expect(result.left).toMatchObject({ _tag: "InvalidRequest" })
          expect(await getObject(store, "w/no-length.bin")).toBeUndefined()
        } else {
          expectBytes((await getObject(store, "w/no-length.bin"))?.bytes, body, "no length")
        }
      })

      it("an overwrite replaces the object", async () => {
        await put("w/over.txt", utf8("first"))
        await put("w/over.txt", utf8("second, longer"))
        expectBytes((await getObject(store, "w/over.txt"))?.bytes, utf8("second, longer"), "overwrite")
      })

      it("the written object is listed, with the ETag the put answered", async () => {
        const written = await put("w/listed/one.txt", utf8("one"))
        const page = await run(store.list({ prefix: "w/listed/", delimiter: "", maxKeys: 10, continuationToken: undefined, startAfter: undefined }))
        expect(page.objects.map((o) => [o.key, o.size, o.etag])).toStrictEqual([["w/listed/one.txt", 3, written.etag]])
      })

      check(METADATA_ROUND_TRIP)("content-type and x-amz-meta-* round trip", async () => {
        await put("w/meta.bin", utf8("meta"), {
          "content-type": "application/x-sdp-test",
          "x-amz-meta-colour": "blue",
          "x-amz-meta-two-words": "a b",
          "cache-control": "max-age=60",
          "content-disposition": "attachment; filename=\"m.bin\""
        })
        const reply = await getObject(store, "w/meta.bin")
        expect(reply?.headers.get("content-type")).toBe("application/x-sdp-test")
        expect(reply?.headers.get("x-amz-meta-colour")).toBe("blue")
        expect(reply?.headers.get("x-amz-meta-two-words")).toBe("a b")
        expect(reply?.headers.get("cache-control")).toBe("max-age=60")
        expect(reply?.headers.get("content-disposition")).toBe("attachment; filename=\"m.bin\"")
      })

      check(PUT_IF_NONE_MATCH)("if-none-match: * on an existing key → PreconditionFailed, object unchanged", async () => {
        await put("w/inm.txt", utf8("original"))
        const error = await failure(writer.put(writeRequest("w/inm.txt", utf8("replacement"), { "if-none-match": "*" })))
        expect(error).toMatchObject({ _tag: "PreconditionFailed" })
        expectBytes((await getObject(store, "w/inm.txt"))?.bytes, utf8("original"), "unchanged")
      })

      it("if-none-match: * on an absent key stores it", async () => {
        await run(writer.put(writeRequest("w/inm-new.txt", utf8("new"), { "if-none-match": "*" })))
        expectBytes((await getObject(store, "w/inm-new.txt"))?.bytes, utf8("new"), "created")
      })

      check(PUT_IF_MATCH)("if-match: a wrong ETag → PreconditionFailed, the right one stores", async () => {
        const first = await put("w/im.txt", utf8("v1"))
        const error = await failure(writer.put(writeRequest("w/im.txt", utf8("v2"), { "if-match": "\"0123456789abcdef0123456789abcdef\"" })))
        expect(error).toMatchObject({ _tag: "PreconditionFailed" })
        expectBytes((await getObject(store, "w/im.txt"))?.bytes, utf8("v1"), "unchanged")
        await run(writer.put(writeRequest("w/im.txt", utf8("v3"), { "if-match": first.etag })))
        expectBytes((await getObject(store, "w/im.txt"))?.bytes, utf8("v3"), "matched")
      })

      it("a body stream that errors mid-way: the put fails, no object is visible", async () => {
        const error = await failure(writer.put(writeRequest("w/broken.bin", failingStream(pattern(100_000)), {}, 1_000_000)))
        expect(error).toBeDefined()
        await new Promise((resolve) => setTimeout(resolve, 200))
        expect(await getObject(store, "w/broken.bin")).toBeUndefined()
      })

      it("a body stream that errors mid-way over an existing object: the old object stays", async () => {
        await put("w/broken-over.txt", utf8("old"))
        await failure(writer.put(writeRequest("w/broken-over.txt", failingStream(pattern(100_000)), {}, 1_000_000)))
        await new Promise((resolve) => setTimeout(resolve, 200))
        expectBytes((await getObject(store, "w/broken-over.txt"))?.bytes, utf8("old"), "old object")
      })
    })

    describe("delete", () => {
      it("delete a present key, then it is gone", async () => {
        await put("d/present.txt", utf8("x"))
        await run(writer.delete("d/present.txt"))
        expect(await getObject(store, "d/present.txt")).toBeUndefined()
      })

      it("delete an absent key succeeds", async () => {
        await run(writer.delete("d/never-there.txt"))
      })

      it("deleteMany with a mix of present and absent keys: one outcome per key, in order", async () => {
        await put("d/many/a.txt", utf8("a"))
        await put("d/many/c d=e+f.txt", utf8("c"))
        const keys = ["d/many/a.txt", "d/many/absent.txt", "d/many/c d=e+f.txt"]
        const outcomes = await run(writer.deleteMany(keys))
        expect(outcomes).toStrictEqual(keys.map((key) => ({ key, error: undefined })))
        for (const key of keys) expect(await getObject(store, key)).toBeUndefined()
      })
    })

    describe("folder markers (docs/s3-compatibility.md#object-keys: keys ending in `/` are written, read and deleted like any key)", () => {
      const head = (key: string) => run(Effect.either(store.read({ key, method: "HEAD", headers: new Headers() })))
      const listed = (prefix: string) =>
        run(store.list({ prefix, delimiter: "/", maxKeys: 100, continuationToken: undefined, startAfter: undefined }))

      it("an empty `dir/` is stored: HEAD (GDAL's probe) and GET answer 200, no bytes, the put's ETag", async () => {
        const written = await put("fm/dir/", new Uint8Array(0))
        expect(written.etag).toMatch(/^"[^"]+"$/)
        const probe = await head("fm/dir/")
        if (Either.isLeft(probe)) throw new Error(`HEAD fm/dir/ failed: ${JSON.stringify(probe.left)}`)
        expect([probe.right.status, probe.right.headers.get("content-length"), probe.right.headers.get("etag")])
          .toStrictEqual([200, "0", written.etag])
        const reply = await getObject(store, "fm/dir/")
        expectBytes(reply?.bytes, new Uint8Array(0), "marker")
        expect(reply?.headers.get("etag")).toBe(written.etag)
      })

      it("a marker never written is NoSuchKey, also for a folder that holds files", async () => {
        await put("fn/files/a.txt", utf8("a"))
        for (const key of ["fn/files/", "fn/nothing/"]) {
          const probe = await head(key)
          expect(Either.isLeft(probe) ? probe.left._tag : probe.right.status, key).toBe("NoSuchKey")
        }
      })

      it("a marker alone makes its folder a common prefix; listed inside the folder it is a zero-byte object", async () => {
        await put("fo/alone/", new Uint8Array(0))
        expect((await listed("fo/")).commonPrefixes).toStrictEqual(["fo/alone/"])
        const inside = await listed("fo/alone/")
        expect([inside.objects.map((o) => [o.key, o.size]), inside.commonPrefixes]).toStrictEqual([[["fo/alone/", 0]], []])
      })

      it("delete removes the marker and the folder it alone made; deleting an absent marker succeeds", async () => {
        await put("fp/gone/", new Uint8Array(0))
        await run(writer.delete("fp/gone/"))
        expect(await getObject(store, "fp/gone/")).toBeUndefined()
        expect((await listed("fp/")).commonPrefixes).toStrictEqual([])
        await run(writer.delete("fp/never/"))
      })

      it("a marker outlives its folder's last file, and deleting it leaves the folder's files", async () => {
        await put("fq/kept/", new Uint8Array(0))
        await put("fq/kept/x.txt", utf8("x"))
        await run(writer.delete("fq/kept/x.txt"))
        expect((await getObject(store, "fq/kept/"))?.bytes.length).toBe(0)
        expect((await listed("fq/")).commonPrefixes).toStrictEqual(["fq/kept/"])
        await put("fq/files/", new Uint8Array(0))
        await put("fq/files/y.txt", utf8("y"))
        await run(writer.delete("fq/files/"))
        expect(await getObject(store, "fq/files/")).toBeUndefined()
        expectBytes((await getObject(store, "fq/files/y.txt"))?.bytes, utf8("y"), "the folder's file")
        expect((await listed("fq/")).commonPrefixes).toStrictEqual(["fq/files/", "fq/kept/"])
      })
    })

    describe("copy", () => {
      it("copy within the store: same bytes, the source stays", async () => {
        const body = pattern(300_000, 2)
        await put("c/source file=1.bin", body)
        const copied = await run(writer.copy({ sourceKey: "c/source file=1.bin", key: "c/dést+copy.bin", headers: new Headers() }))
        expect(copied.etag).toMatch(/^"[^"]+"$/)
        expect(Number.isNaN(copied.lastModified.getTime())).toBe(false)
        expectBytes((await getObject(store, "c/dést+copy.bin"))?.bytes, body, "copy")
        expectBytes((await getObject(store, "c/source file=1.bin"))?.bytes, body, "source")
      })

      it("copy of a missing source → NoSuchKey", async () => {
        const error = await failure(writer.copy({ sourceKey: "c/missing.bin", key: "c/nope.bin", headers: new Headers() }))
        expect(error).toMatchObject({ _tag: "NoSuchKey" })
      })

      check(METADATA_ROUND_TRIP)("copy keeps the metadata (COPY), REPLACE takes the new one", async () => {
        await put("c/meta.txt", utf8("m"), { "content-type": "text/x-one", "x-amz-meta-k": "v1" })
        await run(writer.copy({ sourceKey: "c/meta.txt", key: "c/meta-copy.txt", headers: new Headers() }))
        const kept = await getObject(store, "c/meta-copy.txt")
        expect(kept?.headers.get("content-type")).toBe("text/x-one")
        expect(kept?.headers.get("x-amz-meta-k")).toBe("v1")
        await run(writer.copy({
          sourceKey: "c/meta.txt",
          key: "c/meta-replaced.txt",
          headers: new Headers({ "x-amz-metadata-directive": "REPLACE", "content-type": "text/x-two", "x-amz-meta-k": "v2" })
        }))
        const replaced = await getObject(store, "c/meta-replaced.txt")
        expect(replaced?.headers.get("content-type")).toBe("text/x-two")
        expect(replaced?.headers.get("x-amz-meta-k")).toBe("v2")
      })
    })

    describe("multipart", () => {
      const parts = [pattern(5 * MiB, 3), pattern(5 * MiB, 4), pattern(1024, 5)]
      const whole = () => {
        const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
        let at = 0
        for (const p of parts) {
          all.set(p, at)
          at += p.length
        }
        return all
      }
      const upload = (key: string, uploadId: string, partNumber: number, body: Uint8Array) =>
        run(writer.uploadPart({ ...writeRequest(key, body), uploadId, partNumber }))

      it("3 parts (5 MiB, 5 MiB, 1 KiB) → the object is their concatenation", async () => {
        const key = "m/three parts=1+ü.bin"
        const uploadId = await run(writer.createMultipart({ key, headers: new Headers({ "content-type": "application/x-parts" }) }))
        expect(uploadId).not.toBe("")
        const etags: Array<string> = []
        for (const [i, body] of parts.entries()) {
          const written = await upload(key, uploadId, i + 1, body)
          expect(written.etag).toMatch(/^"[^"]+"$/)
          etags.push(written.etag)
        }
        expect(await getObject(store, key)).toBeUndefined()
        const completed = await run(writer.completeMultipart({
          key,
          uploadId,
          parts: etags.map((etag, i) => ({ partNumber: i + 1, etag })),
          headers: new Headers()
        }))
        expect(completed.etag).toMatch(/^"[^"]+"$/)
        const reply = await getObject(store, key)
        expectBytes(reply?.bytes, whole(), "multipart")
        expect(reply?.headers.get("etag")).toBe(completed.etag)
      })

      it("parts may arrive out of order and be re-uploaded; the complete decides", async () => {
        const key = "m/reordered.bin"
        const uploadId = await run(writer.createMultipart({ key, headers: new Headers() }))
        const second = await upload(key, uploadId, 2, parts[2]!)
        await upload(key, uploadId, 1, pattern(5 * MiB, 9))
        const first = await upload(key, uploadId, 1, parts[0]!)
        await run(writer.completeMultipart({
          key,
          uploadId,
          parts: [{ partNumber: 1, etag: first.etag }, { partNumber: 2, etag: second.etag.replace(/"/g, "") }],
          headers: new Headers()
        }))
        const expected = new Uint8Array(parts[0]!.length + parts[2]!.length)
        expected.set(parts[0]!, 0)
        expected.set(parts[2]!, parts[0]!.length)
        expectBytes((await getObject(store, key))?.bytes, expected, "reordered")
      })

      it("abort → no object, and the upload is gone: a second abort → NoSuchUpload", async () => {
        const key = "m/aborted.bin"
        const uploadId = await run(writer.createMultipart({ key, headers: new Headers() }))
        await upload(key, uploadId, 1, utf8("small"))
        await run(writer.abortMultipart({ key, uploadId }))
        expect(await getObject(store, key)).toBeUndefined()
        expect(await failure(writer.abortMultipart({ key, uploadId }))).toMatchObject({ _tag: "NoSuchUpload" })
      })

      check(UNKNOWN_UPLOAD_ID)("after an abort, a part and a complete → NoSuchUpload", async () => {
        const key = "m/aborted-2.bin"
        const uploadId = await run(writer.createMultipart({ key, headers: new Headers() }))
        const part = await upload(key, uploadId, 1, utf8("small"))
        await run(writer.abortMultipart({ key, uploadId }))
        expect(await failure(writer.uploadPart({ ...writeRequest(key, utf8("more")), uploadId, partNumber: 2 })))
          .toMatchObject({ _tag: "NoSuchUpload" })
        expect(await failure(writer.completeMultipart({ key, uploadId, parts: [{ partNumber: 1, etag: part.etag }], headers: new Headers() })))
          .toMatchObject({ _tag: "NoSuchUpload" })
        expect(await getObject(store, key)).toBeUndefined()
      })

      it("abort of an upload id never created → NoSuchUpload", async () => {
        expect(await failure(writer.abortMultipart({ key: "m/x.bin", uploadId: "bm90LWFuLXVwbG9hZA+/==" }))).toMatchObject({ _tag: "NoSuchUpload" })
      })

      check(UNKNOWN_UPLOAD_ID)("a part for an upload id never created → NoSuchUpload", async () => {
        const uploadId = "bm90LWFuLXVwbG9hZA+/=="
        expect(await failure(writer.uploadPart({ ...writeRequest("m/x.bin", utf8("x")), uploadId, partNumber: 1 })))
          .toMatchObject({ _tag: "NoSuchUpload" })
      })

      check(COMPLETE_WRONG_ETAG)("complete with a wrong part ETag → InvalidPart, no object", async () => {
        const key = "m/wrong-etag.bin"
        const uploadId = await run(writer.createMultipart({ key, headers: new Headers() }))
        await upload(key, uploadId, 1, utf8("only part"))
        const error = await failure(writer.completeMultipart({
          key,
          uploadId,
          parts: [{ partNumber: 1, etag: "\"0123456789abcdef0123456789abcdef\"" }],
          headers: new Headers()
        }))
        expect(error).toMatchObject({ _tag: "InvalidPart" })
        expect(await getObject(store, key)).toBeUndefined()
        await run(Effect.ignore(writer.abortMultipart({ key, uploadId })))
      })

      it("a part under 5 MiB before the last → EntityTooSmall on complete, as S3 answers; no object", async () => {
        const key = "m/small-first.bin"
        const uploadId = await run(writer.createMultipart({ key, headers: new Headers() }))
        const first = await upload(key, uploadId, 1, utf8("too small to come first"))
        const last = await upload(key, uploadId, 2, parts[2]!)
        const error = await failure(writer.completeMultipart({
          key,
          uploadId,
          parts: [{ partNumber: 1, etag: first.etag }, { partNumber: 2, etag: last.etag }],
          headers: new Headers()
        }))
        expect(error).toMatchObject({ _tag: "EntityTooSmall" })
        expect(await getObject(store, key)).toBeUndefined()
        await run(Effect.ignore(writer.abortMultipart({ key, uploadId })))
      })

      it("complete naming a part never uploaded → InvalidPart", async () => {
        const key = "m/missing-part.bin"
        const uploadId = await run(writer.createMultipart({ key, headers: new Headers() }))
        const one = await upload(key, uploadId, 1, utf8("only part"))
        const error = await failure(writer.completeMultipart({
          key,
          uploadId,
          parts: [{ partNumber: 7, etag: one.etag }],
          headers: new Headers()
        }))
        expect(error).toMatchObject({ _tag: "InvalidPart" })
        await run(Effect.ignore(writer.abortMultipart({ key, uploadId })))
      })
    })

    describe("multipart bookkeeping (optional members: skipped when the writer lacks them)", () => {
      type Optional = "listParts" | "listUploads" | "uploadPartCopy"
      /** The member, or the test is skipped (vitest's `ctx.skip` throws). */
      const member = <K extends Optional>(ctx: TestContext, name: K): NonNullable<ObjectWriter[K]> => {
        const found = writer[name]
        if (found === undefined) return ctx.skip(`the writer has no ${name}`)
        return found as NonNullable<ObjectWriter[K]>
      }
      const upload = (key: string, uploadId: string, partNumber: number, body: Uint8Array) =>
        run(writer.uploadPart({ ...writeRequest(key, body), uploadId, partNumber }))
      const parts5MiB = pattern(5 * MiB, 12)

      it("listParts: the uploaded parts ascending with their ETags and sizes, paged by part number", async (ctx) => {
        const listParts = member(ctx, "listParts")
        const key = "b/parts list=1+ü.bin"
        const uploadId = await run(writer.createMultipart({ key, headers: new Headers() }))
        try {
          const bodies = [utf8("part three"), utf8("first part"), utf8("the second part")]
          const third = await upload(key, uploadId, 3, bodies[0]!)
          const first = await upload(key, uploadId, 1, bodies[1]!)
          const second = await upload(key, uploadId, 2, bodies[2]!)
          const all = await run(listParts({ key, uploadId, maxParts: 1000, partNumberMarker: 0 }))
          expect(all.parts.map((p) => [p.partNumber, p.etag, p.size])).toStrictEqual([
            [1, first.etag, bodies[1]!.length],
            [2, second.etag, bodies[2]!.length],
            [3, third.etag, bodies[0]!.length]
          ])
          for (const p of all.parts) expect(Number.isNaN(p.lastModified.getTime())).toBe(false)
          expect(all.isTruncated).toBe(false)

          const page1 = await run(listParts({ key, uploadId, maxParts: 2, partNumberMarker: 0 }))
          expect(page1.parts.map((p) => p.partNumber)).toStrictEqual([1, 2])
          expect([page1.isTruncated, page1.nextPartNumberMarker]).toStrictEqual([true, 2])
          const page2 = await run(listParts({ key, uploadId, maxParts: 2, partNumberMarker: 2 }))
          expect(page2.parts.map((p) => p.partNumber)).toStrictEqual([3])
          expect(page2.isTruncated).toBe(false)
        } finally {
          await run(Effect.ignore(writer.abortMultipart({ key, uploadId })))
        }
      })

      it("listParts of an upload with no parts: empty; of an aborted upload: NoSuchUpload", async (ctx) => {
        const listParts = member(ctx, "listParts")
        const key = "b/parts-empty.bin"
        const uploadId = await run(writer.createMultipart({ key, headers: new Headers() }))
        const none = await run(listParts({ key, uploadId, maxParts: 1000, partNumberMarker: 0 }))
        expect([none.parts, none.isTruncated]).toStrictEqual([[], false])
        await run(writer.abortMultipart({ key, uploadId }))
        expect(await failure(listParts({ key, uploadId, maxParts: 1000, partNumberMarker: 0 }))).toMatchObject({ _tag: "NoSuchUpload" })
      })

      it("listUploads: the open uploads under a prefix (two of one key), none after abort", async (ctx) => {
        const listUploads = member(ctx, "listUploads")
        const keys = ["u/a.bin", "u/b c=d+e.bin", "u/b c=d+e.bin", "u/sub/ü.bin"]
        const created: Array<{ key: string; uploadId: string }> = []
        for (const key of [...keys, "ux/outside.bin"]) {
          created.push({ key, uploadId: await run(writer.createMultipart({ key, headers: new Headers() })) })
        }
        try {
          const page = await run(listUploads({ prefix: "u/", keyMarker: undefined, uploadIdMarker: undefined, maxUploads: 1000 }))
          const inside = created.filter((c) => c.key.startsWith("u/"))
          const byId = (a: { uploadId: string }, b: { uploadId: string }) => a.uploadId.localeCompare(b.uploadId)
          expect(page.uploads.map((u) => ({ key: u.key, uploadId: u.uploadId })).sort(byId)).toStrictEqual([...inside].sort(byId))
          for (const u of page.uploads) expect(Number.isNaN(u.initiated.getTime())).toBe(false)
          expect(page.isTruncated).toBe(false)
        } finally {
          for (const c of created) await run(Effect.ignore(writer.abortMultipart(c)))
        }
        const after = await run(listUploads({ prefix: "u/", keyMarker: undefined, uploadIdMarker: undefined, maxUploads: 1000 }))
        expect(after.uploads).toStrictEqual([])
      })

      check(LIST_UPLOADS_PAGING)("listUploads pages by key then upload id: every upload once, in key order", async (ctx) => {
        const listUploads = member(ctx, "listUploads")
        const keys = ["p/1.bin", "p/2.bin", "p/2.bin", "p/2.bin", "p/3.bin"]
        const created: Array<{ key: string; uploadId: string }> = []
        for (const key of keys) created.push({ key, uploadId: await run(writer.createMultipart({ key, headers: new Headers() })) })
        try {
          const seen: Array<{ key: string; uploadId: string }> = []
          let keyMarker: string | undefined
          let uploadIdMarker: string | undefined
          for (let pages = 0; pages < 10; pages++) {
            const page = await run(listUploads({ prefix: "p/", keyMarker, uploadIdMarker, maxUploads: 2 }))
            expect(page.uploads.length).toBeLessThanOrEqual(2)
            seen.push(...page.uploads.map((u) => ({ key: u.key, uploadId: u.uploadId })))
            if (!page.isTruncated) break
            keyMarker = page.nextKeyMarker
            uploadIdMarker = page.nextUploadIdMarker
            expect(keyMarker).toBeDefined()
          }
          expect(seen.map((u) => u.key)).toStrictEqual(keys)
          expect(new Set(seen.map((u) => u.uploadId))).toStrictEqual(new Set(created.map((c) => c.uploadId)))
        } finally {
          for (const c of created) await run(Effect.ignore(writer.abortMultipart(c)))
        }
      })

      it("uploadPartCopy: two ranges of a 6 MiB object, then complete → the same bytes; a whole-object part too", async (ctx) => {
        const uploadPartCopy = member(ctx, "uploadPartCopy")
        const source = pattern(6 * MiB + 77, 11)
        await put("b/copy source=1.bin", source)
        const key = "b/copied parts+ü.bin"
        const uploadId = await run(writer.createMultipart({ key, headers: new Headers() }))
        const first = await run(uploadPartCopy({
          sourceKey: "b/copy source=1.bin", key, uploadId, partNumber: 1, range: `bytes=0-${5 * MiB - 1}`, headers: new Headers()
        }))
        const second = await run(uploadPartCopy({
          sourceKey: "b/copy source=1.bin", key, uploadId, partNumber: 2, range: `bytes=${5 * MiB}-${source.length - 1}`, headers: new Headers()
        }))
        expect(first.etag).toMatch(/^"[^"]+"$/)
        expect(Number.isNaN(second.lastModified.getTime())).toBe(false)
        await run(writer.completeMultipart({
          key,
          uploadId,
          parts: [{ partNumber: 1, etag: first.etag }, { partNumber: 2, etag: second.etag }],
          headers: new Headers()
        }))
        expectBytes((await getObject(store, key))?.bytes, source, "ranged part copy")

        // A small object copied whole as the last part, after an uploaded first part.
        await put("b/tail.txt", utf8("the tail"))
        const whole = "b/whole-part.bin"
        const wholeId = await run(writer.createMultipart({ key: whole, headers: new Headers() }))
        const head = await upload(whole, wholeId, 1, parts5MiB)
        const tail = await run(uploadPartCopy({
          sourceKey: "b/tail.txt", key: whole, uploadId: wholeId, partNumber: 2, range: undefined, headers: new Headers()
        }))
        await run(writer.completeMultipart({
          key: whole,
          uploadId: wholeId,
          parts: [{ partNumber: 1, etag: head.etag }, { partNumber: 2, etag: tail.etag }],
          headers: new Headers()
        }))
        const expected = new Uint8Array(parts5MiB.length + 8)
        expected.set(parts5MiB, 0)
        expected.set(utf8("the tail"), parts5MiB.length)
        expectBytes((await getObject(store, whole))?.bytes, expected, "whole part copy")
      })

      it("uploadPartCopy of a missing source → NoSuchKey", async (ctx) => {
        const uploadPartCopy = member(ctx, "uploadPartCopy")
        const key = "b/from-missing.bin"
        const uploadId = await run(writer.createMultipart({ key, headers: new Headers() }))
        try {
          const error = await failure(uploadPartCopy({
            sourceKey: "b/no such source.bin", key, uploadId, partNumber: 1, range: undefined, headers: new Headers()
          }))
          expect(error).toMatchObject({ _tag: "NoSuchKey" })
        } finally {
          await run(Effect.ignore(writer.abortMultipart({ key, uploadId })))
        }
      })
    })
  })
