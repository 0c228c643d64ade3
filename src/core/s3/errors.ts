import * as Data from "effect/Data"

/**
 * Every failure a caller can see. Each class is one row of `wire` in `renderError.ts`, so adding a class
 * without deciding its status and S3 code is a compile error.
 */
export class InvalidRequest extends Data.TaggedError("InvalidRequest")<{ readonly message: string }> {}
export class InvalidURI extends Data.TaggedError("InvalidURI")<{ readonly message: string }> {}
export class InvalidArgument extends Data.TaggedError("InvalidArgument")<{ readonly message: string }> {}
export class NotImplemented extends Data.TaggedError("NotImplemented")<{ readonly message: string }> {}
export class NoSuchBucket extends Data.TaggedError("NoSuchBucket")<{ readonly bucket: string }> {}
export class NoSuchKey extends Data.TaggedError("NoSuchKey")<{ readonly key: string }> {}
export class AccessDenied extends Data.TaggedError("AccessDenied")<{ readonly reason: string }> {}
export class InvalidAccessKeyId extends Data.TaggedError("InvalidAccessKeyId")<{}> {}
/** The session token has expired (S3 answers 400). */
export class ExpiredToken extends Data.TaggedError("ExpiredToken")<{}> {}
/** The session token is malformed, forged, revoked, missing, or not the one issued with the access key. */
export class InvalidToken extends Data.TaggedError("InvalidToken")<{ readonly reason: string }> {}
/** The multipart upload id does not exist (completed, aborted, or never created). */
export class NoSuchUpload extends Data.TaggedError("NoSuchUpload")<{ readonly uploadId: string }> {}
/** CompleteMultipartUpload named a part that was not uploaded, or whose ETag does not match. */
export class InvalidPart extends Data.TaggedError("InvalidPart")<{ readonly message: string }> {}
/** CompleteMultipartUpload named a part below 5 MiB that is not the last (the backend refused it). */
export class EntityTooSmall extends Data.TaggedError("EntityTooSmall")<{}> {}
/** A DeleteObjects or CompleteMultipartUpload body that is not the XML S3 expects. */
export class MalformedXML extends Data.TaggedError("MalformedXML")<{ readonly message: string }> {}
/** A checksum sent with the upload does not match its bytes. */
export class BadDigest extends Data.TaggedError("BadDigest")<{ readonly algorithm: string }> {}
export class PreconditionFailed extends Data.TaggedError("PreconditionFailed")<{}> {}
export class InvalidRange extends Data.TaggedError("InvalidRange")<{ readonly size: number }> {}
/** A bug or an unexpected failure inside the proxy (a defect); details go to the log only. */
export class InternalError extends Data.TaggedError("InternalError")<{ readonly reason: string }> {}
/** The Source API or the embedded catalog answered something we cannot use (bad status, bad JSON). */
export class CatalogFailure extends Data.TaggedError("CatalogFailure")<{ readonly reason: string }> {}
/** The Source API did not answer (network error or timeout). */
export class CatalogUnavailable extends Data.TaggedError("CatalogUnavailable")<{ readonly reason: string }> {}
/** A data connection names a provider this build cannot talk to. */
export class UnsupportedProvider extends Data.TaggedError("UnsupportedProvider")<{ readonly provider: string }> {}
/** The data connection's `authentication` cannot be used for this backend; never falls back to unsigned. */
export class BackendAuthenticationFailed extends Data.TaggedError("BackendAuthenticationFailed")<{
  readonly code: string
}> {}
/** The storage backend could not be reached, timed out, or failed (5xx). */
export class BackendUnavailable extends Data.TaggedError("BackendUnavailable")<{ readonly reason: string }> {}
/** The storage backend answered something the proxy will not use: a redirect, or a document over its size bound. */
export class BackendInvalidResponse extends Data.TaggedError("BackendInvalidResponse")<{ readonly reason: string }> {}

export type S3Error =
  | InvalidRequest
  | InvalidURI
  | InvalidArgument
  | NotImplemented
  | NoSuchBucket
  | NoSuchKey
  | AccessDenied
  | InvalidAccessKeyId
  | ExpiredToken
  | InvalidToken
  | NoSuchUpload
  | InvalidPart
  | EntityTooSmall
  | MalformedXML
  | BadDigest
  | PreconditionFailed
  | InvalidRange
  | InternalError
  | CatalogFailure
  | CatalogUnavailable
  | UnsupportedProvider
  | BackendAuthenticationFailed
  | BackendUnavailable
  | BackendInvalidResponse
  | SignatureDoesNotMatch
  | RequestTimeTooSkewed
  | RequestExpired
  | AuthorizationHeaderMalformed
  | AuthorizationQueryParametersError
  | XAmzContentSHA256Mismatch
  | IncompleteBody

/**
 * Inbound SigV4 failures (raised by src/core/sigv4). Each has one row of `wire` in renderError.ts, which fixes its status and S3 code; the messages below are S3's own wording.
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
