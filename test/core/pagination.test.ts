import { describe, expect, it } from "@effect/vitest"
import { Effect, FastCheck as fc } from "effect"
import { listSorted, tokenIssuedFor } from "../../src/core/backends/listSorted.js"
import type { ListedObject, ListRequest } from "../../src/core/backends/ObjectStore.js"
import { compareUtf8 } from "../../src/core/shared/utf8.js"
import { parseQuery } from "../../src/core/http/query.js"
import { parseListParams } from "../../src/core/s3/listParams.js"
import { paginate } from "../../src/core/s3/pagination.js"
import { listRequest } from "../fixtures/listing.js"

const byUtf8 = (names: ReadonlyArray<string>) => [...names].sort(compareUtf8)

describe("paginate", () => {
  const letters = ["e", "d", "c", "b", "a"].map((n) => `${n}/`)

  it("sorts and cuts pages (the Rust proxy's cases, docs/listing.md#pagination-and-tokens)", () => {
    expect(paginate(letters, undefined, 2)).toStrictEqual({ items: ["a/", "b/"], isTruncated: true, next: "b/" })
    expect(paginate(letters, "b/", 2)).toStrictEqual({ items: ["c/", "d/"], isTruncated: true, next: "d/" })
    expect(paginate(letters, "d/", 2)).toStrictEqual({ items: ["e/"], isTruncated: false, next: undefined })
    expect(paginate([], undefined, 2)).toStrictEqual({ items: [], isTruncated: false, next: undefined })
    expect(paginate(letters, undefined, 5)).toStrictEqual({ items: ["a/", "b/", "c/", "d/", "e/"], isTruncated: false, next: undefined })
  })

  it("an after that is not a name starts after where it would sort", () => {
    expect(paginate(letters, "b", 10).items).toStrictEqual(["b/", "c/", "d/", "e/"])
    expect(paginate(letters, "z", 10).items).toStrictEqual([])
  })

  it.prop(
    "following `next` yields every name exactly once, in byte order",
    [fc.array(fc.string({ unit: "grapheme", maxLength: 4 }), { maxLength: 30 }), fc.integer({ min: 1, max: 8 })],
    ([names, maxKeys]) => {
      const seen: Array<string> = []
      let after: string | undefined
      for (let pages = 0;; pages++) {
        expect(pages).toBeLessThanOrEqual(names.length + 1)
        const page = paginate(names, after, maxKeys)
        expect(page.items.length).toBeLessThanOrEqual(maxKeys)
        seen.push(...page.items)
        if (!page.isTruncated) {
          expect(page.next).toBeUndefined()
          break
        }
        expect(page.next).toBe(page.items.at(-1))
        after = page.next
      }
      expect(seen).toStrictEqual(byUtf8([...new Set(names)]))
    }
  )

  it.prop("maxKeys 0 is an empty, final page", [fc.array(fc.string(), { maxLength: 10 }), fc.option(fc.string(), { nil: undefined })], ([names, after]) => {
    expect(paginate(names, after, 0)).toStrictEqual({ items: [], isTruncated: false, next: undefined })
  })
})

const object = (key: string): ListedObject => ({ key, size: 1, lastModified: new Date(0), etag: "\"e\"" })

/**
 * What one unbounded S3 listing returns: keys under the prefix after `startAfter`, those holding the
 * delimiter past the prefix rolled up into one common prefix each.
 */
const reference = (keys: ReadonlyArray<string>, prefix: string, delimiter: string, startAfter: string | undefined) => {
  const objects: Array<string> = []
  const prefixes: Array<string> = []
  for (const key of byUtf8(keys)) {
    if (!key.startsWith(prefix) || (startAfter !== undefined && compareUtf8(key, startAfter) <= 0)) continue
    const cut = delimiter === "" ? -1 : key.indexOf(delimiter, prefix.length)
    if (cut < 0) objects.push(key)
    else {
      const rolled = key.slice(0, cut + delimiter.length)
      if (prefixes.at(-1) !== rolled) prefixes.push(rolled)
    }
  }
  return { objects, prefixes }
}

/** Every page, following nextContinuationToken from a first request. */
const allPages = (keys: ReadonlyArray<string>, first: ListRequest) => {
  const sorted = byUtf8(keys).map(object)
  const objects: Array<string> = []
  const prefixes: Array<string> = []
  let token: string | undefined
  for (let pages = 0;; pages++) {
    if (pages > keys.length + 1) throw new Error("pagination does not end")
    const page = listSorted(sorted, { ...first, continuationToken: token })
    expect(page.objects.length + page.commonPrefixes.length).toBeLessThanOrEqual(first.maxKeys)
    objects.push(...page.objects.map((o) => o.key))
    prefixes.push(...page.commonPrefixes)
    if (page.nextContinuationToken === undefined) break
    expect(page.objects.length + page.commonPrefixes.length).toBeGreaterThan(0)
    token = page.nextContinuationToken
  }
  return { objects, prefixes }
}

