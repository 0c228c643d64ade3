import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import { evaluatePreconditions, type Precondition } from "../../src/core/s3/preconditions.js"
import { type ByteRange, resolveRange } from "../../src/core/s3/range.js"

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
