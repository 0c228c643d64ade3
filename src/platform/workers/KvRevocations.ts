import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Revocations, RevocationsUnavailable } from "../../core/services/Revocations.js"

/** The part of a Workers KV namespace binding the deny-list uses. */
export interface KvNamespace {
  readonly get: (key: string) => Promise<string | null>
  readonly put: (key: string, value: string, options: { readonly expiration: number }) => Promise<void>
}

const keyOf = (jti: string) => `revoked:${jti}`
/** KV refuses expirations less than 60 s ahead. */
const KV_MIN_TTL = 60

/**
 * The jti deny-list in Workers KV (binding `REVOCATIONS`), entries expiring with the token. Without the
 * binding every lookup fails, so signed requests are refused rather than let through unchecked.
 */
export const KvRevocations = (namespace: KvNamespace | undefined) =>
  Layer.succeed(
    Revocations,
    Revocations.of({
      isRevoked: (jti) =>
        namespace === undefined
          ? Effect.fail(new RevocationsUnavailable({ reason: "the REVOCATIONS KV binding is missing" }))
          : Effect.tryPromise({
            try: () => namespace.get(keyOf(jti)),
            catch: (cause) => new RevocationsUnavailable({ reason: String(cause) })
          }).pipe(Effect.map((value) => value !== null)),
      revoke: (jti, until) =>
        namespace === undefined
          ? Effect.fail(new RevocationsUnavailable({ reason: "the REVOCATIONS KV binding is missing" }))
          : Effect.flatMap(Clock.currentTimeMillis, (now) =>
            Effect.tryPromise({
              try: () =>
                namespace.put(keyOf(jti), "1", { expiration: Math.max(until, Math.ceil(now / 1000) + KV_MIN_TTL) }),
              catch: (cause) => new RevocationsUnavailable({ reason: String(cause) })
            }))
    })
  )
