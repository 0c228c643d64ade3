import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type { S3Request } from "../http/S3Request.js"
import { AccessDenied, InvalidArgument, InvalidRequest } from "../s3/errors.js"
import { Hmac } from "../services/Hmac.js"
import { parseAuthorizationHeader } from "./authHeader.js"
import { canonicalHeaders, canonicalQuery, canonicalRequest, canonicalUri } from "./canonicalRequest.js"
import { decodeAwsChunked } from "./chunked.js"
import { constantTimeEqual, EMPTY_SHA256, toHex } from "./encoding.js"
import { type SigV4Error } from "./errors.js"
import { AuthorizationHeaderMalformed, AuthorizationQueryParametersError, IncompleteBody, RequestExpired, RequestTimeTooSkewed, SignatureDoesNotMatch, XAmzContentSHA256Mismatch } from "../s3/errors.js"
import { type PayloadMode, payloadModeOf, UNSIGNED_PAYLOAD, verifySha256Body } from "./payload.js"
import { isPresigned, parsePresignedQuery } from "./presigned.js"
import { defaultSigningKeyCache, signingKey, type SigningKeyCache } from "./signingKey.js"
import { type CredentialScope, stringToSign } from "./stringToSign.js"
import { formatAmzDate, parseAmzDate, parseHttpDate } from "./timestamp.js"

/** What the caller knows when asked for a secret (the token is the caller's to verify, after or before). */
export interface SecretLookupContext {
  readonly sessionToken: string | undefined
  readonly scope: CredentialScope
}

/** The secret access key for an access key id; fails (e.g. `InvalidAccessKeyId`) when there is none. */
export type SecretLookup<E, R> = (accessKeyId: string, context: SecretLookupContext) => Effect.Effect<string, E, R>

export interface VerifiedRequest {
  readonly accessKeyId: string
  /** `X-Amz-Security-Token` (header or query), not verified here. */
  readonly sessionToken: string | undefined
  readonly authentication: "header" | "presigned"
  readonly scope: CredentialScope
  readonly payload: PayloadMode
  /**
   * The body to use from now on: the decoded and verified stream for the aws-chunked modes, a hash-checking
   * pass-through for a hex `x-amz-content-sha256`, the original otherwise. It errors with a `SigV4BodyError`
   * (see `isSigV4BodyError`) when the body turns out bad, and never completes in that case.
   */
  readonly body: ReadableStream<Uint8Array> | null
  /** `x-amz-decoded-content-length` for the aws-chunked modes: the length of `body`. */
  readonly decodedContentLength: number | undefined
  /** aws-chunked trailing headers (e.g. `x-amz-checksum-crc32`), complete once `body` has closed. */
  readonly trailers: () => ReadonlyMap<string, string>
}

export interface VerifyOptions {
  /** The credential scope's service must be this (default `"s3"`); `null` accepts any. Any region is accepted. */
  readonly service?: string | null
  /** Allowed distance between the request time and our clock, header auth (default 15 minutes). */
  readonly maxSkewMillis?: number
  /** Signing key cache (default: one per isolate, `defaultSigningKeyCache`). */
  readonly cache?: SigningKeyCache
  /** Header auth without `x-amz-content-sha256` is refused as S3 does (default true). */
  readonly requireContentSha256?: boolean
  /** See `AwsChunkedOptions.maxHeldChunkBytes`. */
  readonly maxHeldChunkBytes?: number
}

export type Authentication = "header" | "presigned" | "anonymous"

/** Which SigV4 form a request uses; `anonymous` when it carries neither (then do not call `verifyRequest`). */
export const authenticationOf = (request: S3Request): Authentication =>
  request.headers.has("authorization")
    ? "header"
    : isPresigned(request.url.searchParams)
    ? "presigned"
    : "anonymous"

const FIFTEEN_MINUTES = 15 * 60 * 1000
const NO_TRAILERS: ReadonlyMap<string, string> = new Map()

interface Parsed {
  readonly authentication: "header" | "presigned"
  readonly accessKeyId: string
  readonly scope: CredentialScope
  readonly signedHeaders: ReadonlyArray<string>
  readonly signature: string
  /** As signed (`YYYYMMDDTHHMMSSZ`). */
  readonly timestamp: string
  readonly timeMillis: number
  readonly expiresSeconds: number | undefined
  readonly sessionToken: string | undefined
  readonly payloadHash: string
}

type ParseError =
  | AuthorizationHeaderMalformed
  | AuthorizationQueryParametersError
  | AccessDenied
  | InvalidArgument
  | InvalidRequest

