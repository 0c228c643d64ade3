import { describe, expect, it } from "@effect/vitest"
import { Schema } from "effect"
import { isPublic, Product, ProductList } from "../../src/core/catalog/schema.js"
import { type BackendAuth, backendAuthOf, toDataConnection } from "../../src/core/backends/connection.js"

describe("backendAuthOf (BackendAuth JSON, docs/backends.md#data-connection-authentication)", () => {
  const known: ReadonlyArray<readonly [string, unknown, BackendAuth]> = [
    ["absent", undefined, { type: "unsigned" }],
    ["null", null, { type: "unsigned" }],
    ["unsigned", { type: "unsigned" }, { type: "unsigned" }],
    ["static S3 keys", { type: "s3_access_key", access_key_id: "AKID", secret_access_key: "s" }, {
      type: "s3_access_key",
      access_key_id: "AKID",
      secret_access_key: "s"
    }],
    ["web-identity role", { type: "s3_web_identity_role", role_arn: "arn:aws:iam::1:role/r" }, {
      type: "s3_web_identity_role",
      role_arn: "arn:aws:iam::1:role/r"
    }],
    ["web-identity role with audience", { type: "s3_web_identity_role", role_arn: "arn:aws:iam::1:role/r", audience: "sts" }, {
      type: "s3_web_identity_role",
      role_arn: "arn:aws:iam::1:role/r",
      audience: "sts"
    }],
    ["azure shared key", { type: "az_shared_key", account_key: "k" }, { type: "az_shared_key", account_key: "k" }],
    ["azure SAS", { type: "az_sas", sas_token: "sv=1" }, { type: "az_sas", sas_token: "sv=1" }],
    ["GCS HMAC", { type: "gcs_hmac", access_key_id: "g", secret: "s" }, { type: "gcs_hmac", access_key_id: "g", secret: "s" }],
    ["extra fields are ignored", { type: "unsigned", note: "x" }, { type: "unsigned" }]
  ]
  for (const [name, raw, expected] of known) {
    it(`${name} → ${expected.type}`, () => expect(backendAuthOf(raw)).toStrictEqual(expected))
  }

  const unsupported: ReadonlyArray<readonly [string, unknown]> = [
    ["a role without an arn", { type: "s3_web_identity_role" }],
    ["a role with an empty arn", { type: "s3_web_identity_role", role_arn: "" }],
    ["S3 keys without the secret", { type: "s3_access_key", access_key_id: "AKID" }],
    ["S3 keys with an empty key id", { type: "s3_access_key", access_key_id: "", secret_access_key: "s" }],
    ["a GCP type", { type: "gcp_service_account", key: "x" }],
    ["an unknown type", { type: "magic" }],
    ["no type", { access_key_id: "AKID", secret_access_key: "s" }],
    ["a type of the wrong case", { type: "UNSIGNED" }],
    ["the string \"garbage\"", "garbage"],
    ["the string \"unsigned\"", "unsigned"],
    ["a number", 42],
    ["false", false],
    ["an array", [{ type: "unsigned" }]],
    ["an empty object", {}]
  ]
  for (const [name, raw] of unsupported) {
    it(`${name} → unsupported (fails closed, never unsigned)`, () => {
      expect(backendAuthOf(raw)).toStrictEqual({ type: "unsupported" })
    })
  }
})

describe("catalog JSON", () => {
  const product = {
    product_id: "sample",
    account_id: "demo",
    visibility: "public",
    extra: { ignored: true },
    metadata: { primary_mirror: "m", mirrors: { m: { connection_id: "c" } } }
  }

  it("a product decodes with defaults (disabled false, mirror prefix empty)", () => {
    const decoded = Schema.decodeUnknownSync(Product)(product)
    expect(decoded.disabled).toBe(false)
    expect(decoded.metadata.mirrors["m"]).toStrictEqual({ connection_id: "c", prefix: "" })
    expect(isPublic(decoded)).toBe(true)
  })

  it("{\"products\":[…]} parses", () => {
    expect(Schema.decodeUnknownSync(ProductList)({ products: [product] }).products).toHaveLength(1)
  })

  it("only public, enabled products are public", () => {
    const decode = Schema.decodeUnknownSync(Product)
    expect(isPublic(decode({ ...product, visibility: "restricted" }))).toBe(false)
    expect(isPublic(decode({ ...product, visibility: undefined }))).toBe(false)
    expect(isPublic(decode({ ...product, disabled: true }))).toBe(false)
  })

  it("a data connection's authentication is read by backendAuthOf", () => {
    const base = { data_connection_id: "c", read_only: true, details: { provider: "s3", bucket: "b" } }
    expect(toDataConnection(base).authentication).toStrictEqual({ type: "unsigned" })
    expect(toDataConnection({ ...base, authentication: { type: "nope" } }).authentication).toStrictEqual({ type: "unsupported" })
  })
})
