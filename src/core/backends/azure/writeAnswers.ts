import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import { AccessDenied, BackendUnavailable, InvalidRequest, PreconditionFailed } from "../../s3/errors.js"
import { discard } from "../answer.js"

/** An ETag as S3 answers it: quoted (`""` when Azure sent none). */
export const quoted = (etag: string | null): string =>
  etag === null || etag === "" ? "\"\"" : etag.startsWith("\"") ? etag : `"${etag}"`

/** When Azure answered: its Last-Modified, else its Date, else now. */
export const answeredAt: (response: Response) => Effect.Effect<Date> = Effect.fnUntraced(
  function*(response: Response) {
    for (const name of ["last-modified", "date"]) {
      const value = response.headers.get(name)
      const at = value === null ? Number.NaN : new Date(value).getTime()
      if (!Number.isNaN(at)) return new Date(at)
    }
    return new Date(yield* Clock.currentTimeMillis)
  }
)

/** A refused write, as S3 names it: 401/403 AccessDenied, 412 (and 409 BlobAlreadyExists) PreconditionFailed. */
export const refusal: (
  response: Response,
  what: string
) => Effect.Effect<never, AccessDenied | PreconditionFailed | InvalidRequest | BackendUnavailable> = Effect.fnUntraced(
  function*(response: Response, what: string) {
    yield* discard(response)
    const code = response.headers.get("x-ms-error-code") ?? ""
    switch (response.status) {
      case 401:
      case 403:
        return yield* new AccessDenied({ reason: `backend answered ${response.status} ${code} to ${what}` })
      case 412:
        return yield* new PreconditionFailed()
      case 409:
        if (code === "BlobAlreadyExists") return yield* new PreconditionFailed()
        break
      case 400:
        if (code === "Md5Mismatch") return yield* new InvalidRequest({ message: "BadDigest: the Content-MD5 you specified did not match what was received" })
        break
      case 413:
        return yield* new InvalidRequest({ message: "EntityTooLarge: your proposed upload exceeds the maximum allowed size" })
    }
    return yield* new BackendUnavailable({ reason: `backend answered ${response.status} ${code} to ${what}` })
  }
)
