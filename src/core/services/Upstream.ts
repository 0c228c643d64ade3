import * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { type BodyTooLarge, type BodyUnreadable, readBoundedText } from "../http/readBounded.js"

export interface UpstreamRequest {
  readonly method: string
  readonly url: string
  readonly headers: Headers
  readonly body?: ReadableStream<Uint8Array> | string | null
  /**
   * Bounds the wait for the response headers, counted from when a streamed request body has been sent in
   * full (at once for other requests); the response body streams unbounded after that.
   */
  readonly timeout: Duration.DurationInput
  /** Keep the runtime's own HTTP cache out (HEAD and Range requests: partial-content poisoning). */
  readonly noStore?: boolean
}

export class UpstreamFailure extends Data.TaggedError("UpstreamFailure")<{
  readonly reason: "Timeout" | "Transport"
  readonly url: string
  readonly detail: string
}> {}

/**
 * Outbound HTTP. Every call has a timeout, no call retries, no call follows a redirect (a 3xx is the answer),
 * and a body passes through as a stream.
 */
export class Upstream extends Context.Tag("sdp/Upstream")<Upstream, {
  readonly fetch: (request: UpstreamRequest) => Effect.Effect<Response, UpstreamFailure>
}>() {}

/** An answer's body read whole as text, never more than `limit` bytes of it (no body reads as ""). */
export const responseText = (response: Response, limit: number): Effect.Effect<string, BodyTooLarge | BodyUnreadable> =>
  response.body === null
    ? Effect.succeed("")
    : readBoundedText(response.body, limit)
