import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import { preflight, withCors } from "./http/cors.js"
import type { Reply } from "./http/Reply.js"
import type { S3Request } from "./http/S3Request.js"
import { type AppServices, route } from "./routing/route.js"
import { InternalError, type S3Error } from "./s3/errors.js"
import { codeOf, renderS3Error, statusOf } from "./s3/renderError.js"

export type { AppServices } from "./routing/route.js"

const resourceOf = (request: S3Request): string => {
  try {
    return decodeURIComponent(request.url.pathname)
  } catch {
    return request.url.pathname // undecodable: shown as sent
  }
}

/** Errors become S3 XML here and only here; a defect is logged and becomes a 500 without detail. */
export const handle = (request: S3Request): Effect.Effect<Reply, never, AppServices> => {
  const fail = (error: S3Error) => {
    const reply = renderS3Error(error, resourceOf(request), request.requestId, request.method)
    return statusOf(error) >= 500
      ? Effect.as(
        Effect.logWarning("server error response", {
          status: statusOf(error),
          code: codeOf(error),
          error,
          method: request.method,
          path: request.url.pathname
        }),
        reply
      )
      : Effect.succeed(reply)
  }
  const answer = request.method === "OPTIONS"
    ? Effect.succeed(preflight(request.headers))
    : route(request).pipe(
      Effect.catchAll(fail),
      Effect.catchAllDefect((defect) =>
        Effect.zipRight(
          Effect.logError("defect", Cause.pretty(Cause.die(defect))),
          fail(new InternalError({ reason: "defect" }))
        )
      )
    )
  return Effect.map(answer, (reply) => {
    reply.headers.set("x-amz-request-id", request.requestId)
    return withCors(reply)
  })
}
