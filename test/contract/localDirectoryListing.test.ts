import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect, Encoding, FastCheck as fc } from "effect"
import { listSorted } from "../../src/core/backends/listSorted.js"
import type { ListPage, ListRequest, ObjectStore } from "../../src/core/backends/ObjectStore.js"
import { compareUtf8 } from "../../src/core/shared/utf8.js"
import { nodeListingFs, type ListingFs } from "../../src/platform/bun/directoryWalk.js"
import { LocalDirectoryProvider } from "../../src/platform/bun/LocalDirectoryStore.js"
import { badPosition } from "../fixtures/arbitraries.js"
import { listRequest } from "../fixtures/listing.js"
import { installBunFileStandIn, localConnection } from "./bunFileStandIn.js"

/**
 * The local directory store on its own (issue #8): every path it touches stays inside its directory whatever
 * it is asked, and its listing walks lazily in S3 byte order (a page reads a bounded part of the tree).
 */

installBunFileStandIn()

const connection = localConnection

/** A file system that counts what a listing reads. */
const counting = () => {
  const seen = { readdirs: 0, entries: 0, stats: 0, dirs: [] as Array<string> }
  const fs: ListingFs = {
    readdir: async (path) => {
      const entries = await nodeListingFs.readdir(path)
      seen.readdirs++
      seen.entries += entries.length
      seen.dirs.push(path)
      return entries
    },
    stat: (path) => {
      seen.stats++
      return nodeListingFs.stat(path)
    }
  }
  return { fs, seen }
}

const seed = async (root: string, files: ReadonlyArray<string>) => {
  for (const file of files) {
    await mkdir(dirname(join(root, file)), { recursive: true })
    await writeFile(join(root, file), file)
  }
}

const open = (root: string, fs?: ListingFs): Promise<ObjectStore> => Effect.runPromise(LocalDirectoryProvider(root, fs)(connection))
const list = (store: ObjectStore, request: ListRequest) => Effect.runPromise(store.list(request))
const keysOf = (page: ListPage) => page.objects.map((o) => o.key)
const EMPTY_FINAL: ListPage = { objects: [], commonPrefixes: [], nextContinuationToken: undefined }

/** Every page from a first request, following the store's continuation tokens. */
const allPages = async (store: ObjectStore, first: ListRequest) => {
  const objects: Array<string> = []
  const prefixes: Array<string> = []
  let request = first
  for (let pages = 0; pages < 10_000; pages++) {
    const page = await list(store, request)
    expect(page.objects.length + page.commonPrefixes.length).toBeLessThanOrEqual(first.maxKeys)
    objects.push(...keysOf(page))
    prefixes.push(...page.commonPrefixes)
    if (page.nextContinuationToken === undefined) return { objects, prefixes }
    request = { ...first, continuationToken: page.nextContinuationToken }
  }
  throw new Error("the listing does not end")
}

