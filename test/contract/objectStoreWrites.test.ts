import { mkdtemp, readdir, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { CreateBucketCommand } from "@aws-sdk/client-s3"
import { Effect } from "effect"
import { S3Provider } from "../../src/core/backends/s3/S3Store.js"
import type { BackendAuth, DataConnection } from "../../src/core/backends/connection.js"
import { LocalDirectoryProvider } from "../../src/platform/bun/LocalDirectoryStore.js"
import { type RunningMoto, startMoto } from "../e2e/harness/moto.js"
import { motoClient } from "../e2e/harness/s3.js"
import { describe, expect, it } from "vitest"
import { installBunFileStandIn } from "./bunFileStandIn.js"
import { failingStream, LIST_UPLOADS_PAGING, objectStoreWritesContract, UNKNOWN_UPLOAD_ID, writeRequest } from "./objectStoreWrites.contract.js"
import { liveStoreLayer } from "./liveStoreLayer.js"

const live = liveStoreLayer

const connection = (details: DataConnection["details"], authentication: BackendAuth): DataConnection => ({
  data_connection_id: "writes-contract",
  read_only: false,
  details,
  authentication
})

const openS3 = (endpoint: string, bucket: string, authentication: BackendAuth) =>
  Effect.runPromise(
    Effect.flatMap(S3Provider, (make) => make(connection({ provider: "s3", bucket, region: "us-east-1", endpoint }, authentication)))
      .pipe(Effect.provide(live))
  )

// S3 over moto, signed with stored keys (moto does not check signatures).
let moto: RunningMoto | undefined
objectStoreWritesContract("S3 provider over moto (s3_access_key)", {
  // moto answers a part or a complete for an unknown upload id with a 500 (a KeyError), where S3 says NoSuchUpload;
  // its ListMultipartUploads ignores max-uploads and the markers, and lists in creation order.
  knownGaps: [UNKNOWN_UPLOAD_ID, LIST_UPLOADS_PAGING],
  open: async () => {
    moto = await startMoto()
    await motoClient(moto.endpoint).send(new CreateBucketCommand({ Bucket: "writes" }))
    return openS3(moto.endpoint, "writes", { type: "s3_access_key", access_key_id: "test", secret_access_key: "test" })
  },
  close: async () => {
    await moto?.stop()
  }
})

describe("S3 provider: who gets a writer", () => {
  it("an unsigned connection has no writer", async () => {
    const store = await openS3("http://127.0.0.1:9", "b", { type: "unsigned" })
    expect(store.writer).toBeUndefined()
  })
})

// The local directory provider, under Node with the Bun.file stand-in.
installBunFileStandIn()
let localRoot: string | undefined
objectStoreWritesContract("local directory provider", {
  open: async () => {
    localRoot = await mkdtemp(join(tmpdir(), "sdp-local-writes-"))
    return Effect.runPromise(LocalDirectoryProvider(localRoot)(connection({ provider: "local", path: "data" }, { type: "unsigned" })))
  },
  close: async () => {
    if (localRoot !== undefined) await rm(localRoot, { recursive: true, force: true })
  }
})

describe("local directory provider: the store's own files", () => {
  it("metadata, uploads and temp files are neither listed nor readable, and a failed put leaves no temp file", async () => {
    const root = await mkdtemp(join(tmpdir(), "sdp-local-reserved-"))
    try {
      const store = await Effect.runPromise(LocalDirectoryProvider(root)(connection({ provider: "local", path: "." }, { type: "unsigned" })))
      const writer = store.writer!
      await Effect.runPromise(writer.put(writeRequest("a.txt", new TextEncoder().encode("a"), { "x-amz-meta-k": "v" })))
      await Effect.runPromise(writer.createMultipart({ key: "b.bin", headers: new Headers() }))
      await Effect.runPromise(Effect.either(writer.put(writeRequest("c.bin", failingStream(new Uint8Array(10)), {}, 100))))
      const page = await Effect.runPromise(store.list({ prefix: "", delimiter: "", maxKeys: 100, continuationToken: undefined, startAfter: undefined }))
      expect(page.objects.map((o) => o.key)).toStrictEqual(["a.txt"])
      const delimited = await Effect.runPromise(store.list({ prefix: "", delimiter: "/", maxKeys: 100, continuationToken: undefined, startAfter: undefined }))
      expect(delimited.commonPrefixes).toStrictEqual([])
      for (const key of [".sdp-meta/a.txt.json", ".sdp-uploads", ".sdp-tmp/x"]) {
        const error = await Effect.runPromise(Effect.flip(store.read({ key, method: "GET", headers: new Headers() })))
        expect(error._tag, key).toBe("NoSuchKey")
        expect((await Effect.runPromise(Effect.flip(writer.put(writeRequest(key, new Uint8Array(1))))))._tag, key).toBe("InvalidRequest")
      }
      expect(await readdir(join(root, ".sdp-tmp"))).toStrictEqual([])
    } finally {
      await rm(root, { recursive: true, force: true })
    }
  })
})