const keyChar = fc.constantFrom("a", "b", "/", "-", "é", "😀")
/** Unique keys, with the folder-marker objects (`dir/`) S3 consoles create for some of their folders. */
const keySet = fc.uniqueArray(fc.string({ unit: keyChar, minLength: 1, maxLength: 5 }), { maxLength: 25 }).chain((keys) =>
  fc.subarray(keys.filter((k) => k.includes("/")).map((k) => k.slice(0, k.lastIndexOf("/") + 1))).map((markers) => [
    ...new Set([...keys, ...markers])
  ])
)
const prefixArb = fc.oneof(fc.constant(""), fc.string({ unit: keyChar, maxLength: 3 }))
/** A key set with a prefix that is often the beginning of one of its keys, or one of its folder markers. */
const keysAndPrefix = keySet.chain((keys) => {
  const markers = keys.filter((k) => k.endsWith("/"))
  return fc.tuple(
    fc.constant(keys),
    fc.oneof(
      prefixArb,
      ...(keys.length === 0 ? [] : [
        fc.tuple(fc.constantFrom(...keys), fc.nat()).map(([key, n]) => key.slice(0, n % (key.length + 1)))
      ]),
      ...(markers.length === 0 ? [] : [fc.constantFrom(...markers)])
    )
  )
})
const delimiterArb = fc.constantFrom("", "/")

describe("listSorted", () => {
  it("rolls up under a delimiter and pages on the last name", () => {
    const keys = ["a.txt", "dir/1", "dir/2", "dir/sub/3", "e.txt"].map(object)
    const first = listSorted(keys, listRequest({ delimiter: "/", maxKeys: 2 }))
    expect(first.objects.map((o) => o.key)).toStrictEqual(["a.txt"])
    expect(first.commonPrefixes).toStrictEqual(["dir/"])
    expect(first.nextContinuationToken).toBeDefined()
    const second = listSorted(keys, listRequest({ delimiter: "/", maxKeys: 2, continuationToken: first.nextContinuationToken }))
    expect(second.objects.map((o) => o.key)).toStrictEqual(["e.txt"])
    expect(second.commonPrefixes).toStrictEqual([])
    expect(second.nextContinuationToken).toBeUndefined()
  })

  it("start-after is exclusive and works with a name that is not a key", () => {
    const keys = ["a", "b", "c", "d"].map(object)
    expect(listSorted(keys, listRequest({ startAfter: "b" })).objects.map((o) => o.key)).toStrictEqual(["c", "d"])
    expect(listSorted(keys, listRequest({ startAfter: "bb" })).objects.map((o) => o.key)).toStrictEqual(["c", "d"])
    expect(listSorted(keys, listRequest({ startAfter: "d" })).objects).toStrictEqual([])
  })

  it("a folder marker equal to the prefix does not hide the folder's objects on the next page", () => {
    // S3 consoles create `dir/` objects; listing `prefix=dir/&delimiter=/` returns it first.
    const keys = ["dir/", "dir/a", "dir/b"].map(object)
    const all = allPages(keys.map((o) => o.key), listRequest({ prefix: "dir/", delimiter: "/", maxKeys: 1 }))
    expect(all.objects).toStrictEqual(["dir/", "dir/a", "dir/b"])
  })

  it.prop(
    "following nextContinuationToken yields the one-shot listing, nothing twice",
    [keysAndPrefix, delimiterArb, fc.integer({ min: 1, max: 6 })],
    ([[keys, prefix], delimiter, maxKeys]) => {
      const paged = allPages(keys, listRequest({ prefix, delimiter, maxKeys }))
      const expected = reference(keys, prefix, delimiter, undefined)
      expect(paged.objects).toStrictEqual(expected.objects)
      expect(paged.prefixes).toStrictEqual(expected.prefixes)
    },
    { fastCheck: { numRuns: 400 } }
  )

  it.prop(
    "start-after (not ending in the delimiter) then tokens yields everything after it",
    [keysAndPrefix, delimiterArb, fc.integer({ min: 1, max: 6 }), fc.string({ unit: keyChar, minLength: 1, maxLength: 4 })],
    ([[keys, prefix], delimiter, maxKeys, startAfter]) => {
      fc.pre(delimiter === "" || !startAfter.endsWith(delimiter))
      const paged = allPages(keys, listRequest({ prefix, delimiter, maxKeys, startAfter }))
      const expected = reference(keys, prefix, delimiter, startAfter)
      expect(paged.objects).toStrictEqual(expected.objects)
      expect(paged.prefixes).toStrictEqual(expected.prefixes)
    },
    { fastCheck: { numRuns: 300 } }
  )
})

