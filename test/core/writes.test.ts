import { WebCryptoHmac } from "../../src/layers/WebCryptoHmac.js"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { Storage } from "../../src/core/backends/ObjectStore.js"
import { GcsProvider, S3Provider } from "../../src/core/backends/s3/S3Store.js"
import { storageOf } from "../../src/core/backends/Storage.js"
import type { DataConnection } from "../../src/core/backends/connection.js"
import { renderS3Error } from "../../src/core/s3/renderError.js"
import { readable } from "../../src/core/authz/enforce.js"
import { executeWrite } from "../../src/core/operations/write.js"
import { LocalCatalog } from "../../src/layers/LocalCatalog.js"
import { catalogDocument } from "../fixtures/catalog.js"
import { s3Request } from "../fixtures/requests.js"
import { NoFederation } from "../fixtures/services.js"
import { stubUpstream, TestConfig } from "../fixtures/stubUpstream.js"
import { sessionIdentity } from "../fixtures/identities.js"
import { MemoryEdgeCache } from "../../src/layers/MemoryEdgeCache.js"

/** A session of the owning account whose Role ceiling is everything. */
const session = sessionIdentity()

const backend = stubUpstream(() => new Response("unexpected", { status: 500 }))
const Live = Layer.mergeAll(
  LocalCatalog(catalogDocument),
  Layer.effect(Storage, Effect.map(S3Provider, (s3) => storageOf({ s3 }))).pipe(
    Layer.provide(Layer.mergeAll(backend.layer, TestConfig, NoFederation, WebCryptoHmac))
  ),
  MemoryEdgeCache(100)
)

describe("writes: a connection whose authentication cannot be used fails closed", () => {
  // demo/azure-key: an S3 connection carrying Azure SAS credentials (ProviderMismatch).
  it.effect("a read answers 502 BackendAuthenticationFailed, a write 403 AccessDenied, and nothing reaches the backend", () =>
    Effect.gen(function*() {
      const read = yield* Effect.flip(readable(session, { account: "demo", product: "azure-key", key: "k" }))
      expect(read._tag).toBe("BackendAuthenticationFailed")
      const put = s3Request("PUT", "/demo/azure-key/k", { body: "data", headers: { "content-length": "4" } })
      const write = yield* Effect.flip(executeWrite(put, { _tag: "PutObject", target: { account: "demo", product: "azure-key", key: "k" } }, session, {
        body: put.body,
        contentLength: 4,
        trailers: () => new Map()
      }))
      expect(write._tag).toBe("AccessDenied")
      expect(backend.calls).toHaveLength(0)
    }).pipe(Effect.provide(Live)))

  it.effect("anonymous writes are refused before any lookup", () =>
    Effect.gen(function*() {
      const put = s3Request("PUT", "/demo/sample/k", { body: "x" })
      const error = yield* Effect.flip(executeWrite(put, { _tag: "PutObject", target: { account: "demo", product: "sample", key: "k" } }, { _tag: "Anonymous" }, {
        body: put.body,
        contentLength: 1,
        trailers: () => new Map()
      }))
      expect(error._tag).toBe("AccessDenied")
    }).pipe(Effect.provide(Live)))
})

describe("writes: a part under 5 MiB that is not the last is EntityTooSmall on every S3-speaking backend", () => {
  const connection = (provider: "s3" | "gcs"): DataConnection => ({
    data_connection_id: `conn-${provider}`,
    read_only: false,
    details: { provider, bucket: "b", region: "us-east-1", endpoint: "https://storage.test" },
    authentication: provider === "s3"
      ? { type: "s3_access_key", access_key_id: "AKID", secret_access_key: "secret" }
      : { type: "gcs_hmac", access_key_id: "GOOG1", secret: "secret" }
  })
  // What S3, moto and GCS's XML API answer.
  const refusal = () =>
    new Response(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>EntityTooSmall</Code><Message>Your proposed upload is smaller than the minimum allowed size</Message></Error>",
      { status: 400, headers: { "content-type": "application/xml" } }
    )

  for (const provider of ["s3", "gcs"] as const) {
    it.effect(`${provider}: the backend's EntityTooSmall reaches the client as 400 EntityTooSmall, not InvalidRequest`, () =>
      Effect.gen(function*() {
        const open = provider === "s3" ? S3Provider : GcsProvider
        const store = yield* Effect.flatMap(open, (make) => make(connection(provider)))
        const error = yield* Effect.flip(store.writer!.completeMultipart({
          key: "k",
          uploadId: "u1",
          parts: [{ partNumber: 1, etag: "\"a\"" }, { partNumber: 2, etag: "\"b\"" }],
          headers: new Headers()
        }))
        expect(error._tag).toBe("EntityTooSmall")
        const reply = renderS3Error(error, "/demo/rw/k", "rid", "POST")
        expect([reply.status, /<Code>([^<]*)<\/Code>/.exec(String(reply.body))?.[1]]).toStrictEqual([400, "EntityTooSmall"])
      }).pipe(Effect.provide(Layer.mergeAll(stubUpstream(refusal).layer, TestConfig, NoFederation, WebCryptoHmac))))
  }
})
