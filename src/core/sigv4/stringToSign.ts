import { EMPTY_SHA256 } from "./encoding.js"

export const ALGORITHM = "AWS4-HMAC-SHA256"
export const TERMINATOR = "aws4_request"

/** The `<date>/<region>/<service>/aws4_request` part of a credential. */
export interface CredentialScope {
  /** `YYYYMMDD` */
  readonly date: string
  readonly region: string
  readonly service: string
}

export const scopeString = (scope: CredentialScope): string =>
  `${scope.date}/${scope.region}/${scope.service}/${TERMINATOR}`

/** `timestamp` is the `YYYYMMDDTHHMMSSZ` request time exactly as signed. */
export const stringToSign = (timestamp: string, scope: CredentialScope, canonicalRequestSha256: string): string =>
  `${ALGORITHM}\n${timestamp}\n${scopeString(scope)}\n${canonicalRequestSha256}`

/** One aws-chunked chunk: chained on the previous signature (the request's for the first chunk). */
export const chunkStringToSign = (
  timestamp: string,
  scope: CredentialScope,
  previousSignature: string,
  chunkSha256: string
): string => `${ALGORITHM}-PAYLOAD\n${timestamp}\n${scopeString(scope)}\n${previousSignature}\n${EMPTY_SHA256}\n${chunkSha256}`

/** The trailing headers of an aws-chunked body, chained on the final (0-size) chunk's signature. */
export const trailerStringToSign = (
  timestamp: string,
  scope: CredentialScope,
  previousSignature: string,
  trailerSha256: string
): string => `${ALGORITHM}-TRAILER\n${timestamp}\n${scopeString(scope)}\n${previousSignature}\n${trailerSha256}`
