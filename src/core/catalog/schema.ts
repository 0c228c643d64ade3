import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { Permission } from "../sts/SessionClaims.js"

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

/** The ways a data connection may authenticate to its backend (TARGET §3). */
export type BackendAuth =
  | { readonly type: "unsigned" }
  | { readonly type: "s3_access_key"; readonly access_key_id: string; readonly secret_access_key: string }
  | { readonly type: "s3_web_identity_role"; readonly role_arn: string; readonly audience?: string | undefined }
  | { readonly type: "az_shared_key"; readonly account_key: string }
  | { readonly type: "az_sas"; readonly sas_token: string }
  | { readonly type: "gcs_hmac"; readonly access_key_id: string; readonly secret: string }
  /** Anything else that is present: kept so that it fails closed, never read as unsigned. */
  | { readonly type: "unsupported" }

const KnownBackendAuth = Schema.Union(
  Schema.Struct({ type: Schema.Literal("unsigned") }),
  Schema.Struct({
    type: Schema.Literal("s3_access_key"),
    access_key_id: Schema.NonEmptyString,
    secret_access_key: Schema.NonEmptyString
  }),
  Schema.Struct({
    type: Schema.Literal("s3_web_identity_role"),
    role_arn: Schema.NonEmptyString,
    audience: Schema.optional(Schema.String)
  }),
  Schema.Struct({ type: Schema.Literal("az_shared_key"), account_key: Schema.NonEmptyString }),
  Schema.Struct({ type: Schema.Literal("az_sas"), sas_token: Schema.NonEmptyString }),
  Schema.Struct({ type: Schema.Literal("gcs_hmac"), access_key_id: Schema.NonEmptyString, secret: Schema.NonEmptyString })
)

const decodeKnownAuth = Schema.decodeUnknownOption(KnownBackendAuth)

/** Absent or null is unsigned; a malformed or unknown value is `unsupported` (fail closed, never a parse error). */
export const backendAuthOf = (raw: unknown): BackendAuth =>
  raw === undefined || raw === null
    ? { type: "unsigned" }
    : Option.getOrElse(decodeKnownAuth(raw), (): BackendAuth => ({ type: "unsupported" }))

const ConnectionDetails = Schema.Struct({
  provider: Schema.String,
  bucket: Schema.optional(Schema.String),
  region: Schema.optional(Schema.String),
  base_prefix: Schema.optional(Schema.String),
  endpoint: Schema.optional(Schema.String),
  account_name: Schema.optional(Schema.String),
  container_name: Schema.optional(Schema.String),
  /** `local` provider only (embedded catalog): a directory, relative to the catalog file. */
  path: Schema.optional(Schema.String)
})

/** A data connection as the Source API returns it; `authentication` is read by `backendAuthOf`. */
export const DataConnectionJson = Schema.Struct({
  data_connection_id: Schema.String,
  read_only: Schema.Boolean,
  details: ConnectionDetails,
  authentication: Schema.optional(Schema.Unknown)
})

export interface DataConnection {
  readonly data_connection_id: string
  readonly read_only: boolean
  readonly details: typeof ConnectionDetails.Type
  readonly authentication: BackendAuth
}

export const toDataConnection = (json: typeof DataConnectionJson.Type): DataConnection => ({
  ...json,
  authentication: backendAuthOf(json.authentication)
})

export const isPublic = (product: Product): boolean => !product.disabled && product.visibility === "public"

/** One condition on an identity token's claims (ADR-004): a missing or non-string claim never matches. */
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

/** A Role as `GET /api/v1/accounts/{account}/roles/{role}` returns it (TARGET §3, ADR-004). */
export const Role = Schema.Struct({
  name: Schema.String,
  max_session_duration: Schema.Number.pipe(Schema.int(), Schema.positive()),
  identity_constraints: Schema.Array(IdentityConstraint),
  permissions: Schema.Array(Permission)
})
export type Role = typeof Role.Type

/**
 * An identity provider an account registered (ADR-004's second tier), as
 * `GET /api/v1/accounts/{account}/idps/{name}` returns it: its issuer, and where its keys are when they are
 * not at the issuer's discovery document's `jwks_uri`.
 */
export const AccountIdp = Schema.Struct({
  name: Schema.String,
  issuer: Schema.NonEmptyString,
  jwks_uri: Schema.optional(Schema.NonEmptyString)
})
export type AccountIdp = typeof AccountIdp.Type
