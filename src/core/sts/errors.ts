import * as Data from "effect/Data"
import type { Reply } from "../http/Reply.js"
import { escapeXml, XML_DECLARATION } from "../s3/xml.js"

/**
 * Every failure `/.sts` can answer. Each class is one row of `wire` below (a compile error otherwise);
 * STS paths answer STS `ErrorResponse` XML, never the S3 error document. Messages name the check that
 * failed, never an expected value (issuer, audience, claim value) the caller could learn from.
 */

/** `Action` missing or not `AssumeRoleWithWebIdentity`, or a `Version` other than 2011-06-15. */
export class InvalidAction extends Data.TaggedError("InvalidAction")<{ readonly message: string }> {}
/** A parameter is missing or malformed (RoleArn, RoleSessionName, DurationSeconds, the form body). */
export class ValidationError extends Data.TaggedError("ValidationError")<{ readonly message: string }> {}
/** The form body is larger than the 64 KiB STS accepts. */
export class RequestEntityTooLarge extends Data.TaggedError("RequestEntityTooLarge")<{ readonly limit: number }> {}
/** The role does not exist (or may not be looked up): no hint which. */
export class StsAccessDenied extends Data.TaggedError("StsAccessDenied")<{ readonly reason: string }> {}
/** The token does not verify, or its issuer/audience is not trusted by the role, or it was revoked. */
export class InvalidIdentityToken extends Data.TaggedError("InvalidIdentityToken")<{ readonly message: string }> {}
/** The token is past its `exp` (+ 60 s tolerance), as AWS answers. */
export class ExpiredTokenException extends Data.TaggedError("ExpiredTokenException")<{}> {}
/** The IdP's discovery document or JWKS could not be fetched (and no usable stale copy exists). */
export class IDPCommunicationError extends Data.TaggedError("IDPCommunicationError")<{
  readonly issuer: string
  readonly reason: string
}> {}
/** The token verified but its claims satisfy none of the role's bindings. */
export class IDPRejectedClaim extends Data.TaggedError("IDPRejectedClaim")<{}> {}
/** The catalog (roles) or the revocation list did not answer: fail closed, retryable. */
export class StsServiceUnavailable extends Data.TaggedError("StsServiceUnavailable")<{ readonly reason: string }> {}
/** A bug, a bad role document, or keys that cannot sign: details go to the log only. */
export class StsInternalFailure extends Data.TaggedError("StsInternalFailure")<{ readonly reason: string }> {}

export type StsError =
  | InvalidAction
  | ValidationError
  | RequestEntityTooLarge
  | StsAccessDenied
  | InvalidIdentityToken
  | ExpiredTokenException
  | IDPCommunicationError
  | IDPRejectedClaim
  | StsServiceUnavailable
  | StsInternalFailure

export const STS_NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/"

type Row = readonly [status: number, type: "Sender" | "Receiver", code: string]

/** The one STS wire table (docs/sts.md#errors; AWS's statuses). */
const wire: { readonly [T in StsError["_tag"]]: Row } = {
  InvalidAction: [400, "Sender", "InvalidAction"],
  ValidationError: [400, "Sender", "ValidationError"],
  RequestEntityTooLarge: [413, "Sender", "RequestEntityTooLarge"],
  StsAccessDenied: [403, "Sender", "AccessDenied"],
  InvalidIdentityToken: [400, "Sender", "InvalidIdentityToken"],
  ExpiredTokenException: [400, "Sender", "ExpiredTokenException"],
  IDPCommunicationError: [400, "Sender", "IDPCommunicationError"],
  IDPRejectedClaim: [403, "Sender", "IDPRejectedClaim"],
  StsServiceUnavailable: [503, "Receiver", "ServiceUnavailable"],
  StsInternalFailure: [500, "Receiver", "InternalFailure"]
}

const messageOf = (error: StsError): string => {
  switch (error._tag) {
    case "InvalidAction":
    case "ValidationError":
    case "InvalidIdentityToken":
      return error.message
    case "RequestEntityTooLarge":
      return `The request body must not exceed ${error.limit} bytes.`
    case "StsAccessDenied":
      return "Not authorized to perform sts:AssumeRoleWithWebIdentity"
    case "ExpiredTokenException":
      return "Token expired: current date/time is past the token's exp claim."
    case "IDPCommunicationError":
      return "Could not fetch the identity provider's signing keys. Try again."
    case "IDPRejectedClaim":
      return "The token's claims do not satisfy the role's claim constraints."
    case "StsServiceUnavailable":
      return "The service is temporarily unavailable. Try again."
    case "StsInternalFailure":
      return "An internal error occurred."
  }
}

export const stsStatusOf = (error: StsError): number => wire[error._tag][0]
export const stsCodeOf = (error: StsError): string => wire[error._tag][2]

/** `ErrorResponse/Error/{Type,Code,Message}` + `RequestId`, as AWS STS answers (botocore maps the Code). */
export const renderStsError = (error: StsError, requestId: string): Reply => {
  const [status, type, code] = wire[error._tag]
  return {
    status,
    headers: new Headers({ "content-type": "application/xml" }),
    body: `${XML_DECLARATION}<ErrorResponse xmlns="${STS_NAMESPACE}"><Error><Type>${type}</Type><Code>${code}</Code>`
      + `<Message>${escapeXml(messageOf(error))}</Message></Error><RequestId>${escapeXml(requestId)}</RequestId>`
      + `</ErrorResponse>`
  }
}
