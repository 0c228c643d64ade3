import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { Catalog, NoSuchIdp, NoSuchRole } from "../core/catalog/Catalog.js"
import { AccountIdp, isPublic, Product, Role } from "../core/catalog/schema.js"
import { DataConnectionJson, toDataConnection } from "../core/backends/connection.js"
import { AccessDenied, NoSuchBucket } from "../core/s3/errors.js"

/**
 * A grant to a principal (a user, or an account acting through its own Roles and API keys) on the
 * products `product` names: `{account}/{product}` or `{account}/*`.
 */
export const PermissionEntry = Schema.Struct({
  principal: Schema.NonEmptyString,
  product: Schema.NonEmptyString,
  permissions: Schema.Array(Schema.Literal("read", "write"))
})
export type PermissionEntry = typeof PermissionEntry.Type

/**
 * The embedded catalog file (`CATALOG`): the same JSON shapes the Source API serves, in one document.
 * `accounts` lists accounts that exist even without products; `users` the people `bun run login` signs in
 * (`bun run dev`'s local IdP); `permissions` what each principal may do beyond an account's own products;
 * `roles` are the Roles the Source API would serve, each with its `account_id` (`_default` is built in), and
 * `idps` the IdPs accounts registered for their Roles, each with its `account_id` too.
 */
export const CatalogDocument = Schema.Struct({
  accounts: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] }),
  users: Schema.optional(Schema.Array(Schema.NonEmptyString)),
  products: Schema.Array(Schema.Struct({ ...Product.fields, account_id: Schema.String })),
  data_connections: Schema.Array(DataConnectionJson),
  permissions: Schema.optional(Schema.Array(PermissionEntry)),
  roles: Schema.optional(Schema.Array(Schema.Struct({ ...Role.fields, account_id: Schema.String }))),
  idps: Schema.optional(Schema.Array(Schema.Struct({ ...AccountIdp.fields, account_id: Schema.String })))
})
export type CatalogDocument = typeof CatalogDocument.Type

/**
 * Answers as the Source API would, for the caller's principal (docs/catalog.md#the-embedded-catalog): an account
 * reads and writes its own products, anyone else what `permissions` grants; a product that is not public is
 * visible only to a principal with some permission on it. Unknown things are 404 (NoSuchBucket).
 */
export const LocalCatalog = (document: CatalogDocument) => {
  const products = new Map(document.products.map((p) => [`${p.account_id}/${p.product_id}`, p] as const))
  const connections = new Map(document.data_connections.map((c) => [c.data_connection_id, toDataConnection(c)] as const))
  const roles = new Map((document.roles ?? []).map(({ account_id, ...role }) => [`${account_id}/${role.name}`, role] as const))
  const idps = new Map((document.idps ?? []).map(({ account_id, ...idp }) => [`${account_id}/${idp.name}`, idp] as const))
  const accounts = new Set([...document.accounts, ...document.products.map((p) => p.account_id)])
  const grantsOf = (principal: string, account: string, product: string): ReadonlyArray<string> => {
    const granted = new Set<string>(principal === account ? ["read", "write"] : [])
    for (const entry of document.permissions ?? []) {
      if (entry.principal === principal && (entry.product === `${account}/${product}` || entry.product === `${account}/*`)) {
        for (const permission of entry.permissions) granted.add(permission)
      }
    }
    return [...granted]
  }
  return Layer.succeed(
    Catalog,
    Catalog.of({
      product: (account, product, caller) => {
        const found = products.get(`${account}/${product}`)
        if (found === undefined) return Effect.fail(new NoSuchBucket({ bucket: account }))
        return isPublic(found) || (caller !== undefined && grantsOf(caller.principal, account, product).length > 0)
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
      permissions: (account, product, caller) =>
        products.has(`${account}/${product}`)
          ? Effect.succeed(grantsOf(caller.principal, account, product))
          : Effect.fail(new NoSuchBucket({ bucket: account })),
      role: (account, name) => {
        const found = roles.get(`${account}/${name}`)
        return found === undefined ? Effect.fail(new NoSuchRole({ account, role: name })) : Effect.succeed(found)
      },
      idp: (account, name) => {
        const found = idps.get(`${account}/${name}`)
        return found === undefined ? Effect.fail(new NoSuchIdp({ account, idp: name })) : Effect.succeed(found)
      }
    })
  )
}
