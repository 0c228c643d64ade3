import * as Effect from "effect/Effect"
import type { Identity } from "./Identity.js"
import { AccessDenied } from "../s3/errors.js"
import type { Permission } from "../session/SessionClaims.js"
import { covers, leadsInto } from "./urn.js"

export type ActionClass = "read" | "write"

export interface AuthzRequest {
  readonly action: ActionClass
  /** The object or product URN (urn.ts). */
  readonly resource: string
  /** Whether anonymous callers may read this product (public and enabled). */
  readonly publicRead: boolean
  /** The session principal's permissions on the product (Source API), for sessions; undefined when not fetched. */
  readonly principalPermissions: ReadonlyArray<string> | undefined
}

/** The Role ceiling: some statement grants the action on the resource. */
export const ceilingAllows = (ceiling: ReadonlyArray<Permission>, action: ActionClass, resource: string): boolean =>
  ceiling.some((statement) => statement.actions.includes(action) && statement.resources.some((p) => covers(p, resource)))

/** Whether a listing may show `prefixUrn` (a common prefix) because something under it is within the ceiling. */
export const ceilingReaches = (ceiling: ReadonlyArray<Permission>, prefixUrn: string): boolean =>
  ceiling.some((statement) => statement.actions.includes("read") && statement.resources.some((p) => leadsInto(p, prefixUrn)))

const principalAllows = (request: AuthzRequest): boolean =>
  request.action === "read"
    ? request.publicRead || (request.principalPermissions ?? []).some((p) => p.toLowerCase() === "read" || p.toLowerCase() === "write")
    : (request.principalPermissions ?? []).some((p) => p.toLowerCase() === "write")

/**
 * The decision (docs/decisions.md#adr-005-authorization): anonymous → read of public products only; a session →
 * its Role ceiling ∩ its principal's current permissions on the product (the user for `_default` sessions, else
 * the account). Every denial is the same AccessDenied, whatever the cause.
 */
export const decide = (identity: Identity, request: AuthzRequest): boolean =>
  identity._tag === "Anonymous"
    ? request.action === "read" && request.publicRead
    : ceilingAllows(identity.claims.permissions, request.action, request.resource) && principalAllows(request)

export const authorize = (identity: Identity, request: AuthzRequest): Effect.Effect<void, AccessDenied> =>
  decide(identity, request)
    ? Effect.void
    : Effect.fail(new AccessDenied({ reason: `${request.action} ${request.resource}` }))
