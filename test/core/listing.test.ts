import { describe, expect, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { Storage } from "../../src/core/backends/ObjectStore.js"
import { storageOf } from "../../src/core/backends/Storage.js"
import { listAccount, listProduct, listProductPath } from "../../src/core/operations/list.js"
import type { ListResult } from "../../src/core/s3/listResult.js"
import { LocalCatalog } from "../../src/layers/LocalCatalog.js"
import { catalogDocument } from "../fixtures/catalog.js"
import { listParams } from "../fixtures/listing.js"
import { memoryProvider, type MemoryObject } from "../fixtures/memoryStore.js"

const under = (prefix: string, keys: ReadonlyArray<string>): Array<MemoryObject> =>
  keys.map((key) => ({ key: prefix + key, body: key.endsWith("/") ? "" : `body of ${key}` }))

/** Backend keys of `demo/sample` sit under `base/demo/sample/`; neighbours share the text but not the folder. */
const SAMPLE_KEYS = ["a.txt", "b.txt", "dir/", "dir/1.txt", "dir/2.txt", "dir/sub/3.txt", "e f+g.txt", "z.txt"]
const provider = memoryProvider({
  data: [
    ...under("base/demo/sample/", SAMPLE_KEYS),
    ...under("base/demo/sample-other/", ["leak.txt"]),
    ...under("base/demo/samplf", ["leak.txt"]),
    ...under("base/demo/zeta/", ["x.txt"])
  ],
  flat: under("", ["one", "two"])
})
const sampleStore = provider.stores.get("data")!

const Live = Layer.mergeAll(LocalCatalog(catalogDocument), Layer.succeed(Storage, storageOf({ memory: provider.open })))

const keysOf = (result: ListResult) => result.contents.map((c) => c.key)
const sampleKeys = (keys: ReadonlyArray<string>) => keys.map((k) => `sample/${k}`)
const PUBLIC_PRODUCTS = ["alpha/", "azure-key/", "flat/", "gopher/", "nobucket/", "nomirror/", "sample/", "zeta/"]

layer(Live)("listProduct", (it) => {
  it.effect("keys come back as {product}/…, backend prefix stripped, folder markers listed like any key", () =>
    Effect.gen(function*() {
      const result = yield* listProduct("demo", "sample", listParams({ prefix: "sample/" }))
      expect(result.bucket).toBe("demo")
      expect(result.prefix).toBe("sample/")
      expect(keysOf(result)).toStrictEqual(sampleKeys(SAMPLE_KEYS))
      expect(result.commonPrefixes).toStrictEqual([])
      expect(result.isTruncated).toBe(false)
      expect(result.contents[0]).toMatchObject({ size: "body of a.txt".length, etag: "\"etag-base/demo/sample/a.txt\"" })
    }))

  it.effect("the store is asked under the backend prefix, in its own key space", () =>
    Effect.gen(function*() {
      yield* listProduct("demo", "sample", listParams({ prefix: "sample/dir/", delimiter: "/", maxKeys: 7, startAfter: "sample/dir/1.txt" }))
      expect(sampleStore.lists.at(-1)).toStrictEqual({
        prefix: "base/demo/sample/dir/",
        delimiter: "/",
        maxKeys: 7,
        continuationToken: undefined,
        startAfter: "base/demo/sample/dir/1.txt"
      })
    }))

  it.effect("delimiter rolls folders up into {product}/… common prefixes", () =>
    Effect.gen(function*() {
      const result = yield* listProduct("demo", "sample", listParams({ prefix: "sample/", delimiter: "/" }))
      expect(keysOf(result)).toStrictEqual(sampleKeys(["a.txt", "b.txt", "e f+g.txt", "z.txt"]))
      expect(result.commonPrefixes).toStrictEqual(["sample/dir/"])
      expect(result.delimiter).toBe("/")
    }))

  it.effect("a folder's own zero-byte marker is listed under its prefix, as S3 lists it", () =>
    Effect.gen(function*() {
      const result = yield* listProduct("demo", "sample", listParams({ prefix: "sample/dir/", delimiter: "/" }))
      expect(keysOf(result)).toStrictEqual(sampleKeys(["dir/", "dir/1.txt", "dir/2.txt"]))
      expect(result.commonPrefixes).toStrictEqual(["sample/dir/sub/"])
    }))

  it.effect("a product without backend prefix lists its bucket's root", () =>
    Effect.gen(function*() {
      const result = yield* listProduct("demo", "flat", listParams({ prefix: "flat/" }))
      expect(keysOf(result)).toStrictEqual(["flat/one", "flat/two"])
    }))

  describe("start-after in the account namespace", () => {
    it.effect("inside the product: after that key", () =>
      Effect.gen(function*() {
        const result = yield* listProduct("demo", "sample", listParams({ prefix: "sample/", startAfter: "sample/dir/2.txt" }))
        expect(keysOf(result)).toStrictEqual(sampleKeys(["dir/sub/3.txt", "e f+g.txt", "z.txt"]))
      }))

    it.effect("before the product: from the start", () =>
      Effect.gen(function*() {
        for (const startAfter of ["a", "sample", "sample.", "sampld/zzz"]) {
          const result = yield* listProduct("demo", "sample", listParams({ prefix: "sample/", startAfter }))
          expect(keysOf(result), startAfter).toStrictEqual(sampleKeys(SAMPLE_KEYS))
        }
      }))

    it.effect("after the product: empty and final", () =>
      Effect.gen(function*() {
        for (const startAfter of ["sample0", "sample0/a", "samplf", "zeta/x"]) {
          const result = yield* listProduct("demo", "sample", listParams({ prefix: "sample/", startAfter }))
          expect(keysOf(result), startAfter).toStrictEqual([])
          expect(result.isTruncated).toBe(false)
        }
      }))

    it.effect("the product root itself: from the start", () =>
      Effect.gen(function*() {
        const result = yield* listProduct("demo", "sample", listParams({ prefix: "sample/", startAfter: "sample/" }))
        expect(keysOf(result)).toStrictEqual(sampleKeys(SAMPLE_KEYS))
      }))
  })

  it.effect("max-keys=0 is empty and not truncated, and the store is not asked", () =>
    Effect.gen(function*() {
      const before = sampleStore.lists.length
      const result = yield* listProduct("demo", "sample", listParams({ prefix: "sample/", maxKeys: 0 }))
      expect(result.contents).toStrictEqual([])
      expect(result.commonPrefixes).toStrictEqual([])
      expect(result.isTruncated).toBe(false)
      expect(sampleStore.lists.length).toBe(before)
    }))

  it.effect("V2 pages carry the store's token and V1 pages a NextMarker", () =>
    Effect.gen(function*() {
      const v2 = yield* listProduct("demo", "sample", listParams({ prefix: "sample/", maxKeys: 2 }))
      expect(v2.isTruncated).toBe(true)
      expect(v2.nextContinuationToken).toBeDefined()
      expect(v2.nextMarker).toBeUndefined()
      const v1 = yield* listProduct("demo", "sample", listParams({ version: 1, prefix: "sample/", maxKeys: 2 }))
      expect(v1.isTruncated).toBe(true)
      expect(v1.nextContinuationToken).toBeUndefined()
      expect(v1.nextMarker).toBe("sample/b.txt")
    }))

  it.effect("a V1 NextMarker that is a common prefix continues past it, no duplicates", () =>
    Effect.gen(function*() {
      const first = yield* listProduct("demo", "sample", listParams({ version: 1, prefix: "sample/", delimiter: "/", maxKeys: 3 }))
      expect(keysOf(first)).toStrictEqual(sampleKeys(["a.txt", "b.txt"]))
      expect(first.commonPrefixes).toStrictEqual(["sample/dir/"])
      expect(first.nextMarker).toBe("sample/dir/")
      const second = yield* listProduct(
        "demo",
        "sample",
        listParams({ version: 1, prefix: "sample/", delimiter: "/", maxKeys: 3, startAfter: first.nextMarker })
      )
      expect(keysOf(second)).toStrictEqual(sampleKeys(["e f+g.txt", "z.txt"]))
      expect(second.commonPrefixes).toStrictEqual([])
      expect(second.isTruncated).toBe(false)
    }))

  it.effect("a truncated V1 page whose only object is a folder marker lists it and continues after it", () =>
    Effect.gen(function*() {
      const page = yield* listProduct("demo", "sample", listParams({ version: 1, prefix: "sample/", maxKeys: 1, startAfter: "sample/b.txt" }))
      expect(page.isTruncated).toBe(true)
      expect(keysOf(page)).toStrictEqual(["sample/dir/"])
      expect(page.nextMarker).toBe("sample/dir/")
    }))

  const oneShot = (version: 1 | 2, prefix: string, delimiter: string) =>
    listProduct("demo", "sample", listParams({ version, prefix, delimiter }))

  /** Every page a client following NextMarker (V1, else the last key) or the token (V2) would fetch. */
  const follow = (version: 1 | 2, prefix: string, delimiter: string, maxKeys: number) =>
    Effect.gen(function*() {
      const keys: Array<string> = []
      const prefixes: Array<string> = []
      let startAfter: string | undefined
      let continuationToken: string | undefined
      for (let pages = 0; pages < 20; pages++) {
        const page = yield* listProduct(
          "demo",
          "sample",
          listParams({ version, prefix, delimiter, maxKeys, startAfter, continuationToken })
        )
        keys.push(...keysOf(page))
        prefixes.push(...page.commonPrefixes)
        if (!page.isTruncated) return { keys, prefixes }
        if (version === 2) continuationToken = page.nextContinuationToken
        else startAfter = page.nextMarker ?? page.contents.at(-1)?.key
        if (startAfter === undefined && continuationToken === undefined) {
          return yield* Effect.die(new Error(`truncated page ${pages} gives the client nothing to continue from`))
        }
      }
      return yield* Effect.die(new Error("listing does not end"))
    })

  describe("following pages yields the one-shot listing exactly once", () => {
    // `sample/dir/` holds its own zero-byte marker object `dir/`, which S3 lists first and the proxy drops.
    for (const prefix of ["sample/", "sample/dir/"]) {
      for (const version of [1, 2] as const) {
        for (const delimiter of ["", "/"]) {
          for (let maxKeys = 1; maxKeys <= (prefix === "sample/" ? 9 : 3); maxKeys++) {
            it.effect(`prefix ${prefix}, V${version}, delimiter ${JSON.stringify(delimiter)}, max-keys ${maxKeys}`, () =>
              Effect.gen(function*() {
                const all = yield* oneShot(version, prefix, delimiter)
                const paged = yield* follow(version, prefix, delimiter, maxKeys)
                expect(paged.keys).toStrictEqual(keysOf(all))
                expect(paged.prefixes).toStrictEqual(all.commonPrefixes)
              }))
          }
        }
      }
    }
  })

  describe("failures", () => {
    for (const [product, tag] of [["private", "AccessDenied"], ["disabled", "AccessDenied"], ["nope", "NoSuchBucket"], [
      "nomirror",
      "NoSuchBucket"
    ], ["", "NoSuchBucket"], ["gopher", "UnsupportedProvider"]] as const) {
      it.effect(`${JSON.stringify(product)} → ${tag}`, () =>
        Effect.gen(function*() {
          const error = yield* Effect.flip(listProduct("demo", product, listParams({ prefix: `${product}/` })))
          expect(error._tag).toBe(tag)
        }))
    }

    it.effect("an unknown account is NoSuchBucket", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(listProduct("nobody", "sample", listParams({ prefix: "sample/" })))
        expect(error._tag).toBe("NoSuchBucket")
      }))

    it.effect("max-keys=0 on a restricted product is still AccessDenied", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(listProduct("demo", "private", listParams({ prefix: "private/", maxKeys: 0 })))
        expect(error._tag).toBe("AccessDenied")
      }))
  })
})

