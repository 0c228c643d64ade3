import { Effect, Layer, Schema } from "effect"
import { Catalog } from "../core/catalog/Catalog.js"
import { DataConnectionJson, Product, toDataConnection } from "../core/catalog/schema.js"
import { NoSuchBucket } from "../core/s3/errors.js"

/**
 * The embedded catalog file (`CATALOG`): the same JSON shapes the Source API serves, in one document.
 * `accounts` lists accounts that exist even without products.
 */
export const CatalogDocument = Schema.Struct({
  accounts: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] }),
  products: Schema.Array(Schema.Struct({ ...Product.fields, account_id: Schema.String })),
  data_connections: Schema.Array(DataConnectionJson)
})
export type CatalogDocument = typeof CatalogDocument.Type

/** Answers as the Source API would for an anonymous caller: unknown things are 404 (NoSuchBucket). */
export const LocalCatalog = (document: CatalogDocument) => {
  const products = new Map(document.products.map((p) => [`${p.account_id}/${p.product_id}`, p] as const))
  const connections = new Map(document.data_connections.map((c) => [c.data_connection_id, toDataConnection(c)] as const))
  const accounts = new Set([...document.accounts, ...document.products.map((p) => p.account_id)])
  return Layer.succeed(
    Catalog,
    Catalog.of({
      product: (account, product) => {
        const found = products.get(`${account}/${product}`)
        return found === undefined ? Effect.fail(new NoSuchBucket({ bucket: account })) : Effect.succeed(found)
      },
      products: (account) =>
        accounts.has(account)
          ? Effect.succeed(document.products.filter((p) => p.account_id === account))
          : Effect.fail(new NoSuchBucket({ bucket: account })),
      dataConnection: (id) => {
        const found = connections.get(id)
        return found === undefined ? Effect.fail(new NoSuchBucket({ bucket: id })) : Effect.succeed(found)
      }
    })
  )
}
