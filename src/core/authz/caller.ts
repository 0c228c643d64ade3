import type { Caller } from "../catalog/Catalog.js"
import type { SessionClaims } from "../session/SessionClaims.js"
import { DEFAULT_ROLE } from "../catalog/schema.js"
import type { Identity } from "./Identity.js"

/**
 * Whose rights a session carries (docs/authorization.md#principals). Anyone can name any account in a `_default`
 * RoleArn, so a `_default` session is the user who signed in (`assumed_by`); an account's own Role vouched for its
 * caller through its identity constraints, so that session is the account. (An API key's `_default` session is its
 * account too: the built-in Role only takes keys whose `sub` is the account.)
 */
export const principalOf = (claims: SessionClaims): string =>
  claims.role_name === DEFAULT_ROLE ? claims.assumed_by : claims.account_id

/** Catalog lookups on behalf of a session carry its principal and claims; anonymous ones carry none. */
export const callerOf = (identity: Identity): Caller | undefined =>
  identity._tag === "Anonymous"
    ? undefined
    : {
      principal: principalOf(identity.claims),
      accountId: identity.claims.account_id,
      roleName: identity.claims.role_name,
      assumedBy: identity.claims.assumed_by,
      assumedByIssuer: identity.claims.assumed_by_issuer
    }
