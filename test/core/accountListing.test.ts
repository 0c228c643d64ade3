import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import fc from "fast-check"
import { impossiblePosition } from "../../src/core/backends/keys.js"
import { Storage } from "../../src/core/backends/ObjectStore.js"
import { storageOf } from "../../src/core/backends/Storage.js"
import { anonymous, type Identity } from "../../src/core/authz/Identity.js"
import { PRODUCTS_PER_PAGE } from "../../src/core/operations/accountListing.js"
import { listAccount } from "../../src/core/operations/list.js"
import type { ListParams } from "../../src/core/s3/listParams.js"
import type { ListResult } from "../../src/core/s3/listResult.js"
import { compareUtf8 } from "../../src/core/shared/utf8.js"
import { type CatalogDocument, LocalCatalog } from "../../src/layers/LocalCatalog.js"
import { listParams } from "../fixtures/listing.js"
import { memoryProvider, type MemoryObject } from "../fixtures/memoryStore.js"
import { sessionIdentity } from "../fixtures/identities.js"

/**
 * The account listing without a delimiter (docs/listing.md#account-listing-without-a-delimiter): every key of
 * every product the caller may list, in key order, paged across products by an opaque token (V2) or the last key
 * (V1).
 */

interface World {
  readonly products: ReadonlyArray<{ readonly id: string; readonly restricted: boolean; readonly keys: ReadonlyArray<string> }>
}

const worldOf = (world: World) => {
  const document: CatalogDocument = {
    accounts: ["acct"],
    users: ["member", "outsider"],
    permissions: [{ principal: "member", product: "acct/*", permissions: ["read"] }],
    products: world.products.map((p) => ({
      account_id: "acct",
      product_id: p.id,
      visibility: p.restricted ? "restricted" : "public",
      disabled: false,
      metadata: { primary_mirror: "m", mirrors: { m: { connection_id: "mem", prefix: `data/${p.id}/` } } }
    })),
    data_connections: [{ data_connection_id: "mem", read_only: true, details: { provider: "memory", bucket: "b" } }]
  }
  const objects: Array<MemoryObject> = world.products.flatMap((p) => p.keys.map((k) => ({ key: `data/${p.id}/${k}`, body: k })))
  const provider = memoryProvider({ b: objects })
  return {
    layer: Layer.mergeAll(LocalCatalog(document), Layer.succeed(Storage, storageOf({ memory: provider.open }))),
    lists: provider.stores.get("b")!.lists,
    expected: (visible: (restricted: boolean) => boolean) =>
      world.products.filter((p) => visible(p.restricted)).flatMap((p) => p.keys.map((k) => `${p.id}/${k}`)).sort(compareUtf8)
  }
}

const user = (name: string): Identity =>
  sessionIdentity({ sub: "sc::acct::role/_default", account_id: "acct", assumed_by: name, assumed_by_issuer: "https://idp.test" })

/** Every page of the listing, following NextContinuationToken (V2) or NextMarker (V1). */
const allPages = (params: ListParams, caller: Identity) =>
  Effect.gen(function*() {
    const pages: Array<ListResult> = []
    let next: string | undefined
    for (let i = 0; i < 500; i++) {
      const page = yield* listAccount(
        "acct",
        params.version === 2 ? { ...params, continuationToken: next } : { ...params, startAfter: next ?? params.startAfter },
        caller
      )
      pages.push(page)
      if (!page.isTruncated) return pages
      next = params.version === 2 ? page.nextContinuationToken : page.nextMarker
      expect(next).toBeDefined()
    }
    throw new Error("the listing did not end")
  })

const productId = fc.stringMatching(/^[a-c][a-c\-.]{0,3}$/)
const keyArb = fc.stringMatching(/^[a-c\-./é]{1,6}$/).filter((k) => !k.split("/").some((s) => s === "" || s === "." || s === ".."))
const worldArb: fc.Arbitrary<World> = fc.uniqueArray(productId, { maxLength: 6 }).chain((ids) =>
  fc.tuple(...ids.map((id) =>
    fc.record({ id: fc.constant(id), restricted: fc.boolean(), keys: fc.uniqueArray(keyArb, { maxLength: 6 }) })
  )).map((products) => ({ products }))
)

