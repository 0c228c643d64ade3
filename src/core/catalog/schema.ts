import * as Schema from "effect/Schema"
import { Permission } from "../session/SessionClaims.js"

/** A product as the Source API returns it (extra fields are ignored). */
export const Mirror = Schema.Struct({
  connection_id: Schema.String,
  prefix: Schema.optionalWith(Schema.String, { default: () => "" })
})
export type Mirror = typeof Mirror.Type

export const Product = Schema.Struct({
  product_id: Schema.String,
  account_id: Schema.optional(Schema.String),
  disabled: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  visibility: Schema.optional(Schema.String),
  metadata: Schema.Struct({
    mirrors: Schema.Record({ key: Schema.String, value: Mirror }),
    primary_mirror: Schema.optional(Schema.String)
  })
})
export type Product = typeof Product.Type

export const ProductList = Schema.Struct({ products: Schema.Array(Product) })
export type ProductList = typeof ProductList.Type

export const isPublic = (product: Product): boolean => !product.disabled && product.visibility === "public"

/**
 * One condition on an identity token's claims (docs/sts.md#claim-constraints): a missing or non-string claim never
 * matches.
 */
export const ClaimConstraint = Schema.Struct({
  claim: Schema.String,
  operator: Schema.Literal("equals", "starts_with"),
  value: Schema.String
})
export type ClaimConstraint = typeof ClaimConstraint.Type

/** A Role's trust in one IdP (by name) for one audience; its claim constraints are ANDed. */
export const IdentityConstraint = Schema.Struct({
  idp: Schema.String,
  audience: Schema.String,
  claim_constraints: Schema.optionalWith(Schema.Array(ClaimConstraint), { default: () => [] })
})
export type IdentityConstraint = typeof IdentityConstraint.Type

/**
 * The built-in Role every account has (docs/sts.md#the-built-in-default-role): a user's own session, named by
 * `_default` in the RoleArn.
 */
export const DEFAULT_ROLE = "_default"

/**
 * A Role as `GET /api/v1/accounts/{account}/roles/{role}` returns it
 * (docs/catalog.md#roles-and-identity-providers).
 */
export const Role = Schema.Struct({
  name: Schema.String,
  max_session_duration: Schema.Number.pipe(Schema.int(), Schema.positive()),
  identity_constraints: Schema.Array(IdentityConstraint),
  permissions: Schema.Array(Permission)
})
export type Role = typeof Role.Type

/**
 * An identity provider an account registered (the second tier of docs/sts.md#identity-providers), as
 * `GET /api/v1/accounts/{account}/idps/{name}` returns it: its issuer, and where its keys are when they are
 * not at the issuer's discovery document's `jwks_uri`.
 */
export const AccountIdp = Schema.Struct({
  name: Schema.String,
  issuer: Schema.NonEmptyString,
  jwks_uri: Schema.optional(Schema.NonEmptyString)
})
export type AccountIdp = typeof AccountIdp.Type
