import * as Effect from "effect/Effect"
import { InvalidRequest } from "../../s3/errors.js"
import type { ObjectWrite } from "../ObjectStore.js"

/**
 * The length Azure needs: Azure refuses chunked uploads, so a body of unknown length is refused rather than
 * buffered (S3 requires the length as well), and one beyond `max` is EntityTooLarge.
 */
export const lengthOf: (
  request: ObjectWrite,
  max: number
) => Effect.Effect<number, InvalidRequest> = Effect.fnUntraced(
  function*(request: ObjectWrite, max: number) {
    const length = request.contentLength ?? (request.body === null ? 0 : undefined)
    if (length === undefined) {
      return yield* new InvalidRequest({ message: "Content-Length required: Azure Blob Storage takes bodies of known length" })
    }
    if (length > max) {
      return yield* new InvalidRequest({ message: "EntityTooLarge: your proposed upload exceeds the maximum allowed size" })
    }
    return length
  }
)

/** A body Azure gets: none for an empty one (an empty client stream is released). */
export const bodyFor = (request: ObjectWrite, length: number): Effect.Effect<ObjectWrite["body"]> =>
  length > 0
    ? Effect.succeed(request.body)
    : Effect.as(Effect.promise(() => request.body?.cancel() ?? Promise.resolve()).pipe(Effect.ignore), null)