const parseHeaderAuth = (request: S3Request, options: VerifyOptions): Effect.Effect<Parsed, ParseError> =>
  Effect.suspend((): Effect.Effect<Parsed, ParseError> => {
    const parsed = parseAuthorizationHeader(request.headers.get("authorization") ?? "")
    if ("_tag" in parsed) {
      if (parsed._tag === "Malformed") return Effect.fail(new AuthorizationHeaderMalformed({ message: parsed.message }))
      return Effect.fail(
        parsed.scheme === "AWS" || parsed.scheme.startsWith("AWS4-")
          ? new InvalidRequest({
            message: "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256."
          })
          : new InvalidArgument({ message: "Unsupported Authorization Type" })
      )
    }
    const amzDate = request.headers.get("x-amz-date")
    let timestamp: string
    let timeMillis: number | undefined
    if (amzDate !== null) {
      timestamp = amzDate.trim()
      timeMillis = parseAmzDate(timestamp)
    } else {
      const date = request.headers.get("date")
      timeMillis = date === null ? undefined : parseHttpDate(date)
      timestamp = timeMillis === undefined ? "" : formatAmzDate(timeMillis)
    }
    if (timeMillis === undefined) {
      return Effect.fail(new AccessDenied({ reason: "AWS authentication requires a valid Date or x-amz-date header" }))
    }
    const contentSha256 = request.headers.get("x-amz-content-sha256")
    let payloadHash: string
    if (contentSha256 !== null) payloadHash = contentSha256.trim()
    else if (options.requireContentSha256 === false && request.body === null) payloadHash = EMPTY_SHA256
    else {
      return Effect.fail(
        new InvalidRequest({ message: "Missing required header for this request: x-amz-content-sha256" })
      )
    }
    return Effect.succeed({
      authentication: "header",
      accessKeyId: parsed.accessKeyId,
      scope: parsed.scope,
      signedHeaders: parsed.signedHeaders,
      signature: parsed.signature,
      timestamp,
      timeMillis,
      expiresSeconds: undefined,
      sessionToken: request.headers.get("x-amz-security-token") ?? undefined,
      payloadHash
    })
  })

const parseQueryAuth = (request: S3Request): Effect.Effect<Parsed, ParseError> =>
  Effect.suspend((): Effect.Effect<Parsed, ParseError> => {
    const params = request.url.searchParams
    const parsed = parsePresignedQuery(params)
    if (typeof parsed === "string") return Effect.fail(new AuthorizationQueryParametersError({ message: parsed }))
    const timeMillis = parseAmzDate(parsed.timestamp)
    if (timeMillis === undefined) {
      return Effect.fail(
        new AuthorizationQueryParametersError({
          message: "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\""
        })
      )
    }
    // Presigned URLs sign UNSIGNED-PAYLOAD unless the client sent (and signed) a hash itself.
    const payloadHash = request.headers.get("x-amz-content-sha256")?.trim()
      ?? params.get("X-Amz-Content-Sha256") ?? params.get("x-amz-content-sha256") ?? UNSIGNED_PAYLOAD
    return Effect.succeed({
      authentication: "presigned",
      accessKeyId: parsed.accessKeyId,
      scope: parsed.scope,
      signedHeaders: parsed.signedHeaders,
      signature: parsed.signature,
      timestamp: parsed.timestamp,
      timeMillis,
      expiresSeconds: parsed.expiresSeconds,
      sessionToken: parsed.sessionToken ?? request.headers.get("x-amz-security-token") ?? undefined,
      payloadHash
    })
  })

/** Scope, host and payload checks that need no clock and no secret. */
const checkParsed = (parsed: Parsed, options: VerifyOptions): Effect.Effect<PayloadMode, ParseError> => {
  const malformed = (message: string) =>
    parsed.authentication === "header"
      ? new AuthorizationHeaderMalformed({ message: `The authorization header is malformed; ${message}` })
      : new AuthorizationQueryParametersError({ message: `Error parsing the X-Amz-Credential parameter; ${message}` })
  const service = options.service === undefined ? "s3" : options.service
  if (service !== null && parsed.scope.service !== service) {
    return Effect.fail(malformed(`incorrect service "${parsed.scope.service}". This endpoint belongs to "${service}".`))
  }
  if (parsed.scope.date !== parsed.timestamp.slice(0, 8)) {
    return Effect.fail(malformed(`Invalid credential date "${parsed.scope.date}". Date is not the same as X-Amz-Date.`))
  }
  if (!parsed.signedHeaders.includes("host")) {
    return Effect.fail(
      parsed.authentication === "header"
        ? new AuthorizationHeaderMalformed({ message: "The authorization header is malformed; host must be signed." })
        : new AuthorizationQueryParametersError({ message: "X-Amz-SignedHeaders must contain host." })
    )
  }
  const mode = payloadModeOf(parsed.payloadHash)
  if (mode === undefined) {
    return Effect.fail(
      new InvalidArgument({
        message: "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, "
          + "STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value."
      })
    )
  }
  return Effect.succeed(mode)
}

