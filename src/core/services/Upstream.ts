import { Context, Data, type Duration, type Effect } from "effect"

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

/** Outbound HTTP. Every call has a timeout, no call retries, and a body passes through as a stream. */
export class Upstream extends Context.Tag("sdp/Upstream")<Upstream, {
  readonly fetch: (request: UpstreamRequest) => Effect.Effect<Response, UpstreamFailure>
}>() {}
