import { Effect, Layer } from "effect"
import { Upstream, UpstreamFailure } from "../core/services/Upstream.js"

const describe = (cause: unknown) => (cause instanceof Error ? cause.message : String(cause))

export interface FetchOptions {
  /** workerd honours `cache: "no-store"`; Bun's fetch has no HTTP cache to bypass. */
  readonly supportsCacheOption: boolean
  /**
   * Bun's fetch inflates `Content-Encoding: gzip` bodies by default while keeping the original headers,
   * which would hand clients bytes that no longer match Content-Length and ETag; `decompress: false`
   * (a Bun extension of RequestInit) keeps the stored bytes.
   */
  readonly keepEncodedBodies: boolean
}

/**
 * Upstream over the runtime's `fetch`. The timeout interrupts the fetch (its AbortSignal fires) when no
 * response headers arrived in time; once they have, the body streams on.
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
          redirect: "follow"
        }
        if (request.noStore === true && options.supportsCacheOption) init.cache = "no-store"
        if (options.keepEncodedBodies) init.decompress = false
        if (request.body instanceof ReadableStream) init.duplex = "half"
        return Effect.tryPromise({
          try: (signal) => fetch(request.url, { ...init, signal }),
          catch: (cause) => new UpstreamFailure({ reason: "Transport", url: request.url, detail: describe(cause) })
        }).pipe(
          Effect.timeoutFail({
            duration: request.timeout,
            onTimeout: () => new UpstreamFailure({ reason: "Timeout", url: request.url, detail: "no response in time" })
          })
        )
      }
    })
  )