describe("tokenIssuedFor: the tokens a listing over names hands out, and no others", () => {
  it.prop(
    "every token a page issues is recognised for the same listing",
    [keysAndPrefix, delimiterArb, fc.integer({ min: 1, max: 4 })],
    ([[keys, prefix], delimiter, maxKeys]) => {
      const sorted = byUtf8(keys).map(object)
      let request = listRequest({ prefix, delimiter, maxKeys })
      for (let pages = 0; pages <= keys.length; pages++) {
        const token = listSorted(sorted, request).nextContinuationToken
        if (token === undefined) return
        request = { ...request, continuationToken: token }
        expect(tokenIssuedFor(request)).toBe(true)
      }
    }
  )

  it("no token is fine; garbage, a non-canonical encoding or another prefix's position is not", () => {
    const request = (continuationToken: string | undefined) => listRequest({ prefix: "four/", continuationToken })
    expect(tokenIssuedFor(request(undefined))).toBe(true)
    expect(tokenIssuedFor(request("Zm91ci9iYXI"))).toBe(true) // "four/bar"
    for (const token of ["not a token", "bm90LWlzc3VlZA", "dGhyZWUvYmFy", "Zm91ci9iYXI=", "", "Zm91ci9iYXJ"]) {
      expect(tokenIssuedFor(request(token)), token).toBe(false)
    }
  })
})

describe("parseListParams", () => {
  const parse = (search: string) => Effect.runSync(parseListParams(parseQuery(search)))

  it("defaults: V1, empty prefix and delimiter, 1000 keys", () => {
    expect(parse("")).toStrictEqual({
      version: 1,
      prefix: "",
      delimiter: "",
      maxKeys: 1000,
      continuationToken: undefined,
      sentContinuationToken: undefined,
      startAfter: undefined,
      encodingType: undefined
    })
  })

  const maxKeys: ReadonlyArray<readonly [string, number]> = [
    ["max-keys=5", 5],
    ["max-keys=0", 0],
    ["max-keys=1000", 1000],
    ["max-keys=9999", 1000],
    ["max-keys=99999999999999999999", 1000],
    ["max-keys=007", 7]
  ]
  for (const [search, expected] of maxKeys) {
    it(`${search} → ${expected}`, () => expect(parse(search).maxKeys).toBe(expected))
  }

  // As S3 (docs/listing.md#parameters): anything but a non-negative integer is 400 InvalidArgument, not a silent
  // 1000.
  for (const search of ["max-keys=abc", "max-keys=-1", "max-keys=1.5", "max-keys=", "max-keys=%2012%20", "max-keys=1e3"]) {
    it(`${search} → InvalidArgument`, () => {
      const error = Effect.runSync(Effect.flip(parseListParams(parseQuery(search))))
      expect([error._tag, error.message]).toStrictEqual(["InvalidArgument", "Provided max-keys not an integer or within integer range"])
    })
  }

  it("V2 only when list-type is exactly 2", () => {
    expect(parse("list-type=2").version).toBe(2)
    expect(parse("list-type=1").version).toBe(1)
    expect(parse("list-type=02").version).toBe(1)
    expect(parse("not-list-type=2").version).toBe(1)
  })

  it("V1 reads marker, not start-after or the token", () => {
    const params = parse("marker=m%2F1&start-after=s&continuation-token=t")
    expect(params.startAfter).toBe("m/1")
    expect(params.continuationToken).toBeUndefined()
  })

  it("V2 reads start-after and the token, not marker", () => {
    const params = parse("list-type=2&marker=m&start-after=foo%2F&continuation-token=abc%2Fdef")
    expect(params.startAfter).toBe("foo/")
    expect(params.continuationToken).toBe("abc/def")
  })

  it("empty start-after, marker and token count as absent", () => {
    expect(parse("list-type=2&start-after=&continuation-token=").startAfter).toBeUndefined()
    expect(parse("list-type=2&start-after=&continuation-token=").continuationToken).toBeUndefined()
    expect(parse("marker=").startAfter).toBeUndefined()
  })

  it("an empty token is kept as sent, for the echo (s3-tests listv2_continuationtoken_empty); V1 sends none", () => {
    expect(parse("list-type=2&continuation-token=").sentContinuationToken).toBe("")
    expect(parse("list-type=2&continuation-token=abc%2Fdef").sentContinuationToken).toBe("abc/def")
    expect(parse("list-type=2").sentContinuationToken).toBeUndefined()
    expect(parse("continuation-token=t").sentContinuationToken).toBeUndefined()
  })

  it("decodes form-urlencoded values (`+` is a space) and keeps the first value", () => {
    const params = parse("prefix=a+b%2Bc/&delimiter=%2F&prefix=ignored&encoding-type=url")
    expect(params.prefix).toBe("a b+c/")
    expect(params.delimiter).toBe("/")
    expect(params.encodingType).toBe("url")
  })
})
