import { describe, expect, it } from "@effect/vitest"
import { Effect, FastCheck as fc } from "effect"
import { backendKey, clientKeys, encodeKey, relativeKey } from "../../src/core/backends/keys.js"
import { splitPath } from "../../src/core/routing/classify.js"
import { keyProblem } from "../../src/core/s3/keys.js"
import { compareUtf8 } from "../../src/core/shared/utf8.js"
import { uriEncode } from "../../src/core/s3/uriEncode.js"
import { control, safeKey, safeSegment } from "../fixtures/arbitraries.js"

describe("splitPath", () => {
  const cases: ReadonlyArray<readonly [string, readonly [string | undefined, string | undefined, string | undefined]]> = [
    ["/", [undefined, undefined, undefined]],
    ["", [undefined, undefined, undefined]],
    ["/a", ["a", undefined, undefined]],
    ["/a/", ["a", undefined, undefined]],
    ["/a/p", ["a", "p", undefined]],
    ["/a/p/", ["a", "p", undefined]],
    ["/a/p/d/f", ["a", "p", "d/f"]],
    ["/a/p/d/f/", ["a", "p", "d/f/"]],
    ["/a%20b/p%2Bq/k%20ey", ["a b", "p+q", "k ey"]],
    ["/a/p/x%2Fy", ["a", "p", "x/y"]],
    ["/a%2Fb/p/k", ["a/b", "p", "k"]],
    ["/a/p%2Fq/k", ["a", "p/q", "k"]],
    ["/a/p/a+b", ["a", "p", "a+b"]],
    ["/a/p/%C3%BC", ["a", "p", "ü"]]
  ]
  for (const [path, [account, product, key]] of cases) {
    it.effect(`${JSON.stringify(path)} → ${JSON.stringify([account, product, key])}`, () =>
      Effect.gen(function*() {
        expect(yield* splitPath(path)).toStrictEqual({ account, product, key })
      }))
  }

  for (const path of ["/%zz", "/a/%zz", "/a/p/%zz", "/a/p/k%", "/a/p/%E0%A4%A", "/a/p/%C3"]) {
    it.effect(`${path} is InvalidURI`, () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(splitPath(path))
        expect(error._tag).toBe("InvalidURI")
      }))
  }

  it.effect.prop("a key encoded with uriEncode comes back whole, however many slashes it holds", [safeKey], ([key]) =>
    Effect.gen(function*() {
      const parts = yield* splitPath(`/acct/prod/${uriEncode(key)}`)
      expect(parts).toStrictEqual({ account: "acct", product: "prod", key })
    }))

  it.effect.prop("an account with an encoded slash stays one segment", [safeSegment, safeSegment], ([a, b]) =>
    Effect.gen(function*() {
      const parts = yield* splitPath(`/${encodeURIComponent(`${a}/${b}`)}/prod/k`)
      expect(parts.account).toBe(`${a}/${b}`)
      expect(parts.product).toBe("prod")
    }))
})

describe("keyProblem", () => {
  for (const key of ["a", "a/b", "dir/file.parquet", "a b", "a+b", "ü/€", "...", ".a", "a.", "a/.b/c", "...", "a/", "a/b/", "x/.y/"]) {
    it(`accepts ${JSON.stringify(key)}`, () => expect(keyProblem(key)).toBe(false))
  }
  for (
    const key of ["", "/", "//", "/a", "/a/", "a//", "a//b", "a//b/", ".", "..", "./", "../", "./x/", "a/./", "a/../", "a/./b", "a/../b", "../a", "a/..", "a\nb", "a\u0000", "\u007f", "a\tb", "a\n/"]
  ) {
    it(`refuses ${JSON.stringify(key)}`, () => expect(keyProblem(key)).toBe(true))
  }

  it.prop("keys made of safe segments are accepted", [safeKey], ([key]) => {
    expect(keyProblem(key)).toBe(false)
  })

  it.prop("a folder marker (a safe key and one trailing slash) is accepted, two trailing slashes are not", [safeKey], ([key]) => {
    expect(keyProblem(`${key}/`)).toBe(false)
    expect(keyProblem(`${key}//`)).toBe(true)
  })

  it.prop(
    "a key with an empty, `.` or `..` segment anywhere is refused, but for a folder marker's one trailing slash",
    [fc.array(safeSegment, { maxLength: 4 }), fc.array(safeSegment, { maxLength: 4 }), fc.constantFrom("", ".", ".."), fc.boolean()],
    ([before, after, bad, marker]) => {
      const key = [...before, bad, ...after].join("/") + (marker ? "/" : "")
      const folderMarker = bad === "" && after.length === 0 && before.length > 0 && !marker
      expect(keyProblem(key)).toBe(!folderMarker)
    }
  )

  it.prop("a key with a control character anywhere is refused", [safeKey, fc.nat(), control], ([key, at, control]) => {
    const i = at % (key.length + 1)
    expect(keyProblem(key.slice(0, i) + control + key.slice(i))).toBe(true)
  })
})