layer(Live)("listProductPath (GET /{account}/{product}?…, docs/listing.md#path-form-product-listing)", (it) => {
  it.effect("prefix and start-after are relative to the product; keys and Prefix come back account-relative, StartAfter as sent", () =>
    Effect.gen(function*() {
      const result = yield* listProductPath("demo", "sample", listParams({ prefix: "dir/", startAfter: "dir/1.txt" }))
      expect(keysOf(result)).toStrictEqual(sampleKeys(["dir/2.txt", "dir/sub/3.txt"]))
      expect(result.prefix).toBe("sample/dir/")
      expect(result.params.startAfter).toBe("dir/1.txt")
      expect(sampleStore.lists.at(-1)).toMatchObject({ prefix: "base/demo/sample/dir/", startAfter: "base/demo/sample/dir/1.txt" })
    }))

  for (const delimiter of ["", "/"]) {
    it.effect(`V1, delimiter ${JSON.stringify(delimiter)}: NextMarker is relative, and fed back as marker pages through every key once`, () =>
      Effect.gen(function*() {
        const all = yield* listProductPath("demo", "sample", listParams({ version: 1, delimiter }))
        const keys: Array<string> = []
        const prefixes: Array<string> = []
        let marker: string | undefined
        for (let pages = 0; pages < 20; pages++) {
          const page = yield* listProductPath("demo", "sample", listParams({ version: 1, delimiter, maxKeys: 1, startAfter: marker }))
          keys.push(...keysOf(page))
          prefixes.push(...page.commonPrefixes)
          if (!page.isTruncated) break
          marker = page.nextMarker
          expect(marker?.startsWith("sample/")).toBe(false)
        }
        expect([keys, prefixes]).toStrictEqual([keysOf(all), all.commonPrefixes])
      }))
  }
})

