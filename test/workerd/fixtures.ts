/**
 * What the workerd tests' Source API answers (test/e2e/harness/sourceApi.ts serves it, next to moto from
 * test/e2e/harness/moto.ts, all on 127.0.0.1).
 */

/** A public product whose only mirror is `connectionId` at `prefix`. */
export const publicProduct = (account: string, product: string, connectionId: string, prefix: string) => ({
  product_id: product,
  account_id: account,
  disabled: false,
  visibility: "public",
  metadata: { mirrors: { primary: { connection_id: connectionId, prefix } }, primary_mirror: "primary" }
})

/** An S3 data connection to moto, signed with static keys (exercises aws4fetch in the runtime). */
export const motoConnection = (id: string, endpoint: string, bucket: string) => ({
  data_connection_id: id,
  read_only: true,
  details: { provider: "s3", bucket, region: "us-east-1", endpoint },
  authentication: { type: "s3_access_key", access_key_id: "test", secret_access_key: "test" }
})
