import { describe, expect, it, layer } from "@effect/vitest"
import { Effect, Encoding, FastCheck as fc, Layer } from "effect"
import { namesImpossiblePosition } from "../../src/core/backends/listSorted.js"
import { Storage } from "../../src/core/backends/ObjectStore.js"
import type { Catalog } from "../../src/core/catalog/Catalog.js"
import { storageOf } from "../../src/core/backends/Storage.js"
import { listAccount, listProduct } from "../../src/core/operations/list.js"
import type { ListResult } from "../../src/core/s3/listResult.js"
import { LocalCatalog } from "../../src/layers/LocalCatalog.js"
import { badPosition } from "../fixtures/arbitraries.js"
import { catalogDocument } from "../fixtures/catalog.js"
import { listParams, listRequest } from "../fixtures/listing.js"
import { memoryProvider } from "../fixtures/memoryStore.js"

/**
 * Issue #8: a prefix, start-after, marker or continuation token with an empty, `.` or `..` complete segment
 * (one followed by `/`) names no key that can exist. The core answers an empty, final page for it before
 * any backend is asked, so `../` can never walk out of a product.
 */

const KEYS = ["a.txt", "tables/.hidden", "tables/t.csv", "..foo/x", "..bar", "dir/sub/1.txt"]
const provider = memoryProvider({
  data: [
    ...KEYS.map((key) => ({ key: `base/demo/sample/${key}`, body: key })),
    { key: "base/demo/private/secret.txt", body: "secret" },
    { key: "base/.sdp-uploads/u/upload.json", body: "{}" }
  ]
})
const store = provider.stores.get("data")!
const Live = Layer.mergeAll(LocalCatalog(catalogDocument), Layer.succeed(Storage, storageOf({ memory: provider.open })))

const expectEmptyFinal = (result: ListResult) => {
  expect(result.contents).toStrictEqual([])
  expect(result.commonPrefixes).toStrictEqual([])
  expect(result.isTruncated).toBe(false)
  expect(result.nextContinuationToken).toBeUndefined()
  expect(result.nextMarker).toBeUndefined()
}

/** Runs `listing` and checks it answered an empty, final page without asking the store. */
const emptyWithoutBackend = (listing: Effect.Effect<ListResult, unknown, Catalog | Storage>) =>
  Effect.gen(function*() {
    const before = store.lists.length
    const result = yield* listing
    expectEmptyFinal(result)
    expect(store.lists.length).toBe(before)
  })

const keysOf = (result: ListResult) => result.contents.map((c) => c.key)

layer(Live)("listing fence (core)", (it) => {
  it.effect("the traversals of the issue list nothing", () =>
    Effect.gen(function*() {
      for (const prefix of ["../private/", "../../../../.dev/", "../../.sdp-uploads/", "/", "/private/", "./", "dir//"]) {
        yield* emptyWithoutBackend(listProduct("demo", "sample", listParams({ prefix: `sample/${prefix}` })))
      }
      yield* emptyWithoutBackend(listAccount("demo", listParams({ prefix: "sample/../private/" })))
      yield* emptyWithoutBackend(listProduct("demo", "sample", listParams({ prefix: "sample/", startAfter: "sample/../private/" })))
      yield* emptyWithoutBackend(listProduct("demo", "sample", listParams({ version: 1, prefix: "sample/", startAfter: "../private/" })))
    }))

  it.effect.prop(
    "a prefix with a bad complete segment: empty and final, the store never asked (product and account form)",
    [badPosition, fc.constantFrom(1, 2) as fc.Arbitrary<1 | 2>, fc.constantFrom("", "/")],
    ([position, version, delimiter]) =>
      Effect.gen(function*() {
        yield* emptyWithoutBackend(listProduct("demo", "sample", listParams({ version, delimiter, prefix: `sample/${position}` })))
        yield* emptyWithoutBackend(listAccount("demo", listParams({ version, delimiter, prefix: `sample/${position}` })))
      })
  )

  it.effect.prop(
    "a start-after (V2) or marker (V1) with a bad complete segment: empty and final, the store never asked",
    [badPosition, fc.constantFrom(1, 2) as fc.Arbitrary<1 | 2>, fc.boolean()],
    ([position, version, inProduct]) =>
      Effect.gen(function*() {
        const startAfter = inProduct ? `sample/${position}` : position
        yield* emptyWithoutBackend(listProduct("demo", "sample", listParams({ version, prefix: "sample/", startAfter })))
        yield* emptyWithoutBackend(listAccount("demo", listParams({ version, prefix: "sample/", startAfter })))
      })
  )

  it.effect("a final partial segment still matches: `tables/.` lists `.hidden`, `..` lists `..foo` and `..bar`", () =>
    Effect.gen(function*() {
      const hidden = yield* listProduct("demo", "sample", listParams({ prefix: "sample/tables/." }))
      expect(keysOf(hidden)).toStrictEqual(["sample/tables/.hidden"])
      const dots = yield* listProduct("demo", "sample", listParams({ prefix: "sample/.." }))
      expect(keysOf(dots)).toStrictEqual(["sample/..bar", "sample/..foo/x"])
      const after = yield* listProduct("demo", "sample", listParams({ prefix: "sample/tables/", startAfter: "sample/tables/." }))
      expect(keysOf(after)).toStrictEqual(["sample/tables/.hidden", "sample/tables/t.csv"])
    }))
})

describe("namesImpossiblePosition: what a store reading positions as paths refuses", () => {
  it.prop("a prefix, start-after or the name a continuation token stands for, with a bad complete segment", [badPosition], ([position]) => {
    const name = `demo/sample/${position}`
    expect(namesImpossiblePosition(listRequest({ prefix: "demo/sample/", continuationToken: Encoding.encodeBase64Url(name) }))).toBe(true)
    expect(namesImpossiblePosition(listRequest({ prefix: "demo/sample/", startAfter: name }))).toBe(true)
    expect(namesImpossiblePosition(listRequest({ prefix: name }))).toBe(true)
  })

  it("not a final partial segment, nor a start-after a token replaces", () => {
    for (const prefix of ["", "demo/sample/", "demo/sample/tables/.", "demo/sample/..", "demo/sample/..foo/"]) {
      expect(namesImpossiblePosition(listRequest({ prefix })), prefix).toBe(false)
    }
    const token = Encoding.encodeBase64Url("demo/sample/a.txt")
    expect(namesImpossiblePosition(listRequest({ startAfter: "../x/", continuationToken: token }))).toBe(false)
  })
})
