import * as Effect from "effect/Effect"
import { type ObjectStore, type OpenError, Storage } from "../backends/ObjectStore.js"
import { NoSuchBucket } from "../s3/errors.js"
import { type Caller, Catalog, type CatalogError } from "./Catalog.js"
import type { Product } from "./schema.js"
import { type DataConnection } from "../backends/connection.js"

/** A product with the backend location its primary mirror points at. */
export interface ResolvedProduct {
  readonly account: string
  readonly product: string
  readonly meta: Product
  readonly store: ObjectStore
  /** Backend key prefix of the product: `base_prefix + mirror.prefix`, plain concatenation. */
  readonly prefix: string
  /** The primary mirror's data connection (writes need it not `read_only`; copies need both ends on it). */
  readonly connection: DataConnection
}

/**
 * Product → primary mirror (else the first one) → data connection → store, looked up on behalf of the
 * caller (what the catalog shows it). Whether the caller may use the product is authz/enforce.ts's call.
 */
export const resolveProduct: (
  account: string,
  product: string,
  caller?: Caller
) => Effect.Effect<ResolvedProduct, CatalogError | OpenError, Catalog | Storage> = Effect.fnUntraced(
  function*(account: string, product: string, caller?: Caller) {
    if (product === "") return yield* new NoSuchBucket({ bucket: account })
    const catalog = yield* Catalog
    const meta = yield* catalog.product(account, product, caller)
    const mirrors = meta.metadata.mirrors
    const mirror = mirrors[meta.metadata.primary_mirror ?? ""] ?? Object.values(mirrors)[0]
    if (mirror === undefined) return yield* new NoSuchBucket({ bucket: account })
    // The connection id is internal: a missing connection reads as a missing bucket, named by the account.
    const connection = yield* catalog.dataConnection(mirror.connection_id, caller).pipe(
      Effect.catchTag("NoSuchBucket", () => Effect.fail(new NoSuchBucket({ bucket: account })))
    )
    const store = yield* (yield* Storage).open(connection)
    return { account, product, meta, store, connection, prefix: (connection.details.base_prefix ?? "") + mirror.prefix }
  }
)
