import { Effect, Either } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { listSorted } from "../../src/core/backends/listSorted.js"
import type { ListPage, ListRequest, ObjectRead, ObjectStore, ReadError } from "../../src/core/backends/ObjectStore.js"
import type { Reply } from "../../src/core/http/Reply.js"
import { compareUtf8 } from "../../src/core/shared/utf8.js"

/**
 * ONE read/list conformance suite for any `ObjectStore` (S3 over moto, Azure over Azurite, the local
 * directory, GCS…): every backend must answer like S3.
 *
 * Use: `objectStoreContract("my backend", target)` inside a vitest file, where `target.open(objects)`
 * seeds `objects` (key → bytes) into a fresh, otherwise empty bucket/container/directory and resolves to a
 * store whose key space is exactly those keys (no prefix), and `target.close()` (optional) releases it.
 * `target.directoryMarkers: false` for a backend that cannot hold a 0-byte `dir/` object (a filesystem):
 * the fixture then leaves it out. The expected listings come from `listSorted`, the core's model of S3
 * listing semantics, run over the fixture keys.
 */
export interface ContractTarget {
  readonly open: (objects: ReadonlyArray<FixtureObject>) => Promise<ObjectStore>
  readonly close?: () => Promise<void>
  /** Whether a 0-byte object named `dir/` can exist (default true). */
  readonly directoryMarkers?: boolean
  /**
   * Checks this backend is known to fail (one of the exported gap names): they run as `it.fails`, so the
   * suite stays green while the gap is documented, and turns red once the gap is closed.
   */
  readonly knownGaps?: ReadonlyArray<KnownGap>
}

/** An unsatisfiable range is InvalidRange carrying the object's size (for `Content-Range: bytes *\/size`). */
export const UNSATISFIABLE_SIZE = "unsatisfiable range size"
/** A start-after inside a folder, with a delimiter: the folder is listed again when keys after it roll up into it. */
export const START_AFTER_INSIDE_FOLDER = "start-after inside a folder"
export type KnownGap = typeof UNSATISFIABLE_SIZE | typeof START_AFTER_INSIDE_FOLDER

export type FixtureObject = readonly [key: string, body: Uint8Array]

const utf8 = (text: string) => new TextEncoder().encode(text)

/** 12 345 bytes that are not all alike, so a wrong offset shows. */
export const BINARY = Uint8Array.from({ length: 12_345 }, (_, i) => (i * 31 + (i >> 7)) & 255)
export const MANY_COUNT = 1205
/** 1205 keys in one folder, named so that insertion order, UTF-16 order of the tags and byte order differ. */
export const MANY_KEYS = Array.from(
  { length: MANY_COUNT },
  (_, i) => `many/${["b", "A", "c_d", "ä", "0"][i % 5]}-${String(i).padStart(5, "0")}.txt`
)

/** The seeded objects; `directoryMarkers: false` leaves out the 0-byte `dir/` marker. */
export const contractFixture = (directoryMarkers = true): Array<FixtureObject> => [
  ["plain.txt", utf8("hello, world\n")],
  ["binary.bin", BINARY],
  ["nested/e.txt", utf8("e\n")],
  ["nested/a/d.txt", utf8("d\n")],
  ["nested/a/b/c.txt", utf8("c\n")],
  ["unicode/ünïcödé 日本.txt", utf8("ünïcödé body\n")],
  ["spaces/with space.txt", utf8("with space\n")],
  ["chars/a=b.txt", utf8("a=b\n")],
  ["chars/a+b.txt", utf8("a+b\n")],
  ["chars/x=1+y=2 z&w.txt", utf8("x=1+y=2 z&w\n")],
  ...(directoryMarkers ? [["dir/", new Uint8Array(0)] as const] : []),
  ["dir/inside.txt", utf8("inside\n")],
  ...MANY_KEYS.map((key, i): FixtureObject => [key, utf8(`many ${i}\n`)])
]

const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect)

const GET = (key: string, headers: Record<string, string> = {}): ObjectRead => ({ key, method: "GET", headers: new Headers(headers) })
const HEAD = (key: string, headers: Record<string, string> = {}): ObjectRead => ({ key, method: "HEAD", headers: new Headers(headers) })

const bytesOf = async (body: Reply["body"]): Promise<Uint8Array> =>
  body === null ? new Uint8Array(0) : new Uint8Array(await new Response(body).arrayBuffer())

const read = (store: ObjectStore, request: ObjectRead) => run(Effect.either(store.read(request)))

/** A read that must succeed, with its body read. */
const readOk = async (store: ObjectStore, request: ObjectRead) => {
  const result = await read(store, request)
  if (Either.isLeft(result)) throw new Error(`${request.method} ${request.key} failed: ${JSON.stringify(result.left)}`)
  return { ...result.right, bytes: await bytesOf(result.right.body) }
}

