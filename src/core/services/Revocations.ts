import * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Effect from "effect/Effect"

export class RevocationsUnavailable extends Data.TaggedError("RevocationsUnavailable")<{ readonly reason: string }> {}

/**
 * The `jti` deny-list (docs/session-credentials.md#revocation): session tokens and API keys revoked before they
 * expire. Workers KV in production, a local store under Bun. A read failure must not let a revoked token through,
 * so it fails.
 */
export class Revocations extends Context.Tag("sdp/Revocations")<Revocations, {
  readonly isRevoked: (jti: string) => Effect.Effect<boolean, RevocationsUnavailable>
  /** Keeps the entry until `until` (epoch seconds): after that the token has expired anyway. */
  readonly revoke: (jti: string, until: number) => Effect.Effect<void, RevocationsUnavailable>
}>() {}
