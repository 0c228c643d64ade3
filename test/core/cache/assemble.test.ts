import { describe, expect, it } from "@effect/vitest"
import { Effect, FastCheck as fc } from "effect"
import { assemble, type ChunkSource } from "../../../src/core/cache/assemble.js"
import { chunkBounds, missingRuns, planChunks } from "../../../src/core/cache/chunks.js"

/** A stream of `bytes` cut at the given offsets, counting what the consumer pulled and whether it was cancelled. */
const backendBody = (bytes: Uint8Array, cuts: ReadonlyArray<number> = []) => {
  const stats = { sent: 0, cancelled: false }
  const edges = [...new Set([0, ...cuts.filter((c) => c > 0 && c < bytes.length), bytes.length])].sort((a, b) => a - b)
  let i = 0
  const body = new ReadableStream<Uint8Array>({
    pull: (controller) => {
      const from = edges[i]
      const to = edges[i + 1]
      if (from === undefined || to === undefined) return controller.close()
      i++
      stats.sent += to - from
      controller.enqueue(bytes.slice(from, to))
    },
    cancel: () => {
      stats.cancelled = true
    }
  }, { highWaterMark: 0 })
  return { body, stats }
}

/** Collects the work `assemble` hands over, as WaitUntil would, so a test can wait for it. */
const detached = () => {
  const work: Array<Promise<void>> = []
  return { detach: (promise: Promise<void>) => void work.push(promise), settled: () => Effect.promise(() => Promise.all(work)) }
}

const valueOf = (result: { readonly done: boolean; readonly value?: Uint8Array | undefined }) => result.done ? undefined : result.value

const readAll = (body: ReadableStream<Uint8Array>) => Effect.promise(() => new Response(body).bytes())

const objectOf = (size: number, seed: number) => Uint8Array.from({ length: size }, (_, i) => (i * 31 + seed) & 0xff)

/** An object, a chunk size, a satisfiable range, which chunks are cached, and where the backend cuts its pieces. */
const scenario = fc.integer({ min: 16, max: 128 }).chain((chunkSize) =>
  fc.integer({ min: 1, max: chunkSize * 4 }).chain((size) =>
    fc.record({
      chunkSize: fc.constant(chunkSize),
      size: fc.constant(size),
      seed: fc.nat(255),
      range: fc.tuple(fc.nat(size - 1), fc.nat(size - 1)).map(([a, b]) => ({ start: Math.min(a, b), end: Math.max(a, b) })),
      cached: fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }),
      cuts: fc.array(fc.nat(chunkSize * 4), { maxLength: 12 })
    })))

type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never

/** The sources a reader builds: cached chunks trimmed to the client's part, one backend body per missing run. */
const sourcesFor = (s: Scenario) => {
  const object = objectOf(s.size, s.seed)
  const plan = planChunks(s.size, { _tag: "Partial", ...s.range }, s.chunkSize)
  const isCached = (index: number) => s.cached[index] === true
  const runs = missingRuns(plan.slices, isCached, s.chunkSize)
  const bodies = runs.map((run) => backendBody(object.slice(run.start, run.end + 1), s.cuts))
  const sources: Array<ChunkSource> = []
  for (const slice of plan.slices) {
    const { start, end } = chunkBounds(slice.index, s.size, s.chunkSize)
    if (isCached(slice.index)) sources.push({ _tag: "Cached", bytes: object.slice(start, end + 1).slice(slice.from, slice.to) })
    const r = runs.findIndex((run) => run.slices[0] === slice)
    if (r >= 0) sources.push({ _tag: "Backend", body: bodies[r]!.body, slices: runs[r]!.slices })
  }
  return { object, plan, runs, bodies, sources }
}

