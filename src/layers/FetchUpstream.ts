import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Upstream, UpstreamFailure } from "../core/services/Upstream.js"
import { describeCause } from "../core/shared/describeCause.js"


/** setTimeout's longest delay (2^31 - 1 ms); longer or infinite durations mean no timer at all. */
const MAX_TIMER_MS = 2_147_483_647

export interface FetchOptions {
  /** workerd honours `cache: "no-store"`; Bun's fetch has no HTTP cache to bypass. */
  readonly supportsCacheOption: boolean
  /**
   * Bun's fetch inflates `Content-Encoding: gzip` bodies by default while keeping the original headers,
   * which would hand clients bytes that no longer match Content-Length and ETag; `decompress: false`
   * (a Bun extension of RequestInit) keeps the stored bytes.
   */
  readonly keepEncodedBodies: boolean
  /** workerd's `FixedLengthStream`, so a streamed upload carries its Content-Length (absent under Bun). */
  readonly fixedLengthStreams?: (new (length: number) => TransformStream<Uint8Array, Uint8Array>) | undefined
}

/**
 * Upstream over the runtime's `fetch`. The timeout interrupts the fetch (its AbortSignal fires) when no
 * response headers arrived in time; once they have, the body streams on. Interrupting the effect (the
 * client went away) aborts the fetch too.
 *
 * One `Effect.async` with a plain timer and AbortController, rather than `Effect.tryPromise` piped into
 * `Effect.timeoutFail`: the race that `timeoutFail` builds (a forked sleep fiber, interruption of the loser)
 * cost ≈ 100 µs of server CPU per 16 KiB ranged GET under Bun (interleaved A/B runs of `bun run bench`
 * style requests), for the same behaviour. The timer is the runtime's, not Effect's Clock: nothing tests
 * this layer with a TestClock.
 */
export const FetchUpstream = (options: FetchOptions) =>
  Layer.succeed(
    Upstream,
    Upstream.of({
      fetch: (request) => {
        const init: RequestInit & { decompress?: boolean; duplex?: "half" } = {
          method: request.method,
          headers: request.headers,
          body: request.body ?? null,
          // A redirect is the answer, for the caller to judge: no catalog entry may send the proxy elsewhere.
          redirect: "manual"
        }
        // Reads only: on a write, workerd's `no-store` adds `Cache-Control: no-cache` and `Pragma: no-cache`
        // to the request, which S3 would store as the object's own Cache-Control. Writes are never cached anyway.
        if (request.noStore === true && options.supportsCacheOption && (request.method === "GET" || request.method === "HEAD")) {
          init.cache = "no-store"
        }
        if (options.keepEncodedBodies) init.decompress = false
        const timeoutMs = Duration.toMillis(request.timeout)
        return Effect.async<Response, UpstreamFailure>((resume) => {
          const controller = new AbortController()
          let settled = false
          const settle = (outcome: Effect.Effect<Response, UpstreamFailure>) => {
            if (settled) return
            settled = true
            if (timer !== undefined) clearTimeout(timer)
            resume(outcome)
          }
          const transport = (cause: unknown) =>
            settle(Effect.fail(new UpstreamFailure({ reason: "Transport", url: request.url, detail: describeCause(cause) })))
          let timer: ReturnType<typeof setTimeout> | undefined
          const startTimer = () => {
            if (settled || timeoutMs > MAX_TIMER_MS) return
            timer = setTimeout(() => {
              settle(Effect.fail(new UpstreamFailure({ reason: "Timeout", url: request.url, detail: "no response in time" })))
              controller.abort()
            }, Math.max(0, timeoutMs))
          }
          if (request.body instanceof ReadableStream) {
            // An upload is answered only once its body is in: the bound starts when the last byte has been sent.
            init.duplex = "half"
            const timed = request.body.pipeThrough(new TransformStream<Uint8Array, Uint8Array>({ flush: startTimer }))
            const length = Number(request.headers.get("content-length") ?? Number.NaN)
            // workerd sends a stream of unknown length chunked, which S3 refuses (411): declare the length.
            init.body = options.fixedLengthStreams !== undefined && Number.isSafeInteger(length)
              ? timed.pipeThrough(new options.fixedLengthStreams(length))
              : timed
          } else {
            startTimer()
          }
          try {
            fetch(request.url, { ...init, signal: controller.signal }).then((response) => settle(Effect.succeed(response)), transport)
          } catch (cause) {
            transport(cause)
          }
          // Interrupted while waiting for the headers (client gone): stop the timer and abort the fetch.
          return Effect.sync(() => {
            settled = true
            if (timer !== undefined) clearTimeout(timer)
            controller.abort()
          })
        })
      }
    })
  )
