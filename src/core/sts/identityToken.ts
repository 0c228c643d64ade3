import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import {
  createLocalJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  type JSONWebKeySet,
  type JWTPayload,
  jwtVerify
} from "jose"
import { ExpiredTokenException, InvalidIdentityToken } from "./errors.js"

/** Asymmetric algorithms only: never `none`, never HS* (a public JWK must not become an HMAC secret). */
export const IDENTITY_ALGORITHMS = [
  "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"
]

/** `exp`/`nbf` tolerance (docs/decisions.md#adr-004-sts-and-roles). */
export const CLOCK_TOLERANCE_SECONDS = 60

/** The token names a `kid` the key set does not have: the caller may refetch the keys once. */
export class UnknownKid extends Data.TaggedError("UnknownKid")<{}> {}

export interface UnverifiedToken {
  readonly issuer: string
  readonly alg: string
}

const invalid = (message: string) => new InvalidIdentityToken({ message })

/**
 * The token's header and issuer, read WITHOUT verification: only to choose the IdP and refuse bad
 * algorithms before any key is fetched.
 */
export const peekIdentityToken = (token: string): Either.Either<UnverifiedToken, InvalidIdentityToken> => {
  let alg: unknown
  let issuer: unknown
  try {
    alg = decodeProtectedHeader(token).alg
    issuer = decodeJwt(token).iss
  } catch {
    return Either.left(invalid("The token is not a well-formed JWT"))
  }
  if (typeof alg !== "string" || !IDENTITY_ALGORITHMS.includes(alg)) {
    return Either.left(invalid("The token's signing algorithm is not supported"))
  }
  if (typeof issuer !== "string" || issuer === "") return Either.left(invalid("The token has no iss claim"))
  return Either.right({ issuer, alg })
}

const reasonOf = (cause: unknown): InvalidIdentityToken | ExpiredTokenException | UnknownKid => {
  if (cause instanceof errors.JWTExpired) return new ExpiredTokenException()
  if (cause instanceof errors.JWKSNoMatchingKey) return new UnknownKid()
  if (cause instanceof errors.JWSSignatureVerificationFailed) return invalid("The token's signature does not verify")
  if (cause instanceof errors.JOSEAlgNotAllowed) return invalid("The token's signing algorithm is not supported")
  if (cause instanceof errors.JWTClaimValidationFailed) {
    if (cause.reason === "missing") return invalid(`The token has no ${cause.claim} claim`)
    if (cause.claim === "nbf") return invalid("The token is not yet valid (nbf)")
    return invalid(`The token's ${cause.claim} claim failed verification`)
  }
  return invalid("The token could not be verified")
}

/**
 * Signature (with the issuer's keys), `iss`, `exp` (required) and `nbf` (60 s tolerance), on Effect's
 * clock so TestClock controls expiry (EXAMPLES P6). The audience is checked by the caller against the
 * Role's bindings.
 */
export const verifyIdentityToken = (
  token: string,
  jwks: JSONWebKeySet,
  issuer: string
): Effect.Effect<JWTPayload, InvalidIdentityToken | ExpiredTokenException | UnknownKid> =>
  Effect.flatMap(Clock.currentTimeMillis, (now) =>
    Effect.tryPromise({
      try: async () => {
        const { payload } = await jwtVerify(token, createLocalJWKSet(jwks), {
          issuer,
          algorithms: IDENTITY_ALGORITHMS,
          clockTolerance: CLOCK_TOLERANCE_SECONDS,
          currentDate: new Date(now),
          requiredClaims: ["exp"]
        })
        return payload
      },
      catch: reasonOf
    }))
