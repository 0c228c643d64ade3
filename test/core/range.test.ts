import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import { evaluatePreconditions, type Precondition } from "../../src/core/s3/preconditions.js"
import { type ByteRange, parseContentRange, parseRange, resolveRange } from "../../src/core/s3/range.js"

const partial = (start: number, end: number): ByteRange => ({ _tag: "Partial", start, end })
const FULL: ByteRange = { _tag: "Full" }
const UNSATISFIABLE: ByteRange = { _tag: "Unsatisfiable" }

describe("resolveRange", () => {
  const cases: ReadonlyArray<readonly [string | null, number, ByteRange]> = [
    [null, 100, FULL],
    ["bytes=0-9", 100, partial(0, 9)],
    ["bytes=0-0", 100, partial(0, 0)],
    ["bytes=10-", 100, partial(10, 99)],
    ["bytes=99-", 100, partial(99, 99)],
    ["bytes=50-1000", 100, partial(50, 99)],
    ["bytes=-10", 100, partial(90, 99)],
    ["bytes=-1000", 100, partial(0, 99)],
    ["bytes=-100", 100, partial(0, 99)],
    ["BYTES = 1 - 2 ", 100, partial(1, 2)],
    ["bytes=100-", 100, UNSATISFIABLE],
    ["bytes=100-200", 100, UNSATISFIABLE],
    ["bytes=-0", 100, UNSATISFIABLE],
    ["bytes=0-", 0, UNSATISFIABLE],
    ["bytes=-5", 0, UNSATISFIABLE],
    ["bytes=9-5", 100, FULL],
    ["bytes=-", 100, FULL],
    ["bytes=0-1,5-6", 100, FULL],
    ["items=0-5", 100, FULL],
    ["bytes=a-b", 100, FULL],
    ["", 100, FULL],
    ["0-5", 100, FULL]
  ]
  for (const [header, size, expected] of cases) {
    it(`${JSON.stringify(header)} of ${size} bytes → ${JSON.stringify(expected)}`, () => {
      expect(resolveRange(header, size)).toStrictEqual(expected)
    })
  }

  const header = fc.oneof(
    fc.tuple(fc.nat(2000), fc.nat(2000)).map(([a, b]) => `bytes=${a}-${b}`),
    fc.nat(2000).map((a) => `bytes=${a}-`),
    fc.nat(2000).map((n) => `bytes=-${n}`),
    fc.string({ maxLength: 12 }).map((s) => `bytes=${s}`)
  )

  it.prop("a Partial range lies within [0, size-1] with start ≤ end", [header, fc.nat(1500)], ([h, size]) => {
    const range = resolveRange(h, size)
    if (range._tag === "Partial") {
      expect(range.start).toBeGreaterThanOrEqual(0)
      expect(range.start).toBeLessThanOrEqual(range.end)
      expect(range.end).toBeLessThanOrEqual(size - 1)
      expect(Number.isInteger(range.start) && Number.isInteger(range.end)).toBe(true)
    }
  }, { fastCheck: { numRuns: 500 } })

  it.prop("a satisfiable first-byte range starts where asked", [fc.nat(1000), fc.nat(1000), fc.integer({ min: 1, max: 1000 })], ([a, n, size]) => {
    const range = resolveRange(`bytes=${a}-${a + n}`, size)
    expect(range).toStrictEqual(a < size ? partial(a, Math.min(a + n, size - 1)) : UNSATISFIABLE)
  })

  it.prop("an open range `bytes=a-` is the tail from a, or unsatisfiable from the end on", [fc.nat(1000), fc.nat(1000)], ([a, size]) => {
    expect(resolveRange(`bytes=${a}-`, size)).toStrictEqual(a < size ? partial(a, size - 1) : UNSATISFIABLE)
  })
})

/** Today's grammar as the regex it used to be (quadratic on long runs of spaces): the reference, for short inputs. */
const RANGE_REGEX = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i

/** resolveRange as it was, over that regex. */
const referenceResolve = (header: string | null, size: number): ByteRange => {
  const match = header === null ? null : RANGE_REGEX.exec(header)
  if (match === null) return FULL
  const [, first = "", last = ""] = match
  if (first === "" && last === "") return FULL
  if (first === "") {
    const suffix = Number(last)
    if (suffix === 0 || size === 0) return UNSATISFIABLE
    return partial(Math.max(0, size - suffix), size - 1)
  }
  const start = Number(first)
  if (last !== "" && Number(last) < start) return FULL
  if (start >= size) return UNSATISFIABLE
  return partial(start, Math.min(last === "" ? size - 1 : Number(last), size - 1))
}

