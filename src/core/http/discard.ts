import * as Effect from "effect/Effect"

/**
 * Drop a body nobody will read, so its connection can be reused (or its upload stops). A locked stream is
 * someone else's to cancel; a failing cancel is ignored: there is nothing left to tell anyone.
 */
export const discardBody = (body: ReadableStream<Uint8Array> | string | null | undefined): Effect.Effect<void> =>
  body instanceof ReadableStream && !body.locked
    ? Effect.promise(() => body.cancel().catch(() => undefined))
    : Effect.void
