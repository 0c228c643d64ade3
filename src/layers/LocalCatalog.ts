import { Effect, Layer, Schema } from "effect"
import { Catalog, NoSuchRole } from "../core/catalog/Catalog.js"
import { DataConnectionJson, isPublic, Product, Role, toDataConnection } from "../core/catalog/schema.js"
import { AccessDenied, NoSuchBucket } from "../core/s3/errors.js"

/**
 * The embedded catalog file (`CATALOG`): the same JSON shapes the Source API serves, in one document.
 * `accounts` lists accounts that exist even without products; `roles` are the Roles the Source API would
 * serve, each with its `account_id` (`_default` is built in, TARGET §3).
 */
export const CatalogDocument = Schema.Struct({
  accounts: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] }),
  products: Schema.Array(Schema.Struct({ ...Product.fields, account_id: Schema.String })),
  data_connections: Schema.Array(DataConnectionJson),
  roles: Schema.optional(Schema.Array(Schema.Struct({ ...Role.fields, account_id: Schema.String })))
})
export type CatalogDocument = typeof CatalogDocument.Type

/** Answers as the Source API would for an anonymous caller: unknown things are 404 (NoSuchBucket). */
export const LocalCatalog = (document: CatalogDocument) => {
  const products = new Map(document.products.map((p) => [`${p.account_id}/${p.product_id}`, p] as const))
  const connections = new Map(document.data_connections.map((c) => [c.data_connection_id, toDataConnection(c)] as const))
  const roles = new Map((document.roles ?? []).map(({ account_id, ...role }) => [`${account_id}/${role.name}`, role] as const))
  const accounts = new Set([...document.accounts, ...document.products.map((p) => p.account_id)])
  return Layer.succeed(
    Catalog,
    Catalog.of({
      product: (account, product, caller) => {
        const found = products.get(`${account}/${product}`)
        if (found === undefined) return Effect.fail(new NoSuchBucket({ bucket: account }))
        // As the Source API: a product that is not public is visible to its own account's sessions only.
        return isPublic(found) || caller?.accountId === account
          ? Effect.succeed(found)
          : Effect.fail(new AccessDenied({ reason: "not visible to this caller" }))
      },
      products: (account) =>
        accounts.has(account)
          ? Effect.succeed(document.products.filter((p) => p.account_id === account))
          : Effect.fail(new NoSuchBucket({ bucket: account })),
      dataConnection: (id) => {
        const found = connections.get(id)
        return found === undefined ? Effect.fail(new NoSuchBucket({ bucket: id })) : Effect.succeed(found)
      },
      // As the Source API would answer: the owning account reads and writes its products.
      permissions: (account, product, caller) =>
        products.has(`${account}/${product}`)
          ? Effect.succeed(caller.accountId === account ? ["read", "write"] : [])
          : Effect.fail(new NoSuchBucket({ bucket: account })),
      role: (account, name) => {
        const found = roles.get(`${account}/${name}`)
        return found === undefined ? Effect.fail(new NoSuchRole({ account, role: name })) : Effect.succeed(found)
      }
    })
  )
}
