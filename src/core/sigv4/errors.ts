import * as Data from "effect/Data"
import type { AccessDenied, InvalidAccessKeyId, InvalidArgument, InvalidRequest } from "../s3/errors.js"

/**
 * Inbound SigV4 failures. Each class is also a member of `S3Error` (src/core/s3/errors.ts) and has one row of
 * `wire` in renderError.ts, which fixes its status and S3 code; the messages below are S3's own wording.
 */

/** 403: the signature (request, chunk or trailer) is not the one we computed. */
export class SignatureDoesNotMatch extends Data.TaggedError("SignatureDoesNotMatch")<{
  /** Where it failed ("request", "chunk 3", "trailer"); for the log, never rendered. */
  readonly where: string
}> {}

/** 403: `x-amz-date` (or `date`) is more than 15 minutes from our clock (header auth). */
export class RequestTimeTooSkewed extends Data.TaggedError("RequestTimeTooSkewed")<{
  readonly requestTime: string
  readonly serverTime: string
}> {}

/** 403 `AccessDenied` "Request has expired": a presigned URL past `X-Amz-Date + X-Amz-Expires`. */
export class RequestExpired extends Data.TaggedError("RequestExpired")<{
  readonly expiredAt: string
  readonly serverTime: string
}> {}

/** 400: the `Authorization` header cannot be parsed or its scope is wrong. */
export class AuthorizationHeaderMalformed extends Data.TaggedError("AuthorizationHeaderMalformed")<{
  readonly message: string
}> {}

/** 400: the presigned `X-Amz-*` query parameters cannot be parsed or are out of range. */
export class AuthorizationQueryParametersError extends Data.TaggedError("AuthorizationQueryParametersError")<{
  readonly message: string
}> {}

/** 400: a body whose SHA-256 is not the one the client signed in `x-amz-content-sha256`. */
export class XAmzContentSHA256Mismatch extends Data.TaggedError("XAmzContentSHA256Mismatch")<{
  readonly expected: string
  readonly computed: string
}> {}

/** 400: the body ended early, or its aws-chunked framing is broken, or its decoded length is not the declared one. */
export class IncompleteBody extends Data.TaggedError("IncompleteBody")<{ readonly reason: string }> {}

/** Failures of the body stream (the stream errors with one of these as its reason). */
export type SigV4BodyError = SignatureDoesNotMatch | XAmzContentSHA256Mismatch | IncompleteBody

/** Everything `verifyRequest` can fail with (besides what the caller's secret lookup fails with). */
export type SigV4Error =
  | SignatureDoesNotMatch
  | RequestTimeTooSkewed
  | RequestExpired
  | AuthorizationHeaderMalformed
  | AuthorizationQueryParametersError
  | XAmzContentSHA256Mismatch
  | IncompleteBody
  | AccessDenied
  | InvalidAccessKeyId
  | InvalidArgument
  | InvalidRequest

const bodyTags: ReadonlySet<string> = new Set(["SignatureDoesNotMatch", "XAmzContentSHA256Mismatch", "IncompleteBody"])

/** True for the reason a verified body stream errors with (a reader's rejection, or a fetch's `cause`). */
export const isSigV4BodyError = (u: unknown): u is SigV4BodyError =>
  typeof u === "object" && u !== null && "_tag" in u && typeof u._tag === "string" && bodyTags.has(u._tag)
