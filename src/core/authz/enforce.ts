import * as Effect from "effect/Effect"
import { backendKey } from "../backends/keys.js"
import type { ObjectWriter, OpenError, Storage } from "../backends/ObjectStore.js"
import { Catalog, type CatalogError } from "../catalog/Catalog.js"
import { resolveProduct, type ResolvedProduct } from "../catalog/resolve.js"
import { isPublic, type Product } from "../catalog/schema.js"
import { AccessDenied, type BackendAuthenticationFailed } from "../s3/errors.js"
import type { ObjectTarget } from "../s3/keys.js"
import type { ListResult } from "../s3/listResult.js"
import { logEvent } from "../shared/logEvent.js"
import { type ActionClass, authorize, ceilingAllows, ceilingReaches } from "./authorize.js"
import { callerOf } from "./caller.js"
import type { Identity } from "./Identity.js"
import { objectUrn } from "./urn.js"

/*
 * Every access decision the proxy makes, in one module (docs/authorization.md#the-decision): anonymous callers read
 * public, enabled products and never write; a session gets its Role ceiling ∩ its principal's current
 * permissions on the product; a write also needs a connection that takes writes; a listing shows only what
 * the ceiling reaches. Operations ask here and never decide themselves. Every denial is the same 403.
 */

/** A target the caller may write: its product, the connection's writer and the backend key. */
export interface WritableTarget {
  readonly resolved: ResolvedProduct
  readonly writer: ObjectWriter
  readonly key: string
}

type ProductError = CatalogError | OpenError

/** Anonymous callers never write; refused before any lookup, as one 403 for the whole request. */
export const refuseAnonymousWrite = (identity: Identity): Effect.Effect<void, AccessDenied> =>
  identity._tag === "Anonymous" ? Effect.fail(new AccessDenied({ reason: "anonymous callers cannot write" })) : Effect.void

/**
 * A product the caller may see (HeadBucket, CreateBucket, a listing): for a session, what the catalog shows
 * its principal; for anonymous callers, public and enabled products only.
 */
export const visibleProduct = (
  identity: Identity,
  account: string,
  product: string
): Effect.Effect<ResolvedProduct, ProductError, Catalog | Storage> =>
  Effect.flatMap(resolveProduct(account, product, callerOf(identity)), (resolved) =>
    identity._tag === "Anonymous" && !isPublic(resolved.meta)
      ? Effect.fail(new AccessDenied({ reason: "product is not public" }))
      : Effect.succeed(resolved))

/** The access log: one entry per decision on a session request. */
const logDecision = (
  identity: Identity & { readonly _tag: "Session" },
  allowed: boolean,
  action: ActionClass,
  resource: string,
  principalPermissions: ReadonlyArray<string> | undefined
) =>
  logEvent("access", {
    decision: allowed ? "allow" : "deny",
    action,
    resource,
    principal: callerOf(identity)?.principal ?? null,
    account: identity.claims.account_id,
    role: identity.claims.role_name,
    assumed_by: identity.claims.assumed_by,
    assumed_by_issuer: identity.claims.assumed_by_issuer,
    session_name: identity.claims.session_name,
    jti: identity.claims.jti,
    principal_permissions: principalPermissions ?? null
  })

/**
 * The product of a target the caller may act on: the Role ceiling ∩ the principal's permissions, which are
 * fetched only for a write or a product that is not public.
 */
const permitted: (
  identity: Identity,
  target: ObjectTarget,
  action: ActionClass
) => Effect.Effect<ResolvedProduct, ProductError | BackendAuthenticationFailed, Catalog | Storage> = Effect.fnUntraced(
  function*(identity, target, action) {
    if (action === "write") yield* refuseAnonymousWrite(identity)
    const caller = callerOf(identity)
    const resolved = yield* visibleProduct(identity, target.account, target.product).pipe(
      // A connection whose authentication cannot sign fails closed: 502 for a read, 403 for a write.
      Effect.catchTag("BackendAuthenticationFailed", (e): Effect.Effect<never, AccessDenied | BackendAuthenticationFailed> =>
        action === "write" ? Effect.fail(new AccessDenied({ reason: `connection auth: ${e.code}` })) : Effect.fail(e))
    )
    const publicRead = isPublic(resolved.meta)
    const principalPermissions = caller !== undefined && (action === "write" || !publicRead)
      ? yield* (yield* Catalog).permissions(target.account, target.product, caller)
      : undefined
    const resource = objectUrn(target.account, target.product, target.key)
    const decision = authorize(identity, { action, resource, publicRead, principalPermissions })
    if (identity._tag === "Session") {
      yield* logDecision(identity, yield* Effect.isSuccess(decision), action, resource, principalPermissions)
    }
    yield* decision
    return resolved
  }
)

/** The product of an object the caller may read. */
export const readable = (identity: Identity, target: ObjectTarget) => permitted(identity, target, "read")

/** The writer of an object the caller may write: permitted, on a connection that is not read-only and can sign. */
export const writable = (
  identity: Identity,
  target: ObjectTarget
): Effect.Effect<WritableTarget, ProductError | BackendAuthenticationFailed, Catalog | Storage> =>
  Effect.flatMap(permitted(identity, target, "write"), (resolved) =>
    resolved.connection.read_only || resolved.store.writer === undefined
      ? Effect.fail(new AccessDenied({ reason: "the product's connection does not take writes" }))
      : Effect.succeed({ resolved, writer: resolved.store.writer, key: backendKey(resolved.prefix, target.key) }))

/**
 * The products an account listing may visit: anonymous callers public ones only; a session all of them,
 * each then opened through `visibleProduct`, which leaves out what its principal may not see.
 */
export const listingCandidates = (identity: Identity, products: ReadonlyArray<Product>): ReadonlyArray<Product> =>
  identity._tag === "Anonymous" ? products.filter(isPublic) : products

/**
 * The products an account's product listing shows: public ones, and for a session each restricted product
 * the catalog shows its principal (the product list itself is anonymous).
 */
export const visibleProducts = (
  identity: Identity,
  account: string,
  products: ReadonlyArray<Product>
): Effect.Effect<ReadonlyArray<Product>, CatalogError, Catalog> => {
  const caller = callerOf(identity)
  return Effect.flatMap(Catalog, (catalog) =>
    Effect.filter(products, (p) =>
      isPublic(p) ? Effect.succeed(true)
        : caller === undefined ? Effect.succeed(false)
        : catalog.product(account, p.product_id, caller).pipe(
          Effect.as(true),
          Effect.catchTags({ AccessDenied: () => Effect.succeed(false), NoSuchBucket: () => Effect.succeed(false) })
        )))
}

/** A session's listing shows only what its Role ceiling reaches (an empty page, not an error, if nothing). */
export const narrowListing = (identity: Identity, account: string) => (result: ListResult): ListResult => {
  if (identity._tag === "Anonymous") return result
  const ceiling = identity.claims.permissions
  const urnOf = (name: string) => {
    const slash = name.indexOf("/")
    return objectUrn(account, name.slice(0, slash), name.slice(slash + 1))
  }
  return {
    ...result,
    contents: result.contents.filter((c) => ceilingAllows(ceiling, "read", urnOf(c.key))),
    commonPrefixes: result.commonPrefixes.filter((p) => ceilingReaches(ceiling, urnOf(p)))
  }
}