describe("local directory store: the fence", () => {
  let base: string
  let store: ObjectStore
  const OUTSIDE = ["outside/secret.txt", ".dev/keys.json"]
  const INSIDE = [
    "data/demo/sample/a.txt",
    "data/demo/sample/tables/.hidden",
    "data/demo/sample/..foo/x",
    "data/demo/private/secret.txt",
    "data/.sdp-uploads/0123456789abcdef0123/upload.json",
    "data/.sdp-meta/demo/sample/a.txt.json"
  ]

  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), "sdp-local-fence-"))
    await seed(base, [...OUTSIDE, ...INSIDE])
    store = await open(base)
  })
  afterAll(async () => {
    await rm(base, { recursive: true, force: true })
  })

  it("a listing asked for `..`, `.` or empty segments lists nothing, whatever the core passes", async () => {
    for (const prefix of ["demo/sample/../private/", "demo/sample/../../../.dev/", "demo/sample/../../.sdp-uploads/", "demo/sample/../../", "/", "../", "demo//sample/"]) {
      expect(await list(store, listRequest({ prefix })), prefix).toStrictEqual(EMPTY_FINAL)
      expect(await list(store, listRequest({ prefix, delimiter: "/" })), prefix).toStrictEqual(EMPTY_FINAL)
    }
  })

  it.effect.prop(
    "any prefix, start-after or continuation token with a bad complete segment: an empty, final page",
    [badPosition, fc.constantFrom("", "/"), fc.constantFrom("", "demo/", "demo/sample/")],
    ([position, delimiter, under]) => Effect.promise(async () => {
      const name = under + position
      for (const request of [
        listRequest({ prefix: name, delimiter }),
        listRequest({ prefix: under, delimiter, startAfter: name }),
        listRequest({ prefix: under, delimiter, continuationToken: Encoding.encodeBase64Url(name) })
      ]) {
        expect(await list(store, request)).toStrictEqual(EMPTY_FINAL)
      }
    }),
    { fastCheck: { numRuns: 60 } }
  )

  it("partial final segments still match (`tables/.` → `.hidden`, `..` → `..foo/x`)", async () => {
    expect(keysOf(await list(store, listRequest({ prefix: "demo/sample/tables/." })))).toStrictEqual(["demo/sample/tables/.hidden"])
    expect(keysOf(await list(store, listRequest({ prefix: "demo/sample/.." })))).toStrictEqual(["demo/sample/..foo/x"])
  })

  it("reads of keys with `..`, `.` or empty segments are NoSuchKey, inside or outside the directory", async () => {
    for (const key of ["demo/sample/../private/secret.txt", "demo/./sample/a.txt", "demo//sample/a.txt", "../outside/secret.txt", "demo/sample/../../.sdp-meta/demo/sample/a.txt.json", "/demo/sample/a.txt"]) {
      const error = await Effect.runPromise(Effect.flip(store.read({ key, method: "GET", headers: new Headers() })))
      expect(error._tag, key).toBe("NoSuchKey")
    }
  })

  it("writes, copies, deletes and multipart uploads of such keys are refused and touch nothing", async () => {
    const writer = store.writer!
    const body = () => new Blob(["x"]).stream()
    const write = (key: string) => ({ key, body: body(), contentLength: 1, headers: new Headers(), trailers: () => new Map() })
    for (const key of ["demo/sample/../private/secret.txt", "demo/sample/../../../outside/secret.txt", "demo/../.sdp-meta/x", "a/./b", "a//b"]) {
      const attempts = [
        writer.put(write(key)),
        writer.delete(key),
        writer.copy({ sourceKey: "demo/sample/a.txt", key, headers: new Headers() }),
        writer.copy({ sourceKey: key, key: "demo/sample/copied.txt", headers: new Headers() }),
        writer.createMultipart({ key, headers: new Headers() })
      ]
      for (const attempt of attempts) {
        const error = await Effect.runPromise(Effect.flip(attempt))
        expect(["InvalidRequest", "NoSuchKey"], `${key}: ${error._tag}`).toContain(error._tag)
      }
    }
    for (const file of [...OUTSIDE, ...INSIDE]) expect((await stat(join(base, file))).size, file).toBe(file.length)
    expect(await readdir(join(base, "data/demo/sample"))).toStrictEqual(["..foo", "a.txt", "tables"])
    expect(await readdir(join(base, "data/.sdp-uploads"))).toStrictEqual(["0123456789abcdef0123"])
  })
})

