import { Effect, Layer } from "effect"
import { Upstream, UpstreamFailure } from "../core/services/Upstream.js"

const describe = (cause: unknown) => (cause instanceof Error ? cause.message : String(cause))

/**
 * Upstream over the runtime's `fetch`. The timeout interrupts the fetch (its AbortSignal fires) when no
 * response headers arrived in time; once they have, the body streams on.
 */
export const FetchUpstream = (options: { readonly supportsCacheOption: boolean }) =>
  Layer.succeed(
    Upstream,
    Upstream.of({
      fetch: (request) =>
        Effect.tryPromise({
          try: (signal) =>
            fetch(request.url, {
              method: request.method,
              headers: request.headers,
              body: request.body ?? null,
              signal,
              redirect: "follow",
              ...(request.noStore === true && options.supportsCacheOption ? { cache: "no-store" as const } : {}),
              ...(request.body instanceof ReadableStream ? { duplex: "half" } : {})
            }),
          catch: (cause) => new UpstreamFailure({ reason: "Transport", url: request.url, detail: describe(cause) })
        }).pipe(
          Effect.timeoutFail({
            duration: request.timeout,
            onTimeout: () => new UpstreamFailure({ reason: "Timeout", url: request.url, detail: "no response in time" })
          })
        )
    })
  )