describe("compareUtf8", () => {
  const bytes = (s: string) => Buffer.from(s, "utf8")
  const sign = (n: number) => Math.sign(n)

  it("orders by UTF-8 bytes, not UTF-16 units", () => {
    // U+FF5E (EF BD 9E) < U+1F600 (F0 9F 98 80) in UTF-8, but "\uff5e" > "\ud83d" in UTF-16
    expect(compareUtf8("\uff5e", "😀")).toBe(-1)
    expect("\uff5e" < "😀").toBe(false)
    expect(compareUtf8("a", "a")).toBe(0)
    expect(compareUtf8("a", "ab")).toBe(-1)
    expect(compareUtf8("b", "ab")).toBe(1)
    expect(compareUtf8("a/", "a-")).toBe(1)
  })

  it.prop(
    "agrees with Buffer.compare of the UTF-8 bytes",
    [fc.string({ unit: "grapheme", maxLength: 8 }), fc.string({ unit: "grapheme", maxLength: 8 })],
    ([a, b]) => {
      expect(sign(compareUtf8(a, b))).toBe(Buffer.compare(bytes(a), bytes(b)))
    },
    { fastCheck: { numRuns: 500 } }
  )

  it.prop(
    "agrees with Buffer.compare on strings sharing a prefix",
    [
      fc.string({ unit: "grapheme", maxLength: 4 }),
      fc.string({ unit: "grapheme", maxLength: 3 }),
      fc.string({ unit: "grapheme", maxLength: 3 })
    ],
    ([prefix, a, b]) => {
      expect(sign(compareUtf8(prefix + a, prefix + b))).toBe(Buffer.compare(bytes(prefix + a), bytes(prefix + b)))
    },
    { fastCheck: { numRuns: 500 } }
  )
})

describe("uriEncode / encodeKey", () => {
  const cases: ReadonlyArray<readonly [string, string]> = [
    ["a b", "a%20b"],
    ["a+b", "a%2Bb"],
    ["a=b", "a%3Db"],
    ["ü", "%C3%BC"],
    ["a*.bin", "a%2A.bin"],
    ["a%b", "a%25b"],
    ["~", "~"],
    ["!'()", "%21%27%28%29"],
    ["dir/sub/file.txt", "dir/sub/file.txt"],
    ["A-Za-z0-9-._~", "A-Za-z0-9-._~"],
    ["a&b?c#d", "a%26b%3Fc%23d"],
    ["😀", "%F0%9F%98%80"]
  ]
  for (const [key, encoded] of cases) {
    it(`${JSON.stringify(key)} → ${encoded}`, () => {
      expect(uriEncode(key)).toBe(encoded)
      expect(encodeKey(key)).toBe(encoded)
    })
  }

  it.prop("leaves only A-Za-z0-9-._~/ unencoded and decodes back", [fc.string({ unit: "grapheme", maxLength: 16 })], ([text]) => {
    const encoded = uriEncode(text)
    expect(encoded).toMatch(/^(?:[A-Za-z0-9\-._~/]|%[0-9A-F]{2})*$/)
    expect(decodeURIComponent(encoded)).toBe(text)
  })
})

describe("backendKey / relativeKey", () => {
  it("joins on one slash and strips it back", () => {
    expect(backendKey("base/demo/", "a.txt")).toBe("base/demo/a.txt")
    expect(backendKey("base/demo", "a.txt")).toBe("base/demo/a.txt")
    expect(backendKey("base/demo//", "a.txt")).toBe("base/demo/a.txt")
    expect(backendKey("", "a.txt")).toBe("a.txt")
    expect(relativeKey("base/demo/", "base/demo/a.txt")).toBe("a.txt")
    expect(relativeKey("", "a.txt")).toBe("a.txt")
  })

  it.prop("relativeKey inverts backendKey", [fc.array(safeSegment, { maxLength: 3 }), fc.boolean(), safeKey], ([segments, slash, key]) => {
    const prefix = segments.join("/") + (slash && segments.length > 0 ? "/" : "")
    expect(relativeKey(prefix, backendKey(prefix, key))).toBe(key)
    expect(clientKeys("product/", prefix)(backendKey(prefix, key))).toBe(`product/${key}`)
  })
})