describe("parseRange", () => {
  /** Short headers from the grammar's own pieces, near-misses included: every `\s` kind, case, commas, letters. */
  const token = fc.constantFrom(
    "bytes", "BYTES", "Bytes", "byte", "bytesx", "=", "-", "0", "1", "7", "10", "00", "999", " ", "  ", "\t", "\n", "\r",
    "\u000b", "\u00a0", "\u2003", "\u3000", "\ufeff", "\u200b", ",", "x", "a", "s", "ſ", "+", ";"
  )
  const space = fc.array(fc.constantFrom(" ", "\t", "\n", "\u000b", "\u00a0", "\u2003", "\ufeff", "\u200b"), { maxLength: 2 })
    .map((parts) => parts.join(""))
  const digits = fc.constantFrom("", "0", "5", "12", "007", "999")
  /** Well-formed but for the spaces (every `\s` kind, and one that is not) and the unit's case. */
  const spaced = fc.tuple(fc.constantFrom("bytes", "BYTES", "bYtEs"), digits, digits, fc.array(space, { minLength: 6, maxLength: 6 }))
    .map(([unit, first, last, [a, b, c, d, e, f]]) => `${a}${unit}${b}=${c}${first}${d}-${e}${last}${f}`)
  const shortHeader = fc.oneof(
    spaced,
    fc.array(token, { maxLength: 10 }).map((parts) => parts.join("")),
    fc.tuple(fc.array(token, { maxLength: 3 }), fc.array(token, { maxLength: 3 }), fc.array(token, { maxLength: 3 }))
      .map(([a, b, c]) => `${a.join("")}bytes${b.join("")}=${c.join("")}`),
    fc.tuple(fc.array(token, { maxLength: 4 }), fc.array(token, { maxLength: 4 }))
      .map(([a, b]) => `bytes=${a.join("")}-${b.join("")}`)
  )

  it.prop("accepts exactly what the old regex accepted, with the same digits", [shortHeader], ([header]) => {
    const match = RANGE_REGEX.exec(header)
    const [, first = "", last = ""] = match ?? []
    const valid = match !== null && (first !== "" || last !== "") && (first === "" || last === "" || Number(last) >= Number(first))
    expect(parseRange(header)).toStrictEqual(valid ? { first, last } : undefined)
  }, { fastCheck: { numRuns: 3000 } })

  it.prop("resolveRange agrees with the regex-based original", [shortHeader, fc.nat(1200)], ([header, size]) => {
    expect(resolveRange(header, size)).toStrictEqual(referenceResolve(header, size))
  }, { fastCheck: { numRuns: 3000 } })

  // A million characters: linear work is milliseconds, the old regex's backtracking (quadratic in the run of
  // spaces, ~220 ms at 16 000) would take many minutes.
  const LONG = 1_000_000
  const spaces = " ".repeat(LONG)
  it.each([
    ["`bytes=1-`, spaces, `x`", `bytes=1-${spaces}x`],
    ["`bytes=`, spaces, `x`", `bytes=${spaces}x`],
    ["`bytes=1`, spaces, `x`", `bytes=1${spaces}x`],
    ["`bytes`, spaces, `x`", `bytes${spaces}x`],
    ["`bytes=0-1`, spaces, `,2-3`", `bytes=0-1${spaces},2-3`]
  ])("a pathological header (%s, %i characters) is ignored: the whole object", (_, header) => {
    expect(header.length).toBeGreaterThan(LONG)
    expect(parseRange(header)).toBeUndefined()
    expect(resolveRange(header, 100)).toStrictEqual(FULL)
  })

  it("a valid range padded with a million spaces still parses", () => {
    expect(resolveRange(`${spaces}bytes${spaces}=${spaces}1${spaces}-${spaces}2${spaces}`, 100)).toStrictEqual(partial(1, 2))
  })

  it("numbers beyond 2^53 resolve within the object, or not at all", () => {
    const huge = "9".repeat(400) // Number() gives Infinity
    expect(resolveRange("bytes=99999999999999999999-", 100)).toStrictEqual(UNSATISFIABLE)
    expect(resolveRange(`bytes=${huge}-`, 100)).toStrictEqual(UNSATISFIABLE)
    expect(resolveRange(`bytes=0-${huge}`, 100)).toStrictEqual(partial(0, 99))
    expect(resolveRange(`bytes=10-99999999999999999999`, 100)).toStrictEqual(partial(10, 99))
    expect(resolveRange(`bytes=-${huge}`, 100)).toStrictEqual(partial(0, 99))
    expect(parseRange(`bytes=0-${huge}`)).toStrictEqual({ first: "0", last: huge })
  })
})

