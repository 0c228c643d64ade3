import { WebCryptoHmac } from "../../src/layers/WebCryptoHmac.js"
import { Effect, Layer } from "effect"
import type { ObjectStore } from "../../src/core/backends/ObjectStore.js"
import { GcsProvider } from "../../src/core/backends/s3/S3Store.js"
import type { BackendAuth, DataConnection } from "../../src/core/backends/connection.js"
import { FetchUpstream } from "../../src/layers/FetchUpstream.js"
import { type GcsBucketOptions, type RunningGcs, startGcs } from "../fakes/gcs/server.js"
import { NoFederation } from "../fixtures/services.js"
import { TestConfig } from "../fixtures/stubUpstream.js"
import { type FixtureObject, objectStoreContract } from "./objectStore.contract.js"

/**
 * The shared ObjectStore conformance suite against the GCS provider (S3Store with GCS's dialect: V1
 * listings with `marker`, SigV4 region `auto`) over the in-test GCS XML API server.
 */
const live = Layer.mergeAll(FetchUpstream({ supportsCacheOption: false, keepEncodedBodies: false }), TestConfig, NoFederation, WebCryptoHmac)

const HMAC_ID = "GOOG1ECONTRACTKEY"
const HMAC_SECRET = "contract/secret+key"

let gcs: Promise<RunningGcs> | undefined
let runs = 0

const gcsTarget = (bucket: string, options: GcsBucketOptions, authentication: BackendAuth) => ({
  open: async (objects: ReadonlyArray<FixtureObject>): Promise<ObjectStore> => {
    runs++
    gcs ??= startGcs()
    const server = await gcs
    server.createBucket(bucket, options)
    for (const [key, body] of objects) server.put(bucket, key, body)
    const connection: DataConnection = {
      data_connection_id: `contract-${bucket}`,
      read_only: true,
      details: { provider: "gcs", bucket, endpoint: server.url },
      authentication
    }
    return Effect.runPromise(Effect.flatMap(GcsProvider, (make) => make(connection)).pipe(Effect.provide(live)))
  },
  close: async () => {
    if (--runs === 0 && gcs !== undefined) {
      const server = gcs
      gcs = undefined
      await (await server).stop()
    }
  }
})

objectStoreContract("GCS provider over the in-test GCS server (unsigned, public bucket)", gcsTarget("contract-public", { public: true }, { type: "unsigned" }))
objectStoreContract(
  "GCS provider over the in-test GCS server (gcs_hmac, private bucket, signatures verified)",
  gcsTarget("contract-hmac", { hmacKeys: { [HMAC_ID]: HMAC_SECRET } }, { type: "gcs_hmac", access_key_id: HMAC_ID, secret: HMAC_SECRET })
)
objectStoreContract(
  "GCS provider over the in-test GCS server (V1 pages without NextMarker unless delimited)",
  gcsTarget("contract-nomarker", { public: true, nextMarker: "with-delimiter" }, { type: "unsigned" })
)
