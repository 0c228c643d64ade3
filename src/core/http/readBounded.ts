import { joinBytes } from "../shared/bytes.js"
import { describeCause } from "../shared/describeCause.js"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"

/** The body is longer than the bound; reading stopped there (the rest is cancelled, never buffered). */
export class BodyTooLarge extends Data.TaggedError("BodyTooLarge")<{ readonly limit: number }> {}
/** The body stream failed while being read. */
export class BodyUnreadable extends Data.TaggedError("BodyUnreadable")<{ readonly reason: string }> {}

const TOO_LARGE = Symbol("too large")

/**
 * Reads a whole (small) body, never more than `limit` bytes: past it the stream is cancelled and the
 * result is BodyTooLarge. Interruption cancels the stream too. `finish` makes the result of the chunks read.
 */
const readWith = <A>(
  body: ReadableStream<Uint8Array>,
  limit: number,
  finish: (chunks: ReadonlyArray<Uint8Array>) => A | Promise<A>
): Effect.Effect<A, BodyTooLarge | BodyUnreadable> =>
  Effect.tryPromise({
    try: async (signal) => {
      const reader = body.getReader()
      const onAbort = () => void reader.cancel().catch(() => {})
      signal.addEventListener("abort", onAbort)
      try {
        const chunks: Array<Uint8Array> = []
        let size = 0
        for (;;) {
          const { done, value } = await reader.read()
          if (done) break
          size += value.byteLength
          if (size > limit) {
            await reader.cancel().catch(() => {})
            throw TOO_LARGE
          }
          chunks.push(value)
        }
        return await finish(chunks)
      } finally {
        signal.removeEventListener("abort", onAbort)
        reader.releaseLock()
      }
    },
    catch: (cause) =>
      cause === TOO_LARGE
        ? new BodyTooLarge({ limit })
        : new BodyUnreadable({ reason: describeCause(cause) })
  })

/** A whole (small) body's bytes, at most `limit` of them (readWith). */
export const readBounded = (
  body: ReadableStream<Uint8Array>,
  limit: number
): Effect.Effect<Uint8Array<ArrayBuffer>, BodyTooLarge | BodyUnreadable> => readWith(body, limit, joinBytes)

/**
 * A whole (small) body as UTF-8 text, at most `limit` bytes of it (readWith), decoded as `TextDecoder` does
 * (BOM dropped, invalid sequences as U+FFFD). A `Blob` of the chunks decodes natively without joining them first:
 * a 1000-key listing (180 KB) in about a fifth of the time `TextDecoder` took in Bun (bench/).
 */
export const readBoundedText = (
  body: ReadableStream<Uint8Array>,
  limit: number
): Effect.Effect<string, BodyTooLarge | BodyUnreadable> =>
  // Stream chunks are typed over ArrayBufferLike; a body's are never shared memory, which is all a Blob refuses.
  readWith(body, limit, (chunks) => new Blob(chunks as Array<Uint8Array<ArrayBuffer>>).text())
