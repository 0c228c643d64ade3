import * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Effect from "effect/Effect"

/** A public signing key as published in `/.well-known/jwks.json`. */
export interface PublicJwk {
  readonly kty: string
  readonly kid: string
  readonly alg: string
  readonly use: "sig"
  readonly [member: string]: string
}

export class SigningFailed extends Data.TaggedError("SigningFailed")<{ readonly reason: string }> {}

export interface AssertionClaims {
  readonly sub: string
  readonly aud: string
  readonly ttlSeconds: number
  readonly extra?: Readonly<Record<string, string>>
}

/**
 * The proxy as an OIDC issuer (docs/sts.md#the-proxy-as-an-oidc-issuer): RS256 JWTs for the Source API and for
 * outbound federation, and the public keys (active first, then the previous one during a rotation).
 */
export class OidcProvider extends Context.Tag("sdp/OidcProvider")<OidcProvider, {
  readonly issuer: string
  readonly sign: (claims: AssertionClaims) => Effect.Effect<string, SigningFailed>
  readonly publicKeys: Effect.Effect<ReadonlyArray<PublicJwk>, SigningFailed>
}>() {}
