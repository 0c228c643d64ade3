import { Context, Data, type Effect } from "effect"
import type { CatalogFailure, CatalogUnavailable } from "../s3/errors.js"
import type { DataConnection, Product, Role } from "./schema.js"
import type { AccessDenied, NoSuchBucket } from "../s3/errors.js"

/** Failures of a catalog lookup, each already an S3-facing error (one mapping, in `renderError.ts`). */
export type CatalogError = NoSuchBucket | AccessDenied | CatalogFailure | CatalogUnavailable

/** No such role in that account (the Source API answered 404). Not an S3 error: only STS asks for roles. */
export class NoSuchRole extends Data.TaggedError("NoSuchRole")<{ readonly account: string; readonly role: string }> {}

/**
 * On whose behalf a lookup is made (ADR-005): the session's account, its Role and who assumed it. The
 * Source API answers what that subject may see; without a caller a lookup is anonymous.
 */
export interface Caller {
  readonly accountId: string
  readonly roleName: string
  readonly assumedBy: string
}

/**
 * Where products, product lists and data connections come from: the Source API in production, a local
 * catalog file for `bun run dev`. Product lists are always anonymous (reference spec-dsc §3).
 */
export class Catalog extends Context.Tag("sdp/Catalog")<Catalog, {
  readonly product: (account: string, product: string, caller?: Caller) => Effect.Effect<Product, CatalogError>
  readonly products: (account: string) => Effect.Effect<ReadonlyArray<Product>, CatalogError>
  readonly dataConnection: (id: string, caller?: Caller) => Effect.Effect<DataConnection, CatalogError>
  /** The caller's account's permissions on a product, e.g. `["read", "write"]` (compared case-insensitively). */
  readonly permissions: (account: string, product: string, caller: Caller) => Effect.Effect<ReadonlyArray<string>, CatalogError>
  /**
   * A Role as stored (TARGET §3). `_default` is NoSuchRole unless the catalog defines it; the STS program
   * substitutes the built-in default (`src/core/sts/roles.ts`), identically for every catalog.
   */
  readonly role: (account: string, name: string) => Effect.Effect<Role, NoSuchRole | CatalogError>
}>() {}
