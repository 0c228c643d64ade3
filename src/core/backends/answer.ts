import * as Effect from "effect/Effect"
import { BackendInvalidResponse, BackendUnavailable } from "../s3/errors.js"
import { responseText } from "../services/Upstream.js"
import { discardBody } from "../http/discard.js"

/**
 * The most of a backend document the proxy reads whole: a listing page (S3: 1000 keys; Azure: up to 5000
 * names of up to 1 KiB, each with about 1 KiB of properties), an Azure block list (up to 100 000 uncommitted
 * blocks of about 100 bytes), a DeleteObjects or multipart result. A larger answer is refused, never buffered.
 */
export const DOCUMENT_MAX_BYTES = 16 * 1024 * 1024
/** An error document: only its code and message are read. */
export const ERROR_DOCUMENT_MAX_BYTES = 64 * 1024

/** Discard an unread backend body so the connection can be reused. */
export const discard = (response: Response) => discardBody(response.body)

/**
 * A 3xx other than 304 Not Modified. Upstream never follows it, and it is not the object either: a backend
 * (or a catalog entry) must not send the proxy, or what the client gets, elsewhere.
 */
export const refuseRedirect = (response: Response, method: string): Effect.Effect<Response, BackendInvalidResponse> =>
  response.status >= 300 && response.status < 400 && response.status !== 304
    ? Effect.zipRight(
      discard(response),
      Effect.fail(
        new BackendInvalidResponse({
          reason: `backend answered ${response.status} to ${method} (location ${response.headers.get("location") ?? "none"})`
        })
      )
    )
    : Effect.succeed(response)

/** A backend document read whole, never more than `limit` bytes of it. */
export const documentText = (
  response: Response,
  what: string,
  limit: number = DOCUMENT_MAX_BYTES
): Effect.Effect<string, BackendInvalidResponse | BackendUnavailable> =>
  Effect.mapError(responseText(response, limit), (error) =>
    error._tag === "BodyTooLarge"
      ? new BackendInvalidResponse({ reason: `${what}: larger than ${error.limit} bytes` })
      : new BackendUnavailable({ reason: `${what} could not be read` }))
