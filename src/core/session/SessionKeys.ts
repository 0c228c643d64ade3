import * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Effect from "effect/Effect"
import type { PublicJwk } from "../services/OidcProvider.js"
import type { InvalidAccessKeyId } from "../s3/errors.js"
import type { SessionClaims, SessionGrant } from "./SessionClaims.js"

/** The session token does not verify (bad signature, malformed, wrong audience, not yet valid). */
export class InvalidSessionToken extends Data.TaggedError("InvalidSessionToken")<{ readonly reason: string }> {}
/** The session token is past its `exp`. */
export class ExpiredSessionToken extends Data.TaggedError("ExpiredSessionToken")<{}> {}
export class SessionSigningFailed extends Data.TaggedError("SessionSigningFailed")<{ readonly reason: string }> {}

export interface IssuedSession {
  readonly accessKeyId: string
  readonly secretAccessKey: string
  readonly sessionToken: string
  readonly claims: SessionClaims
}

/**
 * Session credentials (docs/decisions.md#adr-001-session-credentials): `AccessKeyId` = `SCSTS{version}` + random;
 * the secret is HMAC-SHA256(SESSION_TOKEN_KEY, AccessKeyId), derived again on every request and never stored; the
 * SessionToken is an ES256 JWT whose public key is published in the JWKS.
 */
export class SessionKeys extends Context.Tag("sdp/SessionKeys")<SessionKeys, {
  readonly issue: (grant: SessionGrant) => Effect.Effect<IssuedSession, SessionSigningFailed>
  /** The secret of a session access key id; an unknown prefix or key version is InvalidAccessKeyId. */
  readonly secretFor: (accessKeyId: string) => Effect.Effect<string, InvalidAccessKeyId>
  readonly verify: (sessionToken: string) => Effect.Effect<SessionClaims, InvalidSessionToken | ExpiredSessionToken>
  readonly publicKeys: Effect.Effect<ReadonlyArray<PublicJwk>, SessionSigningFailed>
}>() {}