describe("account listing without a delimiter", () => {
  it.effect.prop(
    "pages concatenate to every listable key once, in key order, none over max-keys, for V1 and V2 and each caller",
    [worldArb, fc.integer({ min: 1, max: 5 }), fc.constantFrom(1, 2) as fc.Arbitrary<1 | 2>, fc.constantFrom("anonymous", "member", "outsider")],
    ([world, maxKeys, version, who]) => {
      const { layer, expected } = worldOf(world)
      const caller = who === "anonymous" ? anonymous : user(who)
      return Effect.gen(function*() {
        const pages = yield* allPages(listParams({ version, maxKeys }), caller)
        for (const page of pages) {
          expect(page.contents.length).toBeLessThanOrEqual(maxKeys)
          expect(page.delimiter).toBe("") // none asked for, none echoed
          expect(page.commonPrefixes).toStrictEqual([])
        }
        expect(pages.flatMap((p) => p.contents.map((c) => c.key)))
          .toStrictEqual(expected((restricted) => !restricted || who === "member"))
      }).pipe(Effect.provide(layer))
    },
    { fastCheck: { numRuns: 150 } }
  )

  it.effect.prop(
    "a prefix without `/` and a start-after: exactly the listable keys that match and sort after it",
    [worldArb, fc.stringMatching(/^[a-c]{0,2}$/), fc.option(fc.stringMatching(/^[a-c\-./]{1,5}$/), { nil: undefined })],
    ([world, prefix, startAfter]) => {
      const { layer, expected } = worldOf(world)
      return Effect.gen(function*() {
        const pages = yield* allPages(listParams({ version: 2, maxKeys: 2, prefix, startAfter }), user("member"))
        // A start-after inside a product that names an impossible position (`p//`, `p/../`) lists nothing of that
        // product: the listing fence answers it before any backend is asked (listingFence.test.ts).
        const fenced = (k: string) =>
          startAfter !== undefined && impossiblePosition(startAfter) && startAfter.startsWith(k.slice(0, k.indexOf("/") + 1))
        const want = expected(() => true).filter((k) => k.startsWith(prefix))
          .filter((k) => startAfter === undefined || (compareUtf8(k, startAfter) > 0 && !fenced(k)))
        expect(pages.flatMap((p) => p.contents.map((c) => c.key))).toStrictEqual(want)
        expect(pages[0]!.prefix).toBe(prefix)
      }).pipe(Effect.provide(layer))
    },
    { fastCheck: { numRuns: 150 } }
  )

  it.effect("a page visits a bounded number of products: many empty ones end the page truncated, not in one request", () => {
    const ids = Array.from({ length: 3 * PRODUCTS_PER_PAGE }, (_, i) => `p${String(i).padStart(3, "0")}`)
    const { layer, lists } = worldOf({ products: ids.map((id, i) => ({ id, restricted: false, keys: i === ids.length - 1 ? ["last.txt"] : [] })) })
    return Effect.gen(function*() {
      const first = yield* listAccount("acct", listParams({ maxKeys: 1000 }))
      expect(lists.length).toBe(PRODUCTS_PER_PAGE)
      expect(first.contents).toStrictEqual([])
      expect(first.isTruncated).toBe(true)
      const pages = yield* allPages(listParams({ maxKeys: 1000 }), anonymous)
      expect(pages.flatMap((p) => p.contents.map((c) => c.key))).toStrictEqual([`${ids.at(-1)}/last.txt`])
    }).pipe(Effect.provide(layer))
  })

  it.effect("a continuation token that the proxy did not issue is 400 InvalidArgument", () => {
    const { layer } = worldOf({ products: [{ id: "a", restricted: false, keys: ["x"] }] })
    return Effect.gen(function*() {
      for (const token of ["garbage", "sdp1.!!!", "sdp1.eyJ4IjoxfQ"]) {
        const error = yield* Effect.flip(listAccount("acct", listParams({ continuationToken: token })))
        expect(error._tag).toBe("InvalidArgument")
      }
    }).pipe(Effect.provide(layer))
  })

  it.effect("with delimiter=/ a session also sees the restricted products its principal may read", () => {
    const { layer } = worldOf({
      products: [{ id: "open", restricted: false, keys: ["x"] }, { id: "vault", restricted: true, keys: ["y"] }]
    })
    return Effect.gen(function*() {
      const prefixes = (caller: Identity) =>
        Effect.map(listAccount("acct", listParams({ delimiter: "/" }), caller), (r) => r.commonPrefixes)
      expect(yield* prefixes(anonymous)).toStrictEqual(["open/"])
      expect(yield* prefixes(user("outsider"))).toStrictEqual(["open/"])
      expect(yield* prefixes(user("member"))).toStrictEqual(["open/", "vault/"])
    }).pipe(Effect.provide(layer))
  })
})
