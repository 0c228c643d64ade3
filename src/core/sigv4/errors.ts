import type {
  AccessDenied,
  AuthorizationHeaderMalformed,
  AuthorizationQueryParametersError,
  IncompleteBody,
  InvalidAccessKeyId,
  InvalidArgument,
  InvalidRequest,
  RequestExpired,
  RequestTimeTooSkewed,
  SignatureDoesNotMatch,
  XAmzContentSHA256Mismatch
} from "../s3/errors.js"

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
