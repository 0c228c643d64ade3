import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, FastCheck as fc } from "effect"
import { readBounded, readBoundedText } from "../../src/core/http/readBounded.js"

/*
 * Bodies are read whole, within a bound, from default streams (Bun's fetch bodies) and from byte streams (workerd's,
 * read with a BYOB reader into reused buffers). Whatever the chunking, the bytes and the text come out as sent.
 */

type Kind = "default" | "bytes, enqueued at start" | "bytes, pulled"

interface Source {
  readonly stream: ReadableStream<Uint8Array>
  readonly cancelled: () => boolean
  /** Bytes the source handed over (all of them for one that enqueues everything at start). */
  readonly given: () => number
}

const sourceOf = (kind: Kind, chunks: ReadonlyArray<Uint8Array>, fail = false): Source => {
  let cancelled = false
  let next = 0
  let given = 0
  const cancel = () => {
    cancelled = true
  }
  const take = () => {
    const chunk = chunks[next++]!
    given += chunk.byteLength
    return chunk.slice()
  }
  const stream = kind === "default"
    ? new ReadableStream<Uint8Array>({
      pull(controller) {
        if (next < chunks.length) controller.enqueue(take())
        else if (fail) controller.error(new Error("connection reset"))
        else controller.close()
      },
      cancel
    })
    : kind === "bytes, enqueued at start"
    ? new ReadableStream<Uint8Array>({
      type: "bytes",
      start(controller) {
        for (const chunk of chunks) if (chunk.byteLength > 0) controller.enqueue(chunk.slice())
        given = chunks.reduce((n, c) => n + c.byteLength, 0)
        if (fail) controller.error(new Error("connection reset"))
        else controller.close()
      },
      cancel
    })
    : new ReadableStream<Uint8Array>({
      type: "bytes",
      async pull(controller) {
        await Promise.resolve()
        while (next < chunks.length && chunks[next]!.byteLength === 0) next++
        if (next < chunks.length) controller.enqueue(take())
        else if (fail) controller.error(new Error("connection reset"))
        else {
          controller.close()
          // A BYOB read waiting on a closed byte stream is answered with an empty view.
          ;(controller as ReadableByteStreamController).byobRequest?.respond(0)
        }
      },
      cancel
    })
  return { stream, cancelled: () => cancelled, given: () => given }
}

/** The body as one array, by node's own concatenation (not the module's joinBytes, which the reads use). */
const joined = (chunks: ReadonlyArray<Uint8Array>) => new Uint8Array(Buffer.concat(chunks))

const kind = fc.constantFrom<Kind>("default", "bytes, enqueued at start", "bytes, pulled")
/** Chunks as runtimes cut bodies: small (workerd's 4 KiB), large, empty; bytes that are not always UTF-8. */
const chunks = fc.array(
  fc.oneof(fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ minLength: 4000, maxLength: 9000 }), fc.constant(new Uint8Array(0))),
  { maxLength: 30 }
).map((list) => list.map((c) => new Uint8Array(c)))

describe("readBounded / readBoundedText", () => {
  it.effect.prop("within the bound: the bytes, and the text as TextDecoder reads them", { kind, chunks, spare: fc.nat({ max: 70_000 }) }, ({ chunks, kind, spare }) =>
    Effect.gen(function*() {
      const whole = joined(chunks)
      const limit = whole.byteLength + spare
      expect(yield* readBounded(sourceOf(kind, chunks).stream, limit)).toStrictEqual(whole)
      expect(yield* readBoundedText(sourceOf(kind, chunks).stream, limit)).toBe(new TextDecoder().decode(whole))
    }), { fastCheck: { numRuns: 100 } })

  it.effect.prop(
    "past the bound: BodyTooLarge, reading stops within a buffer of the bound, and the rest of the source is cancelled",
    { kind, chunks, short: fc.integer({ min: 1, max: 70_000 }) },
    ({ chunks, kind, short }) =>
      Effect.gen(function*() {
        const whole = joined(chunks)
        if (whole.byteLength === 0) return
        const limit = Math.max(0, whole.byteLength - short)
        const source = sourceOf(kind, chunks)
        const error = yield* Effect.flip(readBounded(source.stream, limit))
        expect(error).toMatchObject({ _tag: "BodyTooLarge", limit })
        if (kind === "bytes, enqueued at start") return // it handed everything over at once
        // At most one BYOB buffer (64 KiB) past the bound, plus the chunk that crossed it.
        expect(source.given()).toBeLessThanOrEqual(limit + 64 * 1024 + 9000)
        if (source.given() < whole.byteLength) expect(source.cancelled()).toBe(true)
      }),
    { fastCheck: { numRuns: 100 } }
  )

  it.effect.prop("a stream that fails: BodyUnreadable", { kind, chunks }, ({ chunks, kind }) =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(readBoundedText(sourceOf(kind, chunks, true).stream, 1 << 20))
      expect(error._tag).toBe("BodyUnreadable")
    }), { fastCheck: { numRuns: 60 } })

  for (const streamKind of ["default", "bytes, pulled"] as const) {
    it.effect(`interrupted while it waits (${streamKind}): the stream is cancelled`, () =>
      Effect.gen(function*() {
        let cancelled = false
        const never = streamKind === "default"
          ? new ReadableStream<Uint8Array>({ pull: () => new Promise<void>(() => {}), cancel: () => void (cancelled = true) })
          : new ReadableStream<Uint8Array>({ type: "bytes", pull: () => new Promise<void>(() => {}), cancel: () => void (cancelled = true) })
        const fiber = yield* Effect.fork(readBounded(never, 1024))
        yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 20)))
        yield* Fiber.interrupt(fiber)
        yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 0)))
        expect(cancelled).toBe(true)
      }))
  }
})
