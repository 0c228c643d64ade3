import * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Effect from "effect/Effect"
import type { BackendInvalidResponse, CatalogFailure, CatalogUnavailable } from "../s3/errors.js"
import type { AccountIdp, Product, Role } from "./schema.js"
import type { DataConnection } from "../backends/connection.js"
import type { AccessDenied, NoSuchBucket } from "../s3/errors.js"

/** Failures of a catalog lookup, each already an S3-facing error (one mapping, in `renderError.ts`). */
export type CatalogError = NoSuchBucket | AccessDenied | CatalogFailure | CatalogUnavailable | BackendInvalidResponse

/** No such role in that account (the Source API answered 404). Not an S3 error: only STS asks for roles. */
export class NoSuchRole extends Data.TaggedError("NoSuchRole")<{ readonly account: string; readonly role: string }> {}

/** The account registered no IdP of that name (the Source API answered 404): a binding naming it cannot match. */
export class NoSuchIdp extends Data.TaggedError("NoSuchIdp")<{ readonly account: string; readonly idp: string }> {}

/**
 * On whose behalf a lookup is made (docs/catalog.md#whose-rights-a-lookup-carries). The Source API answers what
 * the `principal` may see (the proxy→API JWT's `sub`); the session's account, Role and who assumed it ride along
 * as claims. Without a caller a lookup is anonymous.
 */
export interface Caller {
  /** Whose rights apply: the signed-in user for `_default` sessions, else the account (`principalOf`). */
  readonly principal: string
  readonly accountId: string
  readonly roleName: string
  readonly assumedBy: string
  /** The issuer of `assumedBy`, so a user's `sub` cannot pass for another IdP's (or an account's) name. */
  readonly assumedByIssuer: string
}

/**
 * Where products, product lists and data connections come from: the Source API in production, a local
 * catalog file for `bun run dev`. Product lists are always anonymous (docs/catalog.md#source-api-endpoints).
 */
export class Catalog extends Context.Tag("sdp/Catalog")<Catalog, {
  readonly product: (account: string, product: string, caller?: Caller) => Effect.Effect<Product, CatalogError>
  readonly products: (account: string) => Effect.Effect<ReadonlyArray<Product>, CatalogError>
  readonly dataConnection: (id: string, caller?: Caller) => Effect.Effect<DataConnection, CatalogError>
  /** The caller's principal's permissions on a product, e.g. `["read", "write"]` (compared case-insensitively). */
  readonly permissions: (account: string, product: string, caller: Caller) => Effect.Effect<ReadonlyArray<string>, CatalogError>
  /**
   * A Role as stored (docs/catalog.md#roles-and-identity-providers). `_default` is NoSuchRole unless the catalog
   * defines it; the STS program substitutes the built-in default (`src/core/sts/roles.ts`), identically for every
   * catalog.
   */
  readonly role: (account: string, name: string) => Effect.Effect<Role, NoSuchRole | CatalogError>
  /** An IdP the account registered, for its own Roles' bindings (docs/sts.md#identity-providers). */
  readonly idp: (account: string, name: string) => Effect.Effect<AccountIdp, NoSuchIdp | CatalogError>
}>() {}
