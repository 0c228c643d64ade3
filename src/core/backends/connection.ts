import * as Option from "effect/Option"
import * as Schema from "effect/Schema"

/*
 * A data connection: where a product's bytes live and how the proxy authenticates there. The catalog decodes it
 * (Source API JSON or the embedded catalog); the backends read it.
 */

/** The ways a data connection may authenticate to its backend (docs/backends.md#data-connection-authentication). */
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
