import * as Effect from "effect/Effect"
import type { ObjectWrite, Written } from "../backends/ObjectStore.js"
import type { S3Request } from "../http/S3Request.js"
import type { Payload } from "../identity/resolveIdentity.js"
import { BadDigest } from "../s3/errors.js"
import type { SigV4BodyError } from "../sigv4/errors.js"
import { type BodyFailure, noteBodyFailure } from "./bodyFailure.js"
import { storedHeaders } from "./storedHeaders.js"
import { type ChecksumOutcome, verifyTrailingChecksum } from "./trailerChecksum.js"

/** An upload's body on its way to a backend (PutObject, UploadPart): verified as it streams. */
export interface Upload {
  /** The write of `key`; only a body the SigV4 verifier stands in front of can fail with its errors. */
  readonly object: (key: string) => ObjectWrite
  /**
   * A failed upload whose body failed verification answers the verifier's error, and one whose trailing
   * checksum did not match the client's BadDigest, whatever the backend said.
   */
  readonly checked: <A, E>(upload: Effect.Effect<A, E>) => Effect.Effect<A, E | BadDigest | SigV4BodyError>
  /** The verified trailing checksum is echoed, as S3 does. */
  readonly echoed: (written: Written) => Written
}

export const uploadOf = (request: S3Request, payload: Payload): Upload => {
  const checksum: ChecksumOutcome = { mismatch: undefined }
  const failure: BodyFailure = { error: undefined }
  return {
    object: (key) => {
      const verified = payload.body === null || payload.body === request.body ? payload.body : noteBodyFailure(payload.body, failure)
      return {
        key,
        body: verified === null
          ? null
          : verifyTrailingChecksum(verified, request.headers.get("x-amz-trailer"), payload.trailers, checksum),
        contentLength: payload.contentLength,
        headers: storedHeaders(request.headers),
        trailers: payload.trailers
      }
    },
    checked: <A, E>(upload: Effect.Effect<A, E>) =>
      Effect.catchAll(upload, (e): Effect.Effect<never, E | BadDigest | SigV4BodyError> =>
        failure.error !== undefined
          ? Effect.fail(failure.error)
          : checksum.mismatch === undefined
          ? Effect.fail(e)
          : Effect.fail(new BadDigest({ algorithm: checksum.mismatch }))),
    echoed: (written) => {
      const trailer = (request.headers.get("x-amz-trailer") ?? "").trim().toLowerCase()
      const value = [...payload.trailers()].find(([name]) => name.trim().toLowerCase() === trailer)?.[1]
      if (value === undefined || !trailer.startsWith("x-amz-checksum-")) return written
      const headers = new Headers(written.headers)
      headers.set(trailer, value)
      return { ...written, headers }
    }
  }
}

/** A write's answer: the backend's headers and ETag. */
export const writtenHeaders = (written: Written): Headers => {
  const headers = new Headers(written.headers)
  headers.set("etag", written.etag)
  return headers
}