const readError = async (store: ObjectStore, request: ObjectRead): Promise<ReadError> => {
  const result = await read(store, request)
  if (Either.isRight(result)) {
    await bytesOf(result.right.body)
    throw new Error(`${request.method} ${request.key} answered ${result.right.status}, expected an error`)
  }
  return result.left
}

const request = (overrides: Partial<ListRequest>): ListRequest => ({
  prefix: "",
  delimiter: "",
  maxKeys: 1000,
  continuationToken: undefined,
  startAfter: undefined,
  ...overrides
})

/** Every page of a listing, following continuation tokens (at most 200 pages). */
const listAll = async (store: ObjectStore, first: ListRequest): Promise<Array<ListPage>> => {
  const pages: Array<ListPage> = []
  let token: string | undefined
  do {
    const page = await run(store.list({ ...first, continuationToken: token, startAfter: token === undefined ? first.startAfter : undefined }))
    pages.push(page)
    token = page.nextContinuationToken
    if (pages.length > 200) throw new Error("more than 200 pages: the continuation does not advance")
  } while (token !== undefined)
  return pages
}

/** A page's names (objects and common prefixes) in byte order. */
const namesOf = (page: ListPage) => [...page.objects.map((o) => o.key), ...page.commonPrefixes].sort(compareUtf8)

