import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import { isoTimestamp } from "../../src/core/backends/isoTime.js"

/*
 * A listing's LastModified is read by digits where it has S3's form; whatever the text, the time must be the one
 * `new Date` reads (an invalid date included), so that no listing changes when the fast reading applies or not.
 */

const same = (text: string) => {
  const expected = new Date(text).getTime()
  const read = isoTimestamp(text).getTime()
  if (!Object.is(read, expected)) throw new Error(`${JSON.stringify(text)}: ${read} against new Date's ${expected}`)
}

const digits = (length: number) => fc.string({ unit: fc.constantFrom(..."0123456789"), minLength: length, maxLength: length })

/** The form's fields, each any two (or four, three) digits: months 13–99, 30 February, 24:00 and 23:59:60 included. */
const anyFields = fc.tuple(digits(4), digits(2), digits(2), digits(2), digits(2), digits(2), digits(3))
  .map(([y, mo, d, h, mi, s, ms]) => `${y}-${mo}-${d}T${h}:${mi}:${s}.${ms}Z`)

/** Days and times near the edges that are real, and the first invalid one after each. */
const edges = fc.tuple(
  fc.integer({ min: 0, max: 9999 }),
  fc.integer({ min: 1, max: 12 }),
  fc.constantFrom(1, 28, 29, 30, 31, 32),
  fc.constantFrom(0, 23, 24),
  fc.constantFrom(0, 59, 60),
  fc.constantFrom(0, 59, 60)
).map(([y, mo, d, h, mi, s]) =>
  `${String(y).padStart(4, "0")}-${String(mo).padStart(2, "0")}-${String(d).padStart(2, "0")}T${String(h).padStart(2, "0")}:${String(mi).padStart(2, "0")}:${String(s).padStart(2, "0")}.000Z`
)

describe("isoTimestamp", () => {
  it("reads every time of years 0000–9999 as toISOString writes it, as new Date does", () => {
    fc.assert(
      fc.property(fc.integer({ min: Date.parse("0000-01-01T00:00:00.000Z"), max: Date.parse("9999-12-31T23:59:59.999Z") }), (ms) => {
        const text = new Date(ms).toISOString()
        same(text)
        expect(isoTimestamp(text).getTime()).toBe(ms)
      }),
      { numRuns: 2000 }
    )
  })

  it("agrees with new Date on any digits in the form, and on days and times past their ends", () => {
    fc.assert(fc.property(anyFields, same), { numRuns: 2000 })
    fc.assert(fc.property(edges, same), { numRuns: 2000 })
  })

  it("agrees with new Date on other forms and on text with a character changed", () => {
    const changed = fc.tuple(fc.date({ min: new Date(0), max: new Date(Date.UTC(2100, 0)), noInvalidDate: true }), fc.nat({ max: 23 }), fc.constantFrom(..."0123456789-+:.TZ tz/a\u0661"))
      .map(([date, at, c]) => {
        const text = date.toISOString()
        return text.slice(0, at) + c + text.slice(at + 1)
      })
    fc.assert(fc.property(changed, same), { numRuns: 2000 })
    for (
      const text of ["2025-01-02T03:04:05Z", "2025-01-02T03:04:05.1Z", "2025-01-02T03:04:05.000+01:00", "2025-01-02", "+002025-01-02T03:04:05.000Z", "", "Thu, 02 Jan 2025 03:04:05 GMT"]
    ) same(text)
  })
})
