import type { Reply } from "../http/Reply.js"
import type { S3Error } from "./errors.js"
import { element, XML_DECLARATION } from "./xml.js"

/**
 * The one mapping from failures to what an S3 client sees: status, S3 code, and the message for errors
 * that do not carry their own. 5xx messages never carry internal detail (that goes to the log).
 */
const wire: { readonly [T in S3Error["_tag"]]: readonly [status: number, code: string, message: string] } = {
  InvalidRequest: [400, "InvalidRequest", ""],
  InvalidURI: [400, "InvalidURI", ""],
  InvalidArgument: [400, "InvalidArgument", ""],
  NotImplemented: [501, "NotImplemented", ""],
  NoSuchBucket: [404, "NoSuchBucket", "The specified bucket does not exist"],
  NoSuchKey: [404, "NoSuchKey", "The specified key does not exist."],
  AccessDenied: [403, "AccessDenied", "Access Denied"],
  InvalidAccessKeyId: [403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records."],
  ExpiredToken: [400, "ExpiredToken", "The provided token has expired."],
  InvalidToken: [400, "InvalidToken", "The provided token is malformed or otherwise invalid."],
  NoSuchUpload: [404, "NoSuchUpload", "The specified multipart upload does not exist."],
  InvalidPart: [400, "InvalidPart", ""],
  EntityTooSmall: [400, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed object size."],
  MalformedXML: [400, "MalformedXML", ""],
  BadDigest: [400, "BadDigest", "The checksum you specified did not match the calculated checksum."],
  PreconditionFailed: [412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold"],
  InvalidRange: [416, "InvalidRange", "The requested range is not satisfiable"],
  InternalError: [500, "InternalError", "Internal server error"],
  CatalogFailure: [500, "InternalError", "Internal server error"],
  CatalogUnavailable: [503, "ServiceUnavailable", "Service unavailable"],
  UnsupportedProvider: [500, "InternalError", "Internal server error"],
  BackendAuthenticationFailed: [502, "BackendAuthenticationFailed", "Failed to obtain backend credentials"],
  BackendUnavailable: [503, "ServiceUnavailable", "Service unavailable"],
  BackendInvalidResponse: [502, "BadGateway", "An upstream service sent a response the proxy cannot use"],
  SignatureDoesNotMatch: [403, "SignatureDoesNotMatch",
    "The request signature we calculated does not match the signature you provided. Check your key and signing method."],
  RequestTimeTooSkewed: [403, "RequestTimeTooSkewed",
    "The difference between the request time and the current time is too large."],
  RequestExpired: [403, "AccessDenied", "Request has expired"],
  AuthorizationHeaderMalformed: [400, "AuthorizationHeaderMalformed", ""],
  AuthorizationQueryParametersError: [400, "AuthorizationQueryParametersError", ""],
  XAmzContentSHA256Mismatch: [400, "XAmzContentSHA256Mismatch",
    "The provided 'x-amz-content-sha256' header does not match what was computed."],
  IncompleteBody: [400, "IncompleteBody", "You did not provide the number of bytes specified by the Content-Length HTTP header"]
}

export const statusOf = (error: S3Error): number => wire[error._tag][0]
export const codeOf = (error: S3Error): string => wire[error._tag][1]

export const messageOf = (error: S3Error): string => {
  switch (error._tag) {
    case "InvalidRequest":
    case "InvalidPart":
    case "MalformedXML":
    case "InvalidURI":
    case "InvalidArgument":
    case "NotImplemented":
    case "AuthorizationHeaderMalformed":
    case "AuthorizationQueryParametersError":
      return error.message
    case "BackendAuthenticationFailed":
      return `${wire.BackendAuthenticationFailed[2]}: ${error.code}`
    default:
      return wire[error._tag][2]
  }
}

/**
 * Control characters (C0, DEL, C1) as `%XX` of their UTF-8 bytes: an error names keys and paths as sent,
 * and XML 1.0 cannot carry most of these at all, so SDKs could not read the error otherwise.
 */
const printable = (text: string): string =>
  // eslint-disable-next-line no-control-regex
  text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => encodeURIComponent(c))

const textElement = (name: string, text: string) => element(name, printable(text))

/** Extra elements S3 puts after `Message` for some codes (boto3 and the JS SDK surface them). */
const details = (error: S3Error): string => {
  switch (error._tag) {
    case "NoSuchBucket":
      return textElement("BucketName", error.bucket)
    case "NoSuchKey":
      return textElement("Key", error.key)
    case "InvalidRange":
      return element("ActualObjectSize", String(error.size))
    default:
      return ""
  }
}

export const renderS3Error = (error: S3Error, resource: string, requestId: string, method: string): Reply => {
  const headers = new Headers({ "content-type": "application/xml", "x-amz-request-id": requestId })
  if (error._tag === "InvalidRange") headers.set("content-range", `bytes */${error.size}`)
  const body = method === "HEAD"
    ? null
    : XML_DECLARATION + "<Error>" + element("Code", codeOf(error)) + textElement("Message", messageOf(error))
      + details(error) + textElement("Resource", resource) + textElement("RequestId", requestId) + "</Error>"
  return { status: statusOf(error), headers, body }
}