export const objectStoreContract = (name: string, target: ContractTarget) =>
  describe(`ObjectStore contract: ${name}`, () => {
    const markers = target.directoryMarkers ?? true
    const gaps = new Set<string>(target.knownGaps ?? [])
    /** `it`, or `it.fails` for a documented gap of this backend. */
    const check = (gap: KnownGap) => (gaps.has(gap) ? it.fails : it)
    const fixture = contractFixture(markers)
    const bodies = new Map(fixture)
    const sortedKeys = fixture.map(([key]) => key).sort(compareUtf8)
    const model = fixture.map(([key, body]) => ({ key, size: body.length, lastModified: new Date(0), etag: "\"\"" }))
      .sort((a, b) => compareUtf8(a.key, b.key))
    /** What S3 lists for `r` in one unbounded page: the expected names of a full walk. */
    const expected = (r: Partial<ListRequest>) => {
      const page = listSorted(model, request({ ...r, maxKeys: 1_000_000 }))
      return { objects: page.objects.map((o) => o.key), commonPrefixes: [...page.commonPrefixes] }
    }
    let store: ObjectStore

    beforeAll(async () => {
      store = await target.open(fixture)
    })
    afterAll(async () => {
      await target.close?.()
    })

    /** Walks a listing and checks it against the model: every name once, in byte order, pages within max-keys. */
    const checkWalk = async (r: Partial<ListRequest>) => {
      const pages = await listAll(store, request(r))
      const maxKeys = r.maxKeys ?? 1000
      for (const page of pages) expect(page.objects.length + page.commonPrefixes.length).toBeLessThanOrEqual(maxKeys)
      const names = pages.flatMap(namesOf)
      for (let i = 1; i < names.length; i++) {
        if (compareUtf8(names[i - 1]!, names[i]!) >= 0) throw new Error(`out of order or repeated: ${names[i - 1]} then ${names[i]}`)
      }
      const want = expected(r)
      expect(pages.flatMap((p) => p.objects.map((o) => o.key))).toStrictEqual(want.objects)
      expect(pages.flatMap((p) => p.commonPrefixes)).toStrictEqual(want.commonPrefixes)
      return pages
    }

    describe("reads", () => {
      it("GET answers every object byte-exact, with its length and entity headers", async () => {
        const keys = fixture.map(([key]) => key).filter((key) => !key.startsWith("many/"))
        for (const key of [...keys, MANY_KEYS[0]!, MANY_KEYS[1204]!]) {
          const reply = await readOk(store, GET(key))
          expect(reply.status, key).toBe(200)
          expect(reply.bytes, key).toStrictEqual(bodies.get(key))
          expect(reply.headers.get("content-length"), key).toBe(String(bodies.get(key)!.length))
          expect(reply.headers.get("etag"), key).toMatch(/^"[^"]*"$/)
          expect(Number.isNaN(Date.parse(reply.headers.get("last-modified") ?? "")), key).toBe(false)
          expect(reply.headers.get("accept-ranges"), key).toBe("bytes")
        }
      })

      it("no backend-specific x-ms-* header reaches the client", async () => {
        const reply = await readOk(store, GET("plain.txt"))
        const names: Array<string> = []
        reply.headers.forEach((_, header) => names.push(header))
        expect(names.filter((n) => n.startsWith("x-ms-"))).toStrictEqual([])
      })

      const size = BINARY.length
      const ranges: ReadonlyArray<readonly [string, number, number]> = [
        ["bytes=0-1023", 0, 1023],
        ["bytes=1000-", 1000, size - 1],
        ["bytes=-500", size - 500, size - 1],
        ["bytes=-99999", 0, size - 1],
        ["bytes=12000-99999", 12000, size - 1],
        [`bytes=${size - 1}-${size - 1}`, size - 1, size - 1],
        ["bytes=0-0", 0, 0]
      ]
      for (const [range, start, end] of ranges) {
        it(`GET Range ${range} → 206 bytes ${start}-${end}/${size}`, async () => {
          const reply = await readOk(store, GET("binary.bin", { range }))
          expect(reply.status).toBe(206)
          expect(reply.headers.get("content-range")).toBe(`bytes ${start}-${end}/${size}`)
          expect(reply.headers.get("content-length")).toBe(String(end - start + 1))
          expect(reply.bytes).toStrictEqual(BINARY.slice(start, end + 1))
        })
      }

      for (const range of [`bytes=${size}-`, `bytes=${size + 10}-${size + 20}`]) {
        it(`GET Range ${range} is unsatisfiable: InvalidRange`, async () => {
          const error = await readError(store, GET("binary.bin", { range }))
          expect(error).toMatchObject({ _tag: "InvalidRange" })
        })
        check(UNSATISFIABLE_SIZE)(`GET Range ${range}: the InvalidRange carries the size`, async () => {
          const error = await readError(store, GET("binary.bin", { range }))
          expect(error).toMatchObject({ _tag: "InvalidRange", size })
        })
      }

      it("a Range S3 ignores (end before start) answers the whole object", async () => {
        const reply = await readOk(store, GET("binary.bin", { range: "bytes=500-10" }))
        expect(reply.status).toBe(200)
        expect(reply.bytes).toStrictEqual(BINARY)
      })

      it("HEAD: 200, the length, no body", async () => {
        const reply = await readOk(store, HEAD("binary.bin"))
        expect(reply.status).toBe(200)
        expect(reply.body).toBeNull()
        expect(reply.headers.get("content-length")).toBe(String(size))
        expect(reply.headers.get("etag")).toMatch(/^"[^"]*"$/)
      })

      it("HEAD with a Range: 206 and Content-Range, as S3", async () => {
        const reply = await readOk(store, HEAD("binary.bin", { range: "bytes=-100" }))
        expect(reply.status).toBe(206)
        expect(reply.body).toBeNull()
        expect(reply.headers.get("content-range")).toBe(`bytes ${size - 100}-${size - 1}/${size}`)
        expect(reply.headers.get("content-length")).toBe("100")
      })

      it("conditionals: If-None-Match → 304, If-Match mismatch → PreconditionFailed, match → 200", async () => {
        const etag = (await readOk(store, HEAD("plain.txt"))).headers.get("etag")!
        const notModified = await readOk(store, GET("plain.txt", { "if-none-match": etag }))
        expect(notModified.status).toBe(304)
        expect(notModified.bytes.length).toBe(0)
        expect(await readError(store, GET("plain.txt", { "if-match": "\"not-the-etag\"" }))).toMatchObject({ _tag: "PreconditionFailed" })
        const matched = await readOk(store, GET("plain.txt", { "if-match": etag }))
        expect(matched.status).toBe(200)
        expect(matched.bytes).toStrictEqual(bodies.get("plain.txt"))
        expect((await readOk(store, HEAD("plain.txt", { "if-none-match": etag }))).status).toBe(304)
      })

      it("conditionals by date: If-Modified-Since later → 304, If-Unmodified-Since earlier → PreconditionFailed", async () => {
        const later = new Date(Date.now() + 24 * 3600_000).toUTCString()
        const earlier = "Mon, 01 Jan 2001 00:00:00 GMT"
        expect((await readOk(store, GET("plain.txt", { "if-modified-since": later }))).status).toBe(304)
        expect((await readOk(store, GET("plain.txt", { "if-modified-since": earlier }))).status).toBe(200)
        expect(await readError(store, GET("plain.txt", { "if-unmodified-since": earlier }))).toMatchObject({
          _tag: "PreconditionFailed"
        })
      })

      it("a suffix range honours the preconditions too", async () => {
        const etag = (await readOk(store, HEAD("binary.bin"))).headers.get("etag")!
        expect((await readOk(store, GET("binary.bin", { range: "bytes=-10", "if-none-match": etag }))).status).toBe(304)
        expect(await readError(store, GET("binary.bin", { range: "bytes=-10", "if-match": "\"nope\"" }))).toMatchObject({
          _tag: "PreconditionFailed"
        })
      })

      it("a missing key is NoSuchKey, for GET and HEAD, and so is a folder name", async () => {
        for (const r of [GET("missing.txt"), HEAD("missing.txt"), GET("nested/a"), GET("nested/a/b/c.txt.nope")]) {
          expect(await readError(store, r)).toMatchObject({ _tag: "NoSuchKey" })
        }
      })
    })

    describe("listings", () => {
      it("everything, 1000 a page: every key exactly once, in byte order, with its size", async () => {
        const pages = await checkWalk({})
        expect(pages.length).toBe(2)
        const listed = pages.flatMap((p) => p.objects)
        expect(listed.map((o) => o.key)).toStrictEqual(sortedKeys)
        for (const object of listed) {
          expect(object.size, object.key).toBe(bodies.get(object.key)!.length)
          expect(object.etag, object.key).toMatch(/^"[^"]*"$/)
          expect(Number.isNaN(object.lastModified.getTime()), object.key).toBe(false)
        }
      })

      it("a listed ETag is the one a read answers", async () => {
        const page = await run(store.list(request({ prefix: "plain" })))
        expect(page.objects.map((o) => o.etag)).toStrictEqual([(await readOk(store, HEAD("plain.txt"))).headers.get("etag")])
      })

      it("many/ in pages of 250: 1205 keys in 5 pages", async () => {
        const pages = await checkWalk({ prefix: "many/", maxKeys: 250 })
        expect(pages.map((p) => p.objects.length)).toStrictEqual([250, 250, 250, 250, 205])
      })

      it("many/ in pages of 1000 then the rest", async () => {
        const pages = await checkWalk({ prefix: "many/" })
        expect(pages.map((p) => p.objects.length)).toStrictEqual([1000, 205])
      })

      it("the root with a delimiter: top-level objects and folders", async () => {
        const pages = await checkWalk({ delimiter: "/" })
        expect(pages.length).toBe(1)
        expect(pages[0]!.objects.map((o) => o.key)).toStrictEqual(["binary.bin", "plain.txt"])
        expect(pages[0]!.commonPrefixes).toStrictEqual(["chars/", "dir/", "many/", "nested/", "spaces/", "unicode/"])
      })

      it("the root with a delimiter, one name a page: each name once", async () => {
        const pages = await checkWalk({ delimiter: "/", maxKeys: 1 })
        expect(pages.length).toBe(8)
      })

      it("the root with a delimiter, three names a page", async () => {
        await checkWalk({ delimiter: "/", maxKeys: 3 })
      })

      for (const prefix of ["nested/", "nested/a/", "dir/", "chars/a", "unicode/", "spaces/w", "many/ä-"]) {
        it(`prefix ${prefix} with a delimiter`, async () => {
          await checkWalk({ prefix, delimiter: "/" })
        })
      }

      it("a directory marker is listed as an object under its own prefix", async () => {
        const page = await run(store.list(request({ prefix: "dir/", delimiter: "/" })))
        expect(page.objects.map((o) => o.key)).toStrictEqual(markers ? ["dir/", "dir/inside.txt"] : ["dir/inside.txt"])
        expect(page.commonPrefixes).toStrictEqual([])
      })

      it("a prefix nothing has: empty, not truncated", async () => {
        const page = await run(store.list(request({ prefix: "nothing-here/" })))
        expect(page).toStrictEqual({ objects: [], commonPrefixes: [], nextContinuationToken: undefined })
      })

      it("a delimiter with one name a page under a prefix with sub-folders", async () => {
        await checkWalk({ prefix: "nested/", delimiter: "/", maxKeys: 1 })
      })

      const middle = [...MANY_KEYS].sort(compareUtf8)[600]!
      it(`start-after ${middle} in many/: the rest, then pages`, async () => {
        const pages = await checkWalk({ prefix: "many/", startAfter: middle, maxKeys: 100 })
        expect(pages.flatMap((p) => p.objects).length).toBe(MANY_COUNT - 601)
      })

      it("start-after before every key, and after every key", async () => {
        await checkWalk({ startAfter: "a", maxKeys: 500 })
        const page = await run(store.list(request({ startAfter: "zzz" })))
        expect(page.objects).toStrictEqual([])
        expect(page.nextContinuationToken).toBeUndefined()
      })

      it("start-after a key that does not exist", async () => {
        await checkWalk({ prefix: "many/", startAfter: "many/b-00600.txt~", maxKeys: 333 })
      })

      check(START_AFTER_INSIDE_FOLDER)("start-after inside a folder, with a delimiter: the folder is listed again if keys follow", async () => {
        await checkWalk({ delimiter: "/", startAfter: middle })
        await checkWalk({ delimiter: "/", startAfter: "nested/a/d.txt" })
        await checkWalk({ delimiter: "/", startAfter: "nested/e.txt", maxKeys: 2 })
      })

      it("start-after a folder name, with a delimiter: past that folder", async () => {
        await checkWalk({ delimiter: "/", startAfter: "many/" })
      })
    })
  })
