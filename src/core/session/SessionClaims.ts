import * as Schema from "effect/Schema"

/**
 * One permission statement of a Role ceiling (docs/authorization.md#role-ceiling): action classes over URN
 * resource patterns.
 */
export const Permission = Schema.Struct({
  actions: Schema.Array(Schema.Literal("read", "write")),
  resources: Schema.Array(Schema.String)
})
export type Permission = typeof Permission.Type

/**
 * The claims of a SessionToken (docs/session-credentials.md#session-token): an ES256 JWT the proxy issues at
 * `/.sts` and verifies on every signed request. `sub` is the role URN `sc::{account}::role/{name}`.
 */
export const SessionClaims = Schema.Struct({
  iss: Schema.String,
  sub: Schema.String,
  aud: Schema.String,
  account_id: Schema.String,
  role_name: Schema.String,
  assumed_by: Schema.String,
  assumed_by_issuer: Schema.String,
  session_name: Schema.String,
  access_key_id: Schema.String,
  permissions: Schema.Array(Permission),
  iat: Schema.Number,
  nbf: Schema.Number,
  exp: Schema.Number,
  jti: Schema.String
})
export type SessionClaims = typeof SessionClaims.Type

/** What the exchange decides; the keys add access_key_id, iss, aud, iat, nbf, exp and jti when signing. */
export type SessionGrant = Omit<SessionClaims, "access_key_id" | "iss" | "aud" | "iat" | "nbf" | "exp" | "jti"> & {
  readonly durationSeconds: number
}