layer(Live)("listAccount", (it) => {
  it.effect("an empty prefix with delimiter=/ lists the public, enabled products as common prefixes", () =>
    Effect.gen(function*() {
      const result = yield* listAccount("demo", listParams({ delimiter: "/" }))
      expect(result.commonPrefixes).toStrictEqual(PUBLIC_PRODUCTS)
      expect(result.contents).toStrictEqual([])
      expect(result.delimiter).toBe("/")
      expect(result.prefix).toBe("")
      expect(result.isTruncated).toBe(false)
    }))

  it.effect("an account with no products lists nothing; an unknown account is NoSuchBucket", () =>
    Effect.gen(function*() {
      for (const delimiter of ["/", ""]) {
        const empty = yield* listAccount("empty-account", listParams({ delimiter }))
        expect([empty.commonPrefixes, empty.contents, empty.isTruncated]).toStrictEqual([[], [], false])
        expect((yield* Effect.flip(listAccount("nobody", listParams({ delimiter }))))._tag).toBe("NoSuchBucket")
      }
    }))

  it.effect("a partial product name with delimiter narrows the product list", () =>
    Effect.gen(function*() {
      const result = yield* listAccount("demo", listParams({ prefix: "sam", delimiter: "/" }))
      expect(result.commonPrefixes).toStrictEqual(["sample/"])
      expect(result.prefix).toBe("sam")
    }))

  it.effect("prefix-routed: `{product}/…` lists inside the product", () =>
    Effect.gen(function*() {
      const result = yield* listAccount("demo", listParams({ prefix: "sample/dir/", delimiter: "/" }))
      expect(keysOf(result)).toStrictEqual(sampleKeys(["dir/", "dir/1.txt", "dir/2.txt"]))
      expect(result.commonPrefixes).toStrictEqual(["sample/dir/sub/"])
      expect(result.prefix).toBe("sample/dir/")
      expect(result.bucket).toBe("demo")
    }))

  it.effect("prefix-routed: a bare product name without delimiter lists the product, echoing the prefix", () =>
    Effect.gen(function*() {
      const result = yield* listAccount("demo", listParams({ prefix: "sample" }))
      expect(keysOf(result)).toStrictEqual(sampleKeys(SAMPLE_KEYS))
      expect(result.prefix).toBe("sample")
    }))

  it.effect("prefix-routed to a restricted or unknown product fails as the product does", () =>
    Effect.gen(function*() {
      expect((yield* Effect.flip(listAccount("demo", listParams({ prefix: "private/" }))))._tag).toBe("AccessDenied")
      expect((yield* Effect.flip(listAccount("demo", listParams({ prefix: "nope/x" }))))._tag).toBe("NoSuchBucket")
    }))

  it.effect("max-keys=0 is empty and not truncated", () =>
    Effect.gen(function*() {
      const result = yield* listAccount("demo", listParams({ maxKeys: 0 }))
      expect(result.commonPrefixes).toStrictEqual([])
      expect(result.isTruncated).toBe(false)
    }))

  for (const version of [1, 2] as const) {
    it.effect(`V${version}: products paginate, each exactly once`, () =>
      Effect.gen(function*() {
        const seen: Array<string> = []
        let after: string | undefined
        for (let pages = 0; pages < 10; pages++) {
          const page = yield* listAccount(
            "demo",
            listParams(version === 2
              ? { version, delimiter: "/", maxKeys: 3, continuationToken: after }
              : { version, delimiter: "/", maxKeys: 3, startAfter: after })
          )
          expect(page.commonPrefixes.length).toBeLessThanOrEqual(3)
          seen.push(...page.commonPrefixes)
          if (!page.isTruncated) break
          after = version === 2 ? page.nextContinuationToken : page.nextMarker
          expect(after).toBe(page.commonPrefixes.at(-1))
        }
        expect(seen).toStrictEqual(PUBLIC_PRODUCTS)
      }))
  }

  it.effect("V2 start-after skips products up to it", () =>
    Effect.gen(function*() {
      const result = yield* listAccount("demo", listParams({ delimiter: "/", startAfter: "nomirror/" }))
      expect(result.commonPrefixes).toStrictEqual(["sample/", "zeta/"])
    }))
})