describe("assemble", () => {
  it.effect.prop("the body is exactly the requested bytes, and every missing chunk is stored whole", [scenario], ([s]) =>
    Effect.gen(function*() {
      const { object, plan, bodies, sources } = sourcesFor(s)
      const stored = new Map<number, Uint8Array>()
      const background = detached()
      const body = yield* readAll(assemble(sources, (index, bytes) => stored.set(index, bytes), background.detach))
      expect(body).toStrictEqual(object.slice(s.range.start, s.range.end + 1))
      yield* background.settled()
      const missing = plan.slices.filter((slice) => s.cached[slice.index] !== true).map((slice) => slice.index)
      expect([...stored.keys()]).toStrictEqual(missing)
      for (const [index, bytes] of stored) {
        const { start, end } = chunkBounds(index, s.size, s.chunkSize)
        expect(bytes).toStrictEqual(object.slice(start, end + 1))
      }
      // The backend sent its whole chunks, nothing more.
      expect(bodies.reduce((n, b) => n + b.stats.sent, 0)).toBe(missing.reduce((n, i) => {
        const { start, end } = chunkBounds(i, s.size, s.chunkSize)
        return n + end - start + 1
      }, 0))
    }))

  it.effect("a backend body that ends early errors the client's body and stores no partial chunk", () =>
    Effect.gen(function*() {
      const object = objectOf(40, 1)
      const short = backendBody(object.slice(0, 30))
      const stored: Array<number> = []
      const body = assemble([{ _tag: "Backend", body: short.body, slices: planChunks(40, { _tag: "Full" }, 16).slices }],
        (index) => stored.push(index), detached().detach)
      const error = yield* Effect.flip(Effect.tryPromise(() => new Response(body).bytes()))
      expect(error.cause).toMatchObject({ _tag: "BackendUnavailable" })
      expect(stored).toStrictEqual([0])
    }))

  it.effect("a backend body longer than its chunks errors the client's body", () =>
    Effect.gen(function*() {
      const long = backendBody(objectOf(20, 2))
      const body = assemble([{ _tag: "Backend", body: long.body, slices: planChunks(16, { _tag: "Full" }, 16).slices }], () => undefined, detached().detach)
      const error = yield* Effect.flip(Effect.tryPromise(() => new Response(body).bytes()))
      expect(error.cause).toMatchObject({ _tag: "BackendInvalidResponse" })
    }))

  it.effect("cancelling the client's body cancels the backend bodies it has not finished", () =>
    Effect.gen(function*() {
      const object = objectOf(64, 3)
      const { slices } = planChunks(64, { _tag: "Full" }, 16)
      const first = backendBody(object.slice(0, 16))
      const second = backendBody(object.slice(32, 64))
      const body = assemble([
        { _tag: "Backend", body: first.body, slices: slices.slice(0, 1) },
        { _tag: "Cached", bytes: object.slice(16, 32) },
        { _tag: "Backend", body: second.body, slices: slices.slice(2) }
      ], () => undefined, detached().detach)
      const reader = body.getReader()
      const piece = yield* Effect.promise(() => reader.read())
      expect(piece.value).toStrictEqual(object.slice(0, 16))
      yield* Effect.promise(() => reader.cancel())
      expect(second.stats).toStrictEqual({ sent: 0, cancelled: true })
    }))

  it.effect("reads the backend only as the client pulls", () =>
    Effect.gen(function*() {
      const object = objectOf(64, 4)
      const backend = backendBody(object, [16, 32, 48])
      const body = assemble([{ _tag: "Backend", body: backend.body, slices: planChunks(64, { _tag: "Full" }, 16).slices }], () => undefined, detached().detach)
      const reader = body.getReader()
      yield* Effect.promise(() => reader.read())
      expect(backend.stats.sent).toBe(16)
      yield* Effect.promise(() => reader.cancel())
    }))

  it.effect("the client's body ends with its last byte; the rest of the chunk is read and stored apart", () =>
    Effect.gen(function*() {
      const object = objectOf(64, 5)
      // The backend holds the rest of the chunk until the client has its bytes: a body waiting for it would hang.
      let release = () => {}
      const gate = new Promise<void>((resolve) => {
        release = resolve
      })
      const head = backendBody(object.slice(0, 16), [8])
      const reader = head.body.getReader()
      const stats = { sent: 0 }
      const gated = new ReadableStream<Uint8Array>({
        pull: async (controller) => {
          const piece = valueOf(await reader.read())
          if (piece !== undefined) {
            stats.sent += piece.length
            return controller.enqueue(piece)
          }
          if (stats.sent === 64) return controller.close()
          await gate
          stats.sent = 64
          controller.enqueue(object.slice(16))
        }
      }, { highWaterMark: 0 })
      const backend = { body: gated, stats }
      const { slices } = planChunks(64, { _tag: "Partial", start: 2, end: 9 }, 64)
      const stored = new Map<number, Uint8Array>()
      const background = detached()
      const body = yield* readAll(assemble([{ _tag: "Backend", body: backend.body, slices }],
        (index, bytes) => stored.set(index, bytes), background.detach))
      expect(body).toStrictEqual(object.slice(2, 10))
      expect(backend.stats.sent).toBe(16)
      release()
      yield* background.settled()
      expect(backend.stats.sent).toBe(64)
      expect(stored.get(0)).toStrictEqual(object)
    }))

  it.effect("a backend body that ends early after the client is served stores nothing", () =>
    Effect.gen(function*() {
      const object = objectOf(64, 6)
      const backend = backendBody(object.slice(0, 30), [8])
      const { slices } = planChunks(64, { _tag: "Partial", start: 0, end: 3 }, 64)
      const stored: Array<number> = []
      const background = detached()
      const body = yield* readAll(assemble([{ _tag: "Backend", body: backend.body, slices }], (index) => stored.push(index), background.detach))
      expect(body).toStrictEqual(object.slice(0, 4))
      yield* background.settled()
      expect(stored).toStrictEqual([])
    }))
})
