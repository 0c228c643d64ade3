import { Context, type Effect } from "effect"
import type { CatalogFailure, CatalogUnavailable } from "../s3/errors.js"
import type { DataConnection, Product } from "./schema.js"
import type { AccessDenied, NoSuchBucket } from "../s3/errors.js"

/** Failures of a catalog lookup, each already an S3-facing error (one mapping, in `renderError.ts`). */
export type CatalogError = NoSuchBucket | AccessDenied | CatalogFailure | CatalogUnavailable

/**
 * Where products, product lists and data connections come from: the Source API in production, a local
 * catalog file for `bun run dev`. Lookups here are anonymous (the caller's subject comes with identity).
 */
export class Catalog extends Context.Tag("sdp/Catalog")<Catalog, {
  readonly product: (account: string, product: string) => Effect.Effect<Product, CatalogError>
  readonly products: (account: string) => Effect.Effect<ReadonlyArray<Product>, CatalogError>
  readonly dataConnection: (id: string) => Effect.Effect<DataConnection, CatalogError>
}>() {}