describe("local directory store: a lazy walk in S3 byte order", () => {
  let base: string
  const WIDE = 40
  const wide = Array.from({ length: WIDE }, (_, d) =>
    Array.from({ length: WIDE }, (_, f) => `wide/d${String(d).padStart(2, "0")}/f${String(f).padStart(2, "0")}.txt`)).flat()
  /** Names whose byte order is not the order of their directory entries, nor UTF-16 order. */
  const TRICKY = ["a/b", "a/c/d", "a.txt", "a-b", "a0", "ab", "a b", "é", "日本/x", "\uFB00", "😀", "z/.hidden", "z/..x", "Z"]

  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), "sdp-local-walk-"))
    await seed(join(base, "data"), [...wide, ...TRICKY.map((k) => `tricky/${k}`)])
  })
  afterAll(async () => {
    await rm(base, { recursive: true, force: true })
  })

  it("max-keys=1 over a 40×40 tree reads two directories and stats one file (plus the one that truncates)", async () => {
    const { fs, seen } = counting()
    const store = await open(base, fs)
    const page = await list(store, listRequest({ prefix: "wide/", maxKeys: 1 }))
    expect(keysOf(page)).toStrictEqual(["wide/d00/f00.txt"])
    expect(page.nextContinuationToken).toBeDefined()
    expect(seen.readdirs).toBeGreaterThan(0)
    expect(seen.entries).toBeLessThanOrEqual(2 * WIDE)
    expect(seen.stats).toBeLessThanOrEqual(1)
  })

  it("with a delimiter, a folder is one common prefix: its subtree is not walked past its first file", async () => {
    const { fs, seen } = counting()
    const store = await open(base, fs)
    const page = await list(store, listRequest({ prefix: "wide/", delimiter: "/", maxKeys: 2 }))
    expect(page.commonPrefixes).toStrictEqual(["wide/d00/", "wide/d01/"])
    expect(seen.readdirs).toBeGreaterThan(0)
    expect(seen.entries).toBeLessThanOrEqual(4 * WIDE)
    expect(seen.stats).toBe(0)
  })

  it("subtrees before start-after are never read", async () => {
    const { fs, seen } = counting()
    const store = await open(base, fs)
    const page = await list(store, listRequest({ prefix: "wide/", maxKeys: 2, startAfter: "wide/d30/f05.txt" }))
    expect(keysOf(page)).toStrictEqual(["wide/d30/f06.txt", "wide/d30/f07.txt"])
    expect(seen.readdirs).toBeGreaterThan(0)
    expect(seen.dirs.some((dir) => /d[0-2]\d$/.test(dir))).toBe(false)
    expect(seen.entries).toBeLessThanOrEqual(2 * WIDE)
  })

  it("a continuation token taken from a page continues right after it, without rereading what came before", async () => {
    const store = await open(base)
    const first = await list(store, listRequest({ prefix: "wide/", maxKeys: 1 }))
    const { fs, seen } = counting()
    const next = await list(await open(base, fs), listRequest({ prefix: "wide/", maxKeys: 1, continuationToken: first.nextContinuationToken }))
    expect(keysOf(next)).toStrictEqual(["wide/d00/f01.txt"])
    expect(seen.readdirs).toBeGreaterThan(0)
    expect(seen.entries).toBeLessThanOrEqual(2 * WIDE)
  })

  it("pages are in S3 byte order for tricky names, and following tokens lists every key once", async () => {
    const store = await open(base)
    const keys = TRICKY.map((k) => `tricky/${k}`).sort(compareUtf8)
    const model = keys.map((key) => ({ key, size: 0, lastModified: new Date(0), etag: "\"\"" }))
    for (const delimiter of ["", "/", "b"]) {
      const expected = listSorted(model, listRequest({ prefix: "tricky/", delimiter, maxKeys: 1000 }))
      const whole = await list(store, listRequest({ prefix: "tricky/", delimiter }))
      expect(keysOf(whole), delimiter).toStrictEqual(expected.objects.map((o) => o.key))
      expect(whole.commonPrefixes, delimiter).toStrictEqual(expected.commonPrefixes)
      for (const maxKeys of [1, 2, 3]) {
        const paged = await allPages(store, listRequest({ prefix: "tricky/", delimiter, maxKeys }))
        expect(paged.objects, `${delimiter} ${maxKeys}`).toStrictEqual(expected.objects.map((o) => o.key))
        expect(paged.prefixes, `${delimiter} ${maxKeys}`).toStrictEqual(expected.commonPrefixes)
      }
    }
    expect(keysOf(await list(store, listRequest({ prefix: "tricky/" })))).toStrictEqual(keys)
  })

  it.effect.prop(
    "any prefix, start-after and page size: the walk lists what the model lists, page after page",
    [
      fc.constantFrom("", "tricky/", "tricky/a", "tricky/a/", "wide/d3", "wide/d39/f3", "tricky/z/."),
      fc.constantFrom("", "/"),
      fc.option(fc.constantFrom("tricky/a", "tricky/a.txt", "tricky/a/b", "wide/d05/", "wide/d05", "tricky/é"), { nil: undefined }),
      fc.integer({ min: 1, max: 7 })
    ],
    ([prefix, delimiter, startAfter, maxKeys]) => Effect.promise(async () => {
      const store = await open(base)
      const model = [...wide, ...TRICKY.map((k) => `tricky/${k}`)].sort(compareUtf8)
        .map((key) => ({ key, size: 0, lastModified: new Date(0), etag: "\"\"" }))
      const expected = listSorted(model, listRequest({ prefix, delimiter, startAfter, maxKeys: 1_000_000 }))
      const first = listRequest({ prefix, delimiter, startAfter, maxKeys })
      if (expected.objects.length + expected.commonPrefixes.length > 200) {
        const page = await list(store, first)
        const one = listSorted(model, first)
        expect(keysOf(page)).toStrictEqual(one.objects.map((o) => o.key))
        expect(page.commonPrefixes).toStrictEqual(one.commonPrefixes)
        return
      }
      const paged = await allPages(store, first)
      expect(paged.objects).toStrictEqual(expected.objects.map((o) => o.key))
      expect(paged.prefixes).toStrictEqual(expected.commonPrefixes)
    }),
    { fastCheck: { numRuns: 40 } }
  )
})
