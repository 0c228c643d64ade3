import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { CreateBucketCommand } from "@aws-sdk/client-s3"
import { Effect, Layer, Logger, LogLevel } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Storage } from "../../src/core/backends/ObjectStore.js"
import { S3Provider } from "../../src/core/backends/s3/S3Store.js"
import { storageOf } from "../../src/core/backends/Storage.js"
import type { Catalog } from "../../src/core/catalog/Catalog.js"
import { resolveProduct } from "../../src/core/catalog/resolve.js"
import type { S3Request } from "../../src/core/http/S3Request.js"
import type { Payload } from "../../src/core/identity/resolveIdentity.js"
import type { WriteOperation } from "../../src/core/operations/Operation.js"
import { executeWrite } from "../../src/core/operations/write.js"
import { type SigV4BodyError } from "../../src/core/sigv4/errors.js"
import { IncompleteBody, SignatureDoesNotMatch, XAmzContentSHA256Mismatch } from "../../src/core/s3/errors.js"
import { LocalCatalog } from "../../src/layers/LocalCatalog.js"
import { LocalDirectoryProvider } from "../../src/platform/bun/LocalDirectoryStore.js"
import { type RunningMoto, startMoto } from "../e2e/harness/moto.js"
import { motoClient } from "../e2e/harness/s3.js"
import { s3Request } from "../fixtures/requests.js"
import { installBunFileStandIn } from "./bunFileStandIn.js"
import { liveStoreLayer } from "./liveStoreLayer.js"
import { sessionIdentity } from "../fixtures/identities.js"
import { MemoryEdgeCache } from "../../src/layers/MemoryEdgeCache.js"
import type { EdgeCache } from "../../src/core/services/EdgeCache.js"

/**
 * A PUT or UploadPart whose body fails the SigV4 verifier (the verified stream errors with the verifier's
 * error, as src/core/sigv4 builds it) answers that error on every backend, whatever the backend made of
 * the broken stream, and stores nothing.
 */

installBunFileStandIn()

const session = sessionIdentity({ assumed_by: "demo", assumed_by_issuer: "https://proxy.test" })

/** What the verifier hands on: some bytes, then the stream errors with `error`. */
const failingBody = (error: SigV4BodyError) => {
  let sent = false
  return new ReadableStream<Uint8Array>({
    pull: (controller) => {
      if (sent) return controller.error(error)
      sent = true
      controller.enqueue(new Uint8Array(70_000).fill(7))
    }
  })
}

const FAILURES: ReadonlyArray<SigV4BodyError> = [
  new SignatureDoesNotMatch({ where: "chunk 1" }),
  new XAmzContentSHA256Mismatch({ expected: "a".repeat(64), computed: "b".repeat(64) }),
  new IncompleteBody({ reason: "body ended inside the aws-chunked framing (data)" })
]

let moto: RunningMoto | undefined
let dir: string | undefined

const document = (endpoint: string) => ({
  accounts: ["demo"],
  products: ["s3", "local"].map((id) => ({
    account_id: "demo",
    product_id: id,
    visibility: "public" as const,
    disabled: false,
    metadata: { primary_mirror: "main", mirrors: { main: { connection_id: `conn-${id}`, prefix: `${id}-data/` } } }
  })),
  data_connections: [
    {
      data_connection_id: "conn-s3",
      read_only: false,
      details: { provider: "s3", bucket: "body-failure", region: "us-east-1", endpoint },
      authentication: { type: "s3_access_key", access_key_id: "test", secret_access_key: "test" }
    },
    { data_connection_id: "conn-local", read_only: false, details: { provider: "local", path: "data" } }
  ]
})

let live: Layer.Layer<Catalog | Storage | EdgeCache> | undefined

beforeAll(async () => {
  moto = await startMoto()
  await motoClient(moto.endpoint).send(new CreateBucketCommand({ Bucket: "body-failure" }))
  dir = await mkdtemp(join(tmpdir(), "sdp-body-failure-"))
  const storage = Layer.effect(Storage, Effect.map(S3Provider, (s3) => storageOf({ s3, local: LocalDirectoryProvider(dir!) })))
    .pipe(Layer.provide(liveStoreLayer))
  live = Layer.mergeAll(LocalCatalog(document(moto.endpoint)), storage, MemoryEdgeCache(100))
})

afterAll(async () => {
  await moto?.stop()
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

/** Runs a write through the core as the pipeline does (access log silenced), returning its error. */
const failedWrite = (request: S3Request, op: WriteOperation, payload: Payload) =>
  Effect.runPromise(Effect.flip(executeWrite(request, op, session, payload)).pipe(
    Logger.withMinimumLogLevel(LogLevel.None),
    Effect.provide(live!)
  ))

/** What the product's store holds at `key` (under the product's prefix): "found" or the read's error. */
const storedAt = (product: string, key: string) =>
  Effect.runPromise(Effect.gen(function*() {
    const resolved = yield* resolveProduct("demo", product)
    const read = yield* Effect.either(resolved.store.read({ key: `${product}-data/${key}`, method: "HEAD", headers: new Headers() }))
    return read._tag === "Left" ? read.left._tag : "found"
  }).pipe(Effect.provide(live!)))

describe("a body that fails verification answers the verifier's error on every backend", () => {
  for (const product of ["s3", "local"]) {
    for (const failure of FAILURES) {
      it(`${product}: PutObject → ${failure._tag}, nothing stored`, async () => {
        const key = `put-${failure._tag}.bin`
        const request = s3Request("PUT", `/demo/${product}/${key}`, { body: "the raw request body" })
        const payload = { body: failingBody(failure), contentLength: 140_000, trailers: () => new Map<string, string>() }
        const error = await failedWrite(request, { _tag: "PutObject", target: { account: "demo", product, key } }, payload)
        expect(error._tag, JSON.stringify(error)).toBe(failure._tag)
        expect(await storedAt(product, key)).toBe("NoSuchKey")
      })
    }

    it(`${product}: a verified XML body (DeleteObjects) is still read whole`, async () => {
      const xml = "<Delete><Object><Key>gone.txt</Key></Object></Delete>"
      const request = s3Request("POST", `/demo/${product}?delete`, { body: xml })
      const payload = { body: new Response(xml).body, contentLength: xml.length, trailers: () => new Map<string, string>() }
      const reply = await Effect.runPromise(executeWrite(request, { _tag: "DeleteObjects", account: "demo", product }, session, payload).pipe(
        Logger.withMinimumLogLevel(LogLevel.None),
        Effect.provide(live!)
      ))
      expect(reply.status).toBe(200)
      expect(String(reply.body)).toContain("<Deleted><Key>gone.txt</Key></Deleted>")
    })

    it(`${product}: UploadPart → SignatureDoesNotMatch`, async () => {
      const key = "part.bin"
      const uploadId = await Effect.runPromise(Effect.gen(function*() {
        const resolved = yield* resolveProduct("demo", product)
        return yield* resolved.store.writer!.createMultipart({ key: `${product}-data/${key}`, headers: new Headers() })
      }).pipe(Effect.provide(live!)))
      const request = s3Request("PUT", `/demo/${product}/${key}?partNumber=1&uploadId=${encodeURIComponent(uploadId)}`, { body: "raw" })
      const payload = { body: failingBody(FAILURES[0]!), contentLength: 140_000, trailers: () => new Map<string, string>() }
      const error = await failedWrite(request, { _tag: "UploadPart", target: { account: "demo", product, key }, uploadId, partNumber: 1 }, payload)
      expect(error._tag, JSON.stringify(error)).toBe("SignatureDoesNotMatch")
    })
  }
})
