import * as Effect from "effect/Effect"
import type { S3Request } from "../http/S3Request.js"
import { BackendUnavailable, ExpiredToken, InvalidToken, type S3Error } from "../s3/errors.js"
import type { Hmac } from "../services/Hmac.js"
import { Revocations } from "../services/Revocations.js"
import { authenticationOf, type SecretLookupContext, verifyRequest } from "../sigv4/index.js"
import type { SessionClaims } from "../session/SessionClaims.js"
import { SessionKeys } from "../session/SessionKeys.js"
import { anonymous, type Identity } from "../authz/Identity.js"

/** The request body as a write forwards it. */
export interface Payload {
  /** For aws-chunked uploads the decoded, signature-checked stream; else the body as received. */
  readonly body: ReadableStream<Uint8Array> | null
  /** `x-amz-decoded-content-length` for aws-chunked bodies, else `content-length`. */
  readonly contentLength: number | undefined
  /** Checksums sent as aws-chunked trailers, known once the body has been read. */
  readonly trailers: () => ReadonlyMap<string, string>
}

export interface Authenticated {
  readonly identity: Identity
  readonly payload: Payload
}

const NO_TRAILERS: ReadonlyMap<string, string> = new Map()

const declaredLength = (request: S3Request): number | undefined => {
  const raw = request.headers.get("content-length")
  return raw !== null && /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : undefined
}

/**
 * The secret of a session's access key id, once its token checks out (ES256 signature and expiry, issued with this
 * access key id, `jti` not revoked), with the token's claims.
 */
const sessionSecret = Effect.fnUntraced(function*(accessKeyId: string, context: SecretLookupContext) {
  const keys = yield* SessionKeys
  const secret = yield* keys.secretFor(accessKeyId)
  if (context.sessionToken === undefined) {
    return yield* new InvalidToken({ reason: "session credentials need their session token" })
  }
  const claims = yield* keys.verify(context.sessionToken).pipe(
    Effect.catchTags({
      ExpiredSessionToken: () => Effect.fail(new ExpiredToken()),
      InvalidSessionToken: (e) => Effect.fail(new InvalidToken({ reason: e.reason }))
    })
  )
  if (claims.access_key_id !== accessKeyId) {
    return yield* new InvalidToken({ reason: "the token was issued with another access key" })
  }
  // A deny-list that cannot be read must not let a revoked token through: the request fails.
  const revoked = yield* (yield* Revocations).isRevoked(claims.jti).pipe(
    Effect.mapError((e) => new BackendUnavailable({ reason: `revocation list: ${e.reason}` }))
  )
  if (revoked) return yield* new InvalidToken({ reason: "revoked" })
  return { secret, claims }
})

const signedIdentity = Effect.fnUntraced(function*(request: S3Request) {
  let session: SessionClaims | undefined
  // The token is checked before the signature: a stale or foreign session then reads as InvalidToken (its real
  // cause) rather than SignatureDoesNotMatch.
  const verified = yield* verifyRequest(request, (accessKeyId, context) =>
    Effect.map(sessionSecret(accessKeyId, context), ({ claims, secret }) => {
      session = claims
      return secret
    }))
  if (session === undefined) return yield* new InvalidToken({ reason: "no session" }) // the lookup always sets it
  return {
    identity: { _tag: "Session", claims: session },
    payload: {
      body: verified.body,
      contentLength: verified.decodedContentLength ?? declaredLength(request),
      trailers: verified.trailers
    }
  } satisfies Authenticated
})

/**
 * Who sent the request (docs/session-credentials.md#verifying-a-signed-request). No signature: anonymous.
 * Otherwise the session token, then SigV4 against the secret derived from the access key id. Any failure answers;
 * nothing falls back to anonymous.
 */
export const resolveIdentity = (
  request: S3Request
): Effect.Effect<Authenticated, S3Error, SessionKeys | Revocations | Hmac> =>
  authenticationOf(request) === "anonymous"
    ? Effect.succeed({
      identity: anonymous,
      payload: { body: request.body, contentLength: declaredLength(request), trailers: () => NO_TRAILERS }
    })
    : signedIdentity(request)
