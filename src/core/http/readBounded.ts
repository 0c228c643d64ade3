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
 * result is BodyTooLarge. Interruption cancels the stream too.
 */
export const readBounded = (
  body: ReadableStream<Uint8Array>,
  limit: number
): Effect.Effect<Uint8Array<ArrayBuffer>, BodyTooLarge | BodyUnreadable> =>
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
        const out = new Uint8Array(size)
        let offset = 0
        for (const chunk of chunks) {
          out.set(chunk, offset)
          offset += chunk.byteLength
        }
        return out
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