const checkTime = (parsed: Parsed, options: VerifyOptions) =>
  Effect.flatMap(Clock.currentTimeMillis, (now): Effect.Effect<void, RequestTimeTooSkewed | RequestExpired | AccessDenied> => {
    const maxSkew = options.maxSkewMillis ?? FIFTEEN_MINUTES
    if (parsed.expiresSeconds === undefined) {
      return Math.abs(now - parsed.timeMillis) > maxSkew
        ? Effect.fail(new RequestTimeTooSkewed({ requestTime: parsed.timestamp, serverTime: formatAmzDate(now) }))
        : Effect.void
    }
    if (parsed.timeMillis - now > maxSkew) return Effect.fail(new AccessDenied({ reason: "Request is not valid yet" }))
    const expiresAt = parsed.timeMillis + parsed.expiresSeconds * 1000
    return now > expiresAt || parsed.expiresSeconds < 1
      ? Effect.fail(new RequestExpired({ expiredAt: formatAmzDate(expiresAt), serverTime: formatAmzDate(now) }))
      : Effect.void
  })

const decodedLength = (request: S3Request): Effect.Effect<number | undefined, InvalidArgument> => {
  const text = request.headers.get("x-amz-decoded-content-length")
  if (text === null) return Effect.succeed(undefined)
  return /^\d{1,15}$/.test(text.trim())
    ? Effect.succeed(Number(text.trim()))
    : Effect.fail(new InvalidArgument({ message: "x-amz-decoded-content-length must be a non-negative integer" }))
}

/**
 * Verifies a SigV4-signed request (header or presigned query) and returns who signed it and the body to use.
 * Order: parse → scope/host/payload-mode checks → clock (skew or expiry) → secret lookup → signature → body.
 * Body problems surface later, as an error of the returned stream.
 */
export const verifyRequest: <E, R>(
  request: S3Request,
  lookup: SecretLookup<E, R>,
  options?: VerifyOptions
) => Effect.Effect<VerifiedRequest, SigV4Error | E, Hmac | R> = Effect.fnUntraced(
  function*<E, R>(request: S3Request, lookup: SecretLookup<E, R>, options: VerifyOptions = {}) {
    const kind = authenticationOf(request)
    if (kind === "anonymous") return yield* new AccessDenied({ reason: "the request is not signed" })
    if (kind === "header" && isPresigned(request.url.searchParams)) {
      return yield* new InvalidArgument({
        message: "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string "
          + "parameter or the Authorization header should be specified"
      })
    }
    const parsed = yield* (kind === "header" ? parseHeaderAuth(request, options) : parseQueryAuth(request))
    const payload = yield* checkParsed(parsed, options)
    yield* checkTime(parsed, options)
    const secret = yield* lookup(parsed.accessKeyId, { sessionToken: parsed.sessionToken, scope: parsed.scope })

    const hmac = yield* Hmac
    const key = yield* signingKey(options.cache ?? defaultSigningKeyCache, parsed.accessKeyId, secret, parsed.scope)
    const canonical = canonicalRequest({
      method: request.method,
      uri: canonicalUri(request.url),
      query: canonicalQuery(request.url.searchParams, kind === "presigned" ? "X-Amz-Signature" : undefined),
      headers: canonicalHeaders(request.headers, parsed.signedHeaders, request.url),
      signedHeaders: parsed.signedHeaders,
      payloadHash: parsed.payloadHash
    })
    const toSign = stringToSign(parsed.timestamp, parsed.scope, yield* hmac.sha256Hex(canonical))
    const expected = toHex(yield* hmac.sha256(key, toSign))
    if (!constantTimeEqual(expected, parsed.signature)) {
      return yield* new SignatureDoesNotMatch({ where: "request" })
    }

    const base = {
      accessKeyId: parsed.accessKeyId,
      sessionToken: parsed.sessionToken,
      authentication: kind,
      scope: parsed.scope,
      payload
    }
    switch (payload._tag) {
      case "Unsigned":
        return { ...base, body: request.body, decodedContentLength: undefined, trailers: () => NO_TRAILERS }
      case "Sha256": {
        if (request.body === null && payload.hex !== EMPTY_SHA256) {
          return yield* new XAmzContentSHA256Mismatch({ expected: payload.hex, computed: EMPTY_SHA256 })
        }
        const body = request.body === null ? null : verifySha256Body(request.body, payload.hex)
        return { ...base, body, decodedContentLength: undefined, trailers: () => NO_TRAILERS }
      }
      case "StreamingUnsignedTrailer":
      case "StreamingSigned": {
        const decodedContentLength = yield* decodedLength(request)
        if (request.body === null) return yield* new IncompleteBody({ reason: "aws-chunked request without a body" })
        const decoded = yield* decodeAwsChunked(request.body, {
          signing: payload._tag === "StreamingSigned"
            ? { key, timestamp: parsed.timestamp, scope: parsed.scope, seedSignature: parsed.signature }
            : undefined,
          trailer: payload._tag === "StreamingUnsignedTrailer" || payload.trailer,
          decodedContentLength,
          maxHeldChunkBytes: options.maxHeldChunkBytes
        })
        return { ...base, body: decoded.body, decodedContentLength, trailers: decoded.trailers }
      }
    }
  }
)
