import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import { chunkBounds, DEFAULT_CHUNK_SIZE, missingRuns, planChunks } from "../../../src/core/cache/chunks.js"
import { resolveRange } from "../../../src/core/s3/range.js"

/** An object size up to a few chunks, a small chunk size, and a Range header against it (all three forms). */
const scenario = fc.integer({ min: 16, max: 256 }).chain((chunkSize) =>
  fc.tuple(fc.constant(chunkSize), fc.integer({ min: 0, max: chunkSize * 5 })).chain(([chunkSize, size]) =>
    fc.tuple(
      fc.constant(chunkSize),
      fc.constant(size),
      fc.oneof(
        fc.tuple(fc.nat(size + 2), fc.nat(size + 2)).map(([a, b]) => `bytes=${Math.min(a, b)}-${Math.max(a, b)}`),
        fc.nat(size + 2).map((a) => `bytes=${a}-`),
        fc.integer({ min: 1, max: size + 2 }).map((n) => `bytes=-${n}`),
        fc.constant("")
      )
    )))

const satisfiable = (header: string, size: number) => {
  const range = resolveRange(header === "" ? null : header, size)
  return range._tag === "Unsatisfiable" ? undefined : range
}

describe("planChunks", () => {
  it.prop("the slices, taken from their chunks in order, are exactly the requested bytes", [scenario], ([[chunkSize, size, header]]) => {
    const range = satisfiable(header, size)
    if (range === undefined) return
    const object = Array.from({ length: size }, (_, i) => i)
    const plan = planChunks(size, range, chunkSize)
    const expected = range._tag === "Full" ? object : object.slice(range.start, range.end + 1)
    const assembled = plan.slices.flatMap((slice) => {
      const { start, end } = chunkBounds(slice.index, size, chunkSize)
      return object.slice(start, end + 1).slice(slice.from, slice.to)
    })
    expect(assembled).toStrictEqual(expected)
    expect(plan.end - plan.start + 1).toBe(expected.length)
  })

  it.prop("covers consecutive aligned chunks, each non-empty and within the object", [scenario], ([[chunkSize, size, header]]) => {
    const range = satisfiable(header, size)
    if (range === undefined) return
    const { slices } = planChunks(size, range, chunkSize)
    slices.forEach((slice, i) => {
      expect(slice.index).toBe((slices[0]?.index ?? 0) + i)
      expect(slice.length).toBe(Math.min(chunkSize, size - slice.index * chunkSize))
      expect(0 <= slice.from && slice.from < slice.to && slice.to <= slice.length).toBe(true)
      // Only the first chunk may start late and only the last may end early.
      if (i > 0) expect(slice.from).toBe(0)
      if (i < slices.length - 1) expect(slice.to).toBe(slice.length)
    })
  })

  it("a whole empty object covers no chunk", () => {
    expect(planChunks(0, { _tag: "Full" })).toStrictEqual({ start: 0, end: -1, slices: [] })
  })

  it("defaults to 4 MiB chunks", () => {
    const { slices } = planChunks(10 * 1024 * 1024, { _tag: "Partial", start: 4 * 1024 * 1024 - 1, end: 4 * 1024 * 1024 })
    expect(DEFAULT_CHUNK_SIZE).toBe(4 * 1024 * 1024)
    expect(slices).toStrictEqual([
      { index: 0, length: DEFAULT_CHUNK_SIZE, from: DEFAULT_CHUNK_SIZE - 1, to: DEFAULT_CHUNK_SIZE },
      { index: 1, length: DEFAULT_CHUNK_SIZE, from: 0, to: 1 }
    ])
  })
})

describe("missingRuns", () => {
  const withCached = scenario.chain(([chunkSize, size, header]) =>
    fc.tuple(fc.constant([chunkSize, size, header] as const), fc.array(fc.boolean(), { minLength: 6, maxLength: 6 })))

  it.prop("groups exactly the missing chunks into maximal runs of whole chunks", [withCached], ([[[chunkSize, size, header], cachedFlags]]) => {
    const range = satisfiable(header, size)
    if (range === undefined) return
    const { slices } = planChunks(size, range, chunkSize)
    const isCached = (index: number) => cachedFlags[index] === true
    const runs = missingRuns(slices, isCached, chunkSize)
    expect(runs.flatMap((run) => run.slices)).toStrictEqual(slices.filter((slice) => !isCached(slice.index)))
    runs.forEach((run, i) => {
      const first = run.slices[0]!
      const last = run.slices[run.slices.length - 1]!
      run.slices.forEach((slice, j) => expect(slice.index).toBe(first.index + j))
      // One ranged request per run, for its chunks' whole bytes.
      expect(run.start).toBe(chunkBounds(first.index, size, chunkSize).start)
      expect(run.end).toBe(chunkBounds(last.index, size, chunkSize).end)
      const next = runs[i + 1]
      if (next !== undefined) expect(next.slices[0]!.index).toBeGreaterThan(last.index + 1)
    })
  })

  it("every chunk cached needs no request; none cached needs one", () => {
    const { slices } = planChunks(100, { _tag: "Full" }, 16)
    expect(missingRuns(slices, () => true, 16)).toStrictEqual([])
    expect(missingRuns(slices, () => false, 16).map(({ start, end }) => [start, end])).toStrictEqual([[0, 99]])
  })
})