describe("evaluatePreconditions", () => {
  const current = { etag: "\"abc\"", lastModified: new Date("2024-01-02T03:04:05.678Z") }
  const EARLIER = "Tue, 02 Jan 2024 03:04:04 GMT"
  const SAME = "Tue, 02 Jan 2024 03:04:05 GMT" // one-second resolution: the object's time, truncated
  const LATER = "Tue, 02 Jan 2024 03:04:06 GMT"

  const cases: ReadonlyArray<readonly [string, Record<string, string>, Precondition]> = [
    ["no preconditions", {}, "Proceed"],
    ["If-Match equal", { "if-match": "\"abc\"" }, "Proceed"],
    ["If-Match unquoted", { "if-match": "abc" }, "Proceed"],
    ["If-Match in a list", { "if-match": "\"x\", \"abc\"" }, "Proceed"],
    ["If-Match *", { "if-match": "*" }, "Proceed"],
    ["If-Match different", { "if-match": "\"xyz\"" }, "PreconditionFailed"],
    ["If-Unmodified-Since later", { "if-unmodified-since": LATER }, "Proceed"],
    ["If-Unmodified-Since same second", { "if-unmodified-since": SAME }, "Proceed"],
    ["If-Unmodified-Since earlier", { "if-unmodified-since": EARLIER }, "PreconditionFailed"],
    ["If-Unmodified-Since unparseable", { "if-unmodified-since": "yesterday" }, "Proceed"],
    ["If-Match wins over If-Unmodified-Since", { "if-match": "\"abc\"", "if-unmodified-since": EARLIER }, "Proceed"],
    ["If-None-Match equal", { "if-none-match": "\"abc\"" }, "NotModified"],
    ["If-None-Match weak equal", { "if-none-match": "W/\"abc\"" }, "NotModified"],
    ["If-None-Match *", { "if-none-match": "*" }, "NotModified"],
    ["If-None-Match different", { "if-none-match": "\"xyz\"" }, "Proceed"],
    ["If-Modified-Since same second", { "if-modified-since": SAME }, "NotModified"],
    ["If-Modified-Since later", { "if-modified-since": LATER }, "NotModified"],
    ["If-Modified-Since earlier", { "if-modified-since": EARLIER }, "Proceed"],
    ["If-Modified-Since unparseable", { "if-modified-since": "garbage" }, "Proceed"],
    ["If-None-Match different wins over If-Modified-Since", { "if-none-match": "\"xyz\"", "if-modified-since": LATER }, "Proceed"],
    ["If-Match fails before If-None-Match", { "if-match": "\"xyz\"", "if-none-match": "\"abc\"" }, "PreconditionFailed"],
    ["If-Match ok then If-None-Match matches", { "if-match": "\"abc\"", "if-none-match": "\"abc\"" }, "NotModified"],
    ["If-Unmodified-Since fails before If-Modified-Since", { "if-unmodified-since": EARLIER, "if-modified-since": LATER }, "PreconditionFailed"]
  ]
  for (const [name, headers, expected] of cases) {
    it(`${name} → ${expected}`, () => {
      expect(evaluatePreconditions(new Headers(headers), current)).toBe(expected)
    })
  }
})

describe("parseContentRange (a backend's Content-Range)", () => {
  it("reads a satisfied range, an unsatisfied one and Azurite's end-of-blob forms", () => {
    expect(parseContentRange("bytes 0-15/100")).toEqual({ start: 0, end: 15, size: 100 })
    expect(parseContentRange("BYTES  10-19/20 ")).toEqual({ start: 10, end: 19, size: 20 })
    expect(parseContentRange("bytes */100")).toEqual({ start: undefined, end: undefined, size: 100 })
    expect(parseContentRange("bytes 7-6/7")).toEqual({ start: 7, end: 6, size: 7 })
    expect(parseContentRange("bytes 0--1/0")).toEqual({ start: 0, end: -1, size: 0 })
  })
  it("is undefined when absent or malformed", () => {
    for (const value of [null, "", "bytes 0-15", "items 0-15/100", "bytes 0-15/*", "bytes a-b/100", "0-15/100", "bytes 0-15/100 extra"]) {
      expect(parseContentRange(value)).toBeUndefined()
    }
  })
  it.prop("reads back what it is given", [fc.nat(), fc.nat(), fc.nat()], ([start, length, extra]) => {
    const end = start + length
    expect(parseContentRange(`bytes ${start}-${end}/${end + 1 + extra}`)).toEqual({ start, end, size: end + 1 + extra })
  })
})
